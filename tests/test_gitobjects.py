"""Reading git: walks and the exact signed bytes, checked with git and ssh-keygen."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitfixtures import Repo, fold_header, split_signature, tool_env
from gitguard.errors import GitError
from gitguard.gitobjects import (
    ObjectReader,
    Walk,
    WalkProblem,
    count_commits,
    named_objects,
    open_repo,
    parse_commit,
    parse_tag,
    plan_walk,
    ref_tips,
    resolve,
    rev_list,
    tag_objects,
    tag_target,
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
    assert fact.malformed == (
        "commit has 2 gpgsig headers holding more than one signature; git concatenates "
        "them and checks only what its first armor's verifier reads"
    )


def test_one_armor_over_repeated_signature_headers_is_concatenated_as_git_does() -> None:
    """git.git's 2011 signed commits: one gpgsig header per armor line."""
    armor = [
        b"-----BEGIN PGP SIGNATURE-----",
        b"",
        b"iQIcBAAB",
        b"=abcd",
        b"-----END PGP SIGNATURE-----",
    ]
    raw = (
        b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
        b"author A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\n"
        + b"".join(b"gpgsig " + line + b"\n" for line in armor)
        + b"\nmsg\n"
    )
    (fact,) = parse_commit("c" * 40, raw, "sha1")
    assert fact.malformed is None
    assert fact.signature == b"\n".join(armor) + b"\n"
    assert fact.payload == raw.split(b"gpgsig ")[0] + b"\nmsg\n"


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


# --------------------------------------------------------------------------- names


def _plain_repo(tmp: Path) -> Repo:
    repo = Repo.init(tmp / "plain", tool_env(tmp / "home"))
    repo.commit("one")
    repo.commit("two")
    repo.tag("v1", "release one")
    repo.git("tag", "light")  # lightweight: names the commit
    blob = repo.write_object("blob", b"a key\n")
    repo.git("tag", "-a", "-m", "a blob", "blobtag", blob)
    return repo


def test_resolve_names_as_git_does(tmp_path: Path) -> None:
    repo = _plain_repo(tmp_path)
    r = open_repo(repo.path)
    names = ["v1", "light", "main~1", "HEAD^{tree}", "blobtag", "nope", "a..b", "^main", "v1"]
    got = [(n.name, n.type) for n in resolve(r, names)]
    assert got == [
        ("v1", "tag"),
        ("light", "commit"),
        ("main~1", "commit"),
        ("HEAD^{tree}", "tree"),
        ("blobtag", "tag"),
        ("nope", "missing"),
        ("a..b", "missing"),
        ("^main", "missing"),
        ("v1", "tag"),
    ]
    for n in resolve(r, names[:5]):
        assert n.oid == repo.rev_parse(f"{n.name}^{{object}}")


def test_tag_objects_are_the_tags_named(tmp_path: Path) -> None:
    repo = _plain_repo(tmp_path)
    r = open_repo(repo.path)
    v1, blobtag = repo.rev_parse("refs/tags/v1"), repo.rev_parse("refs/tags/blobtag")
    assert tag_objects(r, ["v1", "light", "main", "^v1", "v1..main", "v1"], all_refs=False) == [v1]
    assert sorted(tag_objects(r, [], all_refs=True)) == sorted([v1, blobtag])


def test_named_objects_are_exactly_the_named_commits_and_tags(tmp_path: Path) -> None:
    repo = _plain_repo(tmp_path)
    r = open_repo(repo.path)
    v1, one = repo.rev_parse("refs/tags/v1"), repo.rev_parse("main~1")
    assert named_objects(r, ["v1", "main~1", v1], all_refs=False) == [v1, one]
    assert named_objects(r, [], all_refs=False) == [repo.rev_parse("HEAD")]
    with pytest.raises(GitError) as e:
        named_objects(r, ["main..v1", "HEAD^{tree}", "nope", "v1"], all_refs=False)
    assert str(e.value) == (
        "cannot audit: 'main..v1' names no object in this repository (--no-walk takes "
        "object names, not ranges); 'HEAD^{tree}' names a tree, not a commit or tag; "
        "'nope' names no object in this repository"
    )


def test_an_object_git_cannot_read_does_not_stop_the_reader(tmp_path: Path) -> None:
    """An object of an unknown type makes `git cat-file --batch` die ("invalid object
    type"): it is answered `unreadable` and the objects after it are still read."""
    repo = _plain_repo(tmp_path)
    odd = repo.write_object("frob", b"not a git type\n", literally=True)
    one, two = repo.rev_parse("main~1"), repo.rev_parse("main")
    with ObjectReader(open_repo(repo.path)) as reader:
        got = reader.read_many([one, odd, two, odd])
    assert [(oid, typ) for oid, typ, _ in got] == [
        (one, "commit"),
        (odd, "unreadable"),
        (two, "commit"),
        (odd, "unreadable"),
    ]
    assert got[1][2] == b"fatal: invalid object type"
    assert got[2][2] == repo.cat(two)
    (named,) = resolve(open_repo(repo.path), [odd[:12]])
    assert named == (odd[:12], odd, "unreadable", "fatal: invalid object type")


def test_replace_objects_and_grafts_are_ignored(tmp_path: Path) -> None:
    """What is audited is the objects as stored: a replace ref or an info/grafts file
    (both change what git shows) change nothing for gitguard."""
    repo = _plain_repo(tmp_path)
    one, two = repo.rev_parse("main~1"), repo.rev_parse("main")
    fake = repo.write_object("commit", repo.unsigned_commit_payload("a replacement", parents=[one]))
    repo.git("replace", two, fake)
    (repo.path / ".git" / "info").mkdir(exist_ok=True)
    (repo.path / ".git" / "info" / "grafts").write_text(f"{one}\n{two}\n")
    # git obeys both: the replacement, whose parent the graft then hides.
    assert repo.git("log", "--format=%s", "main").decode() == "a replacement\n"
    r = open_repo(repo.path)
    assert list(rev_list(r, ["main"], all_refs=False)) == [two, one]
    with ObjectReader(r) as reader:
        assert reader.read(two) == (
            "commit",
            repo.git("--no-replace-objects", "cat-file", "commit", two),
        )
        assert b"a replacement" not in reader.read(two)[1]


# --------------------------------------------------------------------------- structure


_EMPTY_TREE = {
    "sha1": "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
    "sha256": "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321",
}
_IDENT = b"A U Thor <a@example.com> 1700000000 +0000"


def _commit(fmt: str = "sha1", *, parents: tuple[str, ...] = (), extra: bytes = b"") -> bytes:
    tree = _EMPTY_TREE[fmt].encode()
    return (
        b"tree " + tree + b"\n"
        + b"".join(b"parent " + p.encode() + b"\n" for p in parents)
        + b"author " + _IDENT + b"\ncommitter " + _IDENT + b"\n" + extra + b"\nmessage\n"
    )  # fmt: skip


_SSH_SIG = b"gpgsig -----BEGIN SSH SIGNATURE-----\n abc\n -----END SSH SIGNATURE-----\n"


@pytest.mark.parametrize(
    ("name", "raw", "reason"),
    [
        (
            "crlf",
            _commit().replace(b"\n", b"\r\n"),
            "commit header lines end in CR LF: git cannot parse it",
        ),
        (
            "signature-before-tree",
            _SSH_SIG + _commit(),
            "commit does not start with its tree header (it starts with 'gpgsig'): "
            "git cannot parse it",
        ),
        (
            "short-tree",
            _commit().replace(b"4b825dc6", b"4b82", 1),
            "commit has a malformed tree header: git cannot parse it",
        ),
        (
            "bad-parent",
            _commit(parents=("1" * 39 + "x",)),
            "commit has a malformed parent header: git cannot parse it",
        ),
        (
            "two-committers",
            _commit(extra=b"committer " + _IDENT + b"\n"),
            "commit has 2 committer headers; a commit carries one",
        ),
        (
            "two-authors",
            _commit(extra=b"author Mallory <m@example.com> 1700000000 +0000\n"),
            "commit has 2 author headers; a commit carries one",
        ),
        (
            "two-trees",
            _commit(extra=b"tree " + _EMPTY_TREE["sha1"].encode() + b"\n"),
            "commit has 2 tree headers; a commit carries one",
        ),
        (
            "no-committer",
            _commit().replace(b"committer " + _IDENT + b"\n", b""),
            "commit has no committer header",
        ),
    ],
)
def test_commits_git_cannot_parse_or_that_are_ambiguous_are_malformed(
    tmp_path: Path, name: str, raw: bytes, reason: str
) -> None:
    (fact,) = parse_commit("c" * 40, raw, "sha1")
    assert fact.malformed == reason
    # The oracle: git refuses exactly those our reason says it cannot parse.
    repo = Repo.init(tmp_path / "r", tool_env(tmp_path / "home"))
    oid = repo.write_object("commit", raw, literally=True)
    walk = repo.git("rev-list", "--no-walk", oid, check=False)
    assert (walk == b"") == reason.endswith("git cannot parse it"), name


def test_headers_git_tolerates_are_not_malformed(tmp_path: Path) -> None:
    """Header order after tree/parents is free in git; so is a commit that ends after
    its headers. The signature and payload are still exactly git's."""
    sig = b"-----BEGIN SSH SIGNATURE-----\nabc\n-----END SSH SIGNATURE-----\n"
    odd = (
        b"tree " + _EMPTY_TREE["sha1"].encode() + b"\n"
        b"committer " + _IDENT + b"\nencoding UTF-8\n"
        + fold_header(b"gpgsig", sig)
        + b"author " + _IDENT + b"\nx-custom header\n\nmessage\n"
    )  # fmt: skip
    no_body = _commit().split(b"\n\nmessage")[0] + b"\n" + fold_header(b"gpgsig", sig)
    for raw in (odd, no_body):
        (fact,) = parse_commit("c" * 40, raw, "sha1")
        assert fact.malformed is None
        assert (fact.payload, fact.signature) == split_signature(raw)
        assert fact.signature == sig
        assert fact.time == 1700000000
    # Without even a final newline, git's last signature line ends where the object does.
    (fact,) = parse_commit("c" * 40, no_body[:-1], "sha1")
    assert fact.malformed is None
    assert (fact.payload, fact.signature) == (no_body[: no_body.index(b"gpgsig")], sig[:-1])


def test_sha256_commit_structure() -> None:
    (fact,) = parse_commit("c" * 64, _commit("sha256", parents=("a" * 64,)), "sha256")
    assert fact.malformed is None
    (fact,) = parse_commit("c" * 64, _commit("sha256", parents=("a" * 40,)), "sha256")
    assert fact.malformed == "commit has a malformed parent header: git cannot parse it"


def _tag(*, tagger: bool = True, extra: bytes = b"") -> bytes:
    return (
        b"object " + _EMPTY_TREE["sha1"].encode() + b"\ntype tree\ntag v1\n"
        + (b"tagger " + _IDENT + b"\n" if tagger else b"") + extra + b"\nrelease\n"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (_tag(tagger=False), None),
        (_tag(extra=b"x-custom header\n"), None),
        (_tag().replace(b"\n", b"\r\n"), "tag header lines end in CR LF: git cannot parse it"),
        (
            b"type tree\n" + _tag().replace(b"type tree\n", b""),
            "tag does not start with its object header (it starts with 'type'): "
            "git cannot parse it",
        ),
        (
            _tag().replace(b"type tree\n", b""),
            "tag has no type header after its object header: git cannot parse it",
        ),
        (
            _tag().replace(b"type tree", b"type frob"),
            "tag has an unknown type 'frob': git cannot parse it",
        ),
        (
            _tag().replace(b"tag v1\n", b""),
            "tag has no tag header after its type header: git cannot parse it",
        ),
        (
            _tag(extra=b"tagger Mallory <m@example.com> 1 +0000\n"),
            "tag has 2 tagger headers; a tag carries one",
        ),
        (
            _tag(extra=b"object " + b"1" * 40 + b"\n"),
            "tag has 2 object headers; a tag carries one",
        ),
    ],
)
def test_tag_structure(raw: bytes, reason: str | None) -> None:
    fact = parse_tag("t" * 40, raw)
    assert fact.malformed == reason
    assert fact.subject == ("v1: release" if reason is None else fact.subject)


def test_tag_target_is_the_first_object_header() -> None:
    raw = _tag(extra=b"object " + b"1" * 40 + b"\ntype commit\n")
    assert tag_target(raw) == (_EMPTY_TREE["sha1"], "tree")


# --------------------------------------------------------------------------- walks


def _raw(parents: tuple[str, ...], message: str, when: int, *, crlf: bool = False) -> bytes:
    raw = _commit(parents=parents).replace(b"1700000000", str(when).encode())
    raw = raw.replace(b"message", message.encode())
    return raw.replace(b"\n", b"\r\n") if crlf else raw


def _force_ref(repo: Repo, ref: str, oid: str) -> None:
    """A ref to an object git cannot parse (update-ref refuses), as a broken tool or a
    crafted push would leave it."""
    path = repo.path / ".git" / ref
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(oid + "\n")


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> tuple[Repo, dict[str, str]]:
    """main: root <- main. through: deep <- CRLF <- child (and main) <- tip, where
    deep is reachable only through the commit git cannot parse. sigfirst: a commit
    with its signature header before tree. lonely: a commit whose parent is absent.
    badtag: a CRLF tag. tobogus: a good tag of a second unparsable commit. gone: a
    ref to an object that is not there."""
    tmp = tmp_path_factory.mktemp("broken")
    repo = Repo.init(tmp / "r", tool_env(tmp / "home"))
    ids = {"root": repo.commit("root", date="2024-01-01T00:00:00"),
           "main": repo.commit("main", date="2024-01-02T00:00:00")}  # fmt: skip
    w = repo.write_object
    ids["deep"] = w("commit", _raw((), "deep", 1700000000))
    ids["crlf"] = w("commit", _raw((ids["deep"],), "crlf", 1700000100, crlf=True), literally=True)
    ids["child"] = w("commit", _raw((ids["crlf"], ids["main"]), "child", 1800000000))
    ids["tip"] = w("commit", _raw((ids["child"],), "tip", 1800000100))
    ids["sigfirst"] = w("commit", _SSH_SIG + _raw((ids["main"],), "sf", 1700000200), literally=True)
    ids["missing"] = "1" * 40
    ids["lonely"] = w("commit", _raw((ids["missing"],), "lonely", 1700000300))
    ids["badtag"] = w("tag", _tag().replace(b"\n", b"\r\n"), literally=True)
    ids["crlf2"] = w("commit", _raw((ids["root"],), "crlf2", 1700000400, crlf=True), literally=True)
    ids["tobogus"] = w("tag", _tag().replace(_EMPTY_TREE["sha1"].encode(), ids["crlf2"].encode())
                       .replace(b"type tree", b"type commit"))  # fmt: skip
    ids["gone"] = "2" * 40
    for ref, oid in [("refs/heads/through", "tip"), ("refs/heads/sigfirst", "sigfirst"),
                     ("refs/heads/gone", "gone"),
                     ("refs/heads/lonely", "lonely"), ("refs/tags/badtag", "badtag"),
                     ("refs/tags/tobogus", "tobogus")]:  # fmt: skip
        _force_ref(repo, ref, ids[oid])
    return repo, ids


def _why(said: str, where: str) -> str:
    return f"git cannot walk it ({said}): {where}, and the history behind it was not audited"


def test_walk_goes_around_an_unparsable_parent(broken: tuple[Repo, dict[str, str]]) -> None:
    repo, ids = broken
    r = open_repo(repo.path)
    crlf, child = ids["crlf"], ids["child"]
    walk = plan_walk(r, ["through"], all_refs=False)
    assert walk.problems == (
        WalkProblem(
            crlf,
            _why(
                f"error: bogus commit object {crlf}; fatal: Failed to traverse parents of "
                f"commit {child}",
                f"it is a parent of {child}",
            ),
        ),
    )
    assert walk.grafts == ((child, (ids["main"],)),)
    walked = list(rev_list(r, ["through"], all_refs=False, walk=walk))
    assert walked == [ids["tip"], child, ids["main"], ids["root"]]
    assert walk.total == 4
    # A range whose positive side goes through it: git says only "revision walk setup
    # failed"; the positive side alone tells where.
    walk = plan_walk(r, ["main..through"], all_refs=False)
    assert [p.oid for p in walk.problems] == [crlf]
    assert list(rev_list(r, [], all_refs=False, walk=walk)) == [ids["tip"], child]


def test_walk_leaves_out_a_named_unparsable_commit(broken: tuple[Repo, dict[str, str]]) -> None:
    repo, ids = broken
    sf = ids["sigfirst"]
    walk = plan_walk(open_repo(repo.path), [sf], all_refs=False)
    assert walk == Walk(
        None,
        (),
        0,
        (
            WalkProblem(
                sf,
                _why(
                    f"error: bogus commit object {sf}; fatal: bad object {sf}",
                    f"{sf} left out of the walk",
                ),
            ),
        ),
    )


def test_walk_goes_around_a_tag_of_an_unparsable_commit(
    broken: tuple[Repo, dict[str, str]],
) -> None:
    repo, ids = broken
    crlf2 = ids["crlf2"]
    walk = plan_walk(open_repo(repo.path), ["tobogus", "main"], all_refs=False)
    assert walk.problems == (
        WalkProblem(
            crlf2,
            _why(
                f"error: bogus commit object {crlf2}; fatal: bad object {crlf2}",
                "tobogus left out of the walk",
            ),
        ),
    )
    assert walk.total == 2


def test_walk_goes_around_an_absent_parent(broken: tuple[Repo, dict[str, str]]) -> None:
    repo, ids = broken
    lonely, missing = ids["lonely"], ids["missing"]
    walk = plan_walk(open_repo(repo.path), ["lonely"], all_refs=False)
    assert walk.problems == (
        WalkProblem(
            missing,
            _why(
                f"error: Could not read {missing}; fatal: Failed to traverse parents of "
                f"commit {lonely}",
                f"it is a parent of {lonely}",
            ),
        ),
    )
    assert walk.total == 1


def test_walk_leaves_out_a_ref_to_a_missing_object(broken: tuple[Repo, dict[str, str]]) -> None:
    repo, ids = broken
    r = open_repo(repo.path)
    gone = ids["gone"]
    assert ("refs/heads/gone", gone, "missing") in [t[:3] for t in ref_tips(r)]
    walk = plan_walk(r, ["gone", "main"], all_refs=False)
    assert walk.problems == (
        WalkProblem(gone, _why("fatal: bad object gone", "gone left out of the walk")),
    )
    assert walk.total == 2


def test_walk_of_everything_sees_all_that_git_can(broken: tuple[Repo, dict[str, str]]) -> None:
    repo, ids = broken
    r = open_repo(repo.path)
    walk = plan_walk(r, [], all_refs=True)
    assert sorted(p.oid for p in walk.problems) == sorted(
        ids[k] for k in ("crlf", "sigfirst", "missing", "badtag", "crlf2", "gone")
    )
    walked = list(rev_list(r, [], all_refs=True, walk=walk))
    assert sorted(walked) == sorted(ids[k] for k in ("root", "main", "child", "tip", "lonely"))
    assert walk.total == len(walked)
    # Without planning, git stops at the first of them.
    with pytest.raises(GitError, match=r"bad object|Failed to traverse"):
        count_commits(r, [], all_refs=True)


def test_a_range_from_an_unparsable_commit_cannot_be_walked(
    broken: tuple[Repo, dict[str, str]],
) -> None:
    """Which commits ``^X`` excludes is unknowable when git cannot read X: fail."""
    repo, ids = broken
    crlf = ids["crlf"]
    with pytest.raises(GitError) as e:
        plan_walk(open_repo(repo.path), ["main", f"^{crlf}"], all_refs=False)
    assert str(e.value) == (
        f"cannot walk main ^{crlf}: error: bogus commit object {crlf}; fatal: bad object {crlf}"
    )
