"""The receive hooks' runtime: the git hook protocol adapter behind the shims
``guard server install`` writes (the command line is :mod:`gitguard.cli.main.server`).

The shims ``guard server install`` writes call :func:`hook_main` directly::

    exec /abs/python -I -c '…hook_main()' pre-receive [--chained FILE] "$@"

so a push pays neither for the whole CLI's argparse set-up nor for modules it does
not need: this module imports only ``os``, ``sys`` and ``signal`` at load time, and
everything else inside the functions that need it.

Failure is closed: whatever goes wrong while deciding a push — no policy configured,
an invalid policy or a missing key file, a git failure, a bug, the time limit
(``GUARD_HOOK_TIMEOUT`` seconds, else the shim's ``--timeout``, else
``git config gitguard.timeout``, else 60) — the push is rejected with a message saying
so (``gitguard: push rejected: …``), and the hook exits 1.

post-receive cannot refuse anything: it runs the chained hook, then release signing
(:mod:`gitguard.release.trigger`) when tags were pushed and the policy has ``[release]``.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from types import FrameType

    from gitguard import git
    from gitguard.gitobjects import ObjectReader, Repo
    from gitguard.server.pushcert import PushCert

RECEIVE_HOOKS = ("pre-receive", "update", "post-receive")
DEFAULT_TIMEOUT = 60.0
TIMEOUT_ENV = "GUARD_HOOK_TIMEOUT"


class _Timeout(BaseException):
    """Raised by the timer: a BaseException so that no ``except Exception`` on the way
    can swallow it."""


class _Rejected(Exception):
    """A push refused before a report exists: the message is for the pusher."""

    def __init__(self, message: str, details: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.details = tuple(details)


def _failure(message: str, details: Iterable[str] = ()) -> str:
    lines = [f"gitguard: push rejected: {message}"]
    lines.extend(f"  {d}" for d in details)
    return "\n".join(lines) + "\n"


def _on_alarm(signum: int, frame: FrameType | None) -> NoReturn:
    raise _Timeout


class _Deadline:
    """The hook's time limit: SIGALRM raises :class:`_Timeout` when it passes."""

    def __init__(self) -> None:
        import time

        self._clock = time.monotonic
        self.started = self._clock()
        self.limit = 0.0

    def set(self, limit: float) -> None:
        """Allow ``limit`` seconds in all, counted from the hook's start."""
        self.limit = limit
        signal.signal(signal.SIGALRM, _on_alarm)
        remaining = limit - (self._clock() - self.started)
        signal.setitimer(signal.ITIMER_REAL, max(remaining, 0.001))

    @staticmethod
    def clear() -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _parse_timeout(text: str, source: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _Rejected(f"{source} = {text!r} is not a number of seconds") from None
    if not value > 0:
        raise _Rejected(f"{source} = {text!r} must be more than 0 seconds")
    return value


def _config_query() -> git.Pending:
    """Start the one ``git config`` call :class:`_HookConfig` reads (the hook runs in
    the repository: cwd and ``GIT_DIR``)."""
    from gitguard import git

    return git.Pending(*git.config_args(r"^(gitguard|extensions)\."))


class _HookConfig:
    """The repository's ``gitguard.*`` settings and object format."""

    def __init__(self, query: git.Pending) -> None:
        from gitguard import git

        rc, out, err = query.result(check=False)
        if rc not in (0, 1):  # 1: no key matched
            msg = err.decode("utf-8", "replace").strip()
            raise _Rejected(f"cannot read the repository's git config: {msg}")
        config = git.GitConfig.parse(out)
        self.policy = config.get("gitguard.policy")
        self.timeout = config.get("gitguard.timeout")
        self.pushees = config.get_all("gitguard.pushee")
        self.object_format = (config.get("extensions.objectFormat") or "sha1").lower()


def hook_main(argv: Sequence[str] | None = None) -> int:
    """The installed shims' entry point:
    ``HOOK [--policy FILE] [--chained FILE] [--timeout SECONDS] [--] ARGS…``
    (``HOOK`` is ``pre-receive``, ``update`` or ``post-receive``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    options: dict[str, str] = {}
    hook = args.pop(0) if args else ""
    while args and args[0] in ("--policy", "--chained", "--timeout") and len(args) > 1:
        option, value = args.pop(0), args.pop(0)
        options[option[2:]] = value
    if args and args[0] == "--":
        args.pop(0)
    if hook not in RECEIVE_HOOKS or (hook == "update" and len(args) != 3):
        sys.stderr.write(
            _failure(
                "the gitguard hook shim is broken: expected `pre-receive`, "
                "`update REF OLD NEW` or `post-receive`; reinstall with `guard server install`"
            )
        )
        return 1
    return run_hook(
        hook,
        args,
        policy=options.get("policy"),
        chained=options.get("chained"),
        timeout=options.get("timeout"),
    )


def run_hook(
    hook: str,
    hook_args: Sequence[str],
    *,
    policy: str | None = None,
    chained: str | None = None,
    timeout: str | None = None,
) -> int:
    """Run one receive hook in the current (hook) process; return its exit code."""
    if hook == "post-receive":
        return _post_receive(hook_args, chained)
    deadline = _Deadline()
    # The limit: $GUARD_HOOK_TIMEOUT, else the shim's --timeout, else gitguard.timeout.
    env_timeout = os.environ.get(TIMEOUT_ENV)
    limit, source = (env_timeout, TIMEOUT_ENV) if env_timeout else (timeout, "--timeout")
    try:
        try:
            deadline.set(_parse_timeout(limit, source) if limit else DEFAULT_TIMEOUT)
            text, ok = _receive(
                hook,
                hook_args,
                policy_override=policy,
                chained=chained,
                deadline=None if limit else deadline,
            )
        finally:
            deadline.clear()
    except _Timeout:
        text, ok = (
            _failure(
                f"the signature check did not finish within {deadline.limit:g} s; the limit "
                f"is {TIMEOUT_ENV} or `git config gitguard.timeout` (seconds)"
            ),
            False,
        )
    except _Rejected as e:
        text, ok = _failure(str(e), e.details), False
    except BaseException as e:  # fail closed on anything, bugs included
        text, ok = _internal_error(e), False
    sys.stderr.write(text)
    sys.stderr.flush()
    return 0 if ok else 1


def _internal_error(e: BaseException) -> str:
    from gitguard.errors import failure

    what = failure(e)
    if what.kind == "policy":
        return _failure("the policy cannot be loaded:", what.details)
    if what.kind == "bug":
        return _failure(
            f"{what.message}; the push is refused until the server administrator fixes it"
        )
    return _failure(what.message, what.details)


def _read_stdin() -> bytes:
    return sys.stdin.buffer.read()


def _run_chained(chained: str | None, hook_args: Sequence[str], data: bytes) -> int:
    """Run the hook that was in place before gitguard (git skips non-executables, so
    do we). Its output goes to the pusher as is."""
    if chained is None or not os.access(chained, os.X_OK):
        return 0
    import subprocess

    sys.stderr.flush()
    proc = subprocess.run([chained, *hook_args], input=data, check=False)
    return proc.returncode


def _post_receive(hook_args: Sequence[str], chained: str | None) -> int:
    """After the refs moved: nothing can be refused any more. Runs the chained hook,
    then, when tags were pushed and the policy has a ``[release]`` section, release
    signing (:func:`gitguard.release.trigger.on_tags_pushed`). Never fails the push."""
    data = _read_stdin()
    try:
        rc = _run_chained(chained, hook_args, data)
    except OSError as e:
        sys.stderr.write(f"gitguard: post-receive: cannot run {chained}: {e.strerror}\n")
        rc = 1
    if b" refs/tags/" not in data:
        return rc
    try:
        for line in _release(data):
            sys.stderr.write(f"{line}\n")
    except Exception as e:  # the push has happened: report, never raise
        sys.stderr.write(f"gitguard: post-receive: {type(e).__name__}: {e}\n")
    sys.stderr.flush()
    return rc


def _release(data: bytes) -> list[str]:
    config = _HookConfig(_config_query())
    if not config.policy:
        return []
    from pathlib import Path

    from gitguard.gitobjects import Repo
    from gitguard.server.receive import parse_updates
    from gitguard.trust.policy import load_policy_file

    policy = load_policy_file(Path(config.policy))
    if policy.release is None:
        return []
    from gitguard.release.trigger import on_tags_pushed

    repo = Repo(None, config.object_format)
    return on_tags_pushed(repo, parse_updates(data, repo), policy)


def _receive(
    hook: str,
    hook_args: Sequence[str],
    *,
    policy_override: str | None,
    chained: str | None,
    deadline: _Deadline | None,
) -> tuple[str, bool]:
    """Decide the push; ``deadline`` is given when ``gitguard.timeout`` may set it."""
    data = _read_stdin() if hook == "pre-receive" else b""
    rc = _run_chained(chained, hook_args, data)
    if rc:
        name = os.path.basename(chained or "")
        return _failure(f"the chained hook {name} refused the push (exit {rc})"), False

    # git answers the questions that do not depend on the policy (config, refs, the
    # object reader's start) while Python imports what deciding the push needs.
    from gitguard import git

    query = _config_query()
    refs = git.Pending(*git.REFS_QUERY)
    reader: ObjectReader | None = None
    try:
        from gitguard.gitobjects import ObjectReader, Repo

        reader = ObjectReader(None)
        import time

        from gitguard.server.receive import RefUpdate, check_updates, format_report, parse_updates
        from gitguard.trust.policy import load_policy_file
        from gitguard.trust.policycache import cache_path

        config = _HookConfig(query)
        if deadline is not None and config.timeout:
            deadline.set(_parse_timeout(config.timeout, "gitguard.timeout"))
        if config.object_format not in ("sha1", "sha256"):
            raise _Rejected(f"unsupported object format {config.object_format!r}")
        policy_path = policy_override or config.policy
        if not policy_path:
            raise _Rejected(
                "gitguard is installed on this repository but no policy is configured",
                (
                    "administrator: guard server install REPO.git --policy FILE "
                    "(records it as git config gitguard.policy)",
                ),
            )
        repo = Repo(None, config.object_format)
        # The hook runs in the repository: GIT_DIR is set by receive-pack (".").
        cache = cache_path(os.environ.get("GIT_DIR") or ".")
        now = int(time.time())
        policy = load_policy_file(policy_path, cache=cache)
        if hook == "pre-receive":
            updates = parse_updates(data, repo)
            push_cert = _push_cert(repo, now)
        else:
            ref, old, new = hook_args
            updates = [RefUpdate(old, new, ref)]
            push_cert = None  # git gives the update hook no certificate
        result = check_updates(
            repo,
            updates,
            policy,
            now=now,
            push_cert=push_cert,
            pushees=config.pushees,
            reader=reader,
            refs=refs,
        )
    finally:  # check_updates closes what it was given; closing again does nothing
        query.cancel()
        refs.cancel()
        if reader is not None:
            reader.close()
    text = format_report(result)
    if hook == "update" and any(p.signed_push for r in result.refs for p in r.problems):
        text += (
            "gitguard: note: git gives push certificates to the pre-receive hook only; "
            "install it (guard server install) to accept signed pushes\n"
        )
    if not result.accepted and hook == "pre-receive" and len(updates) > 1:
        text += "gitguard: no ref was updated: a push is accepted or refused as a whole\n"
    return text, result.accepted


def _push_cert(repo: Repo, now: int) -> PushCert | None:
    if not os.environ.get("GIT_PUSH_CERT"):
        return None
    from gitguard.server.pushcert import read_push_cert, remember_certificate

    cert = read_push_cert(repo, os.environ)
    if cert is None:
        return None
    # The hook runs in the repository: GIT_DIR is set by receive-pack (".").
    return remember_certificate(cert, os.environ.get("GIT_DIR") or ".", now)


# --------------------------------------------------------------------------- argparse
