"""FIDO (security key) SSH signatures without hardware, for tests.

A security key signs ``SHA256(application) || flags || counter || SHA256(message)``
(OpenSSH ``PROTOCOL.u2f``); nothing in the signature proves hardware was involved, so
a software key produces signatures that ``ssh-keygen -Y verify`` accepts exactly as
it accepts a YubiKey's. This module is both:

* a library: :func:`make_sk_key` writes a key pair, :func:`sign` makes an armored
  SSHSIG signature, and the SSHSIG building blocks (:func:`sshsig_blob`,
  :func:`signed_data`, :func:`armor`) let tests build odd signatures by hand;
* a program usable as git's ``gpg.ssh.program``: git 2.39 runs
  ``<program> -Y sign -n git -f <user.signingkey> <file>`` and reads ``<file>.sig``;
  every other invocation (``-Y verify``, ``-Y find-principals``,
  ``-Y check-novalidate``, ``-l``…) is handed to the real ``ssh-keygen`` unchanged.

Key file format: ``<path>`` holds the software private key (PKCS#8 PEM, Ed25519 or
P-256) and ``<path>.pub`` the security-key public key line
(``sk-ssh-ed25519@openssh.com AAAA… comment``), as ssh-keygen lays out a key pair.
Point ``user.signingkey`` at either file. The flags byte and counter of program-made
signatures come from ``SK_SIGN_FLAGS`` (default ``0x01``, user present) and
``SK_SIGN_COUNTER`` (default 1).
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

SK_ED25519 = "sk-ssh-ed25519@openssh.com"
SK_ECDSA = "sk-ecdsa-sha2-nistp256@openssh.com"
USER_PRESENT = 0x01

Kind = Literal["ed25519", "ecdsa"]


def ssh_string(data: bytes) -> bytes:
    """SSH wire ``string``."""
    return struct.pack(">I", len(data)) + data


def ssh_mpint(value: int) -> bytes:
    """SSH wire ``mpint`` of a non-negative integer."""
    raw = value.to_bytes((value.bit_length() + 8) // 8, "big") if value else b""
    return ssh_string(raw)


def signed_data(payload: bytes, namespace: str = "git", hashalg: str = "sha512") -> bytes:
    """The bytes an SSHSIG signature signs (PROTOCOL.sshsig section 3)."""
    digest = hashlib.new(hashalg, payload).digest()
    return (
        b"SSHSIG"
        + ssh_string(namespace.encode())
        + ssh_string(b"")
        + ssh_string(hashalg.encode())
        + ssh_string(digest)
    )


def sshsig_blob(
    public_blob: bytes,
    signature: bytes,
    *,
    namespace: str = "git",
    hashalg: str = "sha512",
    reserved: bytes = b"",
    version: int = 1,
    magic: bytes = b"SSHSIG",
) -> bytes:
    """The SSHSIG blob (PROTOCOL.sshsig section 2) around an SSH signature blob."""
    return (
        magic
        + struct.pack(">I", version)
        + ssh_string(public_blob)
        + ssh_string(namespace.encode())
        + ssh_string(reserved)
        + ssh_string(hashalg.encode())
        + ssh_string(signature)
    )


def armor(blob: bytes) -> bytes:
    """Armor an SSHSIG blob the way ssh-keygen writes it (70-column base64)."""
    b64 = base64.b64encode(blob)
    lines = [b64[i : i + 70] for i in range(0, len(b64), 70)]
    return (
        b"-----BEGIN SSH SIGNATURE-----\n" + b"\n".join(lines) + b"\n-----END SSH SIGNATURE-----\n"
    )


@dataclass(frozen=True)
class SkKey:
    """A software stand-in for a security key."""

    kind: Kind
    private: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
    application: bytes

    @property
    def key_type(self) -> str:
        return SK_ED25519 if self.kind == "ed25519" else SK_ECDSA

    @property
    def public_blob(self) -> bytes:
        if isinstance(self.private, ed25519.Ed25519PrivateKey):
            raw = self.private.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
            return ssh_string(SK_ED25519.encode()) + ssh_string(raw) + ssh_string(self.application)
        point = self.private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return (
            ssh_string(SK_ECDSA.encode())
            + ssh_string(b"nistp256")
            + ssh_string(point)
            + ssh_string(self.application)
        )

    def public_line(self, comment: str = "") -> str:
        line = f"{self.key_type} {base64.b64encode(self.public_blob).decode()}"
        return f"{line} {comment}" if comment else line

    def sign_raw(self, data: bytes, *, flags: int = USER_PRESENT, counter: int = 1) -> bytes:
        """The SSH signature blob a security key returns for ``data``:
        ``string sigtype, string signature, byte flags, uint32 counter``."""
        tail = bytes([flags]) + struct.pack(">I", counter)
        message = hashlib.sha256(self.application).digest() + tail + hashlib.sha256(data).digest()
        if isinstance(self.private, ed25519.Ed25519PrivateKey):
            inner = self.private.sign(message)
        else:
            r, s = decode_dss_signature(self.private.sign(message, ec.ECDSA(hashes.SHA256())))
            inner = ssh_mpint(r) + ssh_mpint(s)
        return ssh_string(self.key_type.encode()) + ssh_string(inner) + tail


def make_sk_key(kind: Kind, path: Path, application: str = "ssh:") -> str:
    """Create a software security key: private PEM at ``path``, public key line at
    ``path.pub``. Returns the public key line."""
    private: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
    if kind == "ed25519":
        private = ed25519.Ed25519PrivateKey.generate()
    elif kind == "ecdsa":
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        raise ValueError(f"unknown security key kind {kind!r}")
    key = SkKey(kind, private, application.encode())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)
    path.chmod(0o600)
    line = key.public_line(f"software-{kind}-sk")
    Path(f"{path}.pub").write_text(line + "\n")
    return line


def load_sk_key(path: Path) -> SkKey:
    """Load a key pair written by :func:`make_sk_key` (either file may be named)."""
    if path.name.endswith(".pub"):
        path = path.with_name(path.name[: -len(".pub")])
    fields = Path(f"{path}.pub").read_text().split()
    blob = base64.b64decode(fields[1])
    (n,) = struct.unpack(">I", blob[:4])
    key_type = blob[4 : 4 + n].decode()
    off = 4 + n
    for _ in range(1 if key_type == SK_ED25519 else 2):  # skip pk / curve name + point
        (n,) = struct.unpack(">I", blob[off : off + 4])
        off += 4 + n
    (n,) = struct.unpack(">I", blob[off : off + 4])
    application = blob[off + 4 : off + 4 + n]
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if key_type == SK_ED25519 and isinstance(private, ed25519.Ed25519PrivateKey):
        key = SkKey("ed25519", private, application)
    elif key_type == SK_ECDSA and isinstance(private, ec.EllipticCurvePrivateKey):
        key = SkKey("ecdsa", private, application)
    else:
        raise ValueError(f"{path}: private key does not fit public key type {key_type}")
    if key.public_blob != blob:
        raise ValueError(f"{path}: private key does not match {path}.pub")
    return key


def sign(
    payload: bytes,
    key_path: Path,
    *,
    namespace: str = "git",
    hashalg: str = "sha512",
    flags: int = USER_PRESENT,
    counter: int = 1,
) -> bytes:
    """An armored SSHSIG signature of ``payload`` by the software security key."""
    key = load_sk_key(key_path)
    raw = key.sign_raw(signed_data(payload, namespace, hashalg), flags=flags, counter=counter)
    return armor(sshsig_blob(key.public_blob, raw, namespace=namespace, hashalg=hashalg))


def _program_sign(args: list[str]) -> int:
    """``-Y sign -n NAMESPACE -f KEY [-O hashalg=…] [-U] [-q] [FILE…]``."""
    namespace: str | None = None
    key: str | None = None
    hashalg = "sha512"
    files: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-n", "-f", "-O") and i + 1 < len(args):
            value = args[i + 1]
            if arg == "-n":
                namespace = value
            elif arg == "-f":
                key = value
            elif value.startswith("hashalg="):
                hashalg = value[len("hashalg=") :]
            i += 2
            continue
        if arg in ("-U", "-q"):
            i += 1
            continue
        files.append(arg)
        i += 1
    if namespace is None or key is None:
        print("sk_sign: -Y sign needs -n NAMESPACE and -f KEY", file=sys.stderr)
        return 2
    flags = int(os.environ.get("SK_SIGN_FLAGS", "0x01"), 0)
    counter = int(os.environ.get("SK_SIGN_COUNTER", "1"), 0)

    def one(payload: bytes) -> bytes:
        return sign(
            payload, Path(key), namespace=namespace, hashalg=hashalg, flags=flags, counter=counter
        )

    if not files or files == ["-"]:
        sys.stdout.buffer.write(one(sys.stdin.buffer.read()))
        return 0
    for name in files:
        Path(f"{name}.sig").write_bytes(one(Path(name).read_bytes()))
    return 0


def main(argv: list[str]) -> int:
    if argv[:2] == ["-Y", "sign"]:
        return _program_sign(argv[2:])
    os.execvp("ssh-keygen", ["ssh-keygen", *argv])  # noqa: S606 - hand over to the real tool
    return 127  # not reached: execvp replaces this process or raises


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
