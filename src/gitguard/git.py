"""The one place that runs git. argv tuples only, never a shell; failures raise
:class:`~gitguard.errors.GitError` naming the command, exit code and stderr.

Processes are started by :mod:`gitguard._spawn` (not :mod:`subprocess`, whose imports
alone cost every push ≈5 ms); a working directory is given to git as ``-C``."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

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


def config_get(key: str, *, cwd: str | os.PathLike[str] | None = None) -> str | None:
    """The value of a git config key as git resolves it for ``cwd``, or None if unset."""
    rc, out, _ = run("config", "--get", key, cwd=cwd, check=False)
    if rc == 1:
        return None
    if rc:
        raise GitError(f"cannot read git config {key} (exit {rc})")
    return out.decode("utf-8", "surrogateescape").rstrip("\n")


def config_path(key: str, *, cwd: str | os.PathLike[str] | None = None) -> str | None:
    """A path-valued config key, with ``~`` expanded as git does (``--type=path``)."""
    rc, out, _ = run("config", "--type=path", "--get", key, cwd=cwd, check=False)
    if rc == 1:
        return None
    if rc:
        raise GitError(f"cannot read git config {key} (exit {rc})")
    return out.decode("utf-8", "surrogateescape").rstrip("\n")
