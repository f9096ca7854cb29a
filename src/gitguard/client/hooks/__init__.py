"""git hook adapters for the client side: each module reads the git hook protocol
(arguments, stdin, the pre-commit framework's ``PRE_COMMIT_*`` variables), runs the
checks in :mod:`gitguard.client` (``signing``, ``signoff``, ``outgoing``) and talks to
the person committing. Each exposes ``main(argv) -> int`` and is a console script named
in ``.pre-commit-hooks.yaml``:

- ``guard-signing`` (pre-commit): signing is configured, usable and trusted;
- ``guard-commit-msg`` (commit-msg): the same, plus the DCO sign-off when required;
- ``guard-post-commit`` (post-commit): the commit just made verifies;
- ``guard-pre-push`` (pre-push): every outgoing commit passes the server's policy.

Exit codes: 0 pass, 1 blocked (or an expected failure: the hook fails closed),
3 internal error (a bug: versions and traceback on stderr). Messages go to stderr,
coloured only on a terminal and never under ``NO_COLOR``.

Keep imports here light: a hook runs on every commit.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from gitguard._text import color_enabled

__all__ = ["HookParser", "color_enabled", "run_hook", "say"]


def say(text: str) -> None:
    sys.stderr.write(text if text.endswith("\n") else text + "\n")
    sys.stderr.flush()


class HookParser(argparse.ArgumentParser):
    """Usage errors exit 2 with a one-line message (argparse's default, kept)."""

    def __init__(self, prog: str, description: str) -> None:
        super().__init__(prog=prog, description=description)
        self.add_argument(
            "--policy",
            metavar="FILE",
            help="gitguard policy (default: git config guard.policy, then .gitguard.toml "
            "at the top of the work tree; with none, git's own trust)",
        )


def run_hook(name: str, body: Callable[[], int]) -> int:
    """Run a hook body, mapping failures to exit codes (:func:`gitguard.errors.failure`).
    An expected failure (no repository, unreadable policy) blocks with its message: a
    hook fails closed."""
    from gitguard.errors import bug_report, failure

    try:
        return body()
    except (Exception, KeyboardInterrupt) as e:
        what = failure(e)
        if what.kind == "policy":
            say(f"{name}: invalid gitguard policy or trust input; blocking until it is fixed:")
        elif what.kind == "bug":
            say(
                f"{name}: internal error — this is a bug in gitguard, please report it with "
                f"the text below.\n{bug_report(e)}"
            )
        else:
            say(f"{name}: {what.message}")
        for line in what.details:
            say(f"  {line}")
        return {"interrupted": 130, "bug": 3}.get(what.kind, 1)
