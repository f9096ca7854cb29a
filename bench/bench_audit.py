#!/usr/bin/env python3
"""Benchmark ``guard audit`` against git's own verification (``git log --format=%G?``).

Builds (and caches under ``bench/out/``) repositories of N signed commits, one per
signature kind, then times git and guard on each in the same run and prints both
times, commits per second, the ratio and guard's peak memory.

    .venv/bin/python bench/bench_audit.py                    # 20,000 commits x 3 kinds
    .venv/bin/python bench/bench_audit.py --commits 2000 --git-sample 500
    .venv/bin/python bench/bench_audit.py --memory           # 100,000 SSH commits, memory only
    .venv/bin/python bench/bench_audit.py --json out.json --rebuild

Targets (DESIGN.md, 2-core machine): guard >= 100x git for SSH, >= 50x for OpenPGP, and
peak memory < 300 MB for a 100,000-commit audit. Exit status: 0 when every check and
target passes, 1 when a target is missed or guard's verdicts disagree with git's.

How the repositories are made (fast, but with real keys and real signature formats):
keys come from the real tools (``ssh-keygen``; ``gpg --quick-gen-key`` in a throwaway
homedir with a faked creation time in the past). Signatures are made in-process over
the exact commit payload: SSHSIG (namespace ``git``, sha512, as ``ssh-keygen -Y sign``
writes it) with ``cryptography``; OpenPGP v4 detached signatures laid out as GnuPG 2.2
lays them out for ``git commit -S`` (issuer fingerprint, creation time and signer's user
id hashed; issuer key id unhashed; SHA-256 for Ed25519, SHA-512 for RSA; armored with
CRC) signed with ``cryptography`` using the secret key exported from gpg. Commits
(a linear history over the empty tree, increasing dates, distinct messages, so every
signature is distinct) are streamed as one pack into ``git index-pack --strict``.
Each build is checked with ``git fsck``, ``git log -3 --format=%G?`` (must be G) and
``ssh-keygen -Y verify`` / ``gpg --verify`` on three commits.

Timing: git and guard run with the same isolated environment (temporary HOME, a copy
of the bench GNUPGHOME, ``GIT_CONFIG_NOSYSTEM=1``, ``GIT_CONFIG_GLOBAL=/dev/null``, and
``gpg.ssh.allowedSignersFile`` passed as config to both; guard also gets
``--allowed-signers`` / ``--openpgp-key`` explicitly). git runs once. guard runs first
as a check run writing JSON to a temporary file (every commit must be ``good``, as git
says ``G`` for every commit; guard's memory is sampled during this run), then
``--repeat`` timed runs writing to /dev/null, of which the fastest is reported. With
``--git-sample N`` git is timed on the newest N commits only; the ratio is then the
ratio of per-commit rates (guard commits/s / git commits/s).

Memory: a sampler thread polls the process tree rooted at guard (guard, its worker
processes and their ``git cat-file`` children, found by scanning /proc for parent ids)
every 20 ms and records the peak of the summed RSS and of the summed PSS. The RSS sum
is an upper bound: pages shared between processes (copy-on-write pages of forked
workers, the pack file each ``git`` process maps) count once per process. PSS divides
shared pages between their sharers, so its sum is the better "memory used" figure.
``ru_maxrss`` from ``wait4`` is also kept (in ``--json``): it is the largest single
process, not a sum. The processes at the RSS peak are listed with ``--memory``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import platform
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa, utils

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DEFAULT_OUT = BENCH_DIR / "out"
GUARD = ROOT / ".venv" / "bin" / "guard"

KINDS = ("ssh-ed25519", "openpgp-ed25519", "openpgp-rsa3072")
TARGET_RATIO = {"ssh-ed25519": 100.0, "openpgp-ed25519": 50.0, "openpgp-rsa3072": 50.0}
MEMORY_TARGET_MB = 300.0
MEMORY_COMMITS = 100_000
BUSY = 0.10  # share of the CPUs used by other processes above which timings are noisy

# Bump when the repository layout or signature format changes: cached repos rebuild.
REPO_FORMAT = 1
KEY_CREATED = "20230101T000000"  # gpg --faked-system-time for the OpenPGP keys
FIRST_COMMIT_TIME = 1_700_000_000  # 2023-11-14; commits are 60 s apart, all in the past
COMMIT_STEP = 60
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

IDENTITY = {
    "ssh-ed25519": ("Bench SSH", "bench-ssh@example.com"),
    "openpgp-ed25519": ("Bench Ed25519", "bench-ed25519@example.com"),
    "openpgp-rsa3072": ("Bench RSA", "bench-rsa@example.com"),
}


class BenchError(Exception):
    """A step of the benchmark failed; the message says which and why."""


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    input: bytes | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    """Run a command (argv, never a shell), capturing output; raise BenchError on failure."""
    proc = subprocess.run(
        [os.fspath(a) for a in argv],
        cwd=cwd,
        env=env,
        input=input,
        capture_output=True,
        check=False,
    )
    if check and proc.returncode:
        err = proc.stderr.decode(errors="replace").strip()
        cmd = shlex.join(os.fspath(a) for a in argv)
        raise BenchError(f"`{cmd}` exited {proc.returncode}: {err}")
    return proc


# --------------------------------------------------------------------------- keys


class Signer(Protocol):
    name: str
    email: str
    fingerprint: str

    def sign(self, payload: bytes, when: int) -> bytes:
        """An armored signature over ``payload`` made at POSIX time ``when``."""
        ...


def _ssh_string(b: bytes) -> bytes:
    return len(b).to_bytes(4, "big") + b


def _wrap(text: str, width: int) -> str:
    return "\n".join(text[i : i + width] for i in range(0, len(text), width))


class SshSigner:
    """SSHSIG over the payload, exactly as ``ssh-keygen -Y sign -n git`` writes it."""

    def __init__(self, private_key: Path, name: str, email: str) -> None:
        key = serialization.load_ssh_private_key(private_key.read_bytes(), password=None)
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise BenchError(f"{private_key}: expected an ssh-ed25519 key")
        self._key = key
        public = key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
        self.public_line = public.decode()
        self._blob = base64.b64decode(public.split()[1])
        self.fingerprint = "SHA256:" + base64.b64encode(
            hashlib.sha256(self._blob).digest()
        ).decode().rstrip("=")
        self.name = name
        self.email = email

    def sign(self, payload: bytes, when: int) -> bytes:
        del when  # SSHSIG carries no creation time
        namespace, hash_alg = b"git", b"sha512"
        signed = (
            b"SSHSIG"
            + _ssh_string(namespace)
            + _ssh_string(b"")
            + _ssh_string(hash_alg)
            + _ssh_string(hashlib.sha512(payload).digest())
        )
        raw = self._key.sign(signed)
        blob = (
            b"SSHSIG"
            + (1).to_bytes(4, "big")
            + _ssh_string(self._blob)
            + _ssh_string(namespace)
            + _ssh_string(b"")
            + _ssh_string(hash_alg)
            + _ssh_string(_ssh_string(b"ssh-ed25519") + _ssh_string(raw))
        )
        body = _wrap(base64.b64encode(blob).decode(), 70)
        return f"-----BEGIN SSH SIGNATURE-----\n{body}\n-----END SSH SIGNATURE-----\n".encode()


def _iter_packets(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(tag, body) for each OpenPGP packet; old and new formats, no partial lengths."""
    i = 0
    while i < len(data):
        ctb = data[i]
        i += 1
        if not ctb & 0x80:
            raise BenchError(f"not an OpenPGP packet at offset {i - 1}")
        if ctb & 0x40:
            tag = ctb & 0x3F
            first = data[i]
            i += 1
            if first < 192:
                length = first
            elif first < 224:
                length = ((first - 192) << 8) + data[i] + 192
                i += 1
            elif first == 255:
                length = int.from_bytes(data[i : i + 4], "big")
                i += 4
            else:
                raise BenchError("partial-length OpenPGP packet in a key export")
        else:
            tag = (ctb >> 2) & 0x0F
            width = {0: 1, 1: 2, 2: 4}.get(ctb & 3)
            if width is None:
                raise BenchError("indeterminate-length OpenPGP packet in a key export")
            length = int.from_bytes(data[i : i + width], "big")
            i += width
        yield tag, data[i : i + length]
        i += length


def _read_mpi(body: bytes, pos: int) -> tuple[int, int]:
    bits = int.from_bytes(body[pos : pos + 2], "big")
    end = pos + 2 + (bits + 7) // 8
    return int.from_bytes(body[pos + 2 : end], "big"), end


def _mpi(value: int | bytes) -> bytes:
    n = int.from_bytes(value, "big") if isinstance(value, bytes) else value
    return n.bit_length().to_bytes(2, "big") + n.to_bytes((n.bit_length() + 7) // 8, "big")


def _subpacket(kind: int, data: bytes) -> bytes:
    assert len(data) + 1 < 192
    return bytes([len(data) + 1, kind]) + data


def _crc24_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
        table.append(crc & 0xFFFFFF)
    return table


_CRC24 = _crc24_table()


def _crc24(data: bytes) -> int:
    crc = 0xB704CE
    for b in data:
        crc = ((crc << 8) & 0xFFFFFF) ^ _CRC24[((crc >> 16) ^ b) & 0xFF]
    return crc


ALGO_RSA, ALGO_EDDSA = 1, 22
HASH_SHA256, HASH_SHA512 = 8, 10


class OpenPGPSigner:
    """OpenPGP v4 binary-document signatures laid out as GnuPG 2.2 makes them for git.

    The secret key comes from ``gpg --export-secret-keys`` (unprotected: the bench keys
    have no passphrase); only the primary key (sign-capable, as quick-gen-key makes it)
    is used.
    """

    def __init__(self, export: bytes, name: str, email: str) -> None:
        for tag, body in _iter_packets(export):
            if tag == 5:  # secret key packet (primary)
                self._load(body)
                break
        else:
            raise BenchError("no secret key packet in the gpg export")
        self.name = name
        self.email = email

    def _load(self, body: bytes) -> None:
        if body[0] != 4:
            raise BenchError(f"secret key packet version {body[0]}, expected 4")
        self.algo = body[5]
        pos = 6
        if self.algo == ALGO_RSA:
            n, pos = _read_mpi(body, pos)
            e, pos = _read_mpi(body, pos)
        elif self.algo == ALGO_EDDSA:
            pos += 1 + body[pos]  # curve OID
            point, pos = _read_mpi(body, pos)
        else:
            raise BenchError(f"OpenPGP key algorithm {self.algo} is not supported here")
        public = body[:pos]
        if body[pos] != 0:
            raise BenchError("the gpg secret key is passphrase-protected; bench keys have none")
        pos += 1
        self._rsa: rsa.RSAPrivateKey | None = None
        self._ed: ed25519.Ed25519PrivateKey | None = None
        if self.algo == ALGO_RSA:
            d, pos = _read_mpi(body, pos)
            p, pos = _read_mpi(body, pos)
            q, pos = _read_mpi(body, pos)
            self._rsa = rsa.RSAPrivateNumbers(
                p=p,
                q=q,
                d=d,
                dmp1=rsa.rsa_crt_dmp1(d, p),
                dmq1=rsa.rsa_crt_dmq1(d, q),
                iqmp=rsa.rsa_crt_iqmp(p, q),
                public_numbers=rsa.RSAPublicNumbers(e, n),
            ).private_key()
            self.hash_algo = HASH_SHA512
        else:
            seed, pos = _read_mpi(body, pos)
            self._ed = ed25519.Ed25519PrivateKey.from_private_bytes(seed.to_bytes(32, "big"))
            derived = self._ed.public_key().public_bytes_raw()
            if point.to_bytes(33, "big") != b"\x40" + derived:
                raise BenchError("Ed25519 secret key does not match its public key")
            self.hash_algo = HASH_SHA256
        v4 = b"\x99" + len(public).to_bytes(2, "big") + public
        fpr = hashlib.sha1(v4, usedforsecurity=False).digest()
        self._fpr = fpr
        self.fingerprint = fpr.hex().upper()

    def sign(self, payload: bytes, when: int) -> bytes:
        hashed = (
            _subpacket(33, b"\x04" + self._fpr)  # issuer fingerprint
            + _subpacket(2, when.to_bytes(4, "big"))  # signature creation time
            + _subpacket(28, self.email.encode())  # signer's user id (gpg -u <email>)
        )
        unhashed = _subpacket(16, self._fpr[-8:])  # issuer key id
        head = bytes([4, 0x00, self.algo, self.hash_algo]) + len(hashed).to_bytes(2, "big")
        head += hashed
        trailer = b"\x04\xff" + len(head).to_bytes(4, "big")
        h = hashlib.sha512() if self.hash_algo == HASH_SHA512 else hashlib.sha256()
        h.update(payload)
        h.update(head)
        h.update(trailer)
        digest = h.digest()
        if self._rsa is not None:
            mpis = _mpi(
                self._rsa.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA512()))
            )
        else:
            assert self._ed is not None
            raw = self._ed.sign(digest)
            mpis = _mpi(raw[:32]) + _mpi(raw[32:])
        body = head + len(unhashed).to_bytes(2, "big") + unhashed + digest[:2] + mpis
        if len(body) < 256:
            packet = bytes([0x88, len(body)]) + body
        else:
            packet = bytes([0x89]) + len(body).to_bytes(2, "big") + body
        crc = base64.b64encode(_crc24(packet).to_bytes(3, "big")).decode()
        text = _wrap(base64.b64encode(packet).decode(), 64)
        return (
            f"-----BEGIN PGP SIGNATURE-----\n\n{text}\n={crc}\n-----END PGP SIGNATURE-----\n"
        ).encode()


@dataclass(frozen=True)
class KeyFiles:
    """The bench's keys, generated once by the real tools and cached."""

    dir: Path

    @property
    def gnupghome(self) -> Path:
        return self.dir / "gnupg"

    @property
    def ssh_key(self) -> Path:
        return self.dir / "ssh" / "id_ed25519"

    @property
    def allowed_signers(self) -> Path:
        return self.dir / "allowed_signers"

    def cert(self, kind: str) -> Path:
        """Armored OpenPGP certificate (public) for an OpenPGP kind."""
        return self.dir / f"{kind}.asc"

    def secret(self, kind: str) -> Path:
        return self.dir / f"{kind}.sec"

    @property
    def manifest(self) -> Path:
        return self.dir / "keys.json"

    def trust_args(self, kind: str) -> list[str]:
        """guard's explicit trust options for a kind."""
        if kind.startswith("ssh"):
            return ["--allowed-signers", str(self.allowed_signers)]
        return ["--openpgp-key", str(self.cert(kind))]

    def signer(self, kind: str) -> Signer:
        name, email = IDENTITY[kind]
        if kind.startswith("ssh"):
            return SshSigner(self.ssh_key, name, email)
        return OpenPGPSigner(self.secret(kind).read_bytes(), name, email)


def _gpg(keys: KeyFiles, *args: str) -> bytes:
    env = isolated_env_base(keys.dir)
    env["GNUPGHOME"] = str(keys.gnupghome)
    return run(["gpg", "--batch", "--no-tty", *args], env=env).stdout


def ensure_keys(out: Path, *, rebuild: bool) -> KeyFiles:
    keys = KeyFiles(out / "keys")
    if keys.manifest.exists() and not rebuild:
        return keys
    if keys.dir.exists():
        shutil.rmtree(keys.dir)
    keys.dir.mkdir(parents=True)
    print("generating keys (ssh-keygen, gpg) ...", flush=True)
    # SSH
    keys.ssh_key.parent.mkdir(mode=0o700)
    name, email = IDENTITY["ssh-ed25519"]
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", email, "-f", keys.ssh_key])
    pub = keys.ssh_key.with_suffix(".pub").read_text().split()
    keys.allowed_signers.write_text(f"{email} {pub[0]} {pub[1]}\n")
    # OpenPGP: both keys in one throwaway homedir, created "in the past" so that commit
    # dates (and signature creation times) are after key creation and before now.
    keys.gnupghome.mkdir(mode=0o700)
    fingerprints: dict[str, str] = {}
    try:
        for kind, algo in (("openpgp-ed25519", "ed25519"), ("openpgp-rsa3072", "rsa3072")):
            name, email = IDENTITY[kind]
            _gpg(
                keys,
                "--faked-system-time",
                KEY_CREATED + "!",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
                "--quick-gen-key",
                f"{name} <{email}>",
                algo,
                "sign",
                "never",
            )
            keys.cert(kind).write_bytes(_gpg(keys, "--armor", "--export", f"<{email}>"))
            keys.secret(kind).write_bytes(
                _gpg(
                    keys,
                    "--pinentry-mode",
                    "loopback",
                    "--passphrase",
                    "",
                    "--export-secret-keys",
                    f"<{email}>",
                )
            )
            signer = OpenPGPSigner(keys.secret(kind).read_bytes(), name, email)
            fingerprints[kind] = signer.fingerprint
        # Generated keys are already ultimately trusted; say so explicitly, and settle
        # the trustdb now so no timed run pays for a trustdb check.
        ownertrust = "".join(f"{fpr}:6:\n" for fpr in fingerprints.values())
        env = isolated_env_base(keys.dir)
        env["GNUPGHOME"] = str(keys.gnupghome)
        run(["gpg", "--batch", "--import-ownertrust"], env=env, input=ownertrust.encode())
        _gpg(keys, "--check-trustdb")
    finally:
        env = isolated_env_base(keys.dir)
        env["GNUPGHOME"] = str(keys.gnupghome)
        run(["gpgconf", "--kill", "gpg-agent"], env=env, check=False)
    listed = _gpg(keys, "--with-colons", "--list-keys").decode()
    for fpr in fingerprints.values():
        if f":{fpr}:" not in listed:
            raise BenchError(f"fingerprint computed from the export {fpr} is not in gpg's keyring")
    keys.manifest.write_text(json.dumps({"openpgp": fingerprints}, indent=2) + "\n")
    return keys


# --------------------------------------------------------------------------- repos


def isolated_env_base(home: Path) -> dict[str, str]:
    """An environment that keeps the user's git, gpg and ssh state out."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LC_ALL": "C",
        "TZ": "UTC",
        "NO_COLOR": "1",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_TERMINAL_PROMPT": "0",
    }


def _pack_header(obj_type: int, size: int) -> bytes:
    out = bytearray()
    byte = (obj_type << 4) | (size & 0x0F)
    size >>= 4
    while size:
        out.append(byte | 0x80)
        byte = size & 0x7F
        size >>= 7
    out.append(byte)
    return bytes(out)


class PackWriter:
    """Streams an undeltified pack into ``git index-pack --stdin --strict``."""

    def __init__(self, repo: Path, count: int, env: dict[str, str]) -> None:
        self._proc = subprocess.Popen(
            ["git", "index-pack", "--stdin", "--strict"],
            cwd=repo,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._sha = hashlib.sha1(usedforsecurity=False)
        self._buf: list[bytes] = []
        self._pending = 0
        self._write(b"PACK" + (2).to_bytes(4, "big") + count.to_bytes(4, "big"))

    def _write(self, data: bytes) -> None:
        self._sha.update(data)
        self._buf.append(data)
        self._pending += len(data)
        if self._pending > 1 << 20:
            self._flush()

    def _flush(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(b"".join(self._buf))
        self._buf.clear()
        self._pending = 0

    def add(self, obj_type: int, data: bytes) -> str:
        """Append one object; return its id."""
        header = f"{'commit' if obj_type == 1 else 'tree'} {len(data)}\0".encode()
        oid = hashlib.sha1(header + data, usedforsecurity=False).hexdigest()
        self._write(_pack_header(obj_type, len(data)) + zlib.compress(data))
        return oid

    def abort(self) -> None:
        """Stop index-pack without completing the pack (nothing is installed)."""
        self._proc.kill()
        self._proc.communicate()

    def close(self) -> None:
        self._buf.append(self._sha.digest())
        self._flush()
        _, err = self._proc.communicate()
        if self._proc.returncode:
            raise BenchError(f"git index-pack failed: {err.decode(errors='replace').strip()}")


def signed_commits(signer: Signer, kind: str, count: int) -> Iterator[bytes]:
    """Raw commit objects of a linear history of ``count`` signed commits."""
    parent: str | None = None
    ident_base = f"{signer.name} <{signer.email}>"
    for i in range(count):
        when = FIRST_COMMIT_TIME + i * COMMIT_STEP
        ident = f"{ident_base} {when} +0000"
        head = f"tree {EMPTY_TREE}\n"
        if parent is not None:
            head += f"parent {parent}\n"
        head += f"author {ident}\ncommitter {ident}\n"
        message = f"bench: {kind} commit {i + 1} of {count}\n\nDistinct payload {i}.\n"
        payload = f"{head}\n{message}".encode()
        signature = signer.sign(payload, when).decode()
        # git's layout: "gpgsig " + first line; every later line prefixed by one space.
        gpgsig = "gpgsig " + signature.rstrip("\n").replace("\n", "\n ") + "\n"
        obj = f"{head}{gpgsig}\n{message}".encode()
        parent = hashlib.sha1(b"commit %d\0" % len(obj) + obj, usedforsecurity=False).hexdigest()
        yield obj


@dataclass(frozen=True)
class BuiltRepo:
    kind: str
    commits: int
    path: Path
    tip: str
    key: str
    format: int = REPO_FORMAT


def _manifest_path(repo: Path) -> Path:
    return repo.with_suffix(".json")


def ensure_repo(out: Path, keys: KeyFiles, kind: str, count: int, *, rebuild: bool) -> BuiltRepo:
    path = out / "repos" / f"{kind}-{count}.git"
    signer = keys.signer(kind)
    manifest = _manifest_path(path)
    if manifest.exists() and path.exists() and not rebuild:
        cached = BuiltRepo(**{**json.loads(manifest.read_text()), "path": path})
        if cached.format == REPO_FORMAT and cached.key == signer.fingerprint:
            return cached
    if path.exists():
        shutil.rmtree(path)
    manifest.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    env = isolated_env_base(out)
    run(["git", "-c", "init.defaultBranch=main", "init", "-q", "--bare", path], env=env)
    print(f"building {kind} repository with {count:,} commits ...", flush=True)
    t0 = time.perf_counter()
    pack = PackWriter(path, count + 1, env)
    try:
        pack.add(2, b"")  # the empty tree
        tip = ""
        for i, obj in enumerate(signed_commits(signer, kind, count)):
            tip = pack.add(1, obj)
            if (i + 1) % 10_000 == 0:
                print(f"  {i + 1:,} commits", flush=True)
    except BaseException:
        pack.abort()
        raise
    pack.close()
    run(["git", "update-ref", "refs/heads/main", tip], cwd=path, env=env)
    built = time.perf_counter() - t0
    run(["git", "fsck", "--strict", "--no-dangling", "--no-progress"], cwd=path, env=env)
    repo = BuiltRepo(kind=kind, commits=count, path=path, tip=tip, key=signer.fingerprint)
    validate_repo(repo, keys)
    print(f"  built in {built:.1f} s, fsck and signature spot-checks passed", flush=True)
    data = {k: v for k, v in asdict(repo).items() if k != "path"}
    manifest.write_text(json.dumps(data, indent=2) + "\n")
    return repo


def split_signed_commit(raw: bytes) -> tuple[bytes, bytes]:
    """(payload, signature) from a raw commit, independently of how it was built."""
    head, sep, message = raw.partition(b"\n\n")
    payload_lines: list[bytes] = []
    sig_lines: list[bytes] = []
    in_sig = False
    for line in head.split(b"\n"):
        if line.startswith(b"gpgsig "):
            in_sig = True
            sig_lines.append(line[len(b"gpgsig ") :])
        elif in_sig and line.startswith(b" "):
            sig_lines.append(line[1:])
        else:
            in_sig = False
            payload_lines.append(line)
    return b"\n".join(payload_lines) + sep + message, b"\n".join(sig_lines) + b"\n"


def validate_repo(repo: BuiltRepo, keys: KeyFiles) -> None:
    """git says G for the newest three commits; the real tools verify three signatures."""
    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        env = audit_env(Path(tmp), keys)
        codes = (
            run([*git_log_argv(keys, 3), "main"], cwd=repo.path, env=env).stdout.decode().split()
        )
        if codes != ["G", "G", "G"]:
            raise BenchError(f"{repo.kind}: git log -3 --format=%G? says {codes}, expected G G G")
        revs = ["main", f"main~{repo.commits // 2}", f"main~{repo.commits - 1}"]
        for rev in revs:
            raw = run(["git", "cat-file", "commit", rev], cwd=repo.path, env=env).stdout
            payload, signature = split_signed_commit(raw)
            data, sig = Path(tmp) / "payload", Path(tmp) / "payload.sig"
            data.write_bytes(payload)
            sig.write_bytes(signature)
            if repo.kind.startswith("ssh"):
                principal = IDENTITY[repo.kind][1]
                run(
                    [
                        *("ssh-keygen", "-Y", "verify", "-n", "git", "-I", principal),
                        *("-f", str(keys.allowed_signers), "-s", str(sig)),
                    ],
                    env=env,
                    input=payload,
                )
            else:
                status = run(
                    ["gpg", "--batch", "--status-fd", "1", "--verify", sig, data], env=env
                ).stdout.decode()
                if f"[GNUPG:] VALIDSIG {repo.key} " not in status:
                    raise BenchError(f"{repo.kind} {rev}: gpg did not report VALIDSIG {repo.key}")


# --------------------------------------------------------------------------- timing


def audit_env(tmp: Path, keys: KeyFiles) -> dict[str, str]:
    """The environment both git and guard run in: a throwaway HOME, a copy of the bench
    GNUPGHOME, and the allowed-signers file configured for every git process."""
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    gnupghome = tmp / "gnupg"
    if not gnupghome.exists():
        shutil.copytree(keys.gnupghome, gnupghome, ignore=shutil.ignore_patterns("S.*"))
        gnupghome.chmod(0o700)
    env = isolated_env_base(home)
    env.update(
        {
            "GNUPGHOME": str(gnupghome),
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "gpg.ssh.allowedSignersFile",
            "GIT_CONFIG_VALUE_0": str(keys.allowed_signers),
        }
    )
    return env


def git_log_argv(keys: KeyFiles, limit: int | None) -> list[str]:
    argv = ["git", "-c", f"gpg.ssh.allowedSignersFile={keys.allowed_signers}", "log"]
    if limit is not None:
        argv.append(f"-n{limit}")
    return [*argv, "--format=%G?"]


def _busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (/proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    """CPU seconds used by this process and every descendant reaped so far."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


class OtherLoad:
    """How busy the machine was with work that is not ours while a block ran: the share
    of all CPUs used by other processes (0.0 = idle apart from us, 1.0 = all cores)."""

    def __enter__(self) -> OtherLoad:
        self._t0 = time.perf_counter()
        self._busy0 = _busy_cpu_seconds()
        self._own0 = _own_cpu_seconds()
        self.share = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        elapsed = time.perf_counter() - self._t0
        other = (_busy_cpu_seconds() - self._busy0) - (_own_cpu_seconds() - self._own0)
        self.share = max(0.0, other / (elapsed * (os.cpu_count() or 1)))


@dataclass
class TreeMemory:
    peak_rss_mb: float = 0.0
    peak_pss_mb: float = 0.0
    max_single_rss_mb: float = 0.0  # ru_maxrss from wait4: the largest single process
    samples: int = 0
    at_peak: list[str] = field(default_factory=list)  # "RSS MB  command" at the RSS peak


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def _tree(root: int) -> list[int]:
    children = _children_map()
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(children.get(pid, ()))
    return pids


def _command(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    words = [Path(argv[0].decode(errors="replace")).name]
    words += [a.decode(errors="replace") for a in argv[1:4]]
    return " ".join(words)


def _rollup_kb(pid: int) -> tuple[int, int]:
    """(Rss, Pss) in kB of one process, (0, 0) if it is gone."""
    rss = pss = 0
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0, 0
    for line in text.splitlines():
        if line.startswith("Rss:"):
            rss = int(line.split()[1])
        elif line.startswith("Pss:"):
            pss = int(line.split()[1])
    return rss, pss


class TreeSampler(threading.Thread):
    """Polls the summed RSS and PSS of a process tree until stopped."""

    def __init__(self, root: int, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.interval = interval
        self.result = TreeMemory()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            rss = pss = 0
            per_process: list[tuple[int, int]] = []
            for pid in _tree(self.root):
                r, p = _rollup_kb(pid)
                rss += r
                pss += p
                per_process.append((pid, r))
            self.result.samples += 1
            if rss / 1024 > self.result.peak_rss_mb:
                self.result.peak_rss_mb = rss / 1024
                self.result.at_peak = [
                    f"{r / 1024:6.1f}  {_command(pid)}" for pid, r in per_process
                ]
            self.result.peak_pss_mb = max(self.result.peak_pss_mb, pss / 1024)
            self._stop_event.wait(self.interval)

    def stop(self) -> TreeMemory:
        self._stop_event.set()
        self.join()
        return self.result


@dataclass
class GuardRun:
    seconds: float
    returncode: int
    stderr: str
    memory: TreeMemory | None


def run_guard(argv: list[str], cwd: Path, env: dict[str, str], *, sample: bool) -> GuardRun:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err)
        sampler = TreeSampler(proc.pid) if sample else None
        if sampler is not None:
            sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        memory = sampler.stop() if sampler is not None else None
        if memory is not None:
            memory.max_single_rss_mb = usage.ru_maxrss / 1024
        err.seek(0)
        return GuardRun(seconds, proc.returncode, err.read().decode(errors="replace"), memory)


def _guard_failure(g: GuardRun) -> str:
    """The exit status and the last line of guard's stderr (the exception, for a bug)."""
    lines = [line for line in g.stderr.splitlines() if line.strip()]
    return f"guard exited {g.returncode}: {lines[-1] if lines else '(no message)'}"


def count_good(report: Path) -> tuple[int, int, Counter[str]]:
    """(good in summary, good results listed, all statuses) from guard's JSON report."""
    data = json.loads(report.read_text())
    statuses = Counter(str(r.get("status")) for r in data.get("results", []))
    summary_good = int(data.get("summary", {}).get("by_status", {}).get("good", 0))
    return summary_good, statuses["good"], statuses


@dataclass
class Result:
    kind: str
    commits: int
    git_commits: int | None
    git_seconds: float | None
    git_good: int | None
    guard_seconds: float | None
    guard_check_seconds: float | None
    guard_good: int | None
    peak_rss_mb: float | None
    peak_pss_mb: float | None
    max_single_rss_mb: float | None
    target_ratio: float | None
    git_command: str | None
    guard_command: str
    guard_runs: list[float] = field(default_factory=list)  # timed runs; guard_seconds = min
    memory_at_peak: list[str] = field(default_factory=list)
    other_load_git: float | None = None  # share of all CPUs used by other processes
    other_load_guard: float | None = None
    error: str | None = None

    @property
    def git_rate(self) -> float | None:
        if self.git_seconds is None or self.git_commits is None:
            return None
        return self.git_commits / self.git_seconds

    @property
    def guard_rate(self) -> float | None:
        return None if self.guard_seconds is None else self.commits / self.guard_seconds

    @property
    def ratio(self) -> float | None:
        if self.git_rate is None or self.guard_rate is None:
            return None
        return self.guard_rate / self.git_rate

    @property
    def passed(self) -> bool:
        if self.error is not None:
            return False
        if self.target_ratio is not None and (self.ratio is None or self.ratio < self.target_ratio):
            return False
        return self.target_ratio is not None or (
            self.peak_rss_mb is not None and self.peak_rss_mb < MEMORY_TARGET_MB
        )

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data.update(
            git_rate=self.git_rate, guard_rate=self.guard_rate, ratio=self.ratio, passed=self.passed
        )
        return data


def bench_kind(
    repo: BuiltRepo,
    keys: KeyFiles,
    *,
    git_sample: int | None,
    jobs: int | None,
    run_git: bool,
    repeat: int,
) -> Result:
    guard_argv = [str(GUARD), "audit", "--all", "--format", "json", *keys.trust_args(repo.kind)]
    if jobs is not None:
        guard_argv += ["--jobs", str(jobs)]
    limit = git_sample if git_sample is not None and git_sample < repo.commits else None
    git_argv = [*git_log_argv(keys, limit), "main"]
    result = Result(
        kind=repo.kind,
        commits=repo.commits,
        git_commits=None,
        git_seconds=None,
        git_good=None,
        guard_seconds=None,
        guard_check_seconds=None,
        guard_good=None,
        peak_rss_mb=None,
        peak_pss_mb=None,
        max_single_rss_mb=None,
        target_ratio=TARGET_RATIO[repo.kind] if run_git else None,
        git_command=shlex.join(git_argv) if run_git else None,
        guard_command=shlex.join([*guard_argv, "--output", "/dev/null" if run_git else "REPORT"]),
    )
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        env = audit_env(Path(tmp), keys)
        if run_git:
            n = limit or repo.commits
            print(f"{repo.kind}: git log --format=%G? over {n:,} commits ...", flush=True)
            with OtherLoad() as load:
                t0 = time.perf_counter()
                out = run(git_argv, cwd=repo.path, env=env).stdout.decode().split()
                result.git_seconds = time.perf_counter() - t0
            result.other_load_git = load.share
            result.git_commits = len(out)
            result.git_good = out.count("G")
            if len(out) != n or result.git_good != n:
                others = Counter(c for c in out if c != "G")
                result.error = f"git: {result.git_good} of {n} G, others {dict(others)}"
        print(f"{repo.kind}: guard audit over {repo.commits:,} commits ...", flush=True)
        report = Path(tmp) / "report.json"
        check = run_guard([*guard_argv, "--output", str(report)], repo.path, env, sample=True)
        result.guard_check_seconds = check.seconds
        # Exit 1 means "some object is not good": the count check below says which.
        if check.returncode not in (0, 1) or not report.exists():
            result.error = _guard_failure(check)
            return result
        if check.memory is not None:
            result.peak_rss_mb = check.memory.peak_rss_mb
            result.peak_pss_mb = check.memory.peak_pss_mb
            result.max_single_rss_mb = check.memory.max_single_rss_mb
            result.memory_at_peak = check.memory.at_peak
        summary_good, listed_good, statuses = count_good(report)
        result.guard_good = listed_good
        if not summary_good == listed_good == repo.commits:
            result.error = (
                f"guard: {listed_good} good results listed, summary says {summary_good}, "
                f"expected {repo.commits}; statuses {dict(statuses)}"
            )
            return result
        if run_git:
            loads = []
            for _ in range(repeat):
                with OtherLoad() as load:
                    timed = run_guard(
                        [*guard_argv, "--output", "/dev/null"], repo.path, env, sample=False
                    )
                if timed.returncode != 0:
                    result.error = _guard_failure(timed)
                    return result
                result.guard_runs.append(timed.seconds)
                loads.append(load.share)
            result.guard_seconds = min(result.guard_runs)
            result.other_load_guard = loads[result.guard_runs.index(result.guard_seconds)]
        else:
            result.guard_seconds = check.seconds
    return result


# --------------------------------------------------------------------------- report


def _fmt(value: float | int | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(results: Sequence[Result], machine: dict[str, object]) -> None:
    header = (
        f"{'kind':<16} {'commits':>8} {'git s':>8} {'guard s':>8} {'git c/s':>8} "
        f"{'guard c/s':>9} {'ratio':>7} {'target':>6} {'peak MB':>8} {'PSS MB':>7}  result"
    )
    print()
    print(header)
    print("-" * len(header))
    for r in results:
        git_s = _fmt(r.git_seconds, ".2f")
        if r.git_commits is not None and r.git_commits != r.commits:
            git_s += "*"
        target = f"{r.target_ratio:.0f}x" if r.target_ratio else f"<{MEMORY_TARGET_MB:.0f}MB"
        print(
            f"{r.kind:<16} {r.commits:>8,} {git_s:>8} {_fmt(r.guard_seconds, '.2f'):>8} "
            f"{_fmt(r.git_rate, ',.0f'):>8} {_fmt(r.guard_rate, ',.0f'):>9} "
            f"{_fmt(r.ratio, '.1f'):>7} {target:>6} {_fmt(r.peak_rss_mb, '.0f'):>8} "
            f"{_fmt(r.peak_pss_mb, '.0f'):>7}  {'PASS' if r.passed else 'FAIL'}"
        )
    if any(r.git_commits is not None and r.git_commits != r.commits for r in results):
        print("* git timed on a sample (--git-sample); git c/s and the ratio use per-commit rates")
    runs = max((len(r.guard_runs) for r in results), default=0)
    if runs > 1:
        print(f"guard s: fastest of {runs} timed runs (all of them are in --json)")
    print(
        "peak MB: peak of the summed RSS of guard + workers + their git processes (sampled "
        "every 20 ms); PSS MB: the same with shared pages divided between sharers"
    )
    for r in results:
        if r.target_ratio is None and r.memory_at_peak:
            print(f"{r.kind}: processes at the RSS peak (MB, command):")
            for line in r.memory_at_peak:
                print(f"  {line}")
        if r.error:
            print(f"{r.kind}: ERROR: {r.error}")
    print(f"machine: {machine['cpus']} CPUs, {machine['git']}, {machine['guard']}")
    for r in results:
        if r.other_load_git is not None or r.other_load_guard is not None:
            print(
                f"{r.kind}: other processes used {_fmt(r.other_load_git, '.0%')} of the CPUs "
                f"while git ran, {_fmt(r.other_load_guard, '.0%')} during guard's reported run"
            )
    if any((r.other_load_git or 0) > BUSY or (r.other_load_guard or 0) > BUSY for r in results):
        print(
            f"WARNING: other work used more than {BUSY:.0%} of the CPUs during a timed run. "
            "git starts processes per commit and suffers more than guard, so ratios are "
            "distorted; rerun on an idle machine for figures to quote"
        )
    print()
    print("commands (run in each repository, environment as described in the module docstring):")
    for r in results:
        if r.git_command:
            print(f"  {r.kind}: {r.git_command}")
        print(f"  {r.kind}: {r.guard_command}")


def machine_info() -> dict[str, object]:
    git_version = run(["git", "--version"]).stdout.decode().strip()
    guard = run([str(GUARD), "--version"], check=False)
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "git": git_version,
        "guard": (guard.stdout or guard.stderr).decode(errors="replace").strip(),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument(
        "--commits", type=int, default=20_000, help="commits per repository (default: %(default)s)"
    )
    p.add_argument(
        "--kinds",
        default=",".join(KINDS),
        help=f"comma-separated signature kinds (default: {','.join(KINDS)})",
    )
    p.add_argument("--jobs", type=int, help="passed to guard audit --jobs (default: guard's)")
    p.add_argument(
        "--git-sample",
        type=int,
        help="time git on the newest N commits only (default: all); ratios use per-commit rates",
    )
    p.add_argument(
        "--memory",
        action="store_true",
        help=f"only measure guard's peak memory on a {MEMORY_COMMITS:,}-commit SSH repository",
    )
    p.add_argument(
        "--memory-commits",
        type=int,
        default=MEMORY_COMMITS,
        help="commits for --memory (default: %(default)s)",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="timed guard runs per kind; the fastest is reported (default: %(default)s)",
    )
    p.add_argument("--rebuild", action="store_true", help="regenerate keys and repositories")
    p.add_argument("--build-only", action="store_true", help="build the repositories and stop")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="cache directory")
    p.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    args = p.parse_args(argv)
    args.kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    for kind in args.kinds:
        if kind not in KINDS:
            p.error(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join([sys.executable, *sys.argv]) if argv is None else shlex.join(argv)
    try:
        keys = ensure_keys(args.out, rebuild=args.rebuild)
        if args.memory:
            plan = [("ssh-ed25519", args.memory_commits)]
        else:
            plan = [(kind, args.commits) for kind in args.kinds]
        repos = [ensure_repo(args.out, keys, k, n, rebuild=args.rebuild) for k, n in plan]
        if args.build_only:
            for repo in repos:
                print(f"{repo.kind}: {repo.commits:,} commits at {repo.path} (tip {repo.tip})")
            return 0
        results = [
            bench_kind(
                repo,
                keys,
                git_sample=args.git_sample,
                jobs=args.jobs,
                run_git=not args.memory,
                repeat=args.repeat,
            )
            for repo in repos
        ]
    except BenchError as e:
        print(f"bench_audit: {e}", file=sys.stderr)
        return 1
    machine = machine_info()
    print_table(results, machine)
    print(f"\ncommand line: {command}")
    if args.json:
        doc = {
            "command": command,
            "machine": machine,
            "targets": {"ratio": TARGET_RATIO, "memory_mb": MEMORY_TARGET_MB},
            "results": [r.to_json() for r in results],
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
