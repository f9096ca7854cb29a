"""Child processes for the git commands gitguard runs, without :mod:`subprocess`.

``subprocess`` imports ``threading``, ``selectors``, ``locale`` and more: ≈5 ms that
every push would pay before its hook has run a single git command. This module is the
part of ``Popen`` that gitguard uses, on :func:`os.posix_spawn` (vfork and exec in
glibc; a fork instead measured slower under load: copy-on-write faults in the parent)
and :func:`select.poll`:

- standard streams are each inherited, ``PIPE`` or ``DEVNULL``;
- SIGPIPE and SIGXFSZ are reset to their defaults in the child (Python ignores them;
  ``subprocess`` restores them as well), so a git writing to a reader that went away
  dies as it would from a shell;
- descriptors above 2 that the parent holds inheritably (say, handed down by
  receive-pack) are closed in the child, as ``close_fds`` does; the pipes themselves
  are created close-on-exec;
- there is no ``cwd``: git's own ``-C`` does that (see :func:`gitguard.git.run`).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from collections.abc import Mapping, Sequence
from typing import IO, Any

PIPE = -1
DEVNULL = -3
_RESET_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGPIPE", "SIGXFSZ") if hasattr(signal, name)
)
_CHUNK = 65536
# posix_spawn file actions: (DUP2, fd, target), (OPEN, target, path, flags, mode),
# (CLOSE, fd).
Action = tuple[Any, ...]


class Timeout(Exception):
    """The child did not finish in time (it has been killed)."""


_found: dict[tuple[str, str], str] = {}


def _which(name: str, env: Mapping[str, str]) -> str:
    """``name`` looked up on the child's ``PATH`` (as subprocess does, and unlike
    posix_spawnp, which searches the parent's)."""
    if "/" in name:
        return name
    search = env.get("PATH", os.defpath)
    key = (name, search)
    found = _found.get(key)
    if found is None:
        for directory in search.split(os.pathsep):
            candidate = os.path.join(directory or ".", name)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                found = _found[key] = candidate
                break
        else:
            raise FileNotFoundError(f"{name} is not on PATH")
    return found


def _inherited_fds() -> list[int]:
    """Descriptors above 2 that a child would inherit."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return []
    fds = []
    for name in names:
        fd = int(name)
        if fd > 2:
            try:
                if os.get_inheritable(fd):
                    fds.append(fd)
            except OSError:  # the descriptor listdir itself used, now closed
                pass
    return fds


def _poll(poller: select.poll, deadline: float | None) -> list[tuple[int, int]]:
    """Events, waiting at most until ``deadline``; :class:`Timeout` once it passed."""
    wait_ms = None
    if deadline is not None:
        wait_ms = max(0, int((deadline - time.monotonic()) * 1000))
    events = poller.poll(wait_ms)
    if not events and deadline is not None and time.monotonic() >= deadline:
        raise Timeout
    return events


class Child:
    """One started child process (``argv[0]`` is looked up on the child's ``PATH``)."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        stdin: int | None = None,
        stdout: int | None = None,
        stderr: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        for mode in (stdin, stdout, stderr):
            if mode not in (None, PIPE, DEVNULL):
                raise ValueError(f"unsupported stream mode {mode}")
        actions: list[Action] = []
        ours: dict[int, int] = {}  # child fd -> our end of its pipe
        theirs: list[int] = []
        try:
            for fd, mode in ((0, stdin), (1, stdout), (2, stderr)):
                if mode == PIPE:
                    r, w = os.pipe()
                    child_end, our_end = (r, w) if fd == 0 else (w, r)
                    ours[fd] = our_end
                    theirs.append(child_end)
                    actions.append((os.POSIX_SPAWN_DUP2, child_end, fd))
                elif mode == DEVNULL:
                    flags = os.O_RDONLY if fd == 0 else os.O_WRONLY
                    actions.append((os.POSIX_SPAWN_OPEN, fd, os.devnull, flags, 0))
            actions.extend((os.POSIX_SPAWN_CLOSE, fd) for fd in _inherited_fds())
            environment = dict(os.environ if env is None else env)
            self.pid = os.posix_spawn(
                _which(argv[0], environment),
                list(argv),
                environment,
                file_actions=actions,
                setsigdef=_RESET_SIGNALS,
            )
        except BaseException:
            for fd in (*ours.values(), *theirs):
                os.close(fd)
            raise
        for fd in theirs:
            os.close(fd)
        self.args = tuple(argv)
        self.returncode: int | None = None
        self.stdin: IO[bytes] | None = os.fdopen(ours[0], "wb") if 0 in ours else None
        self.stdout: IO[bytes] | None = os.fdopen(ours[1], "rb") if 1 in ours else None
        self.stderr: IO[bytes] | None = os.fdopen(ours[2], "rb") if 2 in ours else None

    def wait(self) -> int:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    def communicate(
        self, input: bytes | None = None, timeout: float | None = None
    ) -> tuple[bytes, bytes]:
        """Write ``input`` (then close stdin), read stdout and stderr to their ends, and
        wait for the child. Raises :class:`Timeout` (after killing it) when ``timeout``
        seconds pass first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        out_fd = self.stdout.fileno() if self.stdout is not None else -1
        err_fd = self.stderr.fileno() if self.stderr is not None else -1
        streams: dict[int, IO[bytes]] = {}
        chunks: dict[int, list[bytes]] = {}
        poller = select.poll()
        for stream in (self.stdout, self.stderr):
            if stream is not None:
                fd = stream.fileno()
                streams[fd] = stream
                chunks[fd] = []
                poller.register(fd, select.POLLIN)
        pending = memoryview(input or b"")
        writer = self.stdin if self.stdin is not None and not self.stdin.closed else None
        if writer is not None:
            writer.flush()
            if pending:
                poller.register(writer.fileno(), select.POLLOUT)
            else:
                writer.close()
                writer = None
        try:
            while streams or writer is not None:
                for fd, _event in _poll(poller, deadline):
                    if writer is not None and fd == writer.fileno():
                        try:
                            written = os.write(fd, pending[:_CHUNK])
                        except BrokenPipeError:
                            written = len(pending)
                        pending = pending[written:]
                        if not pending:
                            poller.unregister(fd)
                            writer.close()
                            writer = None
                    elif fd in streams:
                        data = os.read(fd, _CHUNK)
                        if data:
                            chunks[fd].append(data)
                        else:
                            poller.unregister(fd)
                            streams.pop(fd).close()
        except BaseException:
            self.kill()
            self.close()
            raise
        self.wait()
        return b"".join(chunks.get(out_fd, [])), b"".join(chunks.get(err_fd, []))

    def close(self) -> None:
        """Close our ends of the pipes and reap the child (after it ends)."""
        for stream in (self.stdin, self.stdout, self.stderr):
            if stream is not None and not stream.closed:
                with contextlib.suppress(BrokenPipeError):
                    stream.close()
        self.wait()
