"""``guard server install`` and ``guard server check``: put the receive guard in front
of a bare repository, and show what it enforces.

Installing writes small ``/bin/sh`` shims — ``pre-receive`` and ``post-receive``, and
``update`` on request — that ``exec`` the Python running the installer, by absolute
path (no ``/usr/bin/env`` or version-manager shim: that costs ≈ 76 ms per push), in
isolated mode (``-I``: the pusher's ``PYTHON*`` variables and the repository directory
cannot change what runs), straight into :func:`gitguard.server.hook.hook_main`.

- The policy is validated first (every problem reported, nothing written on error) and
  recorded by absolute path as ``git config gitguard.policy``.
- A hook that is not a gitguard shim is never overwritten: the install is refused,
  or with ``chain=True`` the hook is renamed ``HOOK.gitguard-chained`` and the shim
  runs it first (a failing chained pre-receive/update hook refuses the push).
  Re-installing over gitguard's own shims is fine and keeps their chained hooks.
- When a rule requires signed pushes, ``receive.certNonceSeed`` is set (a random
  secret) unless already set, and ``receive.certNonceSlop`` to 30 s unless set, so
  that stateless smart-HTTP pushes, whose nonce is issued by an earlier request,
  can be accepted.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gitguard import git, tools
from gitguard._text import plural
from gitguard.errors import GitError, GuardError, PolicyError
from gitguard.trust.policy import Policy, Rule, load_policy_file

SHIM_MARKER = "# gitguard-shim"
CHAINED_SUFFIX = ".gitguard-chained"
DOT_D_NAME = "gitguard"
NONCE_SLOP = 30
_RUN = "sys.exit(hook_main())"
# An interpreter that cannot load gitguard (moved, upgraded, uninstalled) exits 1, which
# refuses the push; this says why instead of a traceback.
_EXCEPTHOOK = (
    "sys.excepthook = lambda t, e, tb: sys.stderr.write("
    'f"gitguard: push rejected: cannot start gitguard ({t.__name__}: {e}); the '
    'administrator must install the hooks again (guard server install)\\n")'
)
# What a hook may import, checked when a shim is written to run without site.
_HOOK_MODULES = (
    "gitguard.server.hook",
    "gitguard.server.receive",
    "gitguard.server.pushcert",
    "gitguard.release.trigger",
    "gitguard.signatures.ssh",
    "gitguard.signatures.openpgp",
    "gitguard.signatures.x509",
)
# The environment variables that locate a repository: stripped before running git on
# the repository being installed (install may itself run inside another hook).
_REPO_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_COMMON_DIR",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_QUARANTINE_PATH",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
)


@dataclass
class InstallResult:
    """What was done, as lines for the administrator."""

    repo: Path
    hooks_dir: Path
    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class CheckResult:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    policy_problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _RepoInfo:
    path: Path  # the git directory, absolute
    object_format: str
    hooks_dir: Path
    config: git.GitConfig  # read once, before anything is written


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in _REPO_ENV}


def _git(repo: Path, *args: str, check: bool = True) -> tuple[int, str]:
    rc, out, err = git.run(*args, cwd=repo, env=_env(), check=False)
    if check and rc:
        msg = err.decode("utf-8", "replace").strip()
        raise GitError(f"`git {' '.join(args)}` in {repo} failed: {msg}")
    return rc, out.decode("utf-8", "surrogateescape")


def _repo_info(repo: Path) -> _RepoInfo:
    if not repo.is_dir():
        raise GuardError(f"{repo}: no such directory")
    rc, out = _git(
        repo,
        "rev-parse",
        "--is-bare-repository",
        "--absolute-git-dir",
        "--show-object-format",
        "--git-path",
        "hooks",
        check=False,
    )
    if rc:
        raise GuardError(f"{repo}: not a git repository")
    bare, gitdir, fmt, hooks = out.splitlines()[:4]
    if bare != "true":
        raise GuardError(
            f"{repo}: not a bare repository; the receive guard belongs on the server's "
            "bare repository (`git init --bare`), which pushes go to"
        )
    hooks_dir = Path(hooks)
    if not hooks_dir.is_absolute():  # core.hooksPath is relative to where hooks run
        hooks_dir = Path(gitdir) / hooks_dir
    return _RepoInfo(Path(gitdir), fmt, hooks_dir, git.GitConfig.read(gitdir, env=_env()))


def is_shim(path: Path) -> bool:
    """Whether ``path`` is a hook written by :func:`install`."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return False
    return SHIM_MARKER.encode() in head


_HEREDOC = "GITGUARD_PUSHED_REFS"


def _hook_code(paths: Sequence[str] | None) -> str:
    parts = ["import sys", _EXCEPTHOOK]
    if paths is not None:
        # JSON's string syntax is Python's; its double quotes read well in the shim.
        parts.append(f"sys.path += {json.dumps(list(paths))}")
    parts += ["from gitguard.server.hook import hook_main", _RUN]
    return "; ".join(parts)


def site_paths(python: str) -> list[str] | None:
    """What ``site`` adds to ``python``'s module path (site-packages, ``.pth``
    entries such as an editable install's source directory), provided that with those
    paths alone, and without running ``site``, every module a hook may need imports;
    else None.

    Shims for such an interpreter run it with ``-S`` and these paths: ``site`` and the
    ``.pth`` files cost every push ≈5 ms of a hook whose whole budget is a few tens."""
    show = "import sys, json; print(json.dumps(sys.path))"
    try:
        runs = [
            tools.run((python, *flags, "-c", show), timeout=60) for flags in (("-I",), ("-I", "-S"))
        ]
        with_site, without = (json.loads(r.stdout) for r in runs)
    except (tools.ToolError, ValueError):
        return None
    if not all(isinstance(p, str) for p in (*with_site, *without)):
        return None
    paths = [p for p in with_site if p not in without]
    probe = f"import sys; sys.path += {json.dumps(paths)}; import " + ", ".join(_HOOK_MODULES)
    try:
        tools.run((python, "-I", "-S", "-c", probe), timeout=60)
    except tools.ToolError:
        return None
    return paths


def shim_text(
    hook: str,
    python: str,
    chained: Path | None,
    *,
    policy: Path | None = None,
    timeout: float | None = None,
    paths: Sequence[str] | None = None,
) -> str:
    """The shell shim for ``hook``: ``exec`` ``python`` (absolute) into hook_main.
    ``policy`` and ``timeout``, when given, are fixed in the shim (for platforms whose
    repository config the administrator does not control). With ``paths`` (what
    :func:`site_paths` found), ``python`` runs without ``site`` (``-S``) and with those
    paths added to its module path."""
    flags = ["-I"] if paths is None else ["-I", "-S"]
    argv = [python, *flags, "-c", _hook_code(paths), hook]
    if policy is not None:
        argv += ["--policy", str(policy)]
    if timeout is not None:
        argv += ["--timeout", f"{timeout:g}"]
    if chained is not None:
        argv += ["--chained", str(chained)]
    command = " ".join(shlex.quote(a) for a in argv)
    lines = [
        "#!/bin/sh",
        f"{SHIM_MARKER}: the {hook} hook of the gitguard receive guard.",
        "# Written by `guard server install` (or `guard server shim`); run it again to",
        "# change this file.",
    ]
    if chained is not None:
        lines.append(f"# Runs {chained.name} (the hook that was here before) first.")
    # Without its interpreter the hook cannot decide: say so and refuse (fail
    # closed), rather than leave the pusher a raw shell error.
    consequence = (
        "release signing did not run for this push"
        if hook == "post-receive"
        else "the push is refused"
    )
    message = (
        f"gitguard: cannot start: {python} is missing or not executable; {consequence}. "
        "Administrator: run `guard server install` again with a working Python."
    )
    check = [
        f"if [ ! -x {shlex.quote(python)} ]; then",
        f"    echo {shlex.quote(message)} >&2",
        f"    exit {0 if hook == 'post-receive' else 1}",
        "fi",
    ]
    if hook == "post-receive" and chained is None:
        # Only pushed tags can start release signing: when a push has none, do not
        # start Python at all (its start-up would be paid by every push). Ref names
        # cannot contain backslashes, and the expansion is not re-scanned.
        lines += [
            "# Only a pushed tag can start release signing; other pushes end here.",
            "input=$(cat)",
            'case "$input" in *" refs/tags/"*) ;; *) exit 0 ;; esac',
            *check,
            f'exec {command} "$@" <<{_HEREDOC}',
            "$input",
            _HEREDOC,
        ]
    else:
        lines += [*check, f'exec {command} "$@"']
    return "\n".join(lines) + "\n"


def shim_command(path: Path) -> list[str] | None:
    """The ``exec`` argv of a gitguard shim (without ``"$@"``), or None."""
    try:
        text = path.read_text("utf-8", "replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("exec "):
            try:
                argv = shlex.split(line[5:])
            except ValueError:
                return None
            return [a for a in argv if a not in ("$@", f"<<{_HEREDOC}")]
    return None


def _hook_path(hooks_dir: Path, hook: str, dot_d: bool) -> Path:
    return hooks_dir / f"{hook}.d" / DOT_D_NAME if dot_d else hooks_dir / hook


def _write_executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.gitguard-tmp")
    tmp.write_text(text, "utf-8")
    tmp.chmod(0o755)
    os.replace(tmp, path)


def install(
    repo: Path,
    *,
    policy: Path | None = None,
    chain: bool = False,
    update_hook: bool = False,
    hooks_dir: Path | None = None,
    dot_d: bool = False,
    timeout: float | None = None,
    python: str | None = None,
) -> InstallResult:
    """Install the receive guard in the bare repository ``repo`` (see the module
    docstring). Raises :class:`PolicyError` for an invalid policy and
    :class:`GuardError` when it cannot install (nothing is written then)."""
    info = _repo_info(repo)
    interpreter = python or sys.executable
    if not os.path.isabs(interpreter):
        raise GuardError(f"the interpreter path {interpreter!r} is not absolute")
    if timeout is not None and not timeout > 0:
        raise GuardError("--timeout must be more than 0 seconds")
    loaded = None
    policy_abs: Path | None = None
    if policy is not None:
        policy_abs = Path(os.path.abspath(policy))
        loaded = load_policy_file(policy_abs)  # raises PolicyError with every problem
    target_dir = Path(os.path.abspath(hooks_dir)) if hooks_dir is not None else info.hooks_dir
    result = InstallResult(info.path, target_dir)

    hooks = ["pre-receive", "post-receive"] + (["update"] if update_hook else [])
    plans: list[tuple[str, Path, Path | None, bool]] = []  # hook, path, chained, rename
    refused: list[str] = []
    for hook in hooks:
        path = _hook_path(target_dir, hook, dot_d)
        chained = path.with_name(path.name + CHAINED_SUFFIX)
        exists = path.exists() or path.is_symlink()
        if exists and not is_shim(path):
            if not chain:
                refused.append(str(path))
                continue
            if chained.exists() or chained.is_symlink():
                raise GuardError(
                    f"{path} is not gitguard's and {chained.name} already exists next to it: "
                    "merge them by hand, then install again"
                )
            plans.append((hook, path, chained, True))
        else:
            has_chained = chained.exists() or chained.is_symlink()
            plans.append((hook, path, chained if has_chained else None, False))
    if refused:
        raise GuardError(
            "existing hooks that are not gitguard's: "
            + ", ".join(refused)
            + ". Nothing was changed. Run again with --chain to keep them (each is renamed "
            f"HOOK{CHAINED_SUFFIX} and runs before gitguard, and the push is refused if it "
            "fails), or move them away."
        )

    if policy_abs is not None:
        _git(info.path, "config", "gitguard.policy", str(policy_abs))
        result.lines.append(f"policy: {policy_abs} (git config gitguard.policy)")
    elif info.config.get("gitguard.policy") is None:
        result.warnings.append(
            "no policy configured: every push will be rejected until you run "
            f"`guard server install {repo} --policy FILE`"
        )
    if timeout is not None:
        _git(info.path, "config", "gitguard.timeout", f"{timeout:g}")
        result.lines.append(f"time limit: {timeout:g} s (git config gitguard.timeout)")
    if loaded is not None and any(r.require_signed_push for r in loaded.rules):
        _enable_push_certs(info, result)

    paths = site_paths(interpreter)
    for hook, path, keep, rename in plans:
        if rename and keep is not None:
            os.replace(path, keep)
            result.lines.append(f"kept the existing {hook} hook as {keep} (runs first)")
        _write_executable(path, shim_text(hook, interpreter, keep, paths=paths))
        result.lines.append(f"installed {path}")
    result.lines.append(f"interpreter: {interpreter}")
    if info.hooks_dir != target_dir:
        result.warnings.append(
            f"hooks written to {target_dir}, not to {info.hooks_dir} where git looks for "
            "them: make sure your server runs them"
        )
    return result


def _enable_push_certs(info: _RepoInfo, result: InstallResult) -> None:
    if info.config.get("receive.certNonceSeed") is None:
        import secrets

        _git(info.path, "config", "receive.certNonceSeed", secrets.token_hex(32))
        result.lines.append("signed pushes: set receive.certNonceSeed (a random secret)")
    if info.config.get("receive.certNonceSlop") is None:
        _git(info.path, "config", "receive.certNonceSlop", str(NONCE_SLOP))
        result.lines.append(f"signed pushes: set receive.certNonceSlop = {NONCE_SLOP}")


# --------------------------------------------------------------------------- check


def _describe_rule(rule: Rule) -> str:
    if rule.require == "none":
        parts = ["no signature required"]
    else:
        what = "every new commit signed" if rule.require == "signed" else "a signed annotated tag"
        parts = [f"{what} by {', '.join(rule.signers)}"]
    if rule.committer_must_match:
        parts.append("committer must match the signer")
    if rule.require == "signed" and rule.merges == "first-parent":
        parts.append("first-parent chain only")
    if rule.exempt_before:
        parts.append(f"history before {rule.exempt_before[:12]} exempt")
    parts.append("force push " + ("allowed" if rule.allow_force_push else "refused"))
    parts.append("delete " + ("allowed" if rule.allow_delete else "refused"))
    if rule.require_signed_push:
        parts.append("signed push required")
    return "; ".join(parts)


def _hook_state(path: Path, result: CheckResult, *, required: bool) -> str:
    if not (path.exists() or path.is_symlink()):
        if required:
            result.problems.append(f"{path} is missing: run `guard server install`")
        return "not installed"
    if not is_shim(path):
        if required:
            result.problems.append(f"{path} is not gitguard's shim")
        return "a hook that is not gitguard's"
    if not os.access(path, os.X_OK):
        result.problems.append(f"{path} is not executable: git will not run it")
        return "gitguard shim, NOT executable"
    argv = shim_command(path) or []
    python = argv[0] if argv else ""
    state = f"gitguard shim ({python})"
    if not python or not os.access(python, os.X_OK):
        result.problems.append(f"{path}: interpreter {python or '?'} is missing")
        return state + ", interpreter missing"
    # The shim's own command, up to loading gitguard.
    flags = argv[1 : argv.index("-c")] if "-c" in argv else ["-I"]
    code = argv[argv.index("-c") + 1] if "-c" in argv else "import gitguard.server.hook"
    probe = tools.run(
        (python, *flags, "-c", code.replace(_RUN, "None")), timeout=60, env=_env(), check=False
    )
    if probe.returncode:
        result.problems.append(f"{path}: {python} cannot import gitguard")
        state += ", cannot import gitguard"
    if "--chained" in argv:
        chained = argv[argv.index("--chained") + 1]
        runs = "runs first" if os.access(chained, os.X_OK) else "not executable: skipped"
        state += f"; chained {os.path.basename(chained)} ({runs})"
    return state


def check(repo: Path, *, hooks_dir: Path | None = None) -> CheckResult:
    """Validate the configured policy and keys; describe rules, refs and hooks."""
    result = CheckResult()
    info = _repo_info(repo)
    result.lines.append(f"repository  {info.path} (bare, {info.object_format})")
    policy_path = info.config.get("gitguard.policy")
    policy: Policy | None = None
    if policy_path is None:
        result.problems.append(
            "no policy configured (git config gitguard.policy): every push is rejected; "
            f"run `guard server install {repo} --policy FILE`"
        )
        result.lines.append("policy      (none configured)")
    else:
        try:
            policy = load_policy_file(Path(policy_path))
        except PolicyError as e:
            result.policy_problems.extend(e.problems)
            result.problems.extend(e.problems)
            result.lines.append(f"policy      {policy_path}: INVALID, every push is rejected")
        else:
            result.lines.append(
                f"policy      {policy_path}: valid; {plural(len(policy.signers), 'signer')}, "
                f"{plural(len(policy.rules), 'rule')}, default {policy.default}; keys: "
                f"{len(policy.trust.ssh)} SSH, "
                f"{plural(len(policy.trust.openpgp), 'OpenPGP certificate')}"
            )
    timeout = info.config.get("gitguard.timeout")
    result.lines.append(f"time limit  {timeout + ' s' if timeout else '60 s (default)'}")

    target = Path(os.path.abspath(hooks_dir)) if hooks_dir is not None else info.hooks_dir
    result.lines.append(f"hooks       {target}")
    dot_d = (target / "pre-receive.d" / DOT_D_NAME).exists()
    for hook in ("pre-receive", "post-receive", "update"):
        path = _hook_path(target, hook, dot_d)
        state = _hook_state(path, result, required=hook == "pre-receive")
        result.lines.append(f"  {hook:<13} {state}")

    if policy is not None:
        from gitguard.signatures import trust_warnings

        for warning in trust_warnings(policy.trust):
            result.lines.append(f"warning     {warning.message}")
        _describe_policy(info, policy, result)
    return result


def _describe_policy(info: _RepoInfo, policy: Policy, result: CheckResult) -> None:
    from gitguard.server.receive import rule_label

    signed_push = [rule_label(policy, r) for r in policy.rules if r.require_signed_push]
    if signed_push:
        seed = info.config.get("receive.certNonceSeed")
        slop = info.config.get("receive.certNonceSlop")
        result.lines.append(
            f"signed push required by {', '.join(signed_push)}; receive.certNonceSeed "
            f"{'set' if seed else 'NOT set'}; receive.certNonceSlop {slop or 'not set'}"
        )
        if not seed:
            result.problems.append(
                "a rule requires signed pushes but receive.certNonceSeed is not set: git "
                "will not ask for push certificates and every such push is rejected"
            )
    result.lines.append("rules (the first rule whose refs match applies)")
    for rule in policy.rules:
        result.lines.append(f"  {rule_label(policy, rule):<18} {', '.join(rule.refs)}")
        result.lines.append(f"  {'':<18} {_describe_rule(rule)}")
    result.lines.append(f"  {'(default)':<18} every other ref: {policy.default}")
    for rule in policy.rules:
        if rule.allow_delete and not rule.allow_force_push:
            result.lines.append(
                f"warning     rule {rule_label(policy, rule)} allows deletion but not force "
                "pushes: deleting a ref and pushing it again rewrites it all the same (its "
                "new commits are still checked); set allow_delete = false to stop rewrites"
            )
    symrefs = _symrefs(info.path)
    if symrefs:
        result.lines.append(
            "symbolic refs (a push to one moves its target: the rules of both names apply)"
        )
        for name, target in symrefs:
            rules = [
                rule_label(policy, r) for r in policy.rules if r.matches(name) or r.matches(target)
            ]
            applies = ", ".join(rules) if rules else f"no rule: {policy.default}"
            result.lines.append(f"  {name} -> {target}  {applies}")
    refs = _refs(info.path)
    if refs:
        result.lines.append("refs in this repository")
        width = min(max(len(r) for r in refs[:20]), 50)
        for ref in refs[:20]:
            matched = policy.rule_for(ref)
            applies = rule_label(policy, matched) if matched else f"no rule: {policy.default}"
            result.lines.append(f"  {ref:<{width}}  {applies}")
        if len(refs) > 20:
            result.lines.append(f"  … and {len(refs) - 20} more")


def _symrefs(repo: Path) -> list[tuple[str, str]]:
    """``(name, target)`` of every symbolic ref under refs/."""
    _, out = _git(repo, "for-each-ref", "--format=%(refname) %(symref)")
    found = []
    for line in out.split("\n"):
        name, _, target = line.partition(" ")
        if target:
            found.append((name, target))
    return found


def _refs(repo: Path) -> list[str]:
    _, out = _git(repo, "for-each-ref", "--format=%(refname)")
    return [ref for ref in out.split("\n") if ref]
