"""The one place that runs git. argv tuples only, never a shell; failures raise
:class:`~gitguard.errors.GitError` naming the command, exit code and stderr."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping

from gitguard.errors import GitError

# User configuration must not change the output we parse.
_SAFE_CONFIG = ("-c", "core.quotePath=false", "-c", "log.showSignature=false")
# Every ref with its object, type and peeled object: what the receive guard starts from.
REFS_QUERY = (
    "for-each-ref",
    "--format=%(objectname) %(objecttype) %(*objectname) %(*objecttype) %(refname)",
)


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


class Pending:
    """``git ARGS`` started in the background (stdin closed): :meth:`result` waits for it
    and returns what :func:`run` would have. A hook starts the git questions that do
    not depend on its policy this way, so that git answers while Python imports."""

    def __init__(self, *args: str, cwd: str | os.PathLike[str] | None = None) -> None:
        self.args = args
        self._answer: tuple[int, bytes, bytes] | None = None
        try:
            self._proc = subprocess.Popen(
                ("git", *_SAFE_CONFIG, *args),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except FileNotFoundError as e:
            raise GitError("git is not installed or not on PATH") from e

    def result(self, *, check: bool = True, timeout: float = 120) -> tuple[int, bytes, bytes]:
        if self._answer is None:
            try:
                out, err = self._proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired as e:
                self.cancel()
                raise GitError(f"`git {' '.join(self.args)}` timed out after {timeout} s") from e
            self._answer = (self._proc.returncode, out, err)
        rc, out, err = self._answer
        if check and rc:
            msg = err.decode("utf-8", "replace").strip()
            raise GitError(f"`git {' '.join(self.args)}` failed (exit {rc}): {msg}")
        return rc, out, err

    def cancel(self) -> None:
        """Stop the command if it still runs (its answer is no longer wanted)."""
        if self._answer is not None:
            return
        if self._proc.poll() is None:
            self._proc.kill()
        out, err = self._proc.communicate()
        self._answer = (self._proc.returncode, out, err)


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
