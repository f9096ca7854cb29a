"""Small, real images for the image tests: an OCI layout with one single-platform image
(a config and one layer blob) or a two-platform index, written with gitguard's own
layout store, and the same images pushed to a registry store."""

from __future__ import annotations

import json
import os
from pathlib import Path

from gitguard.images.keys import generate_key_pair
from gitguard.images.oci import OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, LayoutStore, Store

PASSWORD = "correct horse"


def _dump(doc: object) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def push_image(store: Store, tag: str, *, content: bytes = b"hello", arch: str = "amd64") -> str:
    """A minimal single-platform image tagged ``tag``; returns its digest."""
    config = _dump(
        {"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    )
    layer = b"layer:" + content + arch.encode()
    config_digest = store.put_blob(config)
    layer_digest = store.put_blob(layer)
    manifest = _dump(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "size": len(config), "digest": config_digest},
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "size": len(layer),
                    "digest": layer_digest,
                }
            ],
        }
    )
    return store.put_manifest(tag, manifest, OCI_MANIFEST)


def push_index(store: Store, tag: str) -> tuple[str, list[str]]:
    """A two-platform index tagged ``tag``: ``(index digest, child digests)``."""
    children = []
    descriptors = []
    for arch in ("amd64", "arm64"):
        digest = push_image(store, f"{tag}-{arch}", arch=arch)
        manifest = store.get_manifest(digest)
        assert manifest is not None
        children.append(digest)
        descriptors.append(
            {
                "mediaType": OCI_MANIFEST,
                "size": len(manifest.data),
                "digest": digest,
                "platform": {"architecture": arch, "os": "linux"},
            }
        )
    index = _dump({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors})
    return store.put_manifest(tag, index, OCI_INDEX), children


def make_layout(path: Path, tag: str = "v1") -> tuple[LayoutStore, str]:
    """A new layout at ``path`` with one image tagged ``tag``."""
    store = LayoutStore(path, create=True)
    return store, push_image(store, tag)


def write_keys(directory: Path, password: str = PASSWORD) -> tuple[Path, Path]:
    """``cosign.key`` (mode 0600) and ``cosign.pub`` in ``directory``."""
    private, public = generate_key_pair(password.encode())
    key = directory / "cosign.key"
    pub = directory / "cosign.pub"
    key.write_bytes(private)
    os.chmod(key, 0o600)
    pub.write_bytes(public)
    return key, pub
