"""Differential tests: ``guard audit`` must agree with git on every object.

Two repositories (SHA-1 and SHA-256) are built once per module with real gpg,
ssh-keygen and git: commits signed with every key type git accepts, unsigned and
tampered commits, unknown / untrusted / expired / revoked keys, annotated tags and
mergetags. git is the oracle: ``git log --format=%G?`` for commits and
``git verify-tag --raw`` for tags and for mergetags (each written out as a tag
object). Where our policy is deliberately stricter or more precise than git the
difference is asserted in its own test, with the reason.

``guard audit`` runs with no trust options, so it trusts what git trusts here: the
repository's ``gpg.ssh.allowedSignersFile`` and the GnuPG keyring in ``GNUPGHOME``.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import sk_sign
from gitfixtures import (
    GIT_CODES,
    AuditRun,
    GitVerdict,
    GpgHome,
    GpgKey,
    Repo,
    Signer,
    SshKey,
    add_signature,
    allowed_signers_line,
    flip_message_byte,
    git_log_verdicts,
    git_verify_mergetag,
    git_verify_raw,
    index_results,
    make_ssh_key,
    mergetags,
    openpgp_signer,
    replace_header,
    require_tools,
    run_audit,
    split_signature,
    ssh_key_from_public,
    ssh_signer,
    tool_env,
    transplant_signature,
    write_allowed_signers,
)

require_tools(
    ("git", "gpg", "gpgconf", "ssh-keygen"), "for differential tests", "run scripts/test.sh"
)

STATUSES = frozenset(
    {
        "good",
        "unsigned",
        "bad-signature",
        "unknown-key",
        "not-allowed",
        "expired-key",
        "revoked-key",
        "not-yet-valid",
        "identity-mismatch",
        "weak-algorithm",
        "unproven-time",
        "malformed",
    }
)


# --------------------------------------------------------------------------- the cases


@dataclass(frozen=True)
class Case:
    """One object and what git and we say about it.

    ``git`` is git's verdict (asserted against the live oracle, so fixture drift is
    caught); ``status`` is ours. ``ours_code`` is set only where we deliberately
    differ from git (see the dedicated tests below).
    """

    name: str
    repo: str  # "sha1" | "sha256"
    kind: str  # "commit" | "tag" | "mergetag"
    git: str
    status: str
    ours_code: str | None = None

    @property
    def id(self) -> str:
        return f"{self.repo}/{self.name}"


CASES = [
    # Good signatures, every key type git accepts.
    Case("ssh-ed25519", "sha1", "commit", "G", "good"),
    Case("ssh-rsa", "sha1", "commit", "G", "good"),
    Case("ssh-ecdsa-p256", "sha1", "commit", "G", "good"),
    Case("ssh-ecdsa-p384", "sha1", "commit", "G", "good"),
    Case("ssh-ecdsa-p521", "sha1", "commit", "G", "good"),
    Case("ssh-sk-ed25519", "sha1", "commit", "G", "good"),
    Case("ssh-sk-ecdsa-p256", "sha1", "commit", "G", "good"),
    Case("pgp-rsa2048", "sha1", "commit", "G", "good"),
    Case("pgp-rsa3072", "sha1", "commit", "G", "good"),
    Case("pgp-ed25519", "sha1", "commit", "G", "good"),
    Case("pgp-nistp256", "sha1", "commit", "G", "good"),
    Case("pgp-subkey", "sha1", "commit", "G", "good"),
    Case("pgp-imported-trusted", "sha1", "commit", "G", "good"),
    # SSH keys are valid by *committer date*, as git checks them.
    Case("ssh-in-window", "sha1", "commit", "G", "good"),
    Case("ssh-not-yet-valid", "sha1", "commit", "U", "not-yet-valid"),
    Case("ssh-expired", "sha1", "commit", "U", "expired-key"),
    # Not good.
    Case("unsigned", "sha1", "commit", "N", "unsigned"),
    Case("ssh-unknown-key", "sha1", "commit", "U", "unknown-key"),
    Case("pgp-unknown-key", "sha1", "commit", "E", "unknown-key"),
    Case("pgp-untrusted-key", "sha1", "commit", "U", "unknown-key"),
    Case("pgp-revoked", "sha1", "commit", "R", "revoked-key"),
    Case("ssh-wrong-namespace", "sha1", "commit", "B", "bad-signature"),
    Case("ssh-flipped", "sha1", "commit", "B", "bad-signature"),
    Case("pgp-flipped", "sha1", "commit", "B", "bad-signature"),
    Case("ssh-transplanted", "sha1", "commit", "B", "bad-signature"),
    Case("pgp-transplanted", "sha1", "commit", "B", "bad-signature"),
    # A signature header for the other object format is not part of either payload:
    # git strips every gpgsig* header before verifying, and so must we.
    Case("ssh-plus-sha256-header", "sha1", "commit", "G", "good"),
    # Documented differences from git (see test_sha1_* / test_expired_* below).
    Case("pgp-sha1", "sha1", "commit", "G", "weak-algorithm", ours_code="B"),
    Case("pgp-expired-since", "sha1", "commit", "Y", "good", ours_code="G"),
    # Annotated tags.
    Case("tag-pgp", "sha1", "tag", "G", "good"),
    Case("tag-ssh", "sha1", "tag", "G", "good"),
    Case("tag-unsigned", "sha1", "tag", "N", "unsigned"),
    Case("tag-ssh-unknown-key", "sha1", "tag", "U", "unknown-key"),
    Case("tag-pgp-unknown-key", "sha1", "tag", "E", "unknown-key"),
    Case("tag-pgp-flipped", "sha1", "tag", "B", "bad-signature"),
    Case("tag-ssh-flipped", "sha1", "tag", "B", "bad-signature"),
    # Mergetags (the signed tag embedded in a merge commit) and their merges.
    Case("merge-pgp", "sha1", "commit", "G", "good"),
    Case("mergetag-pgp", "sha1", "mergetag", "G", "good"),
    Case("merge-ssh", "sha1", "commit", "G", "good"),
    Case("mergetag-ssh", "sha1", "mergetag", "G", "good"),
    Case("merge-flipped", "sha1", "commit", "B", "bad-signature"),
    Case("mergetag-flipped", "sha1", "mergetag", "B", "bad-signature"),
    # SHA-256 repository: gpgsig-sha256 headers.
    Case("ssh-ed25519", "sha256", "commit", "G", "good"),
    Case("pgp-ed25519", "sha256", "commit", "G", "good"),
    Case("pgp-rsa3072", "sha256", "commit", "G", "good"),
    Case("side", "sha256", "commit", "G", "good"),
    Case("merge-pgp", "sha256", "commit", "G", "good"),
    Case("mergetag-pgp", "sha256", "mergetag", "G", "good"),
    Case("tag-pgp", "sha256", "tag", "G", "good"),
    Case("tag-ssh", "sha256", "tag", "G", "good"),
    Case("ssh-flipped", "sha256", "commit", "B", "bad-signature"),
    Case("pgp-transplanted", "sha256", "commit", "B", "bad-signature"),
    Case("ssh-unknown-key", "sha256", "commit", "U", "unknown-key"),
    Case("unsigned", "sha256", "commit", "N", "unsigned"),
    Case("pgp-plus-sha1-header", "sha256", "commit", "G", "good"),
]
CASE_IDS = [c.id for c in CASES]
SAME_AS_GIT = [c for c in CASES if c.ours_code is None]


# --------------------------------------------------------------------------- keys


@dataclass
class Keys:
    env: dict[str, str]  # GNUPGHOME = the trusted keyring
    dir: Path
    trusted: GpgHome
    other: GpgHome
    pgp: dict[str, GpgKey]
    ssh: dict[str, SshKey]
    allowed_signers: Path
    sha1_gpg: Path  # gpg.program adding --digest-algo SHA1
    gpg_2020: Path  # gpg.program running at 2020-06-01
    sk_program: Path | None = None
    sk: dict[str, SshKey] = field(default_factory=dict)

    def pgp_signer(self, name: str, *, program: Path | None = None) -> Signer:
        return openpgp_signer(self.pgp[name], program=program)

    def ssh_signer(self, name: str) -> Signer:
        if name in self.sk:
            return ssh_signer(self.sk[name], program=self.sk_program)
        return ssh_signer(self.ssh[name])


def _make_sk_keys(keys: Keys) -> None:
    """Security-key (FIDO) SSH keys, made in software by tests/sk_sign.py: their
    signatures are byte-for-byte what a token makes, and real ssh-keygen verifies
    them. git signs through sk_sign (as gpg.ssh.program) but verifies with the real
    ssh-keygen, since the oracle must stay independent."""
    shim = keys.dir / "sk-ssh-keygen"
    shim.write_text(f"#!/bin/sh\nexec '{sys.executable}' '{Path(sk_sign.__file__)}' \"$@\"\n")
    shim.chmod(0o755)
    keys.sk_program = shim
    kinds: dict[str, sk_sign.Kind] = {"ssh-sk-ed25519": "ed25519", "ssh-sk-ecdsa-p256": "ecdsa"}
    for name, kind in kinds.items():
        path = keys.dir / name
        public = sk_sign.make_sk_key(kind, path)
        keys.sk[name] = ssh_key_from_public(path, public, keys.env)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keys]:
    base = tmp_path_factory.mktemp("keys")
    env = tool_env(base / "home", gnupghome=base / "gnupg-trusted")
    trusted = GpgHome.create(base / "gnupg-trusted", env)
    other = GpgHome.create(base / "gnupg-other", env)
    pgp: dict[str, GpgKey] = {}
    try:
        # Keys generated in the trusted home get ultimate ownertrust from gpg.
        pgp["pgp-rsa2048"] = trusted.gen_key("RSA 2048 <rsa2048@example.com>", "rsa2048")
        pgp["pgp-rsa3072"] = trusted.gen_key("RSA 3072 <rsa3072@example.com>", "rsa3072")
        pgp["pgp-ed25519"] = trusted.gen_key("Ed25519 <ed25519@example.com>", "ed25519")
        pgp["pgp-nistp256"] = trusted.gen_key("P-256 <p256@example.com>", "nistp256")
        primary = trusted.gen_key("Subkey <subkey@example.com>", "ed25519", usage="cert")
        pgp["pgp-subkey"] = trusted.add_signing_subkey(primary, "rsa2048")
        # Created 2020-01-01, expired 2020-12-31: signatures made in 2020 were made
        # while it was valid.
        pgp["pgp-expired-since"] = trusted.gen_key(
            "Expired <expired@example.com>",
            "ed25519",
            expire="1y",
            faked_time="20200101T000000",
        )
        pgp["pgp-revoked"] = trusted.gen_key("Revoked <revoked@example.com>", "ed25519")
        # Known to the keyring but not trusted (no ownertrust, no certification).
        pgp["pgp-untrusted-key"] = other.gen_key("Untrusted <untrusted@example.com>", "ed25519")
        trusted.import_keys(other.export(pgp["pgp-untrusted-key"]))
        # Imported from elsewhere and given ultimate ownertrust (--import-ownertrust),
        # as a user trusts a colleague's key.
        pgp["pgp-imported-trusted"] = other.gen_key("Imported <imported@example.com>", "ed25519")
        trusted.import_keys(other.export(pgp["pgp-imported-trusted"]))
        trusted.set_ownertrust(pgp["pgp-imported-trusted"], 6)
        # Not in the keyring at all.
        pgp["pgp-unknown-key"] = other.gen_key("Unknown <unknown@example.com>", "ed25519")

        kdir = base / "ssh"
        ssh = {
            "ssh-ed25519": make_ssh_key(kdir, "ed25519", "ed25519", env),
            "ssh-rsa": make_ssh_key(kdir, "rsa", "rsa", env, bits=3072),
            "ssh-ecdsa-p256": make_ssh_key(kdir, "ecdsa256", "ecdsa", env, bits=256),
            "ssh-ecdsa-p384": make_ssh_key(kdir, "ecdsa384", "ecdsa", env, bits=384),
            "ssh-ecdsa-p521": make_ssh_key(kdir, "ecdsa521", "ecdsa", env, bits=521),
            "ssh-unknown-key": make_ssh_key(kdir, "unknown", "ed25519", env),
            "ssh-not-yet-valid": make_ssh_key(kdir, "notyet", "ed25519", env),
            "ssh-expired": make_ssh_key(kdir, "expired", "ed25519", env),
        }
        keys = Keys(
            env=env,
            dir=base,
            trusted=trusted,
            other=other,
            pgp=pgp,
            ssh=ssh,
            allowed_signers=base / "allowed_signers",
            sha1_gpg=trusted.gpg_program(base, "gpg-sha1", "--digest-algo", "SHA1"),
            gpg_2020=trusted.gpg_program(
                base, "gpg-2020", "--faked-system-time", "20200601T000000"
            ),
        )
        _make_sk_keys(keys)
        lines = [
            allowed_signers_line(f"{name}@example.com", key)
            for name, key in {**ssh, **keys.sk}.items()
            if name not in ("ssh-unknown-key", "ssh-not-yet-valid", "ssh-expired")
        ]
        lines.append(
            allowed_signers_line(
                "notyet@example.com", ssh["ssh-not-yet-valid"], valid_after="20300101"
            )
        )
        lines.append(
            allowed_signers_line("expired@example.com", ssh["ssh-expired"], valid_before="20200101")
        )
        write_allowed_signers(keys.allowed_signers, lines)
        yield keys
    finally:
        trusted.close()
        other.close()


# --------------------------------------------------------------------------- worlds


@dataclass
class World:
    """A repository, the object id behind each case, git's verdicts and ours."""

    repo: Repo
    keys: Keys
    oids: dict[str, str] = field(default_factory=dict)  # case name -> object id
    merges: dict[str, str] = field(default_factory=dict)  # mergetag case -> merge commit
    oracle: dict[str, GitVerdict] = field(default_factory=dict)  # case name -> git
    everything: dict[tuple[str, str], GitVerdict] = field(default_factory=dict)
    good_range: str = ""  # a revision whose history is all good
    audit: AuditRun | None = None
    ours: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def case_oid(self, case: Case) -> str:
        return self.oids[case.name]

    def result(self, case: Case) -> dict[str, Any]:
        key = (case.kind, self.case_oid(case))
        assert key in self.ours, f"guard audit reported nothing for {case.id} {key}"
        return self.ours[key]


def _new_repo(keys: Keys, path: Path, object_format: str) -> Repo:
    repo = Repo.init(path, keys.env, object_format=object_format)
    # Both git (the oracle) and guard audit read the SSH trust from here.
    repo.git("config", "gpg.ssh.allowedSignersFile", str(keys.allowed_signers))
    return repo


def _merge_signed_tag(
    world: World, name: str, tag_signer: Signer, merge_signer: Signer, *, side_signer: Signer
) -> None:
    """On a side branch: one commit and a signed tag; merge the tag into main (which
    records a mergetag header); drop the tag ref so only the mergetag carries it."""
    repo = world.repo
    repo.git("checkout", "-q", "-b", f"side-{name}")
    world.oids[f"side-{name}"] = repo.commit(f"side {name}", signer=side_signer)
    tag_oid = repo.tag(f"tag-side-{name}", f"side tag {name}", signer=tag_signer)
    repo.git("checkout", "-q", "main")
    merge = repo.merge(f"refs/tags/tag-side-{name}", f"merge {name}", signer=merge_signer)
    repo.git("tag", "-d", f"tag-side-{name}")
    (embedded,) = mergetags(repo.cat(merge))
    assert repo.hash_object("tag", embedded) == tag_oid  # byte-identical to the tag
    world.oids[f"merge-{name}"] = merge
    world.oids[f"mergetag-{name}"] = tag_oid
    world.merges[f"mergetag-{name}"] = merge


def _compute_oracle(world: World) -> None:
    """git's verdict on every object ``--all`` reaches: each commit (``%G?``), each
    annotated tag a ref names and each mergetag (``verify-tag --raw``)."""
    repo = world.repo
    everything = world.everything
    for oid, verdict in git_log_verdicts(repo).items():
        everything[("commit", oid)] = verdict
        for tag_oid, tag_verdict in git_verify_mergetag(repo, oid):
            everything[("mergetag", tag_oid)] = tag_verdict
    refs = repo.git("for-each-ref", "--format=%(objecttype) %(objectname)").decode()
    for line in refs.splitlines():
        kind, oid = line.split()
        if kind == "tag":
            everything[("tag", oid)] = git_verify_raw(repo, "tag", oid)
    kinds = {c.name: c.kind for c in CASES if c.repo == repo.object_format}
    for name, oid in world.oids.items():
        world.oracle[name] = everything[(kinds.get(name, "commit"), oid)]


def _run_audits(world: World, tmp: Path) -> None:
    world.audit = run_audit(world.repo, "--all", out=tmp / "audit.json")
    if world.audit.rc in (0, 1) and world.audit.output:
        world.ours = index_results(world.audit.results())


def _build_sha1(keys: Keys, base: Path) -> World:
    repo = _new_repo(keys, base / "repo", "sha1")
    w = World(repo, keys)
    ks, kp = keys.ssh_signer, keys.pgp_signer
    w.oids["ssh-ed25519"] = repo.commit("ssh ed25519", signer=ks("ssh-ed25519"))
    w.oids["pgp-ed25519"] = repo.commit("openpgp ed25519", signer=kp("pgp-ed25519"))
    w.good_range = w.oids["pgp-ed25519"]
    for name in ("ssh-rsa", "ssh-ecdsa-p256", "ssh-ecdsa-p384", "ssh-ecdsa-p521"):
        w.oids[name] = repo.commit(name, signer=ks(name))
    for name in keys.sk:
        w.oids[name] = repo.commit(name, signer=ks(name))
    for name in (
        "pgp-rsa2048",
        "pgp-rsa3072",
        "pgp-nistp256",
        "pgp-subkey",
        "pgp-imported-trusted",
    ):
        w.oids[name] = repo.commit(name, signer=kp(name))
    w.oids["unsigned"] = repo.commit("unsigned")
    w.oids["ssh-unknown-key"] = repo.commit("unknown ssh key", signer=ks("ssh-unknown-key"))
    w.oids["pgp-unknown-key"] = repo.commit("unknown pgp key", signer=kp("pgp-unknown-key"))
    w.oids["pgp-untrusted-key"] = repo.commit("untrusted pgp key", signer=kp("pgp-untrusted-key"))
    # Signed (and committed) on 2020-06-01, while the key was valid; it expired since.
    w.oids["pgp-expired-since"] = repo.commit(
        "signed before expiry",
        signer=kp("pgp-expired-since", program=keys.gpg_2020),
        date="2020-06-01T00:00:00Z",
    )
    w.oids["pgp-revoked"] = repo.commit("revoked later", signer=kp("pgp-revoked"))
    keys.trusted.revoke(keys.pgp["pgp-revoked"])
    w.oids["pgp-sha1"] = repo.commit("sha1 digest", signer=kp("pgp-rsa2048", program=keys.sha1_gpg))
    # allowed_signers: notyet valid-after 2030, expired valid-before 2020.
    w.oids["ssh-not-yet-valid"] = repo.commit(
        "not yet valid", signer=ks("ssh-not-yet-valid"), date="2024-01-01T00:00:00Z"
    )
    w.oids["ssh-expired"] = repo.commit(
        "after valid-before", signer=ks("ssh-expired"), date="2024-01-01T00:00:00Z"
    )
    w.oids["ssh-in-window"] = repo.commit(
        "inside the window", signer=ks("ssh-expired"), date="2019-06-01T00:00:00Z"
    )

    # Tags.
    w.oids["tag-pgp"] = repo.tag("tag-pgp", "openpgp tag", signer=kp("pgp-ed25519"))
    w.oids["tag-ssh"] = repo.tag("tag-ssh", "ssh tag", signer=ks("ssh-ed25519"))
    w.oids["tag-unsigned"] = repo.tag("tag-unsigned", "unsigned annotated tag")
    w.oids["tag-ssh-unknown-key"] = repo.tag(
        "tag-ssh-unknown-key", "ssh tag, unknown key", signer=ks("ssh-unknown-key")
    )
    w.oids["tag-pgp-unknown-key"] = repo.tag(
        "tag-pgp-unknown-key", "openpgp tag, unknown key", signer=kp("pgp-unknown-key")
    )
    for name, good in (("tag-pgp-flipped", "tag-pgp"), ("tag-ssh-flipped", "tag-ssh")):
        oid = repo.write_object("tag", flip_message_byte(repo.cat(w.oids[good])))
        repo.update_ref(f"refs/tags/{name}", oid)
        w.oids[name] = oid

    # Mergetags.
    _merge_signed_tag(w, "pgp", kp("pgp-ed25519"), ks("ssh-ed25519"), side_signer=ks("ssh-ed25519"))
    _merge_signed_tag(w, "ssh", ks("ssh-ed25519"), kp("pgp-ed25519"), side_signer=kp("pgp-ed25519"))

    # Raw tampering, each on its own ref.
    hdr = repo.signature_header
    raw = {name: repo.cat(w.oids[name]) for name in ("ssh-ed25519", "pgp-ed25519", "unsigned")}
    tampered = {
        "ssh-flipped": flip_message_byte(raw["ssh-ed25519"]),
        "pgp-flipped": flip_message_byte(raw["pgp-ed25519"]),
        "ssh-transplanted": transplant_signature(raw["unsigned"], raw["ssh-ed25519"], hdr),
        "pgp-transplanted": transplant_signature(raw["unsigned"], raw["pgp-ed25519"], hdr),
    }
    # A "dual-signed" commit: the SHA-1 signature plus a gpgsig-sha256 header (here
    # holding another commit's signature; it belongs to the other object format).
    pgp_sig = split_signature(raw["pgp-ed25519"], hdr)[1]
    assert pgp_sig is not None
    tampered["ssh-plus-sha256-header"] = add_signature(
        raw["ssh-ed25519"], pgp_sig, b"gpgsig-sha256"
    )
    merge = repo.cat(w.oids["merge-pgp"])
    (embedded,) = mergetags(merge)
    tampered["merge-flipped"] = replace_header(merge, b"mergetag", flip_message_byte(embedded))
    for name, data in tampered.items():
        w.oids[name] = repo.write_object("commit", data)
        repo.update_ref(f"refs/tamper/{name}", w.oids[name])
    w.oids["mergetag-flipped"] = repo.hash_object("tag", flip_message_byte(embedded))
    w.merges["mergetag-flipped"] = w.oids["merge-flipped"]
    # A real SSH signature, but made for the "file" namespace, not "git".
    w.oids["ssh-wrong-namespace"] = repo.signed_raw_commit(
        "signed in the file namespace",
        ks("ssh-ed25519"),
        parents=[w.oids["unsigned"]],
        namespace="file",
    )
    repo.update_ref("refs/tamper/ssh-wrong-namespace", w.oids["ssh-wrong-namespace"])
    return w


def _build_sha256(keys: Keys, base: Path) -> World:
    repo = _new_repo(keys, base / "repo", "sha256")
    w = World(repo, keys)
    ks, kp = keys.ssh_signer, keys.pgp_signer
    w.oids["ssh-ed25519"] = repo.commit("ssh ed25519", signer=ks("ssh-ed25519"))
    w.oids["pgp-ed25519"] = repo.commit("openpgp ed25519", signer=kp("pgp-ed25519"))
    w.oids["pgp-rsa3072"] = repo.commit("openpgp rsa3072", signer=kp("pgp-rsa3072"))
    w.oids["tag-pgp"] = repo.tag("tag-pgp", "openpgp tag", signer=kp("pgp-ed25519"))
    w.oids["tag-ssh"] = repo.tag("tag-ssh", "ssh tag", signer=ks("ssh-ed25519"))
    _merge_signed_tag(w, "pgp", kp("pgp-rsa3072"), ks("ssh-ed25519"), side_signer=ks("ssh-ed25519"))
    w.oids["side"] = w.oids.pop("side-pgp")
    w.good_range = "main"
    hdr = repo.signature_header
    assert hdr == b"gpgsig-sha256"
    ssh_raw = repo.cat(w.oids["ssh-ed25519"])
    assert split_signature(ssh_raw, hdr)[1] is not None
    unsigned_payload = repo.unsigned_commit_payload("unsigned", parents=[w.oids["merge-pgp"]])
    w.oids["unsigned"] = repo.write_object("commit", unsigned_payload)
    tampered = {
        "ssh-flipped": flip_message_byte(ssh_raw),
        "pgp-transplanted": transplant_signature(
            unsigned_payload, repo.cat(w.oids["pgp-ed25519"]), hdr
        ),
    }
    ssh_sig = split_signature(ssh_raw, hdr)[1]
    assert ssh_sig is not None
    tampered["pgp-plus-sha1-header"] = add_signature(
        repo.cat(w.oids["pgp-ed25519"]), ssh_sig, b"gpgsig"
    )
    for name, data in tampered.items():
        w.oids[name] = repo.write_object("commit", data)
    w.oids["ssh-unknown-key"] = repo.signed_raw_commit(
        "unknown ssh key", ks("ssh-unknown-key"), parents=[w.oids["merge-pgp"]]
    )
    for name in ("unsigned", *tampered, "ssh-unknown-key"):
        repo.update_ref(f"refs/tamper/{name}", w.oids[name])
    return w


def _world(keys: Keys, tmp: Path, build: Any) -> World:
    world: World = build(keys, tmp)
    _compute_oracle(world)
    _run_audits(world, tmp)
    return world


@pytest.fixture(scope="module")
def sha1_world(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> World:
    return _world(keys, tmp_path_factory.mktemp("sha1"), _build_sha1)


@pytest.fixture(scope="module")
def sha256_world(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> World:
    return _world(keys, tmp_path_factory.mktemp("sha256"), _build_sha256)


def _world_for(case: Case, request: pytest.FixtureRequest) -> World:
    world = request.getfixturevalue(f"{case.repo}_world")
    assert isinstance(world, World)
    return world


def _audited(world: World) -> AuditRun:
    assert world.audit is not None
    assert world.audit.rc in (0, 1), f"guard audit exited {world.audit.rc}\n{world.audit.stderr}"
    return world.audit


# --------------------------------------------------------------------------- the oracle


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_git_says_what_the_case_expects(case: Case, request: pytest.FixtureRequest) -> None:
    """Fixture sanity, independent of gitguard: the object really is what its case
    claims, according to git itself."""
    world = _world_for(case, request)
    assert world.oracle[case.name].code == case.git


@pytest.mark.parametrize("repo", ["sha1", "sha256"])
def test_raw_oracle_reads_commits_like_git_log(repo: str, request: pytest.FixtureRequest) -> None:
    """The tag oracle parses ``verify-* --raw`` output the way git does; check that
    parser on every commit against git's own ``%G?``/``%GF``."""
    world: World = request.getfixturevalue(f"{repo}_world")
    for oid, verdict in git_log_verdicts(world.repo).items():
        raw = git_verify_raw(world.repo, "commit", oid)
        assert (raw.code, raw.fingerprint) == (verdict.code, verdict.fingerprint), oid


# --------------------------------------------------------------------------- agreement


@pytest.mark.parametrize("case", SAME_AS_GIT, ids=[c.id for c in SAME_AS_GIT])
def test_git_code_agrees_with_git(case: Case, request: pytest.FixtureRequest) -> None:
    world = _world_for(case, request)
    _audited(world)
    ours = world.result(case)
    assert ours["git_code"] == world.oracle[case.name].code, ours


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_status(case: Case, request: pytest.FixtureRequest) -> None:
    world = _world_for(case, request)
    _audited(world)
    ours = world.result(case)
    assert ours["status"] == case.status, ours
    assert ours["kind"] == case.kind
    if case.kind == "mergetag":
        assert ours["commit"] == world.merges[case.name]
    if case.status == "unsigned":
        assert ours["format"] is None
    elif case.name.startswith(("ssh", "tag-ssh", "mergetag-ssh")):
        assert ours["format"] == "ssh"
    elif case.name.startswith(("pgp", "tag-pgp", "mergetag-pgp")):
        assert ours["format"] == "openpgp"


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_key_matches_git(case: Case, request: pytest.FixtureRequest) -> None:
    """``key`` is git's ``%GF`` (the signing key's fingerprint, a subkey's for a
    subkey signature) where git has one; else it ends with git's ``%GK`` key id."""
    world = _world_for(case, request)
    _audited(world)
    ours = world.result(case)
    git = world.oracle[case.name]
    if git.fingerprint:
        assert ours["key"] == git.fingerprint, ours
    elif git.key:
        assert ours["key"] is not None, ours
        assert ours["key"].upper().endswith(git.key.upper()), ours


def test_subkey_signature_names_the_subkey(sha1_world: World) -> None:
    _audited(sha1_world)
    key = sha1_world.keys.pgp["pgp-subkey"]
    ours = sha1_world.result(next(c for c in CASES if c.id == "sha1/pgp-subkey"))
    assert key.signing_fingerprint != key.fingerprint
    assert ours["key"] == key.signing_fingerprint


@pytest.mark.parametrize("repo", ["sha1", "sha256"])
def test_every_object_is_reported_once(repo: str, request: pytest.FixtureRequest) -> None:
    """--all covers every commit git reaches from any ref, every annotated tag a ref
    names, and every mergetag: nothing missing, nothing invented."""
    world: World = request.getfixturevalue(f"{repo}_world")
    _audited(world)
    assert set(world.ours) == set(world.everything)


@pytest.mark.parametrize("repo", ["sha1", "sha256"])
def test_every_object_agrees_with_git(repo: str, request: pytest.FixtureRequest) -> None:
    """Not only the named cases: every object in the repository (side-branch commits,
    merges…) gets git's code, except the documented differences."""
    world: World = request.getfixturevalue(f"{repo}_world")
    _audited(world)
    differs = {world.oids[c.name] for c in CASES if c.repo == repo and c.ours_code is not None}
    disagreements = [
        f"{kind} {oid}: ours {world.ours[(kind, oid)]['git_code']} git {verdict.code}"
        for (kind, oid), verdict in world.everything.items()
        if oid not in differs
        and (kind, oid) in world.ours
        and world.ours[(kind, oid)]["git_code"] != verdict.code
    ]
    assert not disagreements


# --------------------------------------------------------------------------- differences


def test_sha1_openpgp_signature_is_weak(sha1_world: World) -> None:
    """git (with gpg 2.2) accepts an OpenPGP signature over a SHA-1 digest as good.
    SHA-1 is collision-broken (SHAttered, chosen-prefix "SHA-1 is a Shambles"), so a
    SHA-1 signature does not bind the signer to these bytes: we refuse it as
    weak-algorithm and report git code B."""
    _audited(sha1_world)
    case = next(c for c in CASES if c.id == "sha1/pgp-sha1")
    assert sha1_world.oracle[case.name].code == "G"
    ours = sha1_world.result(case)
    assert ours["status"] == "weak-algorithm"
    assert ours["git_code"] == "B"


def test_expired_key_signature_made_before_expiry_is_good(sha1_world: World) -> None:
    """git reports Y for any signature by a key that has expired *now*. A signature
    made (and committed) while the key was valid stays good for us: key expiry ends
    the key's use, it does not revoke past work (a revocation does, see pgp-revoked)."""
    _audited(sha1_world)
    case = next(c for c in CASES if c.id == "sha1/pgp-expired-since")
    assert sha1_world.oracle[case.name].code == "Y"
    ours = sha1_world.result(case)
    assert ours["status"] == "good"
    assert ours["git_code"] == "G"
    assert ours["key"] == sha1_world.oracle[case.name].fingerprint


# --------------------------------------------------------------------------- output


def test_json_structure(sha1_world: World) -> None:
    audit = _audited(sha1_world)
    doc = audit.json()
    assert doc["version"] == 1
    assert set(doc) >= {"version", "results", "summary"}
    for r in doc["results"]:
        assert r["status"] in STATUSES, r
        assert r["git_code"] in GIT_CODES, r
        assert r["kind"] in {"commit", "tag", "mergetag"}, r
        assert r["format"] in {"openpgp", "ssh", "x509", None}, r
        assert isinstance(r["object"], str)
        assert len(r["object"]) == 40
        assert r["key"] is None or isinstance(r["key"], str)
        assert r["signer"] is None or isinstance(r["signer"], str)
        assert isinstance(r["reason"], str)
        assert r["reason"]
        if r["kind"] == "mergetag":
            assert isinstance(r["commit"], str)
            assert len(r["commit"]) == 40
    summary = doc["summary"]
    results = doc["results"]
    assert summary["total"] == len(results)
    by_status: dict[str, int] = {}
    by_kind: dict[str, int] = {}
    for r in results:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
        by_kind[r["kind"]] = by_kind.get(r["kind"], 0) + 1
    assert summary["by_status"] == by_status
    assert summary["by_kind"] == by_kind
    assert summary["ok"] is False


def test_sha256_object_ids(sha256_world: World) -> None:
    audit = _audited(sha256_world)
    assert all(len(r["object"]) == 64 for r in audit.results())


@pytest.mark.parametrize("repo", ["sha1", "sha256"])
def test_exit_codes(repo: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """1 when anything is not good (--all includes the bad objects), 0 for a range
    whose every object is good."""
    world: World = request.getfixturevalue(f"{repo}_world")
    assert _audited(world).rc == 1
    good = run_audit(world.repo, world.good_range, out=tmp_path / "good.json")
    assert good.rc == 0, good.output + good.stderr
    results = good.results()
    assert results
    assert {r["status"] for r in results} == {"good"}


def test_sarif(sha1_world: World, tmp_path: Path) -> None:
    audit = run_audit(sha1_world.repo, "--all", out=tmp_path / "a.sarif", fmt="sarif")
    assert audit.rc == 1, audit.stderr
    doc = json.loads(audit.output)
    assert doc["version"] == "2.1.0"
    run0 = doc["runs"][0]
    assert isinstance(run0["tool"]["driver"]["name"], str)
    assert run0["tool"]["driver"]["name"]
    results = run0["results"]
    bad = [r for r in sha1_world.ours.values() if r["status"] != "good"]
    assert len(results) == len(bad)
    for r in results:
        assert isinstance(r["ruleId"], str)
        assert r["ruleId"]
        assert r["level"] in {"none", "note", "warning", "error"}
        assert r["message"]["text"]
    text = json.dumps(results)
    for r in bad:
        assert r["object"] in text


def test_text_lists_offending_short_ids(sha1_world: World, tmp_path: Path) -> None:
    audit = run_audit(sha1_world.repo, "--all", out=tmp_path / "a.txt", fmt="text")
    assert audit.rc == 1, audit.stderr
    for r in sha1_world.ours.values():
        if r["status"] != "good":
            assert r["object"][:7] in audit.output, r


def test_explicit_trust_files_give_the_same_statuses(sha1_world: World, tmp_path: Path) -> None:
    """--allowed-signers/--openpgp-key with the same keys git trusts (exported from
    the keyring) decide every object the same way as git's configuration does."""
    ours = _audited(sha1_world)
    keys = sha1_world.keys
    args = ["--all", "--allowed-signers", str(keys.allowed_signers)]
    for name, key in keys.pgp.items():
        if name in ("pgp-unknown-key", "pgp-untrusted-key"):
            continue
        path = tmp_path / f"{name}.asc"
        path.write_bytes(keys.trusted.export(key))
        args += ["--openpgp-key", str(path)]
    explicit = run_audit(sha1_world.repo, *args, out=tmp_path / "explicit.json")
    assert explicit.rc == ours.rc
    names = {oid: name for name, oid in sha1_world.oids.items()}
    got = {k: r["status"] for k, r in index_results(explicit.results()).items()}
    differences = [
        f"{kind} {names.get(oid, oid)}: explicit {got.get((kind, oid))} git-trust {r['status']}"
        for (kind, oid), r in sha1_world.ours.items()
        if got.get((kind, oid)) != r["status"]
    ]
    assert not differences
    assert set(got) == set(sha1_world.ours)


def test_oracle_keyring_untouched_by_audit(sha1_world: World) -> None:
    """Auditing must not change git's verdicts (no keyring or trustdb writes)."""
    _audited(sha1_world)
    after = git_log_verdicts(sha1_world.repo)
    for name, oid in sha1_world.oids.items():
        if oid in after:
            assert after[oid].code == sha1_world.oracle[name].code, name


def test_parallel_audit_gives_the_same_verdicts(sha1_world: World, tmp_path: Path) -> None:
    """Enough commits that the audit fans out to worker processes: every object the
    serial audit judged gets the same verdict, and the bulk commits are unsigned."""
    _audited(sha1_world)
    path = tmp_path / "repo"
    shutil.copytree(sha1_world.repo.path, path, symlinks=True)
    repo = Repo(path, dict(sha1_world.repo.env))
    bulk = 600
    stream = b"".join(
        b"commit refs/heads/bulk\n"
        b"committer Test Committer <committer@example.com> %d +0000\n"
        b"data %d\n%s\n" % (1700000000 + i, len(b"bulk %d" % i), b"bulk %d" % i)
        for i in range(bulk)
    )
    repo.git("fast-import", "--quiet", input=stream)
    audit = run_audit(repo, "--all", "--jobs", "2", out=tmp_path / "parallel.json")
    assert audit.rc == 1, audit.stderr
    got = index_results(audit.results())
    for key, serial in sha1_world.ours.items():
        assert key in got, key
        assert (got[key]["status"], got[key]["git_code"], got[key]["key"]) == (
            serial["status"],
            serial["git_code"],
            serial["key"],
        ), key
    extra = [r for k, r in got.items() if k not in sha1_world.ours]
    assert len(extra) == bulk
    assert {r["status"] for r in extra} == {"unsigned"}
