"""``guard hook …`` and ``guard server …``: the receive guard's command line (the hook
runtime itself is :mod:`gitguard.server.hook`)."""

from __future__ import annotations

import argparse
import os
import sys

from gitguard.server.hook import DEFAULT_TIMEOUT, RECEIVE_HOOKS, run_hook


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``hook`` and ``server`` to the ``guard`` command line."""
    from pathlib import Path

    h = subparsers.add_parser(
        "hook",
        help="run a server-side receive hook (pre-receive, update, post-receive)",
        description=(
            "Run the receive guard as git runs a hook: in the repository, with the ref "
            "updates on standard input (pre-receive, post-receive) or as arguments "
            "(update). The policy is `git config gitguard.policy` unless --policy is given. "
            "Exit 0 accepts the push; anything else refuses it."
        ),
    )
    hooks = h.add_subparsers(dest="hook", metavar="HOOK", required=True)
    for name in RECEIVE_HOOKS:
        p = hooks.add_parser(name, help=f"the {name} hook")
        if name == "update":
            p.add_argument("ref", metavar="REF")
            p.add_argument("old", metavar="OLD")
            p.add_argument("new", metavar="NEW")
        p.add_argument("--policy", metavar="FILE", help="policy file (default: gitguard.policy)")
        p.set_defaults(func=cmd_hook)

    s = subparsers.add_parser(
        "server",
        help="install or check the receive guard in a bare repository",
        description="Install the receive guard's hooks in a bare repository, or check them.",
    )
    server = s.add_subparsers(dest="server_command", metavar="COMMAND", required=True)
    i = server.add_parser(
        "install",
        help="install the pre-receive and post-receive hooks",
        description=(
            "Install gitguard's pre-receive and post-receive hooks (shims calling this "
            "Python by absolute path) in a bare repository, after validating the policy, "
            "and record the policy as `git config gitguard.policy`. An existing hook that "
            "is not gitguard's is never overwritten: --chain keeps it (renamed to "
            "HOOK.gitguard-chained) and runs it first."
        ),
    )
    i.add_argument("repo", type=Path, metavar="REPO.git")
    i.add_argument("--policy", type=Path, metavar="FILE", help="the policy (TOML) to enforce")
    i.add_argument(
        "--chain",
        action="store_true",
        help="keep existing hooks: rename them to HOOK.gitguard-chained and run them first",
    )
    i.add_argument(
        "--update-hook",
        action="store_true",
        help="also install the update hook (per-ref checks; pre-receive is enough)",
    )
    i.add_argument(
        "--hooks-dir",
        type=Path,
        metavar="DIR",
        help="install into DIR instead of the repository's hooks directory "
        "(e.g. GitLab's REPO.git/custom_hooks)",
    )
    i.add_argument(
        "--dot-d",
        action="store_true",
        help="write HOOK.d/gitguard instead of HOOK (Gitea/Forgejo, GitLab pre-receive.d)",
    )
    i.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help=f"time limit per push (git config gitguard.timeout; default {DEFAULT_TIMEOUT:g})",
    )
    i.set_defaults(func=cmd_server_install)
    c = server.add_parser(
        "check",
        help="validate the policy and keys, show the rules and the hooks",
        description=(
            "Validate the configured policy and its key files, print which rule applies to "
            "which ref pattern and to the repository's refs, and the state of the hooks. "
            "Exit 0 when everything is in place, 1 when something is missing, 2 when the "
            "policy is invalid."
        ),
    )
    c.add_argument("repo", type=Path, metavar="REPO.git")
    c.add_argument("--hooks-dir", type=Path, metavar="DIR", help="where the hooks were installed")
    c.set_defaults(func=cmd_server_check)
    sh = server.add_parser(
        "shim",
        help="print a hook shim, for servers that take hook files (GitLab, GHES)",
        description=(
            "Print the shell shim for HOOK to standard output, to place where a platform "
            "runs hooks from (GitLab's global custom_hooks/pre-receive.d, a GitHub "
            "Enterprise Server pre-receive environment). With --policy the shim names the "
            "policy itself and needs no `git config gitguard.policy`."
        ),
    )
    sh.add_argument("hook", choices=RECEIVE_HOOKS, metavar="HOOK")
    sh.add_argument("--policy", type=Path, metavar="FILE", help="the policy, absolute path")
    sh.add_argument(
        "--python",
        metavar="PATH",
        help="the interpreter as the hook will see it (default: this one)",
    )
    sh.add_argument("--timeout", type=float, metavar="SECONDS", help="time limit per push")
    sh.set_defaults(func=cmd_server_shim)


def cmd_hook(args: argparse.Namespace) -> int:
    hook_args = [args.ref, args.old, args.new] if args.hook == "update" else []
    return run_hook(args.hook, hook_args, policy=args.policy)


def cmd_server_install(args: argparse.Namespace) -> int:
    from gitguard.server.install import install

    result = install(
        args.repo,
        policy=args.policy,
        chain=args.chain,
        update_hook=args.update_hook,
        hooks_dir=args.hooks_dir,
        dot_d=args.dot_d,
        timeout=args.timeout,
    )
    for line in result.lines:
        sys.stdout.write(f"{line}\n")
    for warning in result.warnings:
        sys.stderr.write(f"guard: warning: {warning}\n")
    return 0


def cmd_server_check(args: argparse.Namespace) -> int:
    from gitguard.server.install import check

    result = check(args.repo, hooks_dir=args.hooks_dir)
    for line in result.lines:
        sys.stdout.write(f"{line}\n")
    for problem in result.problems:
        sys.stderr.write(f"guard: problem: {problem}\n")
    if result.policy_problems:
        return 2
    return 1 if result.problems else 0


def cmd_server_shim(args: argparse.Namespace) -> int:
    from gitguard.errors import UsageError
    from gitguard.server.install import shim_text

    python = args.python or sys.executable
    if not os.path.isabs(python):
        raise UsageError("--python must be an absolute path")
    if args.policy is not None and not args.policy.is_absolute():
        raise UsageError("--policy must be an absolute path (the hook runs elsewhere)")
    if args.timeout is not None and not args.timeout > 0:
        raise UsageError("--timeout must be more than 0 seconds")
    sys.stdout.write(shim_text(args.hook, python, None, policy=args.policy, timeout=args.timeout))
    return 0
