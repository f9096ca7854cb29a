"""Fixtures for the receive guard's tests: bare repositories guarded by
``guard server install`` (the real installer, the real shims), clients that sign with
throwaway SSH keys, real ``git push`` over ``file://``, and policies written as TOML;
:class:`World` puts them together for one test (``conftest.keys`` makes the keys once
per module).

Every subprocess gets an explicit environment (:func:`gitfixtures.tool_env`); the
pushes run the hooks exactly as a server would: git starts ``receive-pack``, which
runs the shim, which runs this interpreter.
"""

from __future__ import annotations

import hashlib
import struct
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gitfixtures import Repo, Signer, SshKey, make_ssh_key, run, ssh_signer, tool_env
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

    @property
    def rejected(self) -> bool:
        """git refused the push because a hook (the guard) declined it."""
        return self.returncode != 0 and "[remote rejected]" in self.stdout


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
    url: str | None = None,
) -> Push:
    """``git [config] push --porcelain [options] URL REFSPEC…`` from ``client``; the
    URL is ``server``'s ``file://`` one unless ``url`` names another transport."""
    argv = ["git", *config, "-C", str(client.path), "push", "--porcelain", *options]
    proc = subprocess.run(
        [*argv, url or server.url, *refspecs],
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


def signed_push(
    client: Repo, server: Server, signer: Signer, *refspecs: str, url: str | None = None
) -> Push:
    """``git push --signed`` from ``client``, the certificate signed by ``signer``."""
    return push(
        client,
        server,
        *refspecs,
        options=["--signed"],
        config=signer.config(),
        env=signer.env(client.env),
        url=url,
    )


def committer_env(base: Mapping[str, str], name: str, email: str) -> dict[str, str]:
    return {**base, "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}


# --------------------------------------------------------------------------- certificates


def pkt_line(data: bytes) -> bytes:
    """One pkt-line of git's protocol: four hex digits of length, then ``data``."""
    return b"%04x" % (len(data) + 4) + data


def pkt_lines(data: bytes) -> list[bytes]:
    """The payloads of the pkt-lines in ``data`` (a flush packet as ``b""``)."""
    out = []
    while data:
        n = int(data[:4], 16)
        out.append(data[4:n] if n else b"")
        data = data[max(n, 4) :]
    return out


def push_cert_request(cert: bytes, capabilities: bytes) -> bytes:
    """A push whose commands are ``cert``'s ref updates, sent as git sends a signed
    push (``push-cert`` … ``push-cert-end``, the certificate one pkt-line per line),
    with an empty pack: the objects are already on the server."""
    request = pkt_line(b"push-cert\0" + capabilities + b"\n")
    request += b"".join(pkt_line(line) for line in cert.splitlines(keepends=True))
    request += pkt_line(b"push-cert-end\n") + b"0000"
    header = b"PACK" + struct.pack(">II", 2, 0)
    return request + header + hashlib.sha1(header, usedforsecurity=False).digest()


def stored_certificate(server: Server, update: str = "") -> bytes:
    """The push certificate receive-pack kept in the object store (an unreachable
    blob); with ``update``, the one that lists that ref update line."""
    out = server.git("cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype)")
    for line in out.splitlines():
        oid, typ = line.split()
        if typ != "blob":
            continue
        blob = run(["git", "-C", server.path, "cat-file", "blob", oid], env=server.env).stdout
        if blob.startswith(b"certificate version 0.1\n") and update.encode() in blob:
            return blob
    which = f" for {update!r}" if update else ""
    raise AssertionError(f"no push certificate{which} in the object store")


# --------------------------------------------------------------------------- a test's world


class World:
    """Guarded servers and signing clients for one test, all under ``tmp``.

    ``alice``, ``bob``, ``forge`` and ``mallory`` sign with the :class:`Keys`;
    :meth:`policy` writes ``policy-1.toml``, ``policy-2.toml``… from
    :func:`policy_text` (``rules``: the test module's default rules); :meth:`server`
    makes a guarded ``srv-N.git`` and :meth:`client` a ``client-N`` repository.
    """

    def __init__(self, tmp: Path, keys: Keys, rules: str) -> None:
        self.tmp = tmp
        self.keys = keys
        self.rules = rules
        self.env = tool_env(tmp / "home")
        self.alice = ssh_signer(keys.alice)
        self.bob = ssh_signer(keys.bob)
        self.forge = ssh_signer(keys.forge)
        self.mallory = ssh_signer(keys.mallory)
        self._n = 0
        self._policies = 0

    def policy(self, rules: str | None = None, *, top: str = "", extra_signers: str = "") -> Path:
        """A new policy file with ``rules`` (default: the world's)."""
        self._policies += 1
        path = self.tmp / f"policy-{self._policies}.toml"
        text = policy_text(
            self.keys, self.rules if rules is None else rules, extra_signers=extra_signers, top=top
        )
        path.write_text(text)
        return path

    def rule(self, n: int = 1, policy: int = 1) -> str:
        """``policy-P.toml:LINE`` of the n-th ``[[rule]]`` of the P-th policy written."""
        path = self.tmp / f"policy-{policy}.toml"
        lines = [i for i, x in enumerate(path.read_text().splitlines(), 1) if x == "[[rule]]"]
        return f"{path.name}:{lines[n - 1]}"

    def server(
        self,
        policy: str | Path | None = None,
        *,
        object_format: str = "sha1",
        top: str = "",
        extra_signers: str = "",
        **options: object,
    ) -> Server:
        """A bare repository guarded by ``guard server install`` (``options``) with
        ``policy``: a policy file, or the rules of a new one (default: the world's)."""
        if not isinstance(policy, Path):
            policy = self.policy(policy, top=top, extra_signers=extra_signers)
        self._n += 1
        server = Server.create(
            self.tmp / f"srv-{self._n}.git", self.env, object_format=object_format
        )
        server.install(policy, **options)
        return server

    def client(self, *, object_format: str = "sha1") -> Repo:
        self._n += 1
        return Repo.init(self.tmp / f"client-{self._n}", self.env, object_format=object_format)
