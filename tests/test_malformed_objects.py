"""Hostile and broken objects: ``guard audit`` reports them, it never crashes.

Every object here is written raw with ``git hash-object --literally -w``: truncated
and garbage armor, a 1 MB signature header, non-UTF-8 bytes, two signature headers,
unknown armor, broken tags and mergetags, objects git itself cannot parse (CR LF
line ends, a signature header before ``tree``: ``git rev-list`` dies on them) and
objects git tolerates (odd header order, no tagger). Each must get a verdict
(``malformed``, or the documented status named in its case), every other object
still gets its own, and the audit must exit 1 — never 3 (a bug) and never with a
traceback.
"""

from __future__ import annotations

import base64
import hashlib
import json
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
    git_verify_raw,
    make_ssh_key,
    openpgp_signer,
    require_tools,
    run,
    run_audit,
    ssh_signer,
    tool_env,
    write_allowed_signers,
)

require_tools(("git", "gpg", "gpgconf", "ssh-keygen"), "for these tests", "run scripts/test.sh")

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
    # git cannot parse these (rev-list dies: "bogus commit object"); each gets its verdict.
    Case("crlf-commit", "commit", "malformed"),
    Case("signature-before-tree", "commit", "malformed"),
    Case("tag-crlf", "tag", "malformed"),
    # git shows one of two identities: which one would a policy judge? Refused.
    Case("duplicate-committer-ssh", "commit", "malformed"),
    Case("duplicate-author-ssh", "commit", "malformed"),
    Case("tag-duplicate-tagger-ssh", "tag", "malformed"),
    # git tolerates these: the verdict is on the signature.
    Case("odd-header-order-ssh", "commit", "good"),
    Case("no-message-ssh", "commit", "good"),
    Case("tag-no-tagger-ssh", "tag", "good"),
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


def force_ref(repo: Repo, ref: str, oid: str) -> None:
    """Point ``ref`` at ``oid`` even when git cannot parse the object (``update-ref``
    refuses then), as a broken tool or a crafted push would leave it."""
    path = repo.path / ".git" / ref
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(oid + "\n")


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
        force_ref(repo, world.refs[name], world.oids[name])

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
    commit("crlf-commit", payload("crlf").replace(b"\n", b"\r\n"))
    p = payload("sbt")
    commit("signature-before-tree", fold_header(b"gpgsig", sign(p, ssh)) + p)
    p = payload("dc")
    p = p.replace(b"\n\n", b"\ncommitter Mallory <m@example.com> 1700000000 +0000\n\n", 1)
    commit("duplicate-committer-ssh", p, sign(p, ssh))
    p = payload("da")
    p = p.replace(b"\n\n", b"\nauthor Mallory <m@example.com> 1700000000 +0000\n\n", 1)
    commit("duplicate-author-ssh", p, sign(p, ssh))
    lines = payload("order").split(b"\n\n", 1)[0].split(b"\n")  # tree parent author committer
    p = b"\n".join([*lines[:2], lines[3], b"encoding UTF-8", lines[2]]) + b"\n\nodd order\n"
    commit("odd-header-order-ssh", p, sign(p, ssh))
    p = payload("nm").split(b"\n\n", 1)[0] + b"\n"  # headers only: no blank line
    commit("no-message-ssh", p, sign(p, ssh))

    # Tags: the signature is appended to the message.
    def tag(name: str, data: bytes) -> None:
        world.oids[name] = repo.write_object("tag", data, literally=True)
        world.refs[name] = f"refs/tags/m-{name}"
        force_ref(repo, world.refs[name], world.oids[name])

    tag(
        "tag-garbage-signature",
        _tag_bytes(base, "g", b"garbage\n") + _armor(PGP_BEGIN, b"\ngarbage!!\n", PGP_END),
    )
    t = _tag_bytes(base, "t", b"truncated\n")
    tag("tag-truncated-ssh", t + _halve_body(sign(t, ssh)))
    t = _tag_bytes(base, "l", b"latin-1 tagger\n", tagger=LATIN1_AUTHOR)
    tag("tag-latin1-tagger-ssh", t + sign(t, ssh))
    tag("tag-crlf", _tag_bytes(base, "c", b"crlf\n").replace(b"\n", b"\r\n"))
    t = _tag_bytes(base, "d", b"two taggers\n").replace(
        b"\n\n", b"\ntagger Mallory <m@example.com> 1700000000 +0000\n\n", 1
    )
    tag("tag-duplicate-tagger-ssh", t + sign(t, ssh))
    t = b"".join(
        line
        for line in _tag_bytes(base, "n", b"no tagger\n").splitlines(keepends=True)
        if not line.startswith(b"tagger ")
    )
    tag("tag-no-tagger-ssh", t + sign(t, ssh))

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


# The reasons, as ``--no-walk`` gives them (no walk involved).
REASONS = {
    "crlf-commit": "commit header lines end in CR LF: git cannot parse it",
    "signature-before-tree": (
        "commit does not start with its tree header (it starts with 'gpgsig'): git cannot parse it"
    ),
    "tag-crlf": "tag header lines end in CR LF: git cannot parse it",
    "duplicate-committer-ssh": "commit has 2 committer headers; a commit carries one",
    "duplicate-author-ssh": "commit has 2 author headers; a commit carries one",
    "tag-duplicate-tagger-ssh": "tag has 2 tagger headers; a tag carries one",
    "no-committer": "commit has no committer header",
    "two-signatures": (
        "commit has 2 gpgsig headers holding more than one signature; git concatenates "
        "them and checks only what its first armor's verifier reads"
    ),
}


def test_no_walk_gives_each_named_object_its_verdict(world: World, tmp_path: Path) -> None:
    """Named by object id, without a walk: exactly these objects (and the mergetags
    of the merges), each with its own verdict, in the order named."""
    names = [world.oids[c.name] for c in CASES]
    audit = run_audit(world.repo, "--no-walk", *world.trust, *names, out=tmp_path / "a.json")
    _no_crash(audit)
    assert audit.rc == 1, audit.stderr
    results = audit.results()
    mergetags = sum(c.kind == "mergetag" for c in CASES)
    assert len(results) == len(CASES) + mergetags  # each merge: commit and mergetag
    assert [r["object"] for r in results if r["kind"] != "mergetag"] == names
    for case in CASES:
        result = world.find(results, case)
        assert result["status"] == case.status, result
        if case.name in REASONS:
            assert result["reason"] == REASONS[case.name]


@pytest.mark.parametrize("name", ["crlf-commit", "signature-before-tree", "tag-crlf"])
def test_walk_reports_what_git_cannot_walk(world: World, name: str) -> None:
    """In the --all audit, git's own walk stops at these: the ref is left out of the
    walk and the verdict says so (next to our reason)."""
    assert world.audit is not None
    oid, ref = world.oids[name], world.refs[name]
    case = next(c for c in CASES if c.name == name)
    error = "" if case.kind == "tag" else f"error: bogus commit object {oid}; "
    assert world.find(world.audit.results(), case)["reason"] == (
        f"{REASONS[name]}; git cannot walk it ({error}fatal: bad object {ref}): {ref} left "
        "out of the walk, and the history behind it was not audited"
    )
    assert f"  {oid}: git cannot walk it (" in world.audit.stderr


def test_objects_git_cannot_parse_are_ones_git_cannot_walk(world: World) -> None:
    for name in ("crlf-commit", "signature-before-tree", "tag-crlf"):
        proc = run(
            ["git", "-C", world.repo.path, "rev-list", world.refs[name]],
            env=world.repo.env,
            check=False,
        )
        assert proc.returncode == 128
        assert proc.stderr.decode().endswith(f"fatal: bad object {world.refs[name]}\n")


def test_tolerated_headers_agree_with_git(world: World) -> None:
    """Odd header order and a commit without a message: git verifies them (G), so do
    we. Two committers or authors: git verifies the signature and shows the first;
    we refuse to pick one (a deliberate difference)."""
    assert world.audit is not None
    results = world.audit.results()
    names = ["odd-header-order-ssh", "no-message-ssh", "duplicate-committer-ssh",
             "duplicate-author-ssh"]  # fmt: skip
    git = git_log_verdicts(world.repo, "--no-walk", *(world.oids[n] for n in names))
    for name in names:
        case = next(c for c in CASES if c.name == name)
        assert git[world.oids[name]].code == "G", name
        ours = world.find(results, case)
        assert ours["git_code"] == ("G" if case.status == "good" else "B"), ours


def test_tag_without_tagger_is_verified(world: World) -> None:
    """git (2.39, and its master of 2026) does not verify a tag without a tagger at
    all: check_signature() gives up before running gpg or ssh-keygen, and verify-tag
    exits 1 without a word. The signature is there and verifiable: we judge it."""
    assert world.audit is not None
    oid = world.oids["tag-no-tagger-ssh"]
    proc = run(
        ["git", "-C", world.repo.path, "verify-tag", "--raw", oid],
        env=world.repo.env,
        check=False,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (1, b"", b"")
    case = next(c for c in CASES if c.name == "tag-no-tagger-ssh")
    ours = world.find(world.audit.results(), case)
    assert (ours["status"], ours["format"]) == ("good", "ssh")
    # Two taggers: git verifies the signature; we refuse to pick a tagger.
    dup = world.oids["tag-duplicate-tagger-ssh"]
    assert git_verify_raw(world.repo, "tag", dup).code == "G"


def test_unparseable_commit_gets_its_verdict_and_the_rest_theirs(tmp_path: Path) -> None:
    """A ref to an object git itself cannot parse as a commit: git rev-list --all dies
    at once ("bogus commit object"); the audit reports that object as malformed and
    every other commit with its own verdict, says it is incomplete, and exits 1."""
    env = tool_env(tmp_path / "home")
    repo = Repo.init(tmp_path / "repo", env)
    base = repo.commit("base")
    oid = repo.write_object("commit", b"this is not a commit\n", literally=True)
    force_ref(repo, "refs/heads/broken", oid)
    empty = tmp_path / "allowed"
    empty.write_text("")
    audit = run_audit(repo, "--all", "--allowed-signers", str(empty), out=tmp_path / "a.json")
    _no_crash(audit)
    assert audit.rc == 1
    why = (
        "commit does not start with its tree header (it starts with 'this'): git cannot "
        f"parse it; git cannot walk it (error: bogus commit object {oid}; fatal: bad object "
        "refs/heads/broken): refs/heads/broken left out of the walk, and the history "
        "behind it was not audited"
    )
    assert [(r["object"], r["status"], r["reason"]) for r in audit.results()] == [
        (oid, "malformed", why),
        (base, "unsigned", "commit is not signed"),
    ]
    assert audit.stderr.endswith(
        "guard: incomplete audit: git cannot walk past 1 object (reported as malformed); "
        f"the history behind it was not audited:\n  {oid}: {why.split('; ', 1)[1]}\n"
    )


def test_unparseable_commit_inside_the_history(tmp_path: Path) -> None:
    """deep <- X (CR LF: git cannot parse it) <- child <- tip, and main: base. git
    dies walking child's parents. X gets its verdict, tip and child and base theirs;
    deep, behind X, cannot be seen: the audit says so and exits 1 — also when X is
    named directly, and with --no-walk."""
    env = tool_env(tmp_path / "home")
    repo = Repo.init(tmp_path / "repo", env)
    base = repo.commit("base")
    deep = repo.write_object("commit", repo.unsigned_commit_payload("deep"))
    x_raw = repo.unsigned_commit_payload("x", parents=[deep]).replace(b"\n", b"\r\n")
    x = repo.write_object("commit", x_raw, literally=True)
    child = repo.write_object(
        "commit", repo.unsigned_commit_payload("child", parents=[base]).replace(
            b"parent " + base.encode(), b"parent " + x.encode() + b"\nparent " + base.encode()
        )
    )  # fmt: skip
    tip = repo.write_object("commit", repo.unsigned_commit_payload("tip", parents=[child]))
    repo.update_ref("refs/heads/through", tip)
    empty = tmp_path / "allowed"
    empty.write_text("")
    trust = ["--allowed-signers", str(empty)]

    audit = run_audit(repo, "--all", *trust, out=tmp_path / "all.json")
    _no_crash(audit)
    assert audit.rc == 1
    by_oid = {r["object"]: r for r in audit.results()}
    assert sorted(by_oid) == sorted([x, child, tip, base])  # not deep
    assert {o: r["status"] for o, r in by_oid.items()} == {
        x: "malformed", child: "unsigned", tip: "unsigned", base: "unsigned"
    }  # fmt: skip
    assert by_oid[x]["reason"] == (
        "commit header lines end in CR LF: git cannot parse it; git cannot walk it "
        f"(error: bogus commit object {x}; fatal: Failed to traverse parents of commit "
        f"{child}): it is a parent of {child}, and the history behind it was not audited"
    )
    assert "guard: incomplete audit: git cannot walk past 1 object" in audit.stderr

    audit = run_audit(repo, x, *trust, out=tmp_path / "x.json")
    assert audit.rc == 1
    assert [(r["object"], r["status"]) for r in audit.results()] == [(x, "malformed")]
    assert "guard: incomplete audit" in audit.stderr

    audit = run_audit(repo, "--no-walk", x, tip, *trust, out=tmp_path / "nw.json")
    assert audit.rc == 1
    assert [(r["object"], r["status"], r["reason"]) for r in audit.results()] == [
        (x, "malformed", "commit header lines end in CR LF: git cannot parse it"),
        (tip, "unsigned", "commit is not signed"),
    ]
    assert "incomplete" not in audit.stderr  # nothing was to be walked
