"""Fixtures for the receive guard's tests: bare repositories guarded by
``guard server install`` (the real installer, the real shims), clients that sign with
throwaway SSH keys, real ``git push`` over ``file://``, and policies written as TOML.

Every subprocess gets an explicit environment (:func:`gitfixtures.tool_env`); the
pushes run the hooks exactly as a server would: git starts ``receive-pack``, which
runs the shim, which runs this interpreter.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gitfixtures import Repo, SshKey, make_ssh_key, run, tool_env
from gitguard.server.install import InstallResult, install


@dataclass(frozen=True)
class Keys:
    """Throwaway SSH keys: alice and bob are maintainers, ``forge`` is a web-flow key,
    mallory is nobody the policy knows."""

    alice: SshKey
    bob: SshKey
    forge: SshKey
    mallory: SshKey


def make_keys(directory: Path) -> Keys:
    env = tool_env(directory / "home")
    return Keys(
        *(make_ssh_key(directory, name, "ed25519", env) for name in Keys.__dataclass_fields__)
    )


def policy_text(keys: Keys, rules: str, *, extra_signers: str = "", top: str = "") -> str:
    """A policy with signers alice, bob and github (the forge key, only for GitHub's
    committer identity), group maintainers = alice + bob, and ``rules``."""
    return f"""version = 1
{top}
[[signer]]
name = "alice"
emails = ["alice@example.com"]
keys = ["{keys.alice.public_line}"]
{extra_signers}
[[signer]]
name = "bob"
emails = ["bob@example.com"]
keys = ["{keys.bob.public_line}"]

[[signer]]
name = "github"
emails = ["noreply@github.com"]
keys = ["{keys.forge.public_line}"]
only_when_committer = ["GitHub <noreply@github.com>"]

[groups]
maintainers = ["alice", "bob"]

{rules}
"""


@dataclass(frozen=True)
class Push:
    """The outcome of one ``git push``: exit code, output, and the ``remote:`` lines
    (prefix and git's sideband padding removed, indentation kept)."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def remote(self) -> list[str]:
        return [
            line[len("remote: ") :].rstrip()
            for line in self.stderr.splitlines()
            if line.startswith("remote:")
        ]

    @property
    def report(self) -> str:
        return "\n".join(self.remote)


@dataclass
class Server:
    """A guarded bare repository."""

    path: Path
    env: dict[str, str]
    object_format: str = "sha1"

    @classmethod
    def create(cls, path: Path, env: Mapping[str, str], *, object_format: str = "sha1") -> Server:
        run(
            ["git", "init", "-q", "--bare", "-b", "main", f"--object-format={object_format}", path],
            env=env,
        )
        (path / "hooks").mkdir(exist_ok=True)
        return cls(path, dict(env), object_format)

    @property
    def url(self) -> str:
        return f"file://{self.path}"

    def git(self, *args: str, check: bool = True) -> str:
        return run(["git", "-C", self.path, *args], env=self.env, check=check).stdout.decode()

    def install(self, policy: Path | None, **options: object) -> InstallResult:
        """``guard server install`` in-process (os.environ is the test's isolated one)."""
        return install(self.path, policy=policy, **options)  # type: ignore[arg-type]

    def ref(self, name: str) -> str | None:
        proc = run(
            ["git", "-C", self.path, "rev-parse", "--verify", "--quiet", name],
            env=self.env,
            check=False,
        )
        return proc.stdout.decode().strip() if proc.returncode == 0 else None

    def has(self, oid: str) -> bool:
        proc = run(["git", "-C", self.path, "cat-file", "-e", oid], env=self.env, check=False)
        return proc.returncode == 0

    def quarantines(self) -> list[str]:
        return sorted(p.name for p in (self.path / "objects").glob("tmp_objdir-*"))


def push(
    client: Repo,
    server: Server,
    *refspecs: str,
    options: Sequence[str] = (),
    config: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> Push:
    """``git [config] push --porcelain [options] URL REFSPEC…`` from ``client``."""
    argv = ["git", *config, "-C", str(client.path), "push", "--porcelain", *options]
    proc = subprocess.run(
        [*argv, server.url, *refspecs],
        env=dict(env or client.env),
        capture_output=True,
        check=False,
        timeout=120,
    )
    return Push(
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
    )


def committer_env(base: Mapping[str, str], name: str, email: str) -> dict[str, str]:
    return {**base, "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
