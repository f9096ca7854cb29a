"""The cosign "simple signing" payload: what an image signature signs.

Bytes, exactly as cosign writes them (Go ``json.Marshal`` of sigstore/sigstore's
``SimpleContainerImage``)::

    {"critical":{"identity":{"docker-reference":"<registry>/<repo>[:<tag>]"},
    "image":{"docker-manifest-digest":"sha256:<hex>"},
    "type":"cosign container image signature"},"optional":null}

on one line, no white space; ``optional`` is ``null`` or an object of string values
with keys sorted; strings escaped as Go escapes them (``<``, ``>``, ``&``, U+2028 and
U+2029 as ``\\uXXXX``; other non-ASCII as UTF-8). The signature covers these exact
bytes: nobody re-serializes a payload, so :func:`parse_payload` keeps ``raw``.

:func:`parse_payload` is strict like containers/image
(``signature/internal/sigstore_payload.go``): exactly the keys ``critical`` and
``optional``; ``critical`` exactly ``type``, ``image``, ``identity``; ``image`` exactly
``docker-manifest-digest`` (a valid digest); ``identity`` exactly
``docker-reference``; ``optional`` null or an object whose ``creator`` (if present) is
a string and ``timestamp`` an integer; duplicate keys anywhere are refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitguard.images import PayloadError

__all__ = [
    "SIGNATURE_TYPE",
    "Payload",
    "go_json",
    "make_payload",
    "parse_payload",
    "valid_digest",
]

SIGNATURE_TYPE = "cosign container image signature"

_DIGEST = re.compile(r"sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128}")

# Go's encoding/json escapes (Go >= 1.22 writes \b and \f as such).
_GO_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_NEEDS_ESCAPE = re.compile('["\\\\\x00-\x1f<>&\u2028\u2029]')


def valid_digest(text: str) -> bool:
    """Whether ``text`` is ``<algorithm>:<lower-case hex>`` of a SHA-2 digest."""
    return _DIGEST.fullmatch(text) is not None


def _go_string(s: str) -> str:
    def esc(m: re.Match[str]) -> str:
        c = m.group(0)
        return _GO_ESCAPES.get(c) or f"\\u{ord(c):04x}"

    # Lone surrogates cannot come from valid UTF-8; Go writes U+FFFD for bad input.
    s = s.encode("utf-8", "replace").decode("utf-8")
    return '"' + _NEEDS_ESCAPE.sub(esc, s) + '"'


def go_json(value: Any) -> str:
    """Serialize like Go's ``json.Marshal``: compact, Go string escaping, mappings in
    their given order (pass sorted mappings where Go would sort map keys)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _go_string(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_go_string(k)}:{go_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    raise TypeError(f"cannot serialize {type(value).__name__}")


def make_payload(
    docker_reference: str, digest: str, optional: Mapping[str, str] | None = None
) -> bytes:
    """The payload bytes cosign writes for ``digest`` under ``docker_reference``;
    ``optional`` holds the annotations (``cosign sign -a k=v``), ``None`` or empty
    for ``null``."""
    if not valid_digest(digest):
        raise ValueError(f"not a manifest digest: {digest!r}")
    doc: dict[str, Any] = {
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest},
            "type": SIGNATURE_TYPE,
        },
        "optional": dict(sorted(optional.items())) if optional else None,
    }
    return go_json(doc).encode("utf-8")


@dataclass(frozen=True, slots=True)
class Payload:
    """A parsed payload; ``raw`` are the signed bytes, as stored."""

    raw: bytes
    docker_reference: str
    digest: str
    type: str
    optional: Mapping[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.raw)
        return doc


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise PayloadError(f'duplicate key "{key}"')
        out[key] = value
    return out


def _exact(obj: Any, where: str, keys: set[str]) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise PayloadError(f"{where} is not a JSON object")
    found = set(obj)
    if found != keys:
        extra = sorted(found - keys)
        missing = sorted(keys - found)
        parts = []
        if missing:
            parts.append("missing " + ", ".join(f'"{k}"' for k in missing))
        if extra:
            parts.append("unexpected " + ", ".join(f'"{k}"' for k in extra))
        raise PayloadError(f"{where}: {'; '.join(parts)}")
    return obj


def parse_payload(raw: bytes) -> Payload:
    """Parse ``raw`` strictly (see the module docstring); raise
    :class:`~gitguard.images.PayloadError` saying what is wrong."""
    try:
        doc = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError as e:
        raise PayloadError(f"payload is not UTF-8 (byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise PayloadError(f"payload is not JSON: {e}") from None
    top = _exact(doc, "payload", {"critical", "optional"})
    critical = _exact(top["critical"], "critical", {"type", "image", "identity"})
    image = _exact(critical["image"], "critical.image", {"docker-manifest-digest"})
    identity = _exact(critical["identity"], "critical.identity", {"docker-reference"})
    typ = critical["type"]
    if not isinstance(typ, str):
        raise PayloadError("critical.type is not a string")
    digest = image["docker-manifest-digest"]
    if not isinstance(digest, str) or not valid_digest(digest):
        raise PayloadError(f"critical.image.docker-manifest-digest is not a digest: {digest!r}")
    ref = identity["docker-reference"]
    if not isinstance(ref, str):
        raise PayloadError("critical.identity.docker-reference is not a string")
    optional = top["optional"]
    if optional is not None:
        if not isinstance(optional, dict):
            raise PayloadError("optional is neither null nor an object")
        if "creator" in optional and not isinstance(optional["creator"], str):
            raise PayloadError("optional.creator is not a string")
        if "timestamp" in optional:
            ts = optional["timestamp"]
            if not isinstance(ts, int) or isinstance(ts, bool):
                raise PayloadError("optional.timestamp is not an integer")
    return Payload(raw=raw, docker_reference=ref, digest=digest, type=typ, optional=optional)
