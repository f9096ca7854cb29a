"""The one runner for programs other than git (git goes through :mod:`gitguard.git`):
gpg, ssh-add, ssh-keygen, a docker credential helper, a Python interpreter being
probed, the demo's commands.

- argv tuples only, never a shell;
- stdin is empty unless ``input`` is given, so nothing can prompt on a terminal;
- a timeout always (the caller says how long; the program is killed then);
- one error, :class:`ToolError` (a :class:`~gitguard.errors.GuardError`), naming the
  command, its exit code and what it said; :class:`ToolMissing` when the program is
  not installed, :class:`ToolTimeout` when it did not answer in time.

:mod:`subprocess` is fine here: none of these programs runs while a push is decided
(the receive hook's git processes use :mod:`gitguard._spawn`).
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping
from typing import NamedTuple

from gitguard.errors import GuardError

__all__ = ["ToolError", "ToolMissing", "ToolResult", "ToolTimeout", "run"]


class ToolResult(NamedTuple):
    returncode: int
    stdout: bytes
    stderr: bytes


class ToolError(GuardError):
    """A program could not be run, did not answer in time, or failed (``returncode``
    is set then)."""

    def __init__(
        self, argv: tuple[str, ...], message: str, *, returncode: int | None = None
    ) -> None:
        super().__init__(message)
        self.argv = argv
        self.returncode = returncode


class ToolMissing(ToolError):
    """The program is not installed (not found on ``PATH``)."""


class ToolTimeout(ToolError):
    """The program did not finish within its timeout and was killed."""


def run(
    argv: tuple[str, ...],
    *,
    timeout: float,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    check: bool = True,
    capture: bool = True,
) -> ToolResult:
    """Run ``argv`` and return its exit code, stdout and stderr (empty unless
    ``capture``; otherwise they go where ours go). With ``check``, a non-zero exit
    raises :class:`ToolError` with the program's own words (stderr, else stdout)."""
    shown = shlex.join(argv)
    stream = subprocess.PIPE if capture else None
    try:
        proc = subprocess.run(
            argv,
            input=input,
            stdin=subprocess.DEVNULL if input is None else None,
            stdout=stream,
            stderr=stream,
            timeout=timeout,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ToolTimeout(argv, f"`{shown}` did not answer within {timeout:g} s") from None
    except FileNotFoundError as e:
        if cwd is None or e.filename != os.fspath(cwd):
            raise ToolMissing(argv, f"{argv[0]} is not installed or not on PATH") from None
        raise ToolError(argv, f"cannot run `{shown}` in {e.filename}: no such directory") from None
    except OSError as e:
        raise ToolError(argv, f"cannot run `{shown}`: {e.strerror or e}") from None
    result = ToolResult(proc.returncode, proc.stdout or b"", proc.stderr or b"")
    if check and result.returncode:
        said = (result.stderr.strip() or result.stdout.strip()).decode("utf-8", "replace")
        raise ToolError(
            argv,
            f"`{shown}` failed (exit {result.returncode})" + (f": {said}" if said else ""),
            returncode=result.returncode,
        )
    return result
