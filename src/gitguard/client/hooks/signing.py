"""``guard-signing`` (pre-commit stage): stop a commit before it is made when signing
is not configured, not usable, or — with a policy — not trusted for this branch."""

from __future__ import annotations

from collections.abc import Sequence

from gitguard.client.hooks import HookParser, color_enabled, run_hook, say

NAME = "guard-signing"
TITLE = "guard: commit blocked — it would not be signed in a way the server accepts"


def main(argv: Sequence[str] | None = None) -> int:
    parser = HookParser(NAME, "Check that commit signing is configured, usable and trusted.")
    args = parser.parse_args(argv)

    def body() -> int:
        import sys

        from gitguard.client.report import format_problems
        from gitguard.client.signing import check_signing
        from gitguard.client.workspace import current_branch, load_client_policy, open_workspace

        ws = open_workspace()
        policy = load_client_policy(ws, args.policy)
        report = check_signing(ws, policy, current_branch(ws))
        for note in report.notes:
            say(f"guard: note: {note}")
        if report.ok:
            return 0
        say(format_problems(TITLE, report.problems, color=color_enabled(sys.stderr)))
        return 1

    return run_hook(NAME, body)


if __name__ == "__main__":
    raise SystemExit(main())
