"""Which store an image target lives in: an OCI image layout directory or a registry.
Kept apart from :mod:`gitguard.images.oci` and :mod:`gitguard.images.registry` so that
neither imports the other's dispatcher (the registry builds on the OCI formats)."""

from __future__ import annotations

from gitguard.images.oci import LayoutStore, Store
from gitguard.images.reference import ImageRef, LayoutRef
from gitguard.images.registry import RegistryStore


def open_store(
    target: object,
    *,
    insecure: bool = False,
    ca_file: str | None = None,
    push: bool = False,
    timeout: float = 30.0,
) -> tuple[Store, str]:
    """The store for a parsed target (:mod:`gitguard.images.reference`) and the
    reference (tag or digest) inside it that names the image."""
    if isinstance(target, LayoutRef):
        layout = LayoutStore(target.path)
        return layout, target.reference or layout.default_reference()
    if isinstance(target, ImageRef):
        store = RegistryStore(
            target.registry,
            target.repository,
            insecure=insecure,
            ca_file=ca_file,
            push=push,
            timeout=timeout,
        )
        return store, target.reference
    raise TypeError(f"not an image target: {target!r}")
