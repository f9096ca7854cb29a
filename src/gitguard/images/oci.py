"""OCI vocabulary, the storage interface, and the OCI image layout directory store.

A :class:`Store` is one repository's manifests and blobs — a repository in a
registry (:class:`gitguard.images.registry.RegistryStore`) or an OCI image layout
directory (:class:`LayoutStore`). Signing and verification only talk to this
interface, so both targets behave the same: signatures live in a manifest tagged
``sha256-<hex>.sig`` next to the image, as cosign stores them in registries.

Layout directory (image-spec ``image-layout.md``): ``oci-layout``, ``index.json``
(tags are ``org.opencontainers.image.ref.name`` annotations on its descriptors) and
``blobs/sha256/<hex>``. Writes are atomic (temporary file + rename) and serialized
by an exclusive lock on ``<layout>/.gitguard.lock``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from gitguard.images import RegistryError

__all__ = [
    "COSIGN_SIGNATURE_ANNOTATION",
    "INDEX_TYPES",
    "MANIFEST_TYPES",
    "SIMPLESIGNING_TYPE",
    "LayoutStore",
    "Manifest",
    "Store",
    "child_digests",
    "digest_of",
    "parse_json_object",
    "signature_tag",
]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
ACCEPTED_TYPES = (*MANIFEST_TYPES, *INDEX_TYPES)
SIMPLESIGNING_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
COSIGN_SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
REF_NAME = "org.opencontainers.image.ref.name"

MAX_MANIFEST = 4 * 1024 * 1024  # containers/image's limit for manifests


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def signature_tag(digest: str) -> str:
    """``sha256:<hex>`` -> ``sha256-<hex>.sig`` (cosign's and skopeo's tag)."""
    algorithm, _, hexdigest = digest.partition(":")
    return f"{algorithm}-{hexdigest}.sig"


def parse_json_object(data: bytes, what: str) -> dict[str, Any]:
    """``data`` as a JSON object; :class:`RegistryError` naming ``what`` otherwise."""
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RegistryError(f"{what} is not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise RegistryError(f"{what} is not a JSON object")
    return doc


@dataclass(frozen=True, slots=True)
class Manifest:
    """A manifest or index exactly as stored: ``digest`` is SHA-256 of ``data``."""

    data: bytes
    media_type: str
    digest: str

    def json(self, where: str) -> dict[str, Any]:
        return parse_json_object(self.data, f"manifest {self.digest} ({where})")

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


def child_digests(manifest: Manifest, where: str) -> list[str]:
    """The manifests an index lists (for ``--recursive``)."""
    doc = manifest.json(where)
    children = doc.get("manifests")
    if not isinstance(children, list):
        raise RegistryError(f"index {manifest.digest} ({where}) has no manifests list")
    out: list[str] = []
    for child in children:
        digest = child.get("digest") if isinstance(child, dict) else None
        if not isinstance(digest, str) or not digest.startswith("sha256:"):
            raise RegistryError(f"index {manifest.digest} ({where}) lists a bad descriptor")
        out.append(digest)
    return out


def media_type_of(data: bytes, declared: str | None) -> str:
    """The media type of manifest bytes: the declared one, else its ``mediaType``."""
    if declared:
        return declared.split(";", 1)[0].strip()
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return ""
    if isinstance(doc, dict):
        mt = doc.get("mediaType")
        if isinstance(mt, str):
            return mt
        if isinstance(doc.get("manifests"), list):
            return OCI_INDEX
        if isinstance(doc.get("layers"), list):
            return OCI_MANIFEST
    return ""


class Store(Protocol):
    """One repository's manifests and blobs."""

    @property
    def where(self) -> str:
        """How messages name this repository (``host/repo``, ``oci:PATH``)."""
        ...

    def get_manifest(self, reference: str) -> Manifest | None:
        """The manifest a tag or digest names; ``None`` if there is none."""
        ...

    def put_manifest(self, tag: str, data: bytes, media_type: str) -> str:
        """Store ``data`` under ``tag``; return its digest."""
        ...

    def get_blob(self, digest: str, max_size: int) -> bytes:
        """A blob, checked against its digest; refused if larger than ``max_size``."""
        ...

    def put_blob(self, data: bytes) -> str:
        """Store a blob (if missing); return its digest."""
        ...

    def lock(self, digest: str) -> contextlib.AbstractContextManager[None]:
        """Serialize read-modify-write of the signatures of ``digest``."""
        ...


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created if missing)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class LayoutStore:
    """An OCI image layout directory."""

    def __init__(self, path: str | os.PathLike[str], *, create: bool = False) -> None:
        self.path = Path(path)
        if create:
            self._create()
        self._check()

    @property
    def where(self) -> str:
        return f"oci:{self.path}"

    def _create(self) -> None:
        try:
            (self.path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
            if not (self.path / "oci-layout").exists():
                _atomic_write(self.path / "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
            if not (self.path / "index.json").exists():
                _atomic_write(
                    self.path / "index.json",
                    b'{"schemaVersion":2,"mediaType":"%s","manifests":[]}' % OCI_INDEX.encode(),
                )
        except OSError as e:
            raise RegistryError(
                f"cannot create OCI layout {self.path}: {e.strerror or e}"
            ) from None

    def _check(self) -> None:
        marker = self.path / "oci-layout"
        try:
            doc = parse_json_object(marker.read_bytes(), f"{marker}")
        except OSError as e:
            raise RegistryError(
                f"{self.where}: not an OCI image layout ({marker}: {e.strerror or e})",
                retryable=isinstance(e, FileNotFoundError),  # not written yet?
            ) from None
        if doc.get("imageLayoutVersion") != "1.0.0":
            raise RegistryError(
                f"{marker}: unsupported imageLayoutVersion {doc.get('imageLayoutVersion')!r}"
            )

    # -- index.json ---------------------------------------------------------------

    def _index(self) -> dict[str, Any]:
        path = self.path / "index.json"
        try:
            data = path.read_bytes()
        except OSError as e:
            raise RegistryError(f"cannot read {path}: {e.strerror or e}") from None
        doc = parse_json_object(data, str(path))
        if not isinstance(doc.get("manifests"), list):
            raise RegistryError(f"{path}: no manifests list")
        return doc

    def _write_index(self, doc: dict[str, Any]) -> None:
        data = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        _atomic_write(self.path / "index.json", data)

    def tags(self) -> dict[str, dict[str, Any]]:
        """Tag name -> its descriptor in ``index.json``."""
        out: dict[str, dict[str, Any]] = {}
        for desc in self._index()["manifests"]:
            if not isinstance(desc, dict):
                continue
            annotations = desc.get("annotations")
            if isinstance(annotations, dict) and isinstance(annotations.get(REF_NAME), str):
                out[annotations[REF_NAME]] = desc
        return out

    def default_reference(self) -> str:
        """The digest of the layout's only image (signature manifests aside)."""
        images = []
        for desc in self._index()["manifests"]:
            if not isinstance(desc, dict):
                continue
            name = (desc.get("annotations") or {}).get(REF_NAME, "")
            if isinstance(name, str) and name.endswith(".sig") and name.startswith("sha256-"):
                continue
            images.append(desc)
        if len(images) != 1:
            names = sorted(self.tags())
            raise RegistryError(
                f"{self.where} holds {len(images)} images; name one: oci:{self.path}:TAG "
                f"(tags: {', '.join(names) or 'none'})"
            )
        digest = images[0].get("digest")
        if not isinstance(digest, str):
            raise RegistryError(f"{self.path}/index.json: a descriptor without a digest")
        return digest

    # -- Store --------------------------------------------------------------------

    def _blob_path(self, digest: str) -> Path:
        algorithm, _, hexdigest = digest.partition(":")
        if (
            algorithm != "sha256"
            or len(hexdigest) != 64
            or not all(c in "0123456789abcdef" for c in hexdigest)
        ):
            raise RegistryError(f"{self.where}: unsupported digest {digest!r}")
        return self.path / "blobs" / "sha256" / hexdigest

    def get_manifest(self, reference: str) -> Manifest | None:
        declared: str | None = None
        if reference.startswith("sha256:"):
            digest = reference
            for desc in self._index()["manifests"]:
                if isinstance(desc, dict) and desc.get("digest") == digest:
                    declared = desc.get("mediaType")
        else:
            desc = self.tags().get(reference)
            if desc is None:
                return None
            digest = desc.get("digest", "")
            declared = desc.get("mediaType")
        path = self._blob_path(digest)
        if not path.exists():
            if reference.startswith("sha256:"):
                return None
            raise RegistryError(f"{self.where}: tag {reference} names missing blob {digest}")
        data = self.get_blob(digest, MAX_MANIFEST)
        return Manifest(data, media_type_of(data, declared), digest)

    def get_blob(self, digest: str, max_size: int) -> bytes:
        path = self._blob_path(digest)
        try:
            with open(path, "rb") as f:
                data = f.read(max_size + 1)
        except OSError as e:
            raise RegistryError(
                f"{self.where}: cannot read blob {digest}: {e.strerror or e}"
            ) from None
        if len(data) > max_size:
            raise RegistryError(f"{self.where}: blob {digest} is larger than {max_size} bytes")
        if digest_of(data) != digest:
            raise RegistryError(f"{self.where}: blob {digest} does not match its digest (corrupt)")
        return data

    def put_blob(self, data: bytes) -> str:
        digest = digest_of(data)
        path = self._blob_path(digest)
        if not path.exists():
            try:
                _atomic_write(path, data)
            except OSError as e:
                raise RegistryError(f"{self.where}: cannot write blob: {e.strerror or e}") from None
        return digest

    def put_manifest(self, tag: str, data: bytes, media_type: str) -> str:
        digest = self.put_blob(data)
        desc = {
            "mediaType": media_type,
            "digest": digest,
            "size": len(data),
            "annotations": {REF_NAME: tag},
        }
        with file_lock(self.path / ".gitguard.lock"):
            index = self._index()
            manifests = [
                d
                for d in index["manifests"]
                if not (isinstance(d, dict) and (d.get("annotations") or {}).get(REF_NAME) == tag)
            ]
            manifests.append(desc)
            index["manifests"] = manifests
            try:
                self._write_index(index)
            except OSError as e:
                raise RegistryError(
                    f"{self.where}: cannot write index.json: {e.strerror or e}"
                ) from None
        return digest

    def lock(self, digest: str) -> contextlib.AbstractContextManager[None]:
        return file_lock(self.path / f".gitguard-{signature_tag(digest)}.lock")
