"""Reading git objects: walks, raw objects, and the exact signed bytes.

This is the only module that reads git objects. It talks to git through two
long-lived processes per reader: ``git rev-list`` for walks and
``git cat-file --batch`` for objects — instead of libgit2, because:

- pygit2's libgit2 cannot open SHA-256 repositories ("unknown object format"), and
  we must verify both object formats with one code path;
- git itself resolves revision ranges (``A..B``, ``^X``, ``--all``) and honours its
  whole environment (``GIT_DIR``, ``GIT_OBJECT_DIRECTORY``,
  ``GIT_ALTERNATE_OBJECT_DIRECTORIES``, the receive quarantine) exactly;
- a batch read costs about as much per object as libgit2 (13 to 16 µs, DESIGN.md) and
  avoids pygit2's ≈69 ms import on the hook path.

No process is spawned per object. Signature extraction follows git's own
``parse_buffer_signed_by_header`` (commit.c) and ``parse_signed_buffer``
(gpg-interface.c) so the payload is byte-for-byte what git verifies; payloads are
sliced from the object bytes, never re-serialised. The structure checks follow
git's ``parse_commit_buffer`` (commit.c) and ``parse_tag_buffer`` (tag.c): an object
git itself cannot parse is ``malformed``.
"""

import contextlib
import os
import re
from collections.abc import Generator, Sequence
from typing import IO, NamedTuple

from gitguard import _spawn, git
from gitguard.errors import GitError
from gitguard.model import Kind, SignedObject

# Header holding the signature for each object format (commit.c gpg_sig_headers).
SIG_HEADERS = {"sha1": b"gpgsig", "sha256": b"gpgsig-sha256"}
# Armor lines that start an appended tag signature (gpg-interface.c sigs[]).
_TAG_SIG_STARTS = (
    b"-----BEGIN PGP SIGNATURE-----",
    b"-----BEGIN PGP MESSAGE-----",
    b"-----BEGIN SSH SIGNATURE-----",
    b"-----BEGIN SIGNED MESSAGE-----",
)
# ``cat-file --batch`` requests per round trip: small enough that the request never
# fills the pipe (64 KiB) while git is blocked writing answers.
_BATCH = 256


class Repo(NamedTuple):
    """Where a repository is and how to talk to it.

    ``path`` is the directory git runs in (``None``: inherit the process' cwd and
    ``GIT_DIR``, as inside a hook). ``object_format`` is ``sha1`` or ``sha256``.
    """

    path: str | None
    object_format: str

    @property
    def zero_id(self) -> str:
        return "0" * (64 if self.object_format == "sha256" else 40)


def open_repo(path: str | os.PathLike[str] | None) -> Repo:
    """Find the repository at ``path`` (or from the environment) and its object format."""
    rc, out, err = git.run("rev-parse", "--show-object-format", "--git-dir", cwd=path, check=False)
    if rc:
        where = os.fspath(path) if path is not None else os.getcwd()
        msg = err.decode("utf-8", "replace").strip()
        raise GitError(f"{where}: not a git repository ({msg})")
    fmt = out.decode().split("\n", 1)[0].strip()
    if fmt not in SIG_HEADERS:
        raise GitError(f"unsupported object format {fmt!r}")
    return Repo(os.fspath(path) if path is not None else None, fmt)


class ObjectReader:
    """A ``git cat-file --batch`` process: many objects, one process."""

    def __init__(self, repo: Repo | None) -> None:
        """Read from ``repo``; ``None``: from where git's environment points (cwd,
        ``GIT_DIR``), as inside a hook, which can start reading before it knows the
        repository's object format (reading does not depend on it)."""
        self._proc = git.start(
            ("cat-file", "--batch"),
            repo.path if repo is not None else None,
            safe=False,
            stdin=_spawn.PIPE,
            stdout=_spawn.PIPE,
            stderr=_spawn.DEVNULL,
        )
        if self._proc.stdin is None or self._proc.stdout is None:  # pragma: no cover
            raise GitError("cannot talk to git cat-file")
        self._stdin: IO[bytes] = self._proc.stdin
        self._stdout: IO[bytes] = self._proc.stdout

    def read_many(self, oids: Sequence[str]) -> list[tuple[str, str, bytes]]:
        """``(oid, type, content)`` for each oid; type ``missing`` if absent."""
        out: list[tuple[str, str, bytes]] = []
        for start in range(0, len(oids), _BATCH):
            chunk = oids[start : start + _BATCH]
            self._stdin.write(("\n".join(chunk) + "\n").encode())
            self._stdin.flush()
            for _ in chunk:
                out.append(self._read_one())
        return out

    def read(self, oid: str) -> tuple[str, bytes]:
        (_, kind, data) = self.read_many([oid])[0]
        return kind, data

    def _read_one(self) -> tuple[str, str, bytes]:
        header = self._stdout.readline()
        if not header:
            raise GitError("git cat-file --batch ended unexpectedly")
        fields = header.split()
        if len(fields) == 2 and fields[1] in (b"missing", b"ambiguous"):
            return fields[0].decode(), "missing", b""
        if len(fields) != 3:
            raise GitError(f"unexpected git cat-file answer: {header[:200]!r}")
        size = int(fields[2])
        data = self._stdout.read(size + 1)
        if len(data) != size + 1:
            raise GitError("git cat-file --batch ended mid-object")
        return fields[0].decode(), fields[1].decode(), data[:-1]

    def close(self) -> None:
        self._proc.close()

    def __enter__(self) -> "ObjectReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def rev_list(repo: Repo, revisions: Sequence[str], *, all_refs: bool) -> Generator[str, None, None]:
    """Stream commit ids as ``git rev-list`` resolves the revisions (each once)."""
    args = ["rev-list"]
    if all_refs:
        args.append("--all")
    args.append("--end-of-options")
    args.extend(revisions)
    if not revisions and not all_refs:
        args.append("HEAD")
    proc = git.start(args, repo.path, safe=False)
    if proc.stdout is None or proc.stderr is None:  # pragma: no cover
        raise GitError("cannot talk to git rev-list")
    finished = False
    err = b""
    try:
        for line in proc.stdout:
            yield line.rstrip(b"\n").decode()
        finished = True
    finally:
        # Closed early (the consumer failed or stopped): stop git, and clean up without
        # raising, whichever thread finalises the generator.
        if not finished:
            proc.kill()
        with contextlib.suppress(ValueError, OSError):
            proc.stdout.close()
        with contextlib.suppress(ValueError, OSError):
            err = proc.stderr.read() if finished else b""
        with contextlib.suppress(ValueError, OSError):
            proc.stderr.close()
        rc = proc.wait()
    if rc:
        msg = err.decode("utf-8", "replace").strip()
        raise GitError(f"cannot walk {' '.join(revisions) or 'HEAD'}: {msg}")


def count_commits(repo: Repo, revisions: Sequence[str], *, all_refs: bool) -> int:
    args = ["rev-list", "--count"]
    if all_refs:
        args.append("--all")
    args.append("--end-of-options")
    args.extend(revisions)
    if not revisions and not all_refs:
        args.append("HEAD")
    _, out, _ = git.run(*args, cwd=repo.path)
    return int(out)


def tag_objects(repo: Repo, revisions: Sequence[str], *, all_refs: bool) -> list[str]:
    """Annotated tag objects to verify: every tag ref with ``--all``, plus any
    positive revision that names a tag object. Nested tags are followed later."""
    found: list[str] = []
    if all_refs:
        _, out, _ = git.run("for-each-ref", "--format=%(objecttype) %(objectname)", cwd=repo.path)
        for line in out.decode().splitlines():
            kind, _, oid = line.partition(" ")
            if kind == "tag":
                found.append(oid)
    for rev in revisions:
        if rev.startswith(("^", "-")) or ".." in rev:
            continue
        rc, out, _ = git.run(
            "rev-parse", "--verify", "--quiet", f"{rev}^{{object}}", cwd=repo.path, check=False
        )
        if rc:
            continue
        oid = out.decode().strip()
        rc, out, _ = git.run("cat-file", "-t", oid, cwd=repo.path, check=False)
        if not rc and out.strip() == b"tag":
            found.append(oid)
    return list(dict.fromkeys(found))


# --- parsing -----------------------------------------------------------------------


def _split_person(value: bytes) -> tuple[str, str, int | None]:
    """``Name <email> 1700000000 +0100`` -> (``Name <email>``, email, time)."""
    text = value.decode("utf-8", "replace")
    ident, _, rest = text.rpartition(">")
    if not _:
        return text, "", None
    lt = ident.find("<")
    email = ident[lt + 1 :] if lt >= 0 else ""
    parts = rest.split()
    when: int | None = None
    if parts:
        try:
            when = int(parts[0])
        except ValueError:
            when = None
    return ident + ">", email, when


def _subject(message: bytes) -> str:
    line = message.lstrip(b"\n").split(b"\n", 1)[0]
    return line.decode("utf-8", "replace")[:200]


def _head_end(data: bytes) -> int:
    """Where the headers end: after the newline before the first empty line, or at
    the end of an object without one (git reads every line as a header then)."""
    end = data.find(b"\n\n")
    return len(data) if end < 0 else end + 1


def _first_header(data: bytes) -> str:
    name = data[: min(len(data), 40)].split(b"\n", 1)[0].split(b" ", 1)[0]
    return name.decode("utf-8", "replace")


def _unparsable(kind: str, data: bytes, first: bytes) -> str:
    """Why git cannot parse an object whose ``first`` header is not what git wants."""
    if data.startswith(first):
        nl = data.find(b"\n")
        if nl > 0 and data[nl - 1 : nl] == b"\r":
            return f"{kind} header lines end in CR LF: git cannot parse it"
        return f"{kind} has a malformed {first.decode().strip()} header: git cannot parse it"
    return (
        f"{kind} does not start with its {first.decode().strip()} header (it starts with "
        f"{_first_header(data)!r}): git cannot parse it"
    )


def _duplicated(kind: str, data: bytes, head_end: int, names: Sequence[bytes]) -> str | None:
    """Headers that must appear once: git shows the first, a second could be judged
    instead by another reader. The first header is at offset 0 (no newline before)."""
    for name in names:
        n = data.count(b"\n" + name + b" ", 0, head_end) + data.startswith(name + b" ")
        if n > 1:
            return f"{kind} has {n} {name.decode()} headers; a {kind} carries one"
    return None


def _hex_line(name: bytes, hexsz: int) -> re.Pattern[bytes]:
    return re.compile(re.escape(name) + rb" [0-9a-fA-F]{%d}\n" % hexsz)


# git's parse_commit_buffer: ``tree <hex>\n``, then ``parent <hex>\n`` lines.
_TREE_LINE = {fmt: _hex_line(b"tree", 64 if fmt == "sha256" else 40) for fmt in SIG_HEADERS}
_PARENT_LINE = {fmt: _hex_line(b"parent", 64 if fmt == "sha256" else 40) for fmt in SIG_HEADERS}
_COMMIT_ONCE = (b"tree", b"author", b"committer")


def _commit_problem(data: bytes, head_end: int, object_format: str) -> str | None:
    """Why git cannot parse this commit (commit.c ``parse_commit_buffer``), or what
    makes it ambiguous; ``None`` if neither."""
    hexsz = 64 if object_format == "sha256" else 40
    tree = _TREE_LINE[object_format]
    if not tree.match(data) or len(data) <= hexsz + 6:
        return _unparsable("commit", data, b"tree ")
    pos = hexsz + 6
    parent = _PARENT_LINE[object_format]
    while pos + hexsz + 7 < len(data) and data.startswith(b"parent ", pos):
        if not parent.match(data, pos):
            return "commit has a malformed parent header: git cannot parse it"
        pos += hexsz + 8
    return _duplicated("commit", data, head_end, _COMMIT_ONCE)


# A signature or mergetag header with its continuation lines (each starts with a
# space). Any header whose name starts with "gpgsig" is a signature header, as in
# git's parse_buffer_signed_by_header; only the one for the repository's object
# format is *the* signature, the others are cut from the payload too. The last
# line of an object that ends without a newline counts as a line, as in git.
_SPECIAL_HEADER = re.compile(
    rb"^(gpgsig[^ \n]*|mergetag(?= ))( [^\n]*)?(?:\n|\Z)((?: [^\n]*(?:\n|\Z))*)", re.M
)
_COMMITTER = re.compile(rb"^committer ([^\n]*)", re.M)
_AUTHOR = re.compile(rb"^author ([^\n]*)", re.M)


def parse_commit(
    oid: str, data: bytes, object_format: str, *, details: bool = True
) -> list[SignedObject]:
    """The commit's own signature fact, followed by one fact per ``mergetag``.

    The payload is the object with every ``gpgsig*`` header (and its continuation
    lines) cut out, byte for byte as git builds it; the signature is the value of
    the object format's own header with the continuation spaces removed.

    ``malformed`` when git cannot parse the commit (its ``tree`` and ``parent`` lines
    first, as ``parse_commit_buffer`` wants them), when a header a verdict depends on
    is missing or repeated (``committer``; ``author``, ``tree``), or when it carries
    more than one signature. Other headers may come in any order, as git allows.

    ``details=False`` leaves the commit's ``author`` and ``subject`` empty (no
    decision depends on them; an audit fills them in with :func:`commit_details`
    only for the verdicts it reports).
    """
    sig_header = SIG_HEADERS[object_format]
    head_end = _head_end(data)
    payload_parts: list[bytes] = []
    signature: bytes | None = None
    mergetags: list[bytes] = []
    sig_count = 0
    last = 0
    for m in _SPECIAL_HEADER.finditer(data, 0, head_end):
        key = m.group(1)
        if key == b"mergetag":
            mergetags.append(m.group(0)[9:].replace(b"\n ", b"\n"))
            continue
        payload_parts.append(data[last : m.start()])
        last = m.end()
        if key == sig_header and m.group(2) is not None:
            sig_count += 1
            signature = m.group(0)[len(sig_header) + 1 :].replace(b"\n ", b"\n")
    payload = b"".join(payload_parts) + data[last:] if payload_parts else data
    committer_m = _COMMITTER.search(data, 0, head_end)
    committer, email, when = _split_person(committer_m.group(1) if committer_m else b"")
    author = subject = ""
    if details:
        author, subject = commit_details(data)
    malformed = _commit_problem(data, head_end, object_format)
    if malformed is not None:
        pass
    elif sig_count > 1:
        malformed = f"commit has {sig_count} {sig_header.decode()} headers; a commit carries one"
    elif committer_m is None:
        malformed = "commit has no committer header"
    facts = [
        SignedObject(
            oid=oid,
            kind=Kind.COMMIT,
            payload=payload,
            signature=signature,
            committer=committer,
            committer_email=email,
            author=author,
            subject=subject,
            time=when,
            malformed=malformed,
        )
    ]
    hash_name = "sha256" if object_format == "sha256" else "sha1"
    for content in mergetags:
        import hashlib  # rare (mergetags): off the receive hook's import path

        tag_id = hashlib.new(hash_name, b"tag %d\x00" % len(content) + content).hexdigest()
        facts.append(parse_tag(tag_id, content, kind=Kind.MERGETAG, commit=oid))
    return facts


def commit_details(data: bytes) -> tuple[str, str]:
    """``(author, subject)`` of a commit object, as :func:`parse_commit` reports them."""
    end = data.find(b"\n\n")
    head_end = len(data) if end < 0 else end + 1
    author_m = _AUTHOR.search(data, 0, head_end)
    author, _, _ = _split_person(author_m.group(1) if author_m else b"")
    return author, _subject(data[end + 2 :] if end >= 0 else b"")


# git's parse_tag_buffer: ``object <hex>\n``, ``type <type>\n``, ``tag <name>\n``, then
# optionally ``tagger``.
_OBJECT_LINE = {40: _hex_line(b"object", 40), 64: _hex_line(b"object", 64)}
_TAG_TYPES = (b"blob", b"tree", b"commit", b"tag")
_TAG_ONCE = (b"object", b"type", b"tag", b"tagger")


def _tag_problem(data: bytes, head_end: int, hexsz: int) -> str | None:
    """Why git cannot parse this tag (tag.c ``parse_tag_buffer``), or what makes it
    ambiguous; ``None`` if neither. A tag without ``tagger`` is fine (git.git's
    v0.99 has none)."""
    obj = _OBJECT_LINE[hexsz].match(data)
    if obj is None or len(data) < hexsz + 24:
        return _unparsable("tag", data, b"object ")
    pos = obj.end()
    nl = data.find(b"\n", pos)
    if not data.startswith(b"type ", pos) or nl < 0:
        return "tag has no type header after its object header: git cannot parse it"
    if data[pos + 5 : nl] not in _TAG_TYPES:
        typ = data[pos + 5 : nl].decode("utf-8", "replace")[:40]
        return f"tag has an unknown type {typ!r}: git cannot parse it"
    pos = nl + 1
    if not data.startswith(b"tag ", pos) or data.find(b"\n", pos) < 0:
        return "tag has no tag header after its type header: git cannot parse it"
    return _duplicated("tag", data, head_end, _TAG_ONCE)


def parse_tag(
    oid: str, data: bytes, *, kind: Kind = Kind.TAG, commit: str | None = None
) -> SignedObject:
    """An annotated tag: the signature is the last armored block of the message.
    ``malformed`` when git cannot parse it, a header is repeated or the signature
    starts inside the headers. The object format is that of ``oid``'s length."""
    match = len(data)
    pos = 0
    while pos < len(data):
        if data.startswith(_TAG_SIG_STARTS, pos):
            match = pos
        nl = data.find(b"\n", pos)
        pos = len(data) if nl < 0 else nl + 1
    end = data.find(b"\n\n")
    head = data[: end if end >= 0 else len(data)]
    headers: dict[bytes, bytes] = {}
    for line in head.split(b"\n"):
        key, _, value = line.partition(b" ")
        headers.setdefault(key, value)
    tagger, email, when = _split_person(headers.get(b"tagger", b""))
    body = data[end + 2 : match] if end >= 0 else b""
    malformed = _tag_problem(data, _head_end(data), 64 if len(oid) == 64 else 40)
    if malformed is None and end >= 0 and match <= end:
        malformed = "signature armor inside the tag headers"
    return SignedObject(
        oid=oid,
        kind=kind,
        payload=data[:match],
        signature=data[match:] if match < len(data) else None,
        committer=tagger,
        committer_email=email,
        author=tagger,
        subject=headers.get(b"tag", b"").decode("utf-8", "replace")
        + (": " + _subject(body) if body.strip() else ""),
        time=when,
        malformed=malformed,
        commit=commit,
    )


def tag_target(data: bytes) -> tuple[str, str]:
    """``(object id, type)`` a tag object points at (its first ``object`` and ``type``
    headers, as git reads them)."""
    obj = typ = ""
    for line in data.split(b"\n\n", 1)[0].split(b"\n"):
        if not obj and line.startswith(b"object "):
            obj = line[7:].decode("ascii", "replace")
        elif not typ and line.startswith(b"type "):
            typ = line[5:].decode("ascii", "replace")
    return obj, typ
