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

No process is spawned per object (nor per named revision: names are resolved by one
``git cat-file --batch-check``). Replace objects and grafts are disabled for every
read and walk: what is audited is the objects as stored. Signature extraction
follows git's own ``parse_buffer_signed_by_header`` (commit.c) and
``parse_signed_buffer`` (gpg-interface.c) so the payload is byte-for-byte what git
verifies; payloads are sliced from the object bytes, never re-serialised. The
structure checks follow git's ``parse_commit_buffer`` (commit.c) and
``parse_tag_buffer`` (tag.c): an object git itself cannot parse is ``malformed``.

An object git cannot parse (or find) stops ``git rev-list`` for the whole walk.
:func:`plan_walk` finds out where, routes git's walk around it (the refs and
revisions that name it are left out, a commit whose parent it is gets a graft
without that parent, in a graft file of our own) and reports it, so that it gets a
verdict of its own and every other object is still walked.
"""

import contextlib
import os
import re
from collections.abc import Generator, Iterator, Sequence
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
# Routing git's walk around objects it cannot parse costs one walk per object.
_MAX_ROUTES = 200


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


def _git_says(err: bytes) -> str:
    """git's error output as one line (its ``error:``/``fatal:`` lines joined)."""
    return "; ".join(line.strip() for line in err.decode("utf-8", "replace").splitlines() if line)


class ObjectReader:
    """A ``git cat-file --batch`` process: many objects, one process.

    An object git cannot read at all (an unknown object type kills ``cat-file``) is
    answered with type ``unreadable`` and git's message as its content; the process
    is restarted for the objects after it. ``check=True`` runs ``--batch-check``:
    types only, and any revision name git resolves may be asked for.
    """

    def __init__(self, repo: Repo | None, *, check: bool = False) -> None:
        """Read from ``repo``; ``None``: from where git's environment points (cwd,
        ``GIT_DIR``), as inside a hook, which can start reading before it knows the
        repository's object format (reading does not depend on it)."""
        self._path = repo.path if repo is not None else None
        self._check = check
        self._start()

    def _start(self) -> None:
        mode = "--batch-check=%(objectname) %(objecttype)" if self._check else "--batch"
        self._proc = git.start(
            ("cat-file", mode),
            self._path,
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
        """``(oid, type, content)`` for each oid; type ``missing`` if absent (or
        ambiguous, or corrupt), ``unreadable`` (content: git's message) if git cannot
        read it. With ``check=True``: ``(object id or the name as given, type, b"")``."""
        out: list[tuple[str, str, bytes]] = []
        pending = list(oids)
        while pending:
            chunk, pending = pending[:_BATCH], pending[_BATCH:]
            try:
                self._stdin.write(("\n".join(chunk) + "\n").encode("utf-8", "surrogateescape"))
                self._stdin.flush()
            except BrokenPipeError:  # git ended: the first read below finds out why
                pass
            for i, name in enumerate(chunk):
                answer = self._read_one(name)
                if answer is None:
                    out.append(self._after_death(name))
                    pending = chunk[i + 1 :] + pending
                    break
                out.append(answer)
        return out

    def read(self, oid: str) -> tuple[str, bytes]:
        (_, kind, data) = self.read_many([oid])[0]
        return kind, data

    def _read_one(self, name: str) -> tuple[str, str, bytes] | None:
        """The answer for ``name``; ``None`` if git ended before giving it."""
        header = self._stdout.readline()
        if not header.endswith(b"\n"):
            return None
        fields = header.split()
        raw = name.encode("utf-8", "surrogateescape")
        if header[:-1] in (raw + b" missing", raw + b" ambiguous"):
            return name, "missing", b""
        if self._check:
            if len(fields) != 2:
                raise GitError(f"unexpected git cat-file answer: {header[:200]!r}")
            return fields[0].decode(), fields[1].decode(), b""
        if len(fields) != 3:
            raise GitError(f"unexpected git cat-file answer: {header[:200]!r}")
        size = int(fields[2])
        data = self._stdout.read(size + 1)
        if len(data) != size + 1:
            return None
        return fields[0].decode(), fields[1].decode(), data[:-1]

    def _after_death(self, name: str) -> tuple[str, str, bytes]:
        """``cat-file`` ended while answering ``name``: when git cannot read that one
        object on its own either, it is ``unreadable`` and reading goes on; otherwise
        the reader failed (for any other reason) and so does the read."""
        self._proc.kill()
        self._proc.close()
        rc, _, err = git.run("cat-file", "-t", name, cwd=self._path, check=False, timeout=60)
        if rc == 0:
            raise GitError(f"git cat-file --batch ended unexpectedly (reading {name})")
        self._start()
        return name, "unreadable", (_git_says(err) or f"git cat-file exit {rc}").encode()

    def close(self) -> None:
        self._proc.close()

    def __enter__(self) -> "ObjectReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- naming and walking --------------------------------------------------------------


class Named(NamedTuple):
    """What a revision name resolves to: ``oid`` and ``type`` (``commit``, ``tag``,
    ``tree``, ``blob``; ``missing`` when git resolves it to no object, ``unreadable``
    when git cannot read the object; then ``oid`` is the name as given)."""

    name: str
    oid: str
    type: str
    detail: str = ""


def resolve(repo: Repo, names: Sequence[str]) -> list[Named]:
    """Resolve every name (``v1.0``, ``main~2``, an object id) with one
    ``git cat-file --batch-check``, as ``git rev-parse --verify NAME^{object}`` would."""
    unique = list(dict.fromkeys(names))
    answers: dict[str, Named] = {}
    askable = [n for n in unique if n and "\n" not in n and not n.isspace()]
    for n in unique:
        answers[n] = Named(n, n, "missing")  # a name no batch line can carry
    if askable:
        with ObjectReader(repo, check=True) as reader:
            for name, (found, typ, data) in zip(askable, reader.read_many(askable), strict=True):
                oid = found
                if typ == "unreadable":  # the object id, without reading the object
                    rc, out, _ = git.run(
                        "rev-parse", "--verify", "--quiet", "--end-of-options", name,
                        cwd=repo.path, check=False,
                    )  # fmt: skip
                    oid = out.decode().strip() if rc == 0 else name
                answers[name] = Named(name, oid, typ, data.decode("utf-8", "replace"))
    return [answers[n] for n in names]


def ref_tips(repo: Repo) -> list[Named]:
    """Every ref and ``HEAD``: the starting points of ``--all``. Types come from one
    ``cat-file --batch-check`` (``for-each-ref`` dies on a ref to a missing object)."""
    _, out, _ = git.run("for-each-ref", "--format=%(objectname) %(refname)", cwd=repo.path)
    # "\n" only: str.splitlines() would also split ref names at U+0085, U+2028, U+2029.
    text = out.decode("utf-8", "surrogateescape")
    refs = [line.split(" ", 1) for line in text.split("\n") if line]
    found = resolve(repo, [oid for oid, _ in refs] + ["HEAD"])
    tips = [Named(ref, oid, n.type) for (oid, ref), n in zip(refs, found, strict=False)]
    if found[-1].type != "missing":
        tips.append(found[-1])
    return tips


def _positive(revision: str) -> bool:
    return not revision.startswith(("^", "-")) and ".." not in revision


def tag_objects(repo: Repo, revisions: Sequence[str], *, all_refs: bool) -> list[str]:
    """Annotated tag objects to verify: every tag ref with ``--all``, plus any
    positive revision that names a tag object. Nested tags are followed later."""
    found: list[str] = []
    if all_refs:
        found.extend(t.oid for t in ref_tips(repo) if t.type == "tag")
    found.extend(
        n.oid for n in resolve(repo, [r for r in revisions if _positive(r)]) if n.type == "tag"
    )
    return list(dict.fromkeys(found))


def named_objects(repo: Repo, revisions: Sequence[str], *, all_refs: bool) -> list[str]:
    """The objects ``--no-walk`` audits: each revision must name one commit or tag
    object (default ``HEAD``); with ``all_refs`` also the objects every ref points at
    (refs to trees and blobs are left out). Each object once, in the order named; an
    object git cannot read is kept (it gets a ``malformed`` verdict)."""
    found: list[str] = []
    if all_refs:
        found.extend(t.oid for t in ref_tips(repo) if t.type in ("commit", "tag"))
    names = list(revisions) if revisions or all_refs else ["HEAD"]
    problems = []
    for n in resolve(repo, names):
        if n.type in ("commit", "tag", "unreadable"):
            found.append(n.oid)
        elif n.type == "missing":
            hint = " (--no-walk takes object names, not ranges)" if not _positive(n.name) else ""
            problems.append(f"{n.name!r} names no object in this repository{hint}")
        else:
            problems.append(f"{n.name!r} names a {n.type}, not a commit or tag")
    if problems:
        raise GitError("cannot audit: " + "; ".join(problems))
    return list(dict.fromkeys(found))


class WalkProblem(NamedTuple):
    """An object git's walk cannot get past: ``reason`` says what git said and which
    part of the history was therefore not walked."""

    oid: str
    reason: str


class Walk(NamedTuple):
    """A walk git can complete: ``git rev-list`` with ``args`` (``None``: nothing is
    left to walk) and ``grafts`` (commit, parents kept), ``total`` commits, and the
    objects it had to go around."""

    args: tuple[str, ...] | None
    grafts: tuple[tuple[str, tuple[str, ...]], ...]
    total: int
    problems: tuple[WalkProblem, ...]


def _walk_args(
    revisions: Sequence[str], *, all_refs: bool, exclude: Sequence[str] = ()
) -> tuple[str, ...]:
    args = [f"--exclude={ref}" for ref in exclude]
    if all_refs:
        args.append("--all")
    args.append("--end-of-options")
    args.extend(revisions)
    if not revisions and not all_refs:
        args.append("HEAD")
    return tuple(args)


@contextlib.contextmanager
def _graft_env(
    grafts: Sequence[tuple[str, Sequence[str]]],
) -> Iterator[dict[str, str] | None]:
    """git's environment with ``grafts`` as its only graft file; ``None`` (git.py's
    default: no grafts, no replace objects) when there are none."""
    if not grafts:
        yield None
        return
    import tempfile  # rare (a broken history): off the receive hook's import path

    fd, path = tempfile.mkstemp(prefix="gitguard-grafts-")
    try:
        with os.fdopen(fd, "w") as f:
            f.writelines(" ".join((commit, *parents)) + "\n" for commit, parents in grafts)
        yield {**os.environ, "GIT_GRAFT_FILE": path}
    finally:
        os.unlink(path)


# "-c advice...": a graft file of ours is not the deprecated info/grafts of a user.
_REV_LIST = ("-c", "advice.graftFileDeprecated=false", "rev-list")
_HEX = rb"[0-9a-f]{40}(?:[0-9a-f]{24})?"
_FAILED_PARENTS = re.compile(
    rb"^fatal: Failed to traverse parents of commit (" + _HEX + rb")$", re.M
)
_BAD_TIP = re.compile(rb"^fatal: bad object (.+)$", re.M)


def _bad_objects(err: bytes) -> list[str]:
    """The objects git's ``error:`` lines name as unreadable or unparsable (commit.c
    ``bogus commit object H``, ``bad parents in commit H``, ``Could not read H``,
    object.c ``object H is a tree, not a commit``…)."""
    found = []
    for line in err.splitlines():
        if line.startswith(b"error: "):
            m = re.search(rb"in commit (" + _HEX + rb")\b", line) or re.search(
                rb"\b(" + _HEX + rb")\b", line
            )
            if m is not None:
                found.append(m.group(1).decode())
    return found


def commit_parents(data: bytes) -> list[str]:
    """The parents git reads from a commit (``parent`` lines right after ``tree``)."""
    parents = []
    pos = data.find(b"\n") + 1
    while data.startswith(b"parent ", pos):
        nl = data.find(b"\n", pos)
        if nl < 0:
            break
        parents.append(data[pos + 7 : nl].decode("ascii", "replace"))
        pos = nl + 1
    return parents


def _positive_sides(revisions: Sequence[str]) -> list[str]:
    """The starting points of ``revisions`` without what they exclude: ``B`` of
    ``A..B``, both sides of ``A...B``, ``X`` of ``X^!``; no ``^X``."""
    sides: list[str] = []
    for r in revisions:
        if r.startswith(("^", "-")):
            continue
        if "..." in r:
            left, _, right = r.partition("...")
            sides += [left or "HEAD", right or "HEAD"]
        elif ".." in r:
            sides.append(r.partition("..")[2] or "HEAD")
        else:
            sides.append(re.sub(r"\^(?:!|-\d*)$", "", r))
    return sides


def plan_walk(repo: Repo, revisions: Sequence[str], *, all_refs: bool) -> Walk:
    """Check that git can walk ``revisions`` (``git rev-list --count``: a bad revision
    fails here, before any output) and count the commits.

    When git stops at an object it cannot parse or find, route around it and count
    again: a ref (``--all``) or positive revision that names it, or names a tag that
    leads to it, is left out; a commit whose parent it is gets a graft without that
    parent. Each such object is a :class:`WalkProblem`. A range walk (``A..B``) does
    not say where it stopped: then its positive side alone is walked to find out.
    Raises :class:`GitError` when git fails in any other way (a revision git cannot
    resolve, a range whose negative side git cannot walk).
    """
    router = _Router(repo, list(revisions) or ([] if all_refs else ["HEAD"]), all_refs)

    def count(args: Sequence[str]) -> tuple[int, bytes, bytes]:
        with _graft_env(grafts) as env:
            return git.run(*_REV_LIST, "--count", *args, cwd=repo.path, check=False, env=env)

    try:
        for _ in range(_MAX_ROUTES):
            if not router.revisions and not all_refs:
                return Walk(None, (), 0, router.problems())
            args = _walk_args(router.revisions, all_refs=all_refs, exclude=router.exclude)
            grafts = tuple((c, tuple(p)) for c, p in router.grafts.items())
            rc, out, err = count(args)
            if rc == 0:
                return Walk(args, grafts, int(out), router.problems())
            if router.route(err):
                continue
            sides = _positive_sides(router.revisions)
            plain = _walk_args(sides, all_refs=all_refs, exclude=router.exclude)
            if (sides or all_refs) and plain != args:
                rc, _, plain_err = count(plain)
                if rc and router.route(plain_err):
                    continue
            shown = " ".join(revisions) or ("--all" if all_refs else "HEAD")
            raise GitError(f"cannot walk {shown}: {_git_says(err)}")
        raise GitError(f"cannot walk: git stops at more than {_MAX_ROUTES} objects it cannot read")
    finally:
        router.close()


class _Router:
    """What :func:`plan_walk` leaves out of git's walk, and why."""

    def __init__(self, repo: Repo, revisions: list[str], all_refs: bool) -> None:
        self.repo = repo
        self.revisions = revisions
        self.all_refs = all_refs
        self.exclude: list[str] = []
        self.grafts: dict[str, list[str]] = {}
        self._found: dict[str, tuple[str, list[str]]] = {}  # oid: git's words, where
        self._reader: ObjectReader | None = None
        self._tips: list[Named] | None = None

    @property
    def reader(self) -> ObjectReader:
        if self._reader is None:
            self._reader = ObjectReader(self.repo)
        return self._reader

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()

    def route(self, err: bytes) -> bool:
        """Route around the object git's ``err`` says it stopped at; False if it
        says something else."""
        said = _git_says(err)
        bad = _bad_objects(err)
        child = _FAILED_PARENTS.search(err)
        if child is not None:
            return self._cut_parents(child.group(1).decode(), bad, said)
        tip = _BAD_TIP.search(err)
        if tip is not None:
            return self._leave_out(tip.group(1).decode("utf-8", "surrogateescape"), bad, said)
        return False

    def _problem(self, oid: str, said: str, where: str) -> None:
        self._found.setdefault(oid, (said, []))[1].append(where)

    def problems(self) -> tuple[WalkProblem, ...]:
        return tuple(
            WalkProblem(
                oid,
                f"git cannot walk it ({said}): {'; '.join(wheres)}, and the history behind "
                "it was not audited",
            )
            for oid, (said, wheres) in self._found.items()
        )

    def _cut_parents(self, commit: str, bad: list[str], said: str) -> bool:
        """``commit``'s parents include objects git cannot read: graft them away."""
        kept = self.grafts.get(commit)
        if kept is None:
            typ, data = self.reader.read(commit)
            kept = commit_parents(data) if typ == "commit" else []
        cut = [p for p in kept if p in bad]
        if not cut:
            return False
        self.grafts[commit] = [p for p in kept if p not in cut]
        for p in cut:
            self._problem(p, said, f"it is a parent of {commit}")
        return True

    def _leave_out(self, name: str, bad: list[str], said: str) -> bool:
        """git cannot start from ``name``: leave out every ref and positive revision
        that is, or leads through tags to, the object it names."""
        starts = [("revision", n) for n in resolve(self.repo, self.revisions) if _positive(n.name)]
        if self.all_refs:
            if self._tips is None:
                self._tips = ref_tips(self.repo)
            starts.extend(("ref", t) for t in self._tips if t.name not in self.exclude)
        # The object NAME stands for (for a ref to a missing object: its id, as the ref
        # says; cat-file cannot say).
        target = next((s.oid for _, s in starts if s.name == name), name)
        if target == name:
            rc, out, _ = git.run(
                "rev-parse", "--verify", "--quiet", "--end-of-options", name,
                cwd=self.repo.path, check=False,
            )  # fmt: skip
            target = out.decode().strip() if rc == 0 else name
        left_out = []
        for how, start in starts:
            if start.name == name or target in self._tag_chain(start):
                left_out.append(start.name)
                if how == "ref":
                    self.exclude.append(start.name)
                else:
                    self.revisions[:] = [r for r in self.revisions if r != start.name]
        if not left_out:
            return False
        where = f"{', '.join(dict.fromkeys(left_out))} left out of the walk"
        for oid in dict.fromkeys([*bad, target]):
            self._problem(oid, said, where)
        return True

    def _tag_chain(self, start: Named) -> list[str]:
        """``start``'s object and, through tags, every object it leads to."""
        chain = [start.oid]
        typ = start.type
        while typ == "tag" and len(chain) < 16:
            _, data = self.reader.read(chain[-1])
            target, typ = tag_target(data)
            chain.append(target)
        return chain


def rev_list(
    repo: Repo, revisions: Sequence[str], *, all_refs: bool, walk: Walk | None = None
) -> Generator[str, None, None]:
    """Stream commit ids as ``git rev-list`` resolves the revisions (each once);
    with ``walk`` (from :func:`plan_walk`), around the objects git cannot parse."""
    if walk is None:
        walk = Walk(_walk_args(revisions, all_refs=all_refs), (), 0, ())
    if walk.args is None:
        return
    with _graft_env(walk.grafts) as env:
        proc = git.start((*_REV_LIST, *walk.args), repo.path, safe=False, env=env)
        if proc.stdout is None or proc.stderr is None:  # pragma: no cover
            raise GitError("cannot talk to git rev-list")
        finished = False
        err = b""
        try:
            for line in proc.stdout:
                yield line.rstrip(b"\n").decode()
            finished = True
        finally:
            # Closed early (the consumer failed or stopped): stop git, and clean up
            # without raising, whichever thread finalises the generator.
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
        raise GitError(f"cannot walk {' '.join(revisions) or 'HEAD'}: {_git_says(err)}")


def count_commits(repo: Repo, revisions: Sequence[str], *, all_refs: bool) -> int:
    _, out, _ = git.run(
        *_REV_LIST, "--count", *_walk_args(revisions, all_refs=all_refs), cwd=repo.path
    )
    return int(out)


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
    is missing or repeated (``committer``; ``author``, ``tree``), or when its
    signature headers hold more than one signature (repeated headers holding one
    armor between them are concatenated, as git does). Other headers may come in
    any order, as git allows.

    ``details=False`` leaves the commit's ``author`` and ``subject`` empty (no
    decision depends on them; an audit fills them in with :func:`commit_details`
    only for the verdicts it reports).
    """
    sig_header = SIG_HEADERS[object_format]
    head_end = _head_end(data)
    payload_parts: list[bytes] = []
    values: list[bytes] = []
    mergetags: list[bytes] = []
    last = 0
    for m in _SPECIAL_HEADER.finditer(data, 0, head_end):
        key = m.group(1)
        if key == b"mergetag":
            mergetags.append(m.group(0)[9:].replace(b"\n ", b"\n"))
            continue
        payload_parts.append(data[last : m.start()])
        last = m.end()
        if key == sig_header and m.group(2) is not None:
            values.append(m.group(0)[len(sig_header) + 1 :].replace(b"\n ", b"\n"))
    payload = b"".join(payload_parts) + data[last:] if payload_parts else data
    sig_count = len(values)
    # git concatenates the values of repeated signature headers (commit.c
    # parse_buffer_signed_by_header): early signed commits (git.git, 2011) carry one
    # armor split over one header per line. One armor that way is one signature;
    # several armors are several signatures, of which git checks what its first
    # armor's verifier reads: refused below rather than guessed.
    signature = b"".join(values) if values else None
    committer_m = _COMMITTER.search(data, 0, head_end)
    committer, email, when = _split_person(committer_m.group(1) if committer_m else b"")
    author = subject = ""
    if details:
        author, subject = commit_details(data)
    malformed = _commit_problem(data, head_end, object_format)
    if malformed is not None:
        pass
    elif sig_count > 1 and signature is not None and signature.count(b"-----BEGIN ") > 1:
        malformed = (
            f"commit has {sig_count} {sig_header.decode()} headers holding more than one "
            "signature; git concatenates them and checks only what its first armor's "
            "verifier reads"
        )
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
