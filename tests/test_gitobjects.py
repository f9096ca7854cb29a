"""Reading git: walks and the exact signed bytes, checked with git and ssh-keygen."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitguard.errors import GitError
from gitguard.gitobjects import (
    ObjectReader,
    count_commits,
    open_repo,
    parse_commit,
    parse_tag,
    rev_list,
    tag_objects,
)
from gitguard.model import Kind, SignedObject


def git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    return subprocess.run(
        ("git", *args), cwd=repo, input=stdin, capture_output=True, check=True
    ).stdout.decode()


def _sshkey(tmp: Path) -> Path:
    key = tmp / "key"
    subprocess.run(("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)), check=True)
    return key


def _repo(tmp: Path, fmt: str, key: Path) -> Path:
    repo = tmp / f"repo-{fmt}"
    subprocess.run(
        ("git", "init", "-q", "-b", "main", f"--object-format={fmt}", str(repo)), check=True
    )
    git(repo, "config", "gpg.format", "ssh")
    git(repo, "config", "user.signingkey", f"{key}.pub")
    git(repo, "commit", "-q", "--allow-empty", "-S", "-m", "one")
    git(repo, "checkout", "-q", "-b", "side")
    git(repo, "commit", "-q", "--allow-empty", "-S", "-m", "side\n\nwith a body")
    git(repo, "tag", "-s", "-m", "side tag", "st")
    git(repo, "checkout", "-q", "main")
    git(repo, "commit", "-q", "--allow-empty", "--no-gpg-sign", "-m", "two")
    git(repo, "merge", "-q", "--no-ff", "-S", "-m", "merge side", "st")
    git(repo, "tag", "-s", "-m", "release", "v1")
    return repo


def _ssh_signature_ok(obj: SignedObject, tmp: Path) -> bool:
    """ssh-keygen is the oracle for 'this is exactly the signed payload'."""
    assert obj.signature is not None
    sig = tmp / "sig"
    sig.write_bytes(obj.signature)
    proc = subprocess.run(
        ("ssh-keygen", "-Y", "check-novalidate", "-n", "git", "-s", str(sig)),
        input=obj.payload,
        capture_output=True,
        check=False,
    )
    return proc.returncode == 0


@pytest.mark.parametrize("fmt", ["sha1", "sha256"])
def test_payloads_are_exactly_what_was_signed(tmp_path: Path, fmt: str) -> None:
    repo_path = _repo(tmp_path, fmt, _sshkey(tmp_path))
    repo = open_repo(repo_path)
    assert repo.object_format == fmt
    commits = list(rev_list(repo, [], all_refs=True))
    assert len(commits) == count_commits(repo, [], all_refs=True) == 4
    tags = tag_objects(repo, [], all_refs=True)
    assert sorted(tags) == sorted(git(repo_path, "rev-parse", "st", "v1").split())
    facts: list[SignedObject] = []
    with ObjectReader(repo) as reader:
        for oid, typ, data in reader.read_many(commits + tags):
            if typ == "commit":
                facts.extend(parse_commit(oid, data, fmt))
            else:
                facts.append(parse_tag(oid, data))
    by_subject = {(f.kind, f.subject): f for f in facts}
    assert by_subject[(Kind.COMMIT, "two")].signature is None
    mergetag = by_subject[(Kind.MERGETAG, "st: side tag")]
    # The embedded tag's id is the id of the tag object git stored for `st`.
    assert mergetag.oid == git(repo_path, "rev-parse", "st").strip()
    assert mergetag.commit == git(repo_path, "rev-parse", "main").strip()
    signed = [f for f in facts if f.signature is not None]
    assert len(signed) == 6  # one, side, merge, mergetag, st, v1
    for f in signed:
        assert f.malformed is None
        assert _ssh_signature_ok(f, tmp_path), f
        # Flipping one payload byte must break it: the oracle is really checking.
        flipped = SignedObject(f.oid, f.kind, f.payload[:-1] + b"X", f.signature)
        assert not _ssh_signature_ok(flipped, tmp_path)
    assert by_subject[(Kind.COMMIT, "side")].committer_email == "committer@example.com"


def test_other_format_signature_header_is_not_payload() -> None:
    raw = (
        b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
        b"author A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\n"
        b"gpgsig-sha256 -----BEGIN SSH SIGNATURE-----\n abc\n -----END SSH SIGNATURE-----\n"
        b"gpgsig -----BEGIN SSH SIGNATURE-----\n def\n -----END SSH SIGNATURE-----\n"
        b"\nmsg\n"
    )
    (fact,) = parse_commit("c" * 40, raw, "sha1")
    assert fact.signature == (b"-----BEGIN SSH SIGNATURE-----\ndef\n-----END SSH SIGNATURE-----\n")
    assert fact.payload == (
        b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
        b"author A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\n\nmsg\n"
    )


def test_two_signature_headers_are_malformed() -> None:
    raw = (
        b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
        b"author A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\n"
        b"gpgsig -----BEGIN SSH SIGNATURE-----\n a\n -----END SSH SIGNATURE-----\n"
        b"gpgsig -----BEGIN SSH SIGNATURE-----\n b\n -----END SSH SIGNATURE-----\n"
        b"\nmsg\n"
    )
    (fact,) = parse_commit("c" * 40, raw, "sha1")
    assert fact.malformed == "commit has 2 gpgsig headers; a commit carries one"


def test_non_utf8_headers_do_not_break_parsing() -> None:
    raw = (
        b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
        b"author J\xf6rg <j@x> 5 +0000\ncommitter J\xf6rg <j@x> 7 +0200\n"
        b"encoding ISO-8859-1\n\nGr\xfc\xdfe\n"
    )
    (fact,) = parse_commit("c" * 40, raw, "sha1")
    assert fact.signature is None
    assert fact.time == 7
    assert fact.committer_email == "j@x"
    assert fact.committer == "J\ufffdrg <j@x>"
    assert fact.payload == raw


def test_tag_signature_is_the_last_armor_block() -> None:
    raw = (
        b"object 4b825dc642cb6eb9a060e54bf8d69288fbee4904\ntype commit\ntag v1\n"
        b"tagger T <t@x> 9 +0000\n\nquote:\n-----BEGIN PGP SIGNATURE-----\nnot this\n"
        b"-----END PGP SIGNATURE-----\n-----BEGIN SSH SIGNATURE-----\nthis\n"
        b"-----END SSH SIGNATURE-----\n"
    )
    fact = parse_tag("t" * 40, raw)
    assert fact.signature == b"-----BEGIN SSH SIGNATURE-----\nthis\n-----END SSH SIGNATURE-----\n"
    assert fact.payload == raw[: raw.index(b"-----BEGIN SSH")]
    assert fact.time == 9


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="not a git repository"):
        open_repo(tmp_path)


def test_bad_revision_is_a_clear_error(tmp_path: Path) -> None:
    repo_path = tmp_path / "r"
    subprocess.run(("git", "init", "-q", str(repo_path)), check=True)
    git(repo_path, "commit", "-q", "--allow-empty", "-m", "x")
    repo = open_repo(repo_path)
    with pytest.raises(GitError, match="no-such-branch"):
        count_commits(repo, ["no-such-branch"], all_refs=False)


def test_missing_object_is_reported(tmp_path: Path) -> None:
    repo_path = tmp_path / "r"
    subprocess.run(("git", "init", "-q", str(repo_path)), check=True)
    with ObjectReader(open_repo(repo_path)) as reader:
        assert reader.read_many(["1" * 40]) == [("1" * 40, "missing", b"")]
