"""Hostile and broken objects: ``guard audit`` reports them, it never crashes.

Every object here is written raw with ``git hash-object --literally -w``: truncated
and garbage armor, a 1 MB signature header, non-UTF-8 bytes, two signature headers,
unknown armor, broken tags and mergetags. Each must get a verdict (``malformed``,
or the documented status named in its case) and the audit must exit 1 — never 3
(a bug) and never with a traceback.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import sk_sign
from gitfixtures import (
    AuditRun,
    GpgHome,
    Repo,
    Signer,
    add_signature,
    allowed_signers_line,
    fold_header,
    git_log_verdicts,
    make_ssh_key,
    openpgp_signer,
    run_audit,
    ssh_signer,
    tool_env,
    write_allowed_signers,
)

for _tool in ("git", "gpg", "gpgconf", "ssh-keygen"):
    if shutil.which(_tool) is None:  # pragma: no cover - scripts/test.sh installs them
        pytest.fail(f"{_tool} is required for these tests (run scripts/test.sh)", pytrace=False)

PGP_BEGIN = b"-----BEGIN PGP SIGNATURE-----\n"
PGP_END = b"-----END PGP SIGNATURE-----\n"
SSH_BEGIN = b"-----BEGIN SSH SIGNATURE-----\n"
SSH_END = b"-----END SSH SIGNATURE-----\n"
LATIN1_AUTHOR = b"Ren\xe9 Fran\xe7ois"  # latin-1, invalid as UTF-8


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # the kind of the object under test: commit | tag | mergetag
    status: str


CASES = [
    Case("pgp-truncated-armor", "commit", "malformed"),
    Case("pgp-garbage-armor", "commit", "malformed"),
    Case("pgp-garbage-packets", "commit", "malformed"),
    Case("ssh-truncated", "commit", "malformed"),
    Case("ssh-garbage", "commit", "malformed"),
    Case("ssh-bad-magic", "commit", "malformed"),
    Case("ssh-bad-version", "commit", "malformed"),
    Case("x509-garbage", "commit", "malformed"),
    Case("huge-signature", "commit", "malformed"),
    Case("two-signatures", "commit", "malformed"),
    Case("unknown-armor", "commit", "malformed"),
    Case("non-utf8-signature", "commit", "malformed"),
    Case("empty-signature", "commit", "malformed"),
    Case("no-committer", "commit", "malformed"),
    # Not malformed at all: a latin-1 author is legal git (no encoding header needed
    # for the signature to cover the exact bytes). Unsigned is unsigned; signed
    # verifies over the raw bytes, as git agrees.
    Case("latin1-unsigned", "commit", "unsigned"),
    Case("latin1-ssh-signed", "commit", "good"),
    Case("latin1-pgp-signed", "commit", "good"),
    Case("tag-garbage-signature", "tag", "malformed"),
    Case("tag-truncated-ssh", "tag", "malformed"),
    Case("tag-latin1-tagger-ssh", "tag", "good"),
    Case("mergetag-garbage-signature", "mergetag", "malformed"),
    Case("mergetag-not-a-tag", "mergetag", "malformed"),
]
IDS = [c.name for c in CASES]


@dataclass
class World:
    repo: Repo
    trust: list[str]  # --allowed-signers / --openpgp-key arguments
    base: str  # a good, SSH-signed root commit every case builds on
    oids: dict[str, str] = field(default_factory=dict)  # case -> object (merge for mergetags)
    refs: dict[str, str] = field(default_factory=dict)  # case -> the ref naming it
    audit: AuditRun | None = None

    def find(self, results: list[dict[str, Any]], case: Case) -> dict[str, Any]:
        oid = self.oids[case.name]
        for r in results:
            if case.kind == "mergetag":
                if r["kind"] == "mergetag" and r.get("commit") == oid:
                    return r
            elif r["kind"] == case.kind and r["object"] == oid:
                return r
        raise AssertionError(f"no {case.kind} result for {case.name} ({oid}) in {results}")


def _noise(n: int, seed: str) -> bytes:
    """Deterministic garbage (the same bytes on every run)."""
    return hashlib.shake_256(seed.encode()).digest(n)


def _armor(begin: bytes, body: bytes, end: bytes) -> bytes:
    return begin + body + end


def _b64_lines(data: bytes) -> bytes:
    b64 = base64.b64encode(data)
    return b"".join(b64[i : i + 64] + b"\n" for i in range(0, len(b64), 64))


def _truncate(sig: bytes) -> bytes:
    """Keep the armor header and the first half of the body; drop the end line."""
    lines = sig.rstrip(b"\n").split(b"\n")
    return b"\n".join(lines[: max(2, len(lines) // 2)]) + b"\n"


def _halve_body(sig: bytes) -> bytes:
    """Keep both armor lines but only half the base64 body."""
    lines = sig.rstrip(b"\n").split(b"\n")
    body = lines[1:-1]
    return b"\n".join([lines[0], *body[: max(1, len(body) // 2)], lines[-1]]) + b"\n"


def _latin1(payload: bytes, role: bytes) -> bytes:
    return payload.replace(role + b" Test Author", role + b" " + LATIN1_AUTHOR).replace(
        role + b" Test Committer", role + b" " + LATIN1_AUTHOR
    )


def _tag_bytes(target: str, name: str, message: bytes, *, tagger: bytes = b"Test Tagger") -> bytes:
    return (
        f"object {target}\ntype commit\ntag {name}\n".encode()
        + b"tagger "
        + tagger
        + b" <tagger@example.com> 1700000000 +0000\n\n"
        + message
    )


def _build(base_dir: Path) -> tuple[World, list[GpgHome]]:
    gnupg = base_dir / "gnupg"
    env = tool_env(base_dir / "home", gnupghome=gnupg)
    home = GpgHome.create(gnupg, env)
    pgp_key = home.gen_key("Mal <mal@example.com>", "ed25519")
    ssh_key = make_ssh_key(base_dir / "ssh", "ed25519", "ed25519", env)
    allowed = write_allowed_signers(
        base_dir / "allowed_signers", [allowed_signers_line("mal@example.com", ssh_key)]
    )
    cert = base_dir / "mal.asc"
    cert.write_bytes(home.export(pgp_key))
    ssh: Signer = ssh_signer(ssh_key)
    pgp: Signer = openpgp_signer(pgp_key)

    repo = Repo.init(base_dir / "repo", env)
    repo.git("config", "gpg.ssh.allowedSignersFile", str(allowed))
    base = repo.commit("base", signer=ssh)
    world = World(repo, ["--allowed-signers", str(allowed), "--openpgp-key", str(cert)], base)

    def sign(data: bytes, signer: Signer) -> bytes:
        return signer.sign(data, env, workdir=repo.scratch)

    def commit(name: str, payload: bytes, *signatures: bytes) -> None:
        data = payload
        for sig in signatures:
            data = add_signature(data, sig)
        world.oids[name] = repo.write_object("commit", data, literally=True)
        world.refs[name] = f"refs/heads/m/{name}"
        repo.update_ref(world.refs[name], world.oids[name])

    def payload(name: str) -> bytes:
        return repo.unsigned_commit_payload(f"case {name}", parents=[base])

    p = payload("pgp")
    real_pgp = sign(p, pgp)
    commit("pgp-truncated-armor", p, _truncate(real_pgp))
    commit(
        "pgp-garbage-armor",
        payload("g1"),
        _armor(PGP_BEGIN, b"\nthis is ~~ not base64 ~~\n", PGP_END),
    )
    commit(
        "pgp-garbage-packets",
        payload("g2"),
        _armor(PGP_BEGIN, b"\n" + _b64_lines(_noise(300, "pgp")), PGP_END),
    )
    p = payload("ssh")
    commit("ssh-truncated", p, _halve_body(sign(p, ssh)))
    commit("ssh-garbage", payload("g3"), _armor(SSH_BEGIN, _b64_lines(_noise(300, "ssh")), SSH_END))
    pub_blob = base64.b64decode(ssh_key.public_line.split()[1])
    fake_sig = sk_sign.ssh_string(b"ssh-ed25519") + sk_sign.ssh_string(_noise(64, "sig"))
    commit(
        "ssh-bad-magic",
        payload("g4"),
        sk_sign.armor(sk_sign.sshsig_blob(pub_blob, fake_sig, magic=b"NOTSIG")),
    )
    commit(
        "ssh-bad-version",
        payload("g5"),
        sk_sign.armor(sk_sign.sshsig_blob(pub_blob, fake_sig, version=2)),
    )
    commit(
        "x509-garbage",
        payload("g6"),
        b"-----BEGIN SIGNED MESSAGE-----\n"
        + _b64_lines(_noise(200, "x509"))
        + b"-----END SIGNED MESSAGE-----\n",
    )
    huge = _armor(
        PGP_BEGIN, b"\n" + b"A" * 64 * 1024 + b"\n" + (b"A" * 64 + b"\n") * 16384, PGP_END
    )
    assert len(huge) > 1024 * 1024
    commit("huge-signature", payload("huge"), huge)
    p = payload("two")
    commit("two-signatures", p, sign(p, ssh), sign(p, pgp))
    commit(
        "unknown-armor",
        payload("g7"),
        b"-----BEGIN FOO SIGNATURE-----\nAAAA\n-----END FOO SIGNATURE-----\n",
    )
    commit("non-utf8-signature", payload("g8"), _armor(PGP_BEGIN, b"\n\xff\xfe\x80\x81\n", PGP_END))
    commit("empty-signature", payload("g9"), b"")
    no_committer = b"".join(
        line
        for line in payload("nc").splitlines(keepends=True)
        if not line.startswith(b"committer ")
    )
    commit("no-committer", no_committer)
    commit("latin1-unsigned", _latin1(payload("l1"), b"author"))
    p = _latin1(_latin1(payload("l2"), b"author"), b"committer")
    commit("latin1-ssh-signed", p, sign(p, ssh))
    p = _latin1(_latin1(payload("l3"), b"author"), b"committer")
    commit("latin1-pgp-signed", p, sign(p, pgp))

    # Tags: the signature is appended to the message.
    def tag(name: str, data: bytes) -> None:
        world.oids[name] = repo.write_object("tag", data, literally=True)
        world.refs[name] = f"refs/tags/m-{name}"
        repo.update_ref(world.refs[name], world.oids[name])

    tag(
        "tag-garbage-signature",
        _tag_bytes(base, "g", b"garbage\n") + _armor(PGP_BEGIN, b"\ngarbage!!\n", PGP_END),
    )
    t = _tag_bytes(base, "t", b"truncated\n")
    tag("tag-truncated-ssh", t + _halve_body(sign(t, ssh)))
    t = _tag_bytes(base, "l", b"latin-1 tagger\n", tagger=LATIN1_AUTHOR)
    tag("tag-latin1-tagger-ssh", t + sign(t, ssh))

    # Mergetags: a validly signed merge commit embedding a broken tag.
    def merge(name: str, embedded: bytes) -> None:
        side = repo.unsigned_commit_payload(f"side {name}", parents=[base])
        side_oid = repo.write_object("commit", add_signature(side, sign(side, ssh)))
        p = repo.unsigned_commit_payload(f"merge {name}", parents=[base, side_oid])
        end = p.index(b"\n\n") + 1
        p = p[:end] + fold_header(b"mergetag", embedded) + p[end:]
        commit(name, p, sign(p, ssh))

    merge(
        "mergetag-garbage-signature",
        _tag_bytes(base, "mg", b"merge me\n") + _armor(PGP_BEGIN, b"\nnot a signature\n", PGP_END),
    )
    merge("mergetag-not-a-tag", b"this is not a tag object\n")
    return world, [home]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base_dir = tmp_path_factory.mktemp("malformed")
    world, homes = _build(base_dir)
    try:
        world.audit = run_audit(world.repo, "--all", *world.trust, out=base_dir / "all.json")
        yield world
    finally:
        for h in homes:
            h.close()


def _no_crash(audit: AuditRun) -> None:
    assert audit.rc != 3, audit.stderr
    for stream in (audit.stderr, audit.stdout, audit.output):
        assert "Traceback" not in stream


# --------------------------------------------------------------------------- tests


def test_audit_all_survives_every_case(world: World) -> None:
    assert world.audit is not None
    _no_crash(world.audit)
    assert world.audit.rc == 1, world.audit.stderr
    doc = world.audit.json()
    assert doc["summary"]["total"] == len(doc["results"])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_case_in_full_audit(world: World, case: Case) -> None:
    assert world.audit is not None
    _no_crash(world.audit)
    result = world.find(world.audit.results(), case)
    assert result["status"] == case.status, result
    assert isinstance(result["reason"], str)
    assert result["reason"]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_case_alone(world: World, case: Case, tmp_path: Path) -> None:
    """Audit only the case's ref: one bad object makes exit 1, a good one exit 0."""
    audit = run_audit(world.repo, world.refs[case.name], *world.trust, out=tmp_path / "a.json")
    _no_crash(audit)
    assert audit.rc == (0 if case.status == "good" else 1), audit.stderr
    result = world.find(audit.results(), case)
    assert result["status"] == case.status, result


@pytest.mark.parametrize("fmt", ["text", "sarif"])
def test_other_formats_survive(world: World, fmt: str, tmp_path: Path) -> None:
    audit = run_audit(world.repo, "--all", *world.trust, out=tmp_path / f"a.{fmt}", fmt=fmt)
    _no_crash(audit)
    assert audit.rc == 1
    if fmt == "sarif":
        results = json.loads(audit.output)["runs"][0]["results"]
        assert {r["ruleId"] for r in results} >= {"malformed"}
    else:
        for case in CASES:
            if case.status != "good" and case.kind == "commit":
                assert world.oids[case.name][:7] in audit.output, case.name


def test_latin1_signed_commits_agree_with_git(world: World) -> None:
    """git verifies the raw bytes too: our good is git's G."""
    assert world.audit is not None
    git = git_log_verdicts(
        world.repo, "--no-walk", world.oids["latin1-ssh-signed"], world.oids["latin1-pgp-signed"]
    )
    for name in ("latin1-ssh-signed", "latin1-pgp-signed"):
        case = next(c for c in CASES if c.name == name)
        ours = world.find(world.audit.results(), case)
        assert git[world.oids[name]].code == "G"
        assert ours["git_code"] == "G"


def test_two_signature_headers_are_malformed_though_git_reads_them(world: World) -> None:
    """git concatenates the values of repeated gpgsig headers and hands the result to
    the verifier the *first* armor selects: here ssh-keygen reads the SSH signature,
    ignores the OpenPGP one after it, and git says G. Which signature counts then
    depends on the order and on the tool; we refuse to guess and report the commit
    as malformed (a deliberate, stricter difference from git)."""
    assert world.audit is not None
    oid = world.oids["two-signatures"]
    assert git_log_verdicts(world.repo, "--no-walk", oid)[oid].code == "G"
    ours = world.find(world.audit.results(), next(c for c in CASES if c.name == "two-signatures"))
    assert ours["status"] == "malformed"


def test_unparseable_commit_is_an_error_not_a_crash(tmp_path: Path) -> None:
    """A ref to an object git itself cannot parse as a commit: exit 1 with a message."""
    env = tool_env(tmp_path / "home")
    repo = Repo.init(tmp_path / "repo", env)
    repo.commit("base")
    oid = repo.write_object("commit", b"this is not a commit\n", literally=True)
    # update-ref refuses a bogus commit; write the ref file as a broken tool would.
    ref = tmp_path / "repo" / ".git" / "refs" / "heads" / "broken"
    ref.write_text(oid + "\n")
    empty = tmp_path / "allowed"
    empty.write_text("")
    audit = run_audit(repo, "--all", "--allowed-signers", str(empty), out=tmp_path / "a.json")
    _no_crash(audit)
    assert audit.rc == 1
    assert audit.stderr.strip() or audit.output
