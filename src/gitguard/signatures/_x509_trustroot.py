"""The Sigstore trusted root (``trusted_root.json``, media type
``application/vnd.dev.sigstore.trustedroot+json;version=0.1``): Fulcio certificate
authorities, Rekor and CT log keys, each with its ``validFor`` window.

Offline only: the pinned public-good copy shipped in ``gitguard/data`` (see the README
there for its source and digest), or a file the policy names for a private Sigstore
deployment. Never refreshed over the network.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

PINNED_NAME: Final = "trusted_root.json"
PINNED_SHA256: Final = "6494e21ea73fa7ee769f85f57d5a3e6a08725eae1e38c755fc3517c9e6bc0b66"
MEDIA_TYPE_PREFIX: Final = "application/vnd.dev.sigstore.trustedroot"


class TrustRootError(ValueError):
    """The trusted root cannot be used; the message names the first problem."""


@dataclass(frozen=True, slots=True)
class TimedKey:
    """A log key (Rekor or CT): ``key_id`` is its ``logId.keyId`` in the trusted root.
    ``start``/``end`` are POSIX seconds, ``end`` None when open."""

    name: str
    key_id: bytes
    key: PublicKeyTypes
    start: float
    end: float | None

    def valid_at(self, t: float) -> bool:
        return self.start <= t and (self.end is None or t <= self.end)


@dataclass(frozen=True, slots=True)
class FulcioCA:
    """One certificate authority: its chain (issuing certificate first, root last)."""

    name: str
    chain: tuple[x509.Certificate, ...]
    start: float
    end: float | None

    def valid_at(self, t: float) -> bool:
        return self.start <= t and (self.end is None or t <= self.end)


@dataclass(frozen=True, slots=True)
class SigstoreRoot:
    cas: tuple[FulcioCA, ...]
    tlogs: dict[bytes, TimedKey]
    ctlogs: dict[bytes, TimedKey]


def pinned_bytes() -> bytes:
    """The public-good trusted root shipped with gitguard."""
    from importlib.resources import files

    return files("gitguard").joinpath("data", PINNED_NAME).read_bytes()


def _time(value: object, what: str) -> float:
    if not isinstance(value, str):
        raise TrustRootError(f"{what} is not a time string")
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise TrustRootError(f"{what} is not an RFC 3339 time: {value!r}") from None


def _window(entry: dict[str, Any], what: str) -> tuple[float, float | None]:
    valid = entry.get("validFor")
    if not isinstance(valid, dict) or "start" not in valid:
        raise TrustRootError(f"{what} has no validFor.start")
    start = _time(valid["start"], f"{what} validFor.start")
    end = _time(valid["end"], f"{what} validFor.end") if "end" in valid else None
    return start, end


def _b64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise TrustRootError(f"{what} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise TrustRootError(f"{what} is not valid base64") from None


def _log_keys(entries: object, what: str) -> dict[bytes, TimedKey]:
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise TrustRootError(f"{what} is not a list")
    out: dict[bytes, TimedKey] = {}
    for i, entry in enumerate(entries):
        where = f"{what}[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("publicKey"), dict):
            raise TrustRootError(f"{where} has no publicKey")
        raw = _b64(entry["publicKey"].get("rawBytes"), f"{where}.publicKey.rawBytes")
        try:
            key = serialization.load_der_public_key(raw)
        except (ValueError, TypeError) as e:
            raise TrustRootError(f"{where}.publicKey cannot be loaded: {e}") from None
        start, end = _window(entry["publicKey"], f"{where}.publicKey")
        # The log id entries refer to; for ECDSA/RSA logs the SHA-256 of the key's DER
        # SubjectPublicKeyInfo (Ed25519 signed-note logs define theirs differently).
        log = entry.get("logId")
        log_id = log.get("keyId") if isinstance(log, dict) else None
        key_id = (
            _b64(log_id, f"{where}.logId.keyId")
            if log_id is not None
            else hashlib.sha256(raw).digest()
        )
        name = str(entry.get("baseUrl", key_id.hex()))
        out[key_id] = TimedKey(name, key_id, key, start, end)
    return out


def parse_trusted_root(data: bytes) -> SigstoreRoot:
    """Parse ``trusted_root.json``; raise :class:`TrustRootError` naming the first problem."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise TrustRootError(f"not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise TrustRootError("not a Sigstore trusted root (expected a JSON object)")
    media = doc.get("mediaType")
    if not isinstance(media, str) or not media.startswith(MEDIA_TYPE_PREFIX):
        raise TrustRootError(f"not a Sigstore trusted root (mediaType {media!r})")
    cas: list[FulcioCA] = []
    entries = doc.get("certificateAuthorities") or []
    if not isinstance(entries, list):
        raise TrustRootError("certificateAuthorities is not a list")
    for i, entry in enumerate(entries):
        where = f"certificateAuthorities[{i}]"
        chain = entry.get("certChain", {}).get("certificates") if isinstance(entry, dict) else None
        if not isinstance(chain, list) or not chain:
            raise TrustRootError(f"{where} has no certChain.certificates")
        certs: list[x509.Certificate] = []
        for j, c in enumerate(chain):
            raw = _b64(c.get("rawBytes") if isinstance(c, dict) else None, f"{where} cert {j}")
            try:
                certs.append(x509.load_der_x509_certificate(raw))
            except ValueError as e:
                raise TrustRootError(f"{where} certificate {j} cannot be loaded: {e}") from None
        start, end = _window(entry, where)
        subject = entry.get("subject", {})
        name = (
            f"{subject.get('organization', '')}/{subject.get('commonName', '')}"
            if isinstance(subject, dict)
            else where
        )
        cas.append(FulcioCA(name, tuple(certs), start, end))
    return SigstoreRoot(
        cas=tuple(cas),
        tlogs=_log_keys(doc.get("tlogs"), "tlogs"),
        ctlogs=_log_keys(doc.get("ctlogs"), "ctlogs"),
    )


@functools.lru_cache(maxsize=8)
def load_root(data: bytes | None) -> SigstoreRoot:
    """The parsed trusted root (``None``: the pinned copy), parsed once per process."""
    return parse_trusted_root(pinned_bytes() if data is None else data)
