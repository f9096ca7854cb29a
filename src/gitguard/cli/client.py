"""``guard setup`` and ``guard hooks install``: the developer's side of the CLI.

Only argparse definitions at import time; the work (and its imports) happens in the
handlers, so ``guard --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

HOOK_MARKER = "installed by `guard hooks install`"

# git hook name -> (module, extra arguments). The commit-msg hook leaves the signing
# check to the pre-commit hook and only checks the DCO sign-off (when required).
CLIENT_HOOKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "pre-commit": ("gitguard.client.hooks.signing", ()),
    "commit-msg": ("gitguard.client.hooks.commit_msg", ("--no-signing-check",)),
    "post-commit": ("gitguard.client.hooks.post_commit", ()),
    "pre-push": ("gitguard.client.hooks.pre_push", ()),
}


def register(sub: Any) -> None:
    s = sub.add_parser(
        "setup",
        help="configure commit signing for the current user",
        description=(
            "Find an SSH key (~/.ssh/id_ed25519.pub, id_ecdsa.pub, id_rsa.pub) or a GnuPG "
            "secret key — or create an Ed25519 SSH signing key with --generate — and set "
            "gpg.format, user.signingkey, commit.gpgsign, tag.gpgSign and (SSH) "
            "gpg.ssh.allowedSignersFile with your own line in it. Prints what to hand to "
            "the admin. Never prompts."
        ),
    )
    s.add_argument(
        "--repo", metavar="PATH", help="configure this repository only (default: --global)"
    )
    s.add_argument(
        "--generate",
        action="store_true",
        help="create ~/.ssh/id_ed25519_signing (Ed25519, no passphrase) if no key is found",
    )
    s.add_argument("--format", choices=("ssh", "openpgp"), help="only consider keys of this kind")
    s.add_argument("--key", metavar="KEY", help="an SSH key file or a GnuPG key id to use")
    s.add_argument("--dry-run", action="store_true", help="print the changes, make none")
    s.set_defaults(func=cmd_setup)

    h = sub.add_parser("hooks", help="client git hooks")
    hsub = h.add_subparsers(dest="hooks_command", metavar="COMMAND")
    i = hsub.add_parser(
        "install",
        help="install gitguard's client hooks into a repository",
        description=(
            "Write pre-commit, commit-msg, post-commit and pre-push hooks that run this "
            "gitguard installation (by the absolute path of its interpreter) into the "
            "repository's hooks directory (core.hooksPath respected). A hook that is not "
            "gitguard's is never overwritten unless --force (which keeps it as "
            "<hook>.gitguard-backup)."
        ),
    )
    i.add_argument("--repo", metavar="PATH", help="the repository (default: the current one)")
    i.add_argument("--force", action="store_true", help="replace foreign hooks (kept as backup)")
    i.set_defaults(func=cmd_hooks_install)
    h.set_defaults(func=lambda args: _hooks_usage(h))


def _hooks_usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def cmd_setup(args: argparse.Namespace) -> int:
    from gitguard.client.setup import admin_text, apply_setup, plan_setup

    repo = args.repo if args.repo is not None else None
    plan = plan_setup(repo, generate=args.generate, prefer=args.format, key=args.key)
    out = sys.stdout
    scope = "this repository" if plan.scope == "local" else "all your repositories (--global)"
    if args.dry_run:
        out.write(f"guard setup --dry-run: would configure {plan.key.source} for {scope}\n")
        for cmd in plan.commands() or ["(nothing: signing is already set up this way)"]:
            out.write(f"  {cmd}\n")
        for k, v in plan.unchanged:
            out.write(f"  (already set: {k} = {v})\n")
        for note in plan.notes:
            out.write(f"note: {note}\n")
        if plan.generate is None:
            out.write("\n" + admin_text(plan.key, plan.email, plan.repo))
        return 0
    key = apply_setup(plan)
    commands = plan.commands()
    out.write(f"guard setup: signing with {key.source} for {scope}\n")
    for cmd in commands:
        out.write(f"  done: {cmd}\n")
    for k, v in plan.unchanged:
        out.write(f"  already set: {k} = {v}\n")
    for note in plan.notes:
        out.write(f"note: {note}\n")
    out.write("\n" + admin_text(key, plan.email, plan.repo))
    return 0


def _shim(module: str, extra: tuple[str, ...]) -> str:
    import shlex

    argv = shlex.join([sys.executable, "-m", module, *extra])
    return (
        "#!/bin/sh\n"
        f"# gitguard client hook, {HOOK_MARKER}; run it again to update.\n"
        f'exec {argv} "$@"\n'
    )


def cmd_hooks_install(args: argparse.Namespace) -> int:
    import os

    from gitguard import git
    from gitguard.client.workspace import open_workspace
    from gitguard.errors import GuardError

    ws = open_workspace(args.repo or getattr(args, "chdir", None))
    _, out, _ = git.run("rev-parse", "--git-path", "hooks", cwd=ws.top)
    hooks_dir = os.path.join(ws.top, out.decode("utf-8", "surrogateescape").strip())
    hooks_dir = os.path.normpath(hooks_dir)
    os.makedirs(hooks_dir, exist_ok=True)
    foreign: list[str] = []
    for name in CLIENT_HOOKS:
        path = os.path.join(hooks_dir, name)
        if os.path.lexists(path):
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read()
            except OSError:
                text = ""
            if HOOK_MARKER not in text:
                foreign.append(path)
    if foreign and not args.force:
        framework = any("pre-commit" in _read(p) and "hook-impl" in _read(p) for p in foreign)
        hint = (
            "this repository uses the pre-commit framework: add gitguard's hooks to "
            ".pre-commit-config.yaml instead (see docs/client.md)"
            if framework
            else "move them away (or chain them yourself), or use --force to replace them "
            "(the old hook is kept as <hook>.gitguard-backup)"
        )
        raise GuardError(
            "hooks already exist that are not gitguard's; not overwriting them:\n"
            + "".join(f"  {p}\n" for p in foreign)
            + hint
        )
    for name, (module, extra) in CLIENT_HOOKS.items():
        path = os.path.join(hooks_dir, name)
        if path in foreign:
            os.replace(path, path + ".gitguard-backup")
        tmp = path + ".gitguard-tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(_shim(module, extra))
        os.chmod(tmp, 0o755)  # noqa: S103 - a hook must be executable; like git's samples
        os.replace(tmp, path)
        sys.stdout.write(f"installed {path}\n")
    for path in foreign:
        sys.stdout.write(f"kept the previous hook as {path}.gitguard-backup\n")
    return 0


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""
