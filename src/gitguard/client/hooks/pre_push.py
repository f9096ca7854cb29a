"""``guard-pre-push`` (pre-push stage): verify every commit the push would send against
the policy the server uses, and block the push with the report the server would give.

As a plain git hook it reads git's protocol: arguments ``<remote name> <url>`` and one
stdin line per ref, ``<local ref> <local oid> <remote ref> <remote oid>`` (zero ids of
the repository's object format for new refs and deletions). Under the pre-commit
framework the framework has consumed stdin and hands over the *first* ref update with
new commits in ``PRE_COMMIT_LOCAL_BRANCH``, ``PRE_COMMIT_REMOTE_BRANCH``,
``PRE_COMMIT_FROM_REF``/``PRE_COMMIT_TO_REF`` and ``PRE_COMMIT_REMOTE_NAME``; that is
what is checked then (a limit of the framework's pre-push protocol).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gitguard.client.hooks import HookParser, color_enabled, run_hook, say

if TYPE_CHECKING:
    from gitguard.client.outgoing import PushLine
    from gitguard.client.workspace import Workspace

NAME = "guard-pre-push"


def _framework_update(ws: Workspace) -> PushLine | None:
    from gitguard import git
    from gitguard.client.outgoing import PushLine

    local_ref = os.environ.get("PRE_COMMIT_LOCAL_BRANCH", "")
    remote_ref = os.environ.get("PRE_COMMIT_REMOTE_BRANCH", "")
    if not local_ref or not remote_ref:
        return None
    to_ref = os.environ.get("PRE_COMMIT_TO_REF") or ""
    if not to_ref:
        _, out, _ = git.run("rev-parse", "--verify", f"{local_ref}^{{object}}", cwd=ws.top)
        to_ref = out.decode().strip()
    # FROM_REF is the remote's old value or the parent of the first new commit: either
    # way it is not new, and excluding it is exact. For a tag it is almost always the
    # latter (tags are created, not moved): taken as the old value it would read as
    # moving an existing tag.
    from_ref = os.environ.get("PRE_COMMIT_FROM_REF") or ws.repo.zero_id
    if remote_ref.startswith("refs/tags/"):
        from_ref = ws.repo.zero_id
    return PushLine(local_ref, to_ref, remote_ref, from_ref)


def main(argv: Sequence[str] | None = None) -> int:
    parser = HookParser(NAME, "Check the commits a push would send against the server policy.")
    parser.add_argument("remote", nargs="?", help="remote name (git passes it)")
    parser.add_argument("url", nargs="?", help="remote URL (git passes it)")
    args = parser.parse_args(argv)

    def body() -> int:
        import sys

        from gitguard.client.outgoing import check_push, parse_pre_push
        from gitguard.client.workspace import client_trust, load_client_policy, open_workspace
        from gitguard.model import Status
        from gitguard.server.receive import format_report

        ws = open_workspace()
        remote = args.remote or os.environ.get("PRE_COMMIT_REMOTE_NAME") or "origin"
        if "PRE_COMMIT_REMOTE_BRANCH" in os.environ or "PRE_COMMIT" in os.environ:
            update = _framework_update(ws)
            updates = [update] if update is not None else []
        else:
            updates = parse_pre_push(sys.stdin.read(), ws.repo.zero_id)
        if not updates:
            return 0
        policy = load_client_policy(ws, args.policy)
        trust, notes = client_trust(ws, policy)
        result = check_push(ws.repo, remote, updates, policy, trust)
        if result.accepted:
            return 0
        color = color_enabled(sys.stderr)
        against = f"policy {policy.source}" if policy else "git's own trust (no gitguard policy)"
        head = f"guard: push to {remote} blocked — the server would refuse it ({against}):"
        say(f"\033[1;31m{head}\033[0m" if color else head)
        say(format_report(result))
        if policy is None and any(v.status is Status.UNKNOWN_KEY for v in result.offending):
            for note in notes:  # why git's own trust does not know the key
                say(f"guard: note: {note}")
        say(
            "After fixing, push again. (`git push --no-verify` skips this check, not the server's.)"
        )
        return 1

    return run_hook(NAME, body)


if __name__ == "__main__":
    raise SystemExit(main())
