"""The project's exception tree. The CLI maps these to exit codes; nothing else does.

- :class:`GuardError`: an expected failure with a message meant for the user (exit 1).
- :class:`UsageError`: wrong arguments or an invalid policy/trust input (exit 2).
- anything else escaping to the CLI is a bug (exit 3, with versions and traceback).
"""

from __future__ import annotations

from collections.abc import Sequence


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
