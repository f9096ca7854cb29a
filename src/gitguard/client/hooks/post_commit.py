"""``guard-post-commit`` (post-commit stage): verify the commit just made with the core
engine — the same verification and rules the server's receive guard applies when the
current branch is pushed — and, if it would be refused, say so loudly while it is
still one ``git commit --amend`` away from fixed.

git ignores a post-commit hook's exit status; the pre-commit framework shows it."""

from __future__ import annotations

from collections.abc import Sequence

from gitguard.client.hooks import HookParser, color_enabled, run_hook, say

NAME = "guard-post-commit"


def main(argv: Sequence[str] | None = None) -> int:
    parser = HookParser(NAME, "Verify the signature of the commit just made.")
    args = parser.parse_args(argv)

    def body() -> int:
        import sys

        from gitguard.client.outgoing import check_head
        from gitguard.client.workspace import (
            client_trust,
            current_branch,
            load_client_policy,
            open_workspace,
        )
        from gitguard.model import Status

        ws = open_workspace()
        policy = load_client_policy(ws, args.policy)
        trust, notes = client_trust(ws, policy)
        result = check_head(ws, current_branch(ws), policy, trust)
        if result.accepted:
            return 0
        bad = list(result.offending)
        color = color_enabled(sys.stderr)

        def red(text: str) -> str:
            return f"\033[1;31m{text}\033[0m" if color else text

        bar = red("!" * 72)
        lines = [bar]
        for v in bad:
            lines.append(
                red(f"guard: the commit you just made, {v.object[:12]} {v.subject!r}, is "
                    f"{v.status.value}")
            )  # fmt: skip
            lines.append(f"  {v.reason}")
            if v.key:
                lines.append(f"  key {v.key}" + (f" ({v.signer})" if v.signer else ""))
        for r in result.refs:
            lines.extend(f"  {p.reason}" for p in r.problems)
        where = f" (policy {policy.source})" if policy is not None else ""
        lines.append(f"  The server will refuse it{where}, and guard-pre-push will stop the push.")
        if any(v.status is Status.UNSIGNED for v in bad):
            lines.append("  Sign it now:  git commit --amend --no-edit -S")
            lines.append("  and have every commit signed from now on:  guard setup")
        elif bad:
            lines.append(f"  Fix: {bad[0].hint}")
            lines.append("  then re-sign it:  git commit --amend --no-edit -S")
        if policy is None and any(v.status is Status.UNKNOWN_KEY for v in bad):
            lines.extend(f"  note: {n}" for n in notes)
        lines.append(bar)
        say("\n".join(lines))
        return 1

    return run_hook(NAME, body)


if __name__ == "__main__":
    raise SystemExit(main())
