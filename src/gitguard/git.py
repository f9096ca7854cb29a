"""The one place that runs git. argv tuples only, never a shell; failures raise
:class:`~gitguard.errors.GitError` naming the command, exit code and stderr.

Processes are started by :mod:`gitguard._spawn` (not :mod:`subprocess`, whose imports
alone cost every push ≈5 ms); a working directory is given to git as ``-C``.

Git config is read only through :class:`GitConfig`: one ``git config -z`` call (every
key, or the keys a pattern matches), then asked any number of times."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Literal

from gitguard import _spawn
from gitguard.errors import GitError

# User configuration must not change the output we parse.
_SAFE_CONFIG = ("-c", "core.quotePath=false", "-c", "log.showSignature=false")
# A path that never exists (ENOTDIR, which git ignores silently): with it as
# GIT_GRAFT_FILE, git reads no graft file at all, and keeps using its commit-graph.
NO_GRAFTS = "/dev/null/gitguard-no-grafts"


def _real_objects(env: Mapping[str, str] | None) -> dict[str, str]:
    """``env`` (default: this process's) with replace objects and grafts disabled:
    every git process gitguard starts reads the objects as stored. A pushed
    ``refs/replace/<id>`` or an ``info/grafts`` file must not change what a signature
    is checked over, or which parents a commit has (docs/threat-model.md, class 1).
    A caller's own ``GIT_GRAFT_FILE`` (the audit's routing around unparsable objects)
    is kept; an inherited one is not."""
    base = dict(env if env is not None else os.environ)
    base["GIT_NO_REPLACE_OBJECTS"] = "1"
    if env is None or "GIT_GRAFT_FILE" not in env:
        base["GIT_GRAFT_FILE"] = NO_GRAFTS
    return base


# Every ref with its object, type and peeled object: what the receive guard starts from.
REFS_QUERY = (
    "for-each-ref",
    "--format=%(objectname) %(objecttype) %(*objectname) %(*objecttype) %(refname) %(symref)",
)


def start(
    args: Sequence[str],
    cwd: str | os.PathLike[str] | None = None,
    *,
    safe: bool = True,
    stdin: int | None = None,
    stdout: int | None = _spawn.PIPE,
    stderr: int | None = _spawn.PIPE,
    env: Mapping[str, str] | None = None,
) -> _spawn.Child:
    """Start ``git [-C CWD] [safe config] ARGS`` (streams: ``_spawn.PIPE``,
    ``_spawn.DEVNULL`` or inherited)."""
    where = ("-C", os.fspath(cwd)) if cwd is not None else ()
    argv = ("git", *where, *(_SAFE_CONFIG if safe else ()), *args)
    try:
        return _spawn.Child(argv, stdin=stdin, stdout=stdout, stderr=stderr, env=_real_objects(env))
    except FileNotFoundError as e:
        raise GitError("git is not installed or not on PATH") from e


def _answer(
    child: _spawn.Child, args: Sequence[str], input: bytes | None, timeout: float | None
) -> tuple[int, bytes, bytes]:
    try:
        out, err = child.communicate(input, timeout)
    except _spawn.Timeout:
        raise GitError(f"`git {' '.join(args)}` timed out after {timeout} s") from None
    return child.wait(), out, err


def _checked(args: Sequence[str], answer: tuple[int, bytes, bytes]) -> tuple[int, bytes, bytes]:
    rc, _, err = answer
    if rc:
        msg = err.decode("utf-8", "replace").strip()
        raise GitError(f"`git {' '.join(args)}` failed (exit {rc}): {msg}")
    return answer


def run(
    *args: str,
    cwd: str | os.PathLike[str] | None = None,
    input: bytes | None = None,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    timeout: float | None = 120,
) -> tuple[int, bytes, bytes]:
    """Run ``git ARGS`` and return ``(returncode, stdout, stderr)``."""
    child = start(args, cwd, stdin=_spawn.PIPE if input is not None else _spawn.DEVNULL, env=env)
    answer = _answer(child, args, input, timeout)
    return _checked(args, answer) if check else answer


# Input a Pending writes at once (a pipe holds 64 KiB): git can start working while
# Python does something else. Longer input is written when the result is asked for.
_INPUT_AT_ONCE = 32 * 1024


class Pending:
    """``git ARGS`` started in the background: :meth:`result` waits for it and returns
    what :func:`run` would have. A hook starts the git questions that do not depend on
    its policy this way, so that git answers while Python imports."""

    def __init__(
        self, *args: str, cwd: str | os.PathLike[str] | None = None, input: bytes | None = None
    ) -> None:
        self.args = args
        self._answer: tuple[int, bytes, bytes] | None = None
        self._input = input
        self._child = start(args, cwd, stdin=_spawn.DEVNULL if input is None else _spawn.PIPE)
        if input is not None and len(input) <= _INPUT_AT_ONCE and self._child.stdin is not None:
            try:
                self._child.stdin.write(input)
                self._child.stdin.close()
            except BrokenPipeError:  # git ended already: its answer says why
                pass
            self._input = None

    def result(self, *, check: bool = True, timeout: float = 120) -> tuple[int, bytes, bytes]:
        if self._answer is None:
            self._answer = _answer(self._child, self.args, self._input, timeout)
        return _checked(self.args, self._answer) if check else self._answer

    def cancel(self) -> None:
        """Stop the command if it still runs (its answer is no longer wanted)."""
        if self._answer is None:
            self._child.kill()
            self._child.close()
            self._answer = (self._child.wait(), b"", b"")


def config_args(
    pattern: str | None = None, *, scope: Literal["global", "local"] | None = None
) -> tuple[str, ...]:
    """The ``git config`` arguments :class:`GitConfig` reads: every key (``--list``), or
    the keys matching ``pattern`` (``--get-regexp``), of every scope or of one file."""
    where = (f"--{scope}",) if scope is not None else ()
    query = ("--get-regexp", pattern) if pattern is not None else ("--list",)
    return ("config", *where, "-z", *query)


class GitConfig:
    """Git config as git resolves it, read with one ``git config -z`` call and then
    asked any number of times.

    Section and variable names are case-insensitive, a subsection is not (as in git).
    Every value of a key is kept, in git's order: :meth:`get_all` gives them all, and
    for a single-valued key the last one wins. A key written without ``=`` (``[core]
    bare``) has no value: true for :meth:`bool`, ``""`` for :meth:`get`.
    """

    def __init__(self, values: Mapping[str, Sequence[str | None]]) -> None:
        self._values: dict[str, tuple[str | None, ...]] = {}
        for key, found in values.items():
            norm = _config_key(key)
            self._values[norm] = self._values.get(norm, ()) + tuple(found)

    @classmethod
    def parse(cls, out: bytes) -> GitConfig:
        """From the output of ``git config -z --list`` or ``--get-regexp``: entries end
        with NUL, a newline separates the key from its value (no newline: no value)."""
        values: dict[str, list[str | None]] = {}
        for entry in out.decode("utf-8", "surrogateescape").split("\0"):
            if entry:
                key, nl, value = entry.partition("\n")
                values.setdefault(key, []).append(value if nl else None)
        return cls(values)

    @classmethod
    def read(
        cls,
        cwd: str | os.PathLike[str] | None = None,
        *,
        pattern: str | None = None,
        scope: Literal["global", "local"] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> GitConfig:
        """What git sees in ``cwd`` (the keys matching ``pattern``; one ``scope``'s
        file). Raises :class:`GitError` when git cannot read it (a missing
        ``--global`` file included); no matching key is an empty config."""
        args = config_args(pattern, scope=scope)
        # Without gitguard's own `-c` settings: they would be listed as the user's.
        child = start(args, cwd, safe=False, stdin=_spawn.DEVNULL, env=env)
        rc, out, err = _answer(child, args, None, 120)
        if rc not in (0, 1):  # 1: nothing matched the pattern
            _checked(args, (rc, out, err))
        return cls.parse(out)

    def get(self, key: str) -> str | None:
        """The value of a single-valued key (the last one set), or None if unset."""
        found = self._values.get(_config_key(key))
        if not found:
            return None
        last = found[-1]
        return "" if last is None else last

    def get_all(self, key: str) -> tuple[str, ...]:
        """Every value of a multi-valued key, in git's order."""
        return tuple("" if v is None else v for v in self._values.get(_config_key(key), ()))

    def bool(self, key: str, default: bool = False) -> bool:
        found = self._values.get(_config_key(key))
        if not found:
            return default
        last = found[-1]
        return last is None or last.strip().lower() in _TRUE

    def path(self, key: str) -> str | None:
        """A path-valued key with ``~`` and ``~user`` expanded, as git does."""
        value = self.get(key)
        return os.path.expanduser(value) if value else value


_TRUE = frozenset({"true", "yes", "on", "1"})


def _config_key(key: str) -> str:
    """``Section.Sub.Name`` -> ``section.Sub.name``: section and variable names are
    case-insensitive, a subsection is not."""
    first, _, rest = key.partition(".")
    middle, dot, last = rest.rpartition(".")
    if not dot:
        return f"{first.lower()}.{rest.lower()}"
    return f"{first.lower()}.{middle}.{last.lower()}"
