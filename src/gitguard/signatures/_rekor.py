"""Rekor (v1) transparency-log entries embedded by gitsign's offline mode, verified
offline (GITSIGN.md §3).

gitsign stores a ``dev.sigstore.rekor.v1.TransparencyLogEntry`` (protobuf) in the
unsigned attribute 1.3.6.1.4.1.57264.3.1 with the canonicalized body cleared. We
rebuild the body from the signature itself (so the entry can only vouch for *this*
signature, certificate and signed attributes), then check:

1. the log is in the trusted root and its key was valid at the integrated time;
2. the signed entry timestamp (SET) over ``{body, integratedTime, logID, logIndex}``;
3. when the entry has an inclusion proof (gitsign's entries do): the RFC 9162 proof of
   ``SHA-256(0x00 || body)`` (shard-relative index);
4. and its signed checkpoint (same log key), whose tree size and root hash must be
   the proof's.

An entry with only a SET is accepted on the SET (Rekor's signed promise of inclusion).

The protobuf decoder is a minimal wire-format reader for the fields used here.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from gitguard.signatures._x509_trustroot import TimedKey

KIND: Final = "hashedrekord"
VERSION: Final = "0.0.1"


class TlogError(Exception):
    """The entry does not verify. ``code`` is a stable reason code:
    ``tlog-malformed``, ``tlog-unsupported``, ``tlog-unknown-log``, ``tlog-bad-set``,
    ``tlog-bad-proof``, ``tlog-bad-checkpoint``, ``tlog-body-mismatch``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class InclusionProof:
    log_index: int
    root_hash: bytes
    tree_size: int
    hashes: tuple[bytes, ...]
    checkpoint: str


@dataclass(frozen=True, slots=True)
class LogEntry:
    log_index: int
    key_id: bytes
    kind: str
    version: str
    integrated_time: int
    signed_entry_timestamp: bytes | None
    proof: InclusionProof | None
    body: bytes | None


# --------------------------------------------------------------------------- protobuf


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = 0
    shift = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise TlogError("tlog-malformed", "transparency-log entry: truncated varint")
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def _fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """``(field number, value)``: varints as int, length-delimited as bytes."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
            yield number, value
        elif wire == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise TlogError("tlog-malformed", "transparency-log entry: truncated field")
            yield number, buf[i : i + n]
            i += n
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
            if i > len(buf):
                raise TlogError("tlog-malformed", "transparency-log entry: truncated field")
        else:
            raise TlogError("tlog-malformed", f"transparency-log entry: wire type {wire}")


def _int(value: int | bytes, what: str) -> int:
    if not isinstance(value, int):
        raise TlogError("tlog-malformed", f"transparency-log entry: {what} is not an integer")
    if value >= 1 << 63:  # int64 on the wire: refuse negative values
        raise TlogError("tlog-malformed", f"transparency-log entry: {what} is negative")
    return value


def _bytes(value: int | bytes, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise TlogError("tlog-malformed", f"transparency-log entry: {what} is not bytes")
    return value


def _text(value: int | bytes, what: str) -> str:
    try:
        return _bytes(value, what).decode("utf-8")
    except UnicodeDecodeError:
        raise TlogError("tlog-malformed", f"transparency-log entry: {what} is not UTF-8") from None


def _proof(buf: bytes) -> InclusionProof:
    index = size = 0
    root = b""
    path: list[bytes] = []
    checkpoint = ""
    for number, value in _fields(buf):
        if number == 1:
            index = _int(value, "inclusion proof log index")
        elif number == 2:
            root = _bytes(value, "root hash")
        elif number == 3:
            size = _int(value, "tree size")
        elif number == 4:
            path.append(_bytes(value, "proof hash"))
        elif number == 5:
            for n, v in _fields(_bytes(value, "checkpoint")):
                if n == 1:
                    checkpoint = _text(v, "checkpoint envelope")
    return InclusionProof(index, root, size, tuple(path), checkpoint)


def decode_entry(data: bytes) -> LogEntry:
    """Decode a serialised ``TransparencyLogEntry``."""
    index = integrated = 0
    key_id = b""
    kind = version = ""
    promise: bytes | None = None
    proof: InclusionProof | None = None
    body: bytes | None = None
    for number, value in _fields(data):
        if number == 1:
            index = _int(value, "log index")
        elif number == 2:
            for n, v in _fields(_bytes(value, "log id")):
                if n == 1:
                    key_id = _bytes(v, "log key id")
        elif number == 3:
            for n, v in _fields(_bytes(value, "kind")):
                if n == 1:
                    kind = _text(v, "kind")
                elif n == 2:
                    version = _text(v, "version")
        elif number == 4:
            integrated = _int(value, "integrated time")
        elif number == 5:
            for n, v in _fields(_bytes(value, "inclusion promise")):
                if n == 1:
                    promise = _bytes(v, "signed entry timestamp")
        elif number == 6:
            proof = _proof(_bytes(value, "inclusion proof"))
        elif number == 7:
            body = _bytes(value, "canonicalized body") or None
    if not key_id:
        raise TlogError("tlog-malformed", "transparency-log entry names no log")
    return LogEntry(index, key_id, kind, version, integrated, promise, proof, body)


# --------------------------------------------------------------------------- checks


def canonical_json(value: object) -> bytes:
    """RFC 8785 for the values used here (ASCII strings, objects, integers)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def hashedrekord_body(signed_attrs: bytes, signature: bytes, cert_pem: bytes) -> bytes:
    """The canonical hashedrekord v0.0.1 body gitsign uploads for a signature."""
    return canonical_json(
        {
            "apiVersion": VERSION,
            "kind": KIND,
            "spec": {
                "data": {
                    "hash": {
                        "algorithm": "sha256",
                        "value": hashlib.sha256(signed_attrs).hexdigest(),
                    }
                },
                "signature": {
                    "content": base64.b64encode(signature).decode(),
                    "publicKey": {"content": base64.b64encode(cert_pem).decode()},
                },
            },
        }
    )


def _verify(key: TimedKey, signature: bytes, data: bytes) -> bool:
    try:
        if isinstance(key.key, ec.EllipticCurvePublicKey):
            key.key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key.key, ed25519.Ed25519PublicKey):
            key.key.verify(signature, data)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _hash_children(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_proof(leaf_hash: bytes, index: int, size: int, path: tuple[bytes, ...]) -> bytes:
    """RFC 9162 §2.1.3.2: the root hash an inclusion proof leads to."""
    if index >= size:
        raise TlogError("tlog-bad-proof", f"inclusion proof index {index} is not below {size}")
    fn, sn = index, size - 1
    r = leaf_hash
    for p in path:
        if len(p) != 32:
            raise TlogError("tlog-bad-proof", "inclusion proof hash is not 32 bytes")
        if sn == 0:
            raise TlogError("tlog-bad-proof", "inclusion proof is longer than the tree")
        if fn & 1 or fn == sn:
            r = _hash_children(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _hash_children(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise TlogError("tlog-bad-proof", "inclusion proof is shorter than the tree")
    return r


def _checkpoint(text: str, key: TimedKey, proof: InclusionProof) -> None:
    end = text.find("\n\n")
    if end < 0:
        raise TlogError("tlog-bad-checkpoint", "checkpoint has no signature section")
    body = text[: end + 1]
    lines = body.split("\n")
    if len(lines) < 4:
        raise TlogError("tlog-bad-checkpoint", "checkpoint is missing its size or root hash")
    try:
        size = int(lines[1])
        root = base64.b64decode(lines[2], validate=True)
    except ValueError:
        raise TlogError("tlog-bad-checkpoint", "checkpoint size or root hash unreadable") from None
    hint = key.key_id[:4]
    verified = False
    for line in text[end + 2 :].split("\n"):
        if not line.startswith("\u2014 "):
            continue
        parts = line.split(" ")
        if len(parts) != 3:
            continue
        try:
            blob = base64.b64decode(parts[2], validate=True)
        except ValueError:
            continue
        if blob[:4] == hint and _verify(key, blob[4:], body.encode()):
            verified = True
            break
    if not verified:
        raise TlogError("tlog-bad-checkpoint", "checkpoint is not signed by the log's key")
    if size != proof.tree_size or root != proof.root_hash:
        raise TlogError(
            "tlog-bad-checkpoint", "checkpoint's tree size or root hash differ from the proof's"
        )


def verify_entry(entry: LogEntry, body: bytes, logs: Mapping[bytes, TimedKey]) -> TimedKey:
    """Check ``entry`` for the canonical ``body``; return the log key that vouches for
    it. Raises :class:`TlogError`."""
    if (entry.kind, entry.version) != (KIND, VERSION):
        raise TlogError(
            "tlog-unsupported",
            f"transparency-log entry of kind {entry.kind or '?'}/{entry.version or '?'} "
            f"is not supported (only {KIND}/{VERSION})",
        )
    if entry.body is not None and entry.body != body:
        raise TlogError(
            "tlog-body-mismatch",
            "transparency-log entry is for another signature, certificate or payload",
        )
    key = logs.get(entry.key_id)
    if key is None:
        raise TlogError(
            "tlog-unknown-log",
            f"transparency log {entry.key_id.hex()} is not in the trusted root",
        )
    if not key.valid_at(entry.integrated_time):
        raise TlogError(
            "tlog-unknown-log",
            f"transparency log {key.name} was not valid at the entry's integrated time",
        )
    if entry.signed_entry_timestamp is None:
        raise TlogError("tlog-unsupported", "transparency-log entry has no signed entry timestamp")
    payload = canonical_json(
        {
            "body": base64.b64encode(body).decode(),
            "integratedTime": entry.integrated_time,
            "logID": entry.key_id.hex(),
            "logIndex": entry.log_index,
        }
    )
    if not _verify(key, entry.signed_entry_timestamp, payload):
        raise TlogError(
            "tlog-bad-set",
            "transparency-log signed entry timestamp does not verify for this signature",
        )
    proof = entry.proof
    if proof is not None:
        leaf = hashlib.sha256(b"\x00" + body).digest()
        root = root_from_proof(leaf, proof.log_index, proof.tree_size, proof.hashes)
        if root != proof.root_hash:
            raise TlogError("tlog-bad-proof", "inclusion proof does not lead to its root hash")
        _checkpoint(proof.checkpoint, key, proof)
    return key
