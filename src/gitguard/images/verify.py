"""Verification, strict like containers/image (``signature/policy_eval_sigstore.go``).

For the image a reference names: compute the digest of the manifest bytes; read
``sha256-<hex>.sig``; for every layer, accept it only if *all* hold:

1. media type ``application/vnd.dev.cosign.simplesigning.v1+json`` and a
   ``dev.cosignproject.cosign/signature`` annotation that is standard base64;
2. the payload blob matches the layer's digest (and is at most 4 MiB);
3. the signature verifies over the payload bytes with the given public key;
4. the payload parses strictly (:func:`~gitguard.images.payload.parse_payload`) and its
   ``critical.type`` is exactly ``cosign container image signature``;
5. ``critical.image.docker-manifest-digest`` equals the computed digest (string);
6. the identity rule accepts ``critical.identity.docker-reference``;
7. every required annotation equals ``optional[key]`` (strings).

The image is verified when at least one layer is accepted (as with cosign and
containers/image); every refused layer is reported with its reason.

Identity rules (containers/image ``signedIdentity`` names):

- ``matchRepoDigestOrExact`` (default): image named by tag ⇒ the identity must be
  exactly ``registry/repo:tag``; by digest ⇒ same repository. Identities without a
  tag or digest (cosign's default) are refused — use ``matchRepository``.
- ``matchRepository``: same repository, any tag.
- ``matchExact``: identity equals the reference (which must carry a tag or digest).
- ``exactReference:REF`` / ``exactRepository:REPO``: fixed expectations.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitguard.errors import GuardError, UsageError
from gitguard.images import PayloadError, RegistryError
from gitguard.images.keys import PublicKey
from gitguard.images.oci import (
    COSIGN_SIGNATURE_ANNOTATION,
    MANIFEST_TYPES,
    SIMPLESIGNING_TYPE,
    Store,
    signature_tag,
)
from gitguard.images.payload import SIGNATURE_TYPE, Payload, parse_payload
from gitguard.images.reference import ImageRef, normalized_name, parse_reference

__all__ = ["IdentityRule", "Rejection", "VerifyResult", "parse_identity_rule", "verify_image"]

MAX_PAYLOAD = 4 * 1024 * 1024

_RULES = ("matchRepoDigestOrExact", "matchRepository", "matchExact")
_FIXED = ("exactReference", "exactRepository")


@dataclass(frozen=True, slots=True)
class IdentityRule:
    """A containers/image ``signedIdentity`` rule; ``value`` for the fixed ones."""

    kind: str = "matchRepoDigestOrExact"
    value: ImageRef | None = None

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}" if self.value is not None else self.kind

    def accepts(self, identity: str, intended: ImageRef | None) -> str | None:
        """``None`` when ``identity`` is acceptable, else the reason it is not."""
        try:
            signed = parse_reference(identity)
        except UsageError:
            return f'identity "{identity}" is not a valid docker reference'
        name_only = signed.tag is None and signed.digest is None
        signed_full = _full(signed)
        if self.kind in _FIXED and self.value is not None:
            if self.kind == "exactRepository":
                if normalized_name(signed) == normalized_name(self.value):
                    return None
                return f'identity "{identity}" is not in repository {self.value.name}'
            if not name_only and signed_full == _full(self.value):
                return None
            return f'identity "{identity}" is not exactly "{self.value}"'
        if intended is None:
            return (
                f"no reference to compare the identity {identity!r} with; pass --identity "
                "REGISTRY/REPO[:TAG] or an exactReference:/exactRepository: rule"
            )
        if self.kind == "matchRepository":
            if normalized_name(signed) == normalized_name(intended):
                return None
            return f'identity "{identity}" names another repository than {intended.name}'
        if name_only:
            return (
                f'identity "{identity}" has no tag or digest; {self.kind} refuses that '
                "(cosign writes such identities: use --identity-rule matchRepository)"
            )
        if self.kind == "matchExact" or intended.tag is not None:
            if signed_full == _full(intended):
                return None
            return f'identity "{identity}" is not "{intended}"'
        if intended.digest is not None:  # matchRepoDigestOrExact by digest
            if normalized_name(signed) == normalized_name(intended):
                return None
            return f'identity "{identity}" names another repository than {intended.name}'
        return f'"{intended}" has neither tag nor digest'


def _full(ref: ImageRef) -> str:
    out = normalized_name(ref)
    if ref.tag:
        out += f":{ref.tag}"
    if ref.digest:
        out += f"@{ref.digest}"
    return out


def parse_identity_rule(text: str) -> IdentityRule:
    """``matchRepoDigestOrExact`` | ``matchRepository`` | ``matchExact`` |
    ``exactReference:REF`` | ``exactRepository:REPO``."""
    if text in _RULES:
        return IdentityRule(text)
    kind, sep, value = text.partition(":")
    if sep and kind in _FIXED:
        ref = parse_reference(value)
        if kind == "exactReference" and ref.tag is None and ref.digest is None:
            raise UsageError(f'exactReference needs a tag or digest: "{value}"')
        return IdentityRule(kind, ref)
    raise UsageError(
        f'unknown identity rule "{text}" (one of {", ".join(_RULES)}, '
        "exactReference:REF, exactRepository:REPO)"
    )


@dataclass(frozen=True, slots=True)
class Rejection:
    """A signature layer that was not accepted (``index`` counts from 1)."""

    index: int
    reason: str


@dataclass(slots=True)
class VerifyResult:
    """Outcome for one image."""

    where: str
    digest: str
    signature_tag: str
    verified: list[Payload] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    found: bool = True

    @property
    def ok(self) -> bool:
        return bool(self.verified)

    def to_json(self) -> list[dict[str, Any]]:
        """The verified payloads, as ``cosign verify`` prints them."""
        return [p.to_json() for p in self.verified]


def _check_layer(  # noqa: PLR0917 - one call site, all inputs of the decision
    store: Store,
    layer: Any,
    digest: str,
    key: PublicKey,
    rule: IdentityRule,
    intended: ImageRef | None,
    annotations: Mapping[str, str],
) -> Payload | str:
    if not isinstance(layer, dict):
        return "layer is not a JSON object"
    if layer.get("mediaType") != SIMPLESIGNING_TYPE:
        return f"layer media type is {layer.get('mediaType')!r}, not {SIMPLESIGNING_TYPE}"
    notes = layer.get("annotations")
    encoded = notes.get(COSIGN_SIGNATURE_ANNOTATION) if isinstance(notes, dict) else None
    if not isinstance(encoded, str):
        return f"layer has no {COSIGN_SIGNATURE_ANNOTATION} annotation"
    try:
        signature = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return "the signature annotation is not standard base64"
    layer_digest = layer.get("digest")
    if not isinstance(layer_digest, str) or not layer_digest.startswith("sha256:"):
        return "layer has no sha256 digest"
    size = layer.get("size")
    if isinstance(size, int) and size > MAX_PAYLOAD:
        return f"payload of {size} bytes is larger than {MAX_PAYLOAD}"
    try:
        raw = store.get_blob(layer_digest, MAX_PAYLOAD)
    except RegistryError as e:
        if e.retryable:
            raise
        return f"payload blob: {e}"
    if isinstance(size, int) and size != len(raw):
        return f"payload is {len(raw)} bytes, the layer says {size}"
    if not key.verify(raw, signature):
        return f"signature does not verify with {key.source}"
    try:
        payload = parse_payload(raw)
    except PayloadError as e:
        return f"payload: {e}"
    if payload.type != SIGNATURE_TYPE:
        return f'unrecognized signature type "{payload.type}"'
    if payload.digest != digest:
        return f"signature is for {payload.digest}, not this image ({digest})"
    reason = rule.accepts(payload.docker_reference, intended)
    if reason is not None:
        return reason
    for name, wanted in annotations.items():
        have = (payload.optional or {}).get(name)
        if have != wanted:
            shown = "missing" if have is None else repr(have)
            return f"annotation {name}={wanted!r} required, signature has {shown}"
    return payload


def verify_image(
    store: Store,
    reference: str,
    *,
    key: PublicKey,
    rule: IdentityRule,
    intended: ImageRef | None,
    annotations: Mapping[str, str] | None = None,
) -> VerifyResult:
    """Verify the signatures of the image ``reference`` (a tag or digest) names.

    ``intended`` is the reference the image is meant as (what identity rules compare
    with). Raises :class:`~gitguard.images.RegistryError` when the image itself
    cannot be read; signature problems are reported in the result.
    """
    manifest = store.get_manifest(reference)
    if manifest is None:
        raise RegistryError(f"{store.where}: no image {reference!r}")
    digest = manifest.digest
    tag = signature_tag(digest)
    result = VerifyResult(store.where, digest, tag)
    sig_manifest = store.get_manifest(tag)
    if sig_manifest is None:
        result.found = False
        return result
    where = f"{store.where}:{tag}"
    if sig_manifest.media_type not in MANIFEST_TYPES:
        result.rejected.append(Rejection(0, f"{where} is not an image manifest"))
        return result
    try:
        doc = sig_manifest.json(where)
    except GuardError as e:
        result.rejected.append(Rejection(0, str(e)))
        return result
    layers = doc.get("layers")
    if not isinstance(layers, list) or not layers:
        result.rejected.append(Rejection(0, f"{where} has no signature layers"))
        return result
    for i, layer in enumerate(layers, 1):
        outcome = _check_layer(store, layer, digest, key, rule, intended, annotations or {})
        if isinstance(outcome, str):
            result.rejected.append(Rejection(i, outcome))
        else:
            result.verified.append(outcome)
    return result
