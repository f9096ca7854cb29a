"""Signing: resolve once, sign the digest, append a layer to ``sha256-<hex>.sig``.

The signature manifest (cosign's legacy scheme, which skopeo also writes) is an
image manifest with one ``application/vnd.dev.cosign.simplesigning.v1+json`` layer
per signature: the layer blob is the payload, its
``dev.cosignproject.cosign/signature`` annotation the base64 DER signature.

Appending is a read-modify-write of that manifest, so it is done under
:meth:`Store.lock` (per digest) and checked afterwards: if another writer replaced
the manifest in between and our layer is gone, the append is redone (3 tries). A
layer whose payload digest equals ours, whose only annotation is a signature, and
whose signature verifies with our key is the same signature (cosign's rule:
ECDSA signatures differ each time, payloads do not) — then nothing is written, so
re-running a signing job never adds a duplicate.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitguard.images import RegistryError
from gitguard.images.keys import PublicKey, SigningKey
from gitguard.images.oci import (
    COSIGN_SIGNATURE_ANNOTATION,
    DOCKER_CONFIG,
    DOCKER_MANIFEST,
    MANIFEST_TYPES,
    OCI_CONFIG,
    OCI_MANIFEST,
    SIMPLESIGNING_TYPE,
    Manifest,
    Store,
    child_digests,
    signature_tag,
)
from gitguard.images.payload import go_json, make_payload

__all__ = ["MAX_LAYERS", "SignResult", "append_signature", "resolve", "sign_image"]

MAX_LAYERS = 1000  # cosign refuses to add more
_ZERO_TIME = "0001-01-01T00:00:00Z"


@dataclass(frozen=True, slots=True)
class SignResult:
    """One signed digest. ``added`` is False when an identical signature (same
    payload, verifying with our key) was already there."""

    digest: str
    signature_tag: str
    identity: str
    added: bool
    layers: int


def resolve(store: Store, reference: str) -> Manifest:
    """The manifest a tag or digest names, or a clear error when there is none."""
    manifest = store.get_manifest(reference)
    if manifest is None:
        raise RegistryError(
            f"{store.where}: no image {reference!r} (push the image first)", retryable=True
        )
    return manifest


def _existing_layers(manifest: Manifest | None, where: str) -> tuple[list[dict[str, Any]], str]:
    """The layers of an existing signature manifest and its media type."""
    if manifest is None:
        return [], OCI_MANIFEST
    if manifest.media_type not in MANIFEST_TYPES:
        raise RegistryError(
            f"{where} is a {manifest.media_type or 'manifest of unknown type'}, not an image "
            "manifest; refusing to overwrite it"
        )
    doc = manifest.json(where)
    layers = doc.get("layers")
    if not isinstance(layers, list) or not all(isinstance(x, dict) for x in layers):
        raise RegistryError(f"{where}: manifest without a layers list; refusing to overwrite it")
    return list(layers), manifest.media_type


def _same_signature(
    layer: Mapping[str, Any], payload_digest: str, payload: bytes, key: PublicKey
) -> bool:
    if layer.get("mediaType") != SIMPLESIGNING_TYPE or layer.get("digest") != payload_digest:
        return False
    annotations = layer.get("annotations")
    if not isinstance(annotations, dict) or set(annotations) != {COSIGN_SIGNATURE_ANNOTATION}:
        return False
    try:
        signature = base64.b64decode(annotations[COSIGN_SIGNATURE_ANNOTATION], validate=True)
    except (ValueError, TypeError):
        return False
    return key.verify(payload, signature)


def _config(layers: list[dict[str, Any]], docker: bool) -> bytes:
    diff_ids = [layer.get("digest", "") for layer in layers]
    if docker:  # skopeo's shape, valid for the docker config media type too
        doc: dict[str, Any] = {
            "architecture": "",
            "os": "",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
    else:  # cosign's
        doc = {
            "architecture": "",
            "created": _ZERO_TIME,
            "history": [{"created": _ZERO_TIME} for _ in layers],
            "os": "",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "config": {},
        }
    return go_json(doc).encode()


def append_signature(
    store: Store, digest: str, payload: bytes, signature: bytes, key: PublicKey
) -> tuple[bool, int]:
    """Add one signature layer for ``digest``; ``(added, number of layers)``."""
    from gitguard.images.oci import digest_of

    tag = signature_tag(digest)
    where = f"{store.where}:{tag}"
    payload_digest = digest_of(payload)
    encoded = base64.b64encode(signature).decode("ascii")
    ours = {
        "mediaType": SIMPLESIGNING_TYPE,
        "size": len(payload),
        "digest": payload_digest,
        "annotations": {COSIGN_SIGNATURE_ANNOTATION: encoded},
    }
    with store.lock(digest):
        for _ in range(3):
            layers, media_type = _existing_layers(store.get_manifest(tag), where)
            if any(_same_signature(x, payload_digest, payload, key) for x in layers):
                return False, len(layers)
            if len(layers) >= MAX_LAYERS:
                raise RegistryError(
                    f"{where} already holds {len(layers)} signatures (limit {MAX_LAYERS})"
                )
            layers.append(ours)
            docker = media_type == DOCKER_MANIFEST
            config = _config(layers, docker)
            store.put_blob(payload)
            config_digest = store.put_blob(config)
            manifest = {
                "schemaVersion": 2,
                "mediaType": media_type,
                "config": {
                    "mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
                    "size": len(config),
                    "digest": config_digest,
                },
                "layers": layers,
            }
            store.put_manifest(tag, go_json(manifest).encode(), media_type)
            # A signer elsewhere (cosign, another machine) may have written in between.
            after, _ = _existing_layers(store.get_manifest(tag), where)
            if any(
                x.get("digest") == payload_digest and x.get("annotations") == ours["annotations"]
                for x in after
            ):
                return True, len(after)
        raise RegistryError(
            f"{where}: our signature layer kept disappearing (another signer is writing "
            "the same signature manifest); try again"
        )


def sign_image(
    store: Store,
    reference: str,
    *,
    identity: str,
    key: SigningKey,
    annotations: Mapping[str, str] | None = None,
    recursive: bool = False,
) -> list[SignResult]:
    """Resolve ``reference`` (tag or digest) once and sign that digest — and, with
    ``recursive``, every manifest an index lists. ``identity`` is written as
    ``critical.identity.docker-reference``; ``annotations`` as ``optional``."""
    manifest = resolve(store, reference)
    digests = [manifest.digest]
    if recursive and manifest.is_index:
        digests += child_digests(manifest, store.where)
    public = key.public_key
    results: list[SignResult] = []
    for digest in digests:
        payload = make_payload(identity, digest, annotations or None)
        signature = key.sign(payload)
        added, count = append_signature(store, digest, payload, signature, public)
        results.append(SignResult(digest, signature_tag(digest), identity, added, count))
    return results
