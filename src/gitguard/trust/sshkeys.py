"""SSH public keys in their text form (``ssh-ed25519 AAAA… comment``) and their
``SHA256:`` fingerprints, shared by the trust loaders and the SSH verifier."""

from __future__ import annotations

import base64
import binascii
import struct

from gitguard._digest import sha256

KEY_TYPES = frozenset(
    {
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    }
)


def fingerprint(blob: bytes) -> str:
    """OpenSSH's default fingerprint: ``SHA256:`` + unpadded base64 of SHA-256(blob)."""
    digest = base64.b64encode(sha256(blob)).decode().rstrip("=")
    return f"SHA256:{digest}"


def blob_type(blob: bytes) -> str:
    """The key type string at the start of an SSH wire-format public key."""
    if len(blob) < 4:
        raise ValueError("key blob is truncated")
    (n,) = struct.unpack(">I", blob[:4])
    if n > len(blob) - 4 or n > 64:
        raise ValueError("key blob has a bad type length")
    return blob[4 : 4 + n].decode("ascii", "replace")


def parse_public_key(key_type: str, b64: str) -> bytes:
    """Decode the base64 field of a public key line and check it matches ``key_type``.

    Raises ValueError with a message fit for the user.
    """
    if key_type not in KEY_TYPES:
        if key_type.endswith("-cert-v01@openssh.com"):
            raise ValueError(f"SSH certificates ({key_type}) are not supported yet")
        raise ValueError(f"unsupported SSH key type {key_type!r}")
    try:
        blob = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError(f"{key_type} key is not valid base64") from e
    inner = blob_type(blob)
    if inner != key_type:
        raise ValueError(f"key says it is {key_type} but its data is {inner}")
    return blob


def parse_public_key_line(line: str) -> tuple[str, bytes]:
    """Parse ``TYPE BASE64 [COMMENT]`` into ``(type, blob)``."""
    fields = line.split()
    if len(fields) < 2:
        raise ValueError("expected '<key-type> <base64-key> [comment]'")
    return fields[0], parse_public_key(fields[0], fields[1])
