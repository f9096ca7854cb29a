"""The project's exception tree, and the one mapping from an exception to what a
front end says and how it exits (:func:`failure`, :data:`EXIT_CODES`), shared by the
CLI, the client hooks and the receive hook.

- :class:`GuardError`: an expected failure with a message meant for the user (exit 1).
- :class:`UsageError`: wrong arguments or an invalid policy/trust input (exit 2).
- anything else is a bug (exit 3 with versions and traceback; a receive hook refuses
  the push and says where).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple


class GuardError(Exception):
    """An expected, explainable failure (missing repository, unreadable file…)."""


class UsageError(GuardError):
    """Bad command-line usage or bad configuration (exit 2)."""


class GitError(GuardError):
    """A git command failed or git data could not be read."""


class PolicyError(UsageError):
    """A policy or trust input is invalid. Carries *every* problem found, each one
    already formatted as ``file:line: key: message``."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


FailureKind = Literal["policy", "usage", "expected", "interrupted", "bug"]

EXIT_CODES: dict[FailureKind, int] = {
    "policy": 2,
    "usage": 2,
    "expected": 1,
    "interrupted": 130,
    "bug": 3,
}
"""The CLI's exit codes. Client hooks block (1) for every expected kind, since a
hook fails closed; a receive hook refuses the push whatever the kind."""


class Failure(NamedTuple):
    """What went wrong, in words for the user: ``details`` are further lines (each
    policy problem, as ``file:line: key: message``)."""

    kind: FailureKind
    message: str
    details: tuple[str, ...] = ()


def failure(exc: BaseException) -> Failure:
    """The :class:`Failure` for ``exc``; anything not raised on purpose is a bug."""
    if isinstance(exc, PolicyError):
        n = len(exc.problems)
        return Failure("policy", f"{n} problem{'' if n == 1 else 's'}", exc.problems)
    if isinstance(exc, UsageError):
        return Failure("usage", str(exc))
    if isinstance(exc, GuardError):
        return Failure("expected", str(exc))
    if isinstance(exc, KeyboardInterrupt):
        return Failure("interrupted", "interrupted")
    import os
    import traceback

    where = ""
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        where = f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}"
    return Failure("bug", f"internal error in gitguard ({type(exc).__name__}: {exc}{where})")


def bug_report(exc: BaseException) -> str:
    """Versions and the traceback, for a bug's report."""
    import platform
    import traceback

    from gitguard import __version__

    return (
        f"gitguard {__version__}, Python {platform.python_version()}, {platform.platform()}\n"
        + "".join(traceback.format_exception(exc))
    )
