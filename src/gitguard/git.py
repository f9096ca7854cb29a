"""The one place that runs git. argv tuples only, never a shell; failures raise
:class:`~gitguard.errors.GitError` naming the command, exit code and stderr."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping

from gitguard.errors import GitError

# User configuration must not change the output we parse.
_SAFE_CONFIG = ("-c", "core.quotePath=false", "-c", "log.showSignature=false")


def run(
    *args: str,
    cwd: str | os.PathLike[str] | None = None,
    input: bytes | None = None,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    timeout: float | None = 120,
) -> tuple[int, bytes, bytes]:
    """Run ``git ARGS`` and return ``(returncode, stdout, stderr)``."""
    cmd = ("git", *_SAFE_CONFIG, *args)
    try:
        proc = subprocess.run(
            cmd,
            cwd=cwd,
            input=input,
            capture_output=True,
            env=dict(env) if env is not None else None,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as e:
        raise GitError("git is not installed or not on PATH") from e
    except subprocess.TimeoutExpired as e:
        raise GitError(f"`git {' '.join(args)}` timed out after {timeout} s") from e
    if check and proc.returncode:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise GitError(f"`git {' '.join(args)}` failed (exit {proc.returncode}): {err}")
    return proc.returncode, proc.stdout, proc.stderr


def config_get(key: str, *, cwd: str | os.PathLike[str] | None = None) -> str | None:
    """The value of a git config key as git resolves it for ``cwd``, or None if unset."""
    rc, out, _ = run("config", "--get", key, cwd=cwd, check=False)
    if rc == 1:
        return None
    if rc:
        raise GitError(f"cannot read git config {key} (exit {rc})")
    return out.decode("utf-8", "surrogateescape").rstrip("\n")


def config_path(key: str, *, cwd: str | os.PathLike[str] | None = None) -> str | None:
    """A path-valued config key, with ``~`` expanded as git does (``--type=path``)."""
    rc, out, _ = run("config", "--type=path", "--get", key, cwd=cwd, check=False)
    if rc == 1:
        return None
    if rc:
        raise GitError(f"cannot read git config {key} (exit {rc})")
    return out.decode("utf-8", "surrogateescape").rstrip("\n")
