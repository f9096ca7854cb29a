"""The DCO check (``guard-commit-msg``): a ``Signed-off-by:`` trailer for the committer,
required by ``--require-signoff`` or ``git config guard.requireSignoff true``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitguard import git
from gitguard.client.report import Problem
from gitguard.client.workspace import committer_ident

if TYPE_CHECKING:
    from gitguard.client.workspace import Workspace

__all__ = ["check_signoff", "signoff_required"]


def signoff_required(ws: Workspace, flag: bool) -> bool:
    return flag or ws.config.bool("guard.requireSignoff")


def check_signoff(ws: Workspace, message: bytes) -> Problem | None:
    """A ``Signed-off-by:`` trailer for the committer (by e-mail, as DCO checkers do)."""
    ident = committer_ident(ws)
    email = ident.rpartition("<")[2].rstrip(">").strip().lower()
    comment = ws.config.get("core.commentChar") or "#"
    if comment == "auto":
        comment = "#"
    lines: list[str] = []
    for line in message.decode("utf-8", "replace").splitlines():
        if line.startswith(comment) and " >8 " in line:
            break  # the scissors line of `git commit -v`: the diff follows
        if line.startswith(comment):
            continue
        lines.append(line)
    _, out, _ = git.run(
        "interpret-trailers", "--parse", input="\n".join(lines).encode() + b"\n", cwd=ws.top
    )
    for trailer in out.decode("utf-8", "replace").splitlines():
        key, _, value = trailer.partition(":")
        if key.strip().lower() == "signed-off-by" and f"<{email}>" in value.lower():
            return None
    return Problem(
        f"the commit message has no `Signed-off-by: {ident}` line (DCO)",
        "this project requires every commit to be signed off by its committer "
        "(Developer Certificate of Origin); such commits are refused",
        (
            "git commit -s   (commit again with --signoff; for the last commit: "
            "git commit --amend --no-edit -s)",
            f"or: end the message with the line: Signed-off-by: {ident}",
        ),
    )
