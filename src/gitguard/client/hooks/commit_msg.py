"""``guard-commit-msg`` (commit-msg stage): the signing check of ``guard-signing``
(teams install one of the two) and, when required, a ``Signed-off-by:`` trailer for
the committer (DCO). The sign-off is required by ``--require-signoff`` or
``git config guard.requireSignoff true``."""

from __future__ import annotations

from collections.abc import Sequence

from gitguard.client.hooks import HookParser, color_enabled, run_hook, say

NAME = "guard-commit-msg"
TITLE = "guard: commit blocked — the server would refuse it"


def main(argv: Sequence[str] | None = None) -> int:
    parser = HookParser(NAME, "Check signing and (optionally) the DCO sign-off of a commit.")
    parser.add_argument("message_file", metavar="MSGFILE", help="the commit message file")
    parser.add_argument(
        "--require-signoff",
        action="store_true",
        help="require a Signed-off-by: trailer for the committer (DCO)",
    )
    parser.add_argument(
        "--no-signing-check",
        action="store_true",
        help="skip the signing check (when guard-signing already runs at pre-commit)",
    )
    args = parser.parse_args(argv)

    def body() -> int:
        import sys

        from gitguard.client.report import Problem, format_problems
        from gitguard.client.signing import check_signing
        from gitguard.client.signoff import check_signoff, signoff_required
        from gitguard.client.workspace import current_branch, load_client_policy, open_workspace
        from gitguard.errors import GuardError

        ws = open_workspace()
        problems: list[Problem] = []
        if not args.no_signing_check:
            policy = load_client_policy(ws, args.policy)
            report = check_signing(ws, policy, current_branch(ws))
            for note in report.notes:
                say(f"guard: note: {note}")
            problems.extend(report.problems)
        if signoff_required(ws, args.require_signoff):
            try:
                with open(args.message_file, "rb") as f:
                    message = f.read()
            except OSError as e:
                raise GuardError(f"cannot read {args.message_file}: {e.strerror}") from e
            missing = check_signoff(ws, message)
            if missing is not None:
                problems.append(missing)
        if not problems:
            return 0
        say(format_problems(TITLE, problems, color=color_enabled(sys.stderr)))
        return 1

    return run_hook(NAME, body)


if __name__ == "__main__":
    raise SystemExit(main())
