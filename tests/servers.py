"""Real git servers on 127.0.0.1 for push tests: ``git daemon`` (git://) and smart HTTP
(``git http-backend`` as a CGI program under lighttpd).

Each server is a context manager that picks a free port, keeps its configuration,
logs and scratch files in a directory the caller owns, waits until the port accepts
connections, and on exit stops its whole process group (the server and every child
it forked: ``git receive-pack``, CGI processes, hooks) — SIGTERM, then SIGKILL — and
checks that nothing of it is left running. A server whose program is missing raises
:class:`ServerError` (tests fail, never skip: CI installs the programs from
``scripts/apt-test-packages.txt``).

Why lighttpd: one Debian package with no further dependencies (apache2 pulls in
nine), a configuration that fits in twenty lines, runs unprivileged in the
foreground (``-D``), ships mod_cgi, mod_alias, mod_setenv and basic authentication
(mod_auth + mod_authn_file). It passes none of its own environment to CGI programs:
``GIT_PROJECT_ROOT``, ``GIT_HTTP_EXPORT_ALL`` and the isolated environment the
hooks run in (``PATH``, ``HOME``, ``GIT_CONFIG_NOSYSTEM``…) are set with
``setenv.set-environment``. Pushing over smart HTTP needs an authenticated user
(``git http-backend`` enables receive-pack when ``REMOTE_USER`` is set) or
``http.receivepack=true`` in the repository: we authenticate for real — basic auth
against a password file, the credentials in the URL — so the repositories need no
extra configuration.

Every command gets an explicit environment (the caller's), never ``os.environ``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

HOST = "127.0.0.1"
START_TIMEOUT = 15.0  # seconds until the port must accept connections
STOP_TIMEOUT = 5.0  # seconds between SIGTERM and SIGKILL
PORT_ATTEMPTS = 5  # another free port when the chosen one was taken meanwhile

# Where Debian installs the daemons; a plain user's PATH often lacks the sbin dirs.
_SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")


class ServerError(Exception):
    """A server could not be started or stopped; the message says why (and carries the
    end of its log)."""


def find_program(name: str, env: Mapping[str, str], *, package: str) -> str:
    """The absolute path of ``name`` on ``env["PATH"]`` or in the sbin directories."""
    path = os.pathsep.join([env.get("PATH", os.defpath), *_SBIN])
    found = shutil.which(name, path=path)
    if found is None:
        raise ServerError(
            f"{name} is not installed: apt-get install --no-install-recommends {package} "
            "(listed in scripts/apt-test-packages.txt; scripts/bootstrap.sh --test installs it)"
        )
    return found


def git_exec_path(env: Mapping[str, str]) -> Path:
    out = subprocess.run(
        ["git", "--exec-path"], env=dict(env), capture_output=True, check=True, timeout=30
    )
    return Path(out.stdout.decode().strip())


def free_port() -> int:
    """A port that was free a moment ago (the caller retries if it is taken by then)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((HOST, port)) == 0


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text("utf-8", "replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


# --------------------------------------------------------------------------- processes


def group_members(pgid: int) -> list[tuple[int, str]]:
    """``(pid, command)`` of every live (non-zombie) process in process group ``pgid``."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            cmdline = Path(entry.path, "cmdline").read_bytes()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...; comm may contain spaces and parentheses.
        fields = stat.rsplit(")", 1)[1].split()
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state not in ("Z", "X"):
            members.append(
                (int(entry.name), cmdline.replace(b"\0", b" ").decode("utf-8", "replace"))
            )
    return members


class ManagedProcess:
    """A server process in its own session (so its process group is its pid and holds
    every child it forks), with stdout and stderr appended to a log file."""

    def __init__(self, argv: list[str], *, env: Mapping[str, str], cwd: Path, log: Path) -> None:
        self.argv = argv
        self.log = log
        self._log_file: IO[bytes] = log.open("ab")
        try:
            self.proc = subprocess.Popen(
                argv,
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except BaseException:
            self._log_file.close()
            raise

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_for_port(self, port: int, timeout: float = START_TIMEOUT) -> bool:
        """True once ``port`` accepts connections; False if the process exited first.
        Raises :class:`ServerError` on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if port_open(port):
                return True
            time.sleep(0.02)
        raise ServerError(
            f"{self.argv[0]} (pid {self.pid}) did not accept connections on {HOST}:{port} "
            f"within {timeout:.0f} s; log {self.log}:\n{_tail(self.log)}"
        )

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def stop(self) -> None:
        """SIGTERM to the process group, SIGKILL after :data:`STOP_TIMEOUT`; then check
        that no process of the group is left. Idempotent."""
        try:
            if self.proc.poll() is None:
                self._signal_group(signal.SIGTERM)
                try:
                    self.proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self._signal_group(signal.SIGKILL)
                    self.proc.wait(STOP_TIMEOUT)
            # Children (e.g. a receive-pack still running) outlive a stopped parent.
            deadline = time.monotonic() + STOP_TIMEOUT
            while group_members(self.pid):
                if time.monotonic() > deadline:
                    raise ServerError(
                        f"processes of {self.argv[0]} (process group {self.pid}) survived "
                        f"SIGKILL: {group_members(self.pid)}"
                    )
                self._signal_group(signal.SIGKILL)
                time.sleep(0.05)
        finally:
            self._log_file.close()


# --------------------------------------------------------------------------- servers


@dataclass(frozen=True)
class Server:
    """A running server. ``root`` is the directory its repositories live in."""

    kind: Literal["git", "http"]
    port: int
    pid: int
    root: Path
    log: Path
    base_url: str  # ends with "/"; a repository's URL is base_url + its path under root

    def url(self, repo: Path) -> str:
        """The URL of ``repo`` (a path under :attr:`root`)."""
        return self.base_url + repo.resolve().relative_to(self.root.resolve()).as_posix()

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until the server has no child left (every ``receive-pack`` it started
        has exited). A client's ``git push`` returns as soon as it has the server's
        report, while the server side is still finishing: receive-pack removes a
        refused push's quarantine directory only when it exits."""
        deadline = time.monotonic() + timeout
        while True:
            busy = [m for m in group_members(self.pid) if m[0] != self.pid]
            if not busy:
                return
            if time.monotonic() > deadline:
                raise ServerError(f"{self.kind} server still busy after {timeout:.0f} s: {busy}")
            time.sleep(0.02)


def _start(
    name: str,
    argv_for_port: Callable[[int], list[str]],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log: Path,
) -> tuple[ManagedProcess, int]:
    """Start a server on a free port, trying another port when the chosen one was
    taken in the meantime. Returns the process (accepting connections) and the port."""
    for _ in range(PORT_ATTEMPTS):
        port = free_port()
        process = ManagedProcess(argv_for_port(port), env=env, cwd=cwd, log=log)
        try:
            if process.wait_for_port(port):
                return process, port
        except BaseException:
            process.stop()
            raise
        process.stop()  # exited early: most likely the port was taken; try another
    raise ServerError(
        f"{name} did not start after {PORT_ATTEMPTS} attempts; log {log}:\n{_tail(log)}"
    )


@contextlib.contextmanager
def git_daemon(root: Path, workdir: Path, env: Mapping[str, str]) -> Iterator[Server]:
    """``git daemon`` serving every repository under ``root`` with receive-pack enabled.
    Hooks run with ``env`` (the daemon's environment, which git passes on)."""
    daemon = git_exec_path(env) / "git-daemon"
    if not os.access(daemon, os.X_OK):
        raise ServerError(f"{daemon} is missing: apt-get install git")
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "git-daemon.log"

    def argv(port: int) -> list[str]:
        return [
            str(daemon),  # not `git daemon`: that would be a second process in between
            "--reuseaddr",
            f"--listen={HOST}",
            f"--port={port}",
            f"--base-path={root}",
            "--export-all",
            "--enable=receive-pack",
            "--informative-errors",
            "--verbose",
            str(root),  # whitelist: only repositories under root
        ]

    process, port = _start("git daemon", argv, env=env, cwd=workdir, log=log)
    try:
        yield Server("git", port, process.pid, root, log, f"git://{HOST}:{port}/")
    finally:
        process.stop()


def _lighttpd_string(value: str | Path) -> str:
    text = str(value)
    if any(c in text for c in '"\\\n'):
        raise ServerError(f"cannot put {text!r} into a lighttpd configuration")
    return f'"{text}"'


@contextlib.contextmanager
def http_server(
    root: Path, workdir: Path, env: Mapping[str, str], *, user: str = "pusher"
) -> Iterator[Server]:
    """Smart HTTP: ``git http-backend`` as a CGI program under lighttpd, at
    ``http://USER:PASSWORD@127.0.0.1:PORT/git/<path under root>``. Every request
    needs basic authentication, so http-backend sees ``REMOTE_USER`` and enables
    receive-pack. CGI programs (and so the hooks) get exactly ``env`` plus
    ``GIT_PROJECT_ROOT`` and ``GIT_HTTP_EXPORT_ALL``."""
    lighttpd = find_program("lighttpd", env, package="lighttpd")
    backend = git_exec_path(env) / "git-http-backend"
    if not os.access(backend, os.X_OK):
        raise ServerError(f"{backend} is missing: apt-get install git")
    workdir.mkdir(parents=True, exist_ok=True)
    docroot = workdir / "docroot"
    uploads = workdir / "uploads"  # request bodies are buffered here, not in /var/tmp
    docroot.mkdir(exist_ok=True)
    uploads.mkdir(exist_ok=True)
    password = secrets.token_hex(12)
    users = workdir / "users"
    users.write_text(f"{user}:{password}\n")
    users.chmod(0o600)
    log = workdir / "lighttpd.log"
    cgi_env = {**env, "GIT_PROJECT_ROOT": str(root), "GIT_HTTP_EXPORT_ALL": "1"}
    setenv = ", ".join(
        f"{_lighttpd_string(k)} => {_lighttpd_string(v)}" for k, v in sorted(cgi_env.items())
    )

    def argv(port: int) -> list[str]:
        conf = workdir / f"lighttpd-{port}.conf"
        conf.write_text(
            "\n".join(
                [
                    # mod_auth before the dynamic backend (mod_cgi), as lighttpd asks.
                    'server.modules = ("mod_auth", "mod_authn_file", "mod_alias", '
                    '"mod_setenv", "mod_cgi", "mod_accesslog")',
                    f"server.bind = {_lighttpd_string(HOST)}",
                    f"server.port = {port}",
                    f"server.document-root = {_lighttpd_string(docroot)}",
                    f"server.upload-dirs = ({_lighttpd_string(uploads)})",
                    f"server.errorlog = {_lighttpd_string(log)}",
                    f"accesslog.filename = {_lighttpd_string(workdir / 'access.log')}",
                    f'alias.url = ("/git/" => {_lighttpd_string(str(backend) + "/")})',
                    '$HTTP["url"] =~ "^/git/" {',
                    '  cgi.assign = ("" => "")',
                    f"  setenv.set-environment = ({setenv})",
                    "}",
                    'auth.backend = "plain"',
                    f"auth.backend.plain.userfile = {_lighttpd_string(users)}",
                    'auth.require = ("/git/" => ("method" => "basic", "realm" => "git", '
                    '"require" => "valid-user"))',
                    "",
                ]
            )
        )
        return [lighttpd, "-D", "-f", str(conf)]

    process, port = _start("lighttpd", argv, env=env, cwd=workdir, log=log)
    try:
        base = f"http://{user}:{password}@{HOST}:{port}/git/"
        yield Server("http", port, process.pid, root, log, base)
    finally:
        process.stop()


@dataclass(frozen=True)
class FileRemote:
    """No server: ``file://`` URLs (git runs receive-pack locally, hooks included)."""

    root: Path
    kind: Literal["file"] = "file"

    def url(self, repo: Path) -> str:
        return repo.resolve().as_uri()

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Nothing to wait for: receive-pack is a child of ``git push`` itself."""
        del timeout


Remote = Server | FileRemote


# --------------------------------------------------------------------------- pushes


def init_bare(path: Path, env: Mapping[str, str]) -> Path:
    """``git init --bare -b main PATH`` with an (empty) hooks directory."""
    subprocess.run(
        ["git", "init", "-q", "--bare", "-b", "main", str(path)],
        env=dict(env),
        capture_output=True,
        check=True,
        timeout=60,
    )
    (path / "hooks").mkdir(exist_ok=True)
    return path


@dataclass(frozen=True)
class Push:
    """The outcome of one ``git push``."""

    returncode: int
    stdout: str
    stderr: str
    attempts: int = 1

    @property
    def remote_lines(self) -> list[str]:
        """What the server's hooks printed: the ``remote:`` lines, prefix and the
        trailing padding git adds to sideband lines removed."""
        return [
            line[len("remote:") :].strip()
            for line in self.stderr.splitlines()
            if line.startswith("remote:")
        ]


def _reset_before_handshake(push: Push) -> bool:
    """The connection was reset before the server said anything (no ref
    advertisement read, nothing sent, no ``remote:`` line): no receive-pack ran."""
    return (
        push.returncode == 128
        and not push.stdout
        and push.stderr.strip() == "fatal: read error: Connection reset by peer"
    )


def git_push(
    worktree: Path,
    url: str,
    *refspecs: str,
    env: Mapping[str, str],
    timeout: float = 120,
    retry_resets: int = 0,
) -> Push:
    """``git -C WORKTREE push --porcelain URL REFSPEC…`` (never raises on rejection).

    ``retry_resets``: how often to retry a push whose connection was reset before
    the handshake. git daemon listens with a hard-coded backlog of 5 (daemon.c); a
    burst of connections overflows it and the kernel resets some of them before the
    daemon has accepted them — no receive-pack runs for those, so a retry is the
    same push again. :attr:`Push.attempts` counts the tries."""
    attempts = 0
    while True:
        attempts += 1
        proc = subprocess.run(
            ["git", "-C", str(worktree), "push", "--porcelain", url, *refspecs],
            env=dict(env),
            capture_output=True,
            check=False,
            timeout=timeout,
        )
        push = Push(
            proc.returncode,
            proc.stdout.decode("utf-8", "replace"),
            proc.stderr.decode("utf-8", "replace"),
            attempts,
        )
        if attempts > retry_resets or not _reset_before_handshake(push):
            return push
        time.sleep(0.05 * attempts)


def ref_value(bare: Path, ref: str, env: Mapping[str, str]) -> str | None:
    """The object id ``ref`` points to in ``bare``, or None when it does not exist."""
    proc = subprocess.run(
        ["git", "-C", str(bare), "rev-parse", "--verify", "--quiet", ref],
        env=dict(env),
        capture_output=True,
        check=False,
        timeout=60,
    )
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def has_object(bare: Path, oid: str, env: Mapping[str, str]) -> bool:
    proc = subprocess.run(
        ["git", "-C", str(bare), "cat-file", "-e", oid],
        env=dict(env),
        capture_output=True,
        check=False,
        timeout=60,
    )
    return proc.returncode == 0


def quarantine_leftovers(bare: Path) -> list[Path]:
    """Push quarantine directories (``objects/tmp_objdir-incoming-*``) and ref locks
    left in ``bare``: after every push has finished there must be none."""
    return sorted(
        [
            *(bare / "objects").glob("tmp_objdir-incoming-*"),
            *(bare / "objects").glob("incoming-*"),
            *bare.glob("refs/**/*.lock"),
            *bare.glob("*.lock"),
        ]
    )


# --------------------------------------------------------------------------- the guard


def write_ssh_policy(
    path: Path,
    *,
    name: str,
    email: str,
    key_line: str,
    refs: tuple[str, ...] = ("refs/heads/*", "refs/tags/*"),
) -> Path:
    """A policy trusting one SSH key (``"ssh-ed25519 AAAA…"``) and requiring every new
    commit on ``refs`` to be signed by it."""
    ref_list = ", ".join(f'"{r}"' for r in refs)
    path.write_text(
        f"""version = 1

[[signer]]
name = "{name}"
emails = ["{email}"]
keys = ["{key_line}"]

[[rule]]
refs = [{ref_list}]
require = "signed"
signers = ["{name}"]
"""
    )
    return path


def install_guard(bare: Path, policy: Path, env: Mapping[str, str]) -> str:
    """``guard server install BARE --policy POLICY`` with this interpreter (the one
    gitguard is installed in); returns its output. Raises :class:`ServerError`."""
    proc = subprocess.run(
        [sys.executable, "-m", "gitguard", "server", "install", str(bare), "--policy", str(policy)],
        env=dict(env),
        capture_output=True,
        check=False,
        timeout=120,
    )
    output = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    if proc.returncode:
        raise ServerError(f"guard server install {bare} exited {proc.returncode}:\n{output}")
    return output
