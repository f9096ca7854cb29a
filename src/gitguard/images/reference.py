"""Image references (``[registry/]repo[:tag][@digest]``) and ``oci:PATH[:TAG]`` targets.

Grammar as in distribution's ``reference`` package: the first path component is a
registry when it contains ``.`` or ``:`` or is ``localhost``; otherwise the image is
on Docker Hub, written as cosign writes it (``index.docker.io/library/x``). Comparing
identities (:func:`same_name`) treats ``docker.io`` and ``index.docker.io`` alike, as
containers/image does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gitguard.errors import UsageError

__all__ = ["DOCKER_HUB", "ImageRef", "LayoutRef", "Target", "parse_reference", "parse_target"]

DOCKER_HUB = "index.docker.io"
DOCKER_HUB_API = "registry-1.docker.io"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_DOMAIN = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?"
)
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image in a registry. ``registry`` is ``host[:port]``; ``repository`` the
    path inside it; at most one of ``tag`` and ``digest`` is usually set (both are
    allowed, the digest wins)."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """``registry/repository`` (cosign's tag-less identity form)."""
        return f"{self.registry}/{self.repository}"

    @property
    def reference(self) -> str:
        """The digest if any, else the tag (``latest`` when neither)."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


@dataclass(frozen=True, slots=True)
class LayoutRef:
    """An image in an OCI image layout directory: ``oci:PATH[:TAG]`` or
    ``oci:PATH@sha256:…``. ``reference`` is ``None`` when the layout's only image is
    meant."""

    path: str
    reference: str | None = None

    def __str__(self) -> str:
        if self.reference is None:
            return f"oci:{self.path}"
        sep = "@" if self.reference.startswith("sha256:") else ":"
        return f"oci:{self.path}{sep}{self.reference}"


Target = ImageRef | LayoutRef


def parse_reference(text: str) -> ImageRef:
    """Parse a registry image reference; :class:`~gitguard.errors.UsageError` if bad."""
    original = text
    digest: str | None = None
    if "@" in text:
        text, _, digest = text.partition("@")
        if not _DIGEST.fullmatch(digest):
            raise UsageError(f'"{original}": "{digest}" is not a sha256:<64 hex> digest')
    tag: str | None = None
    slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > slash:
        text, tag = text[:colon], text[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise UsageError(f'"{original}": "{tag}" is not a valid tag')
    first, sep, rest = text.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        registry, path = first, rest
        if not _DOMAIN.fullmatch(registry):
            raise UsageError(f'"{original}": "{registry}" is not a valid registry host')
    else:
        registry, path = DOCKER_HUB, text
    if registry in ("docker.io", DOCKER_HUB):
        registry = DOCKER_HUB
        if "/" not in path:
            path = f"library/{path}"
    if not path or not _PATH.fullmatch(path):
        raise UsageError(
            f'"{original}": "{path}" is not a valid repository name (lower-case letters, '
            "digits and . _ - separators, components separated by /)"
        )
    if len(f"{registry}/{path}") > 255:
        raise UsageError(f'"{original}": name longer than 255 characters')
    return ImageRef(registry, path, tag, digest)


def parse_target(text: str) -> Target:
    """``oci:PATH[:TAG]`` / ``oci:PATH@DIGEST`` or a registry reference."""
    if not text.startswith("oci:"):
        return parse_reference(text)
    rest = text[4:]
    if not rest:
        raise UsageError('"oci:" needs a directory: oci:PATH[:TAG]')
    if "@" in rest:
        path, _, digest = rest.rpartition("@")
        if _DIGEST.fullmatch(digest) and path:
            return LayoutRef(path, digest)
    colon = rest.rfind(":")
    if colon > 0:
        path, tag = rest[:colon], rest[colon + 1 :]
        if "/" not in tag and tag:
            if not _TAG.fullmatch(tag):
                raise UsageError(f'"{text}": "{tag}" is not a valid tag')
            return LayoutRef(path, tag)
    return LayoutRef(rest, None)


def normalized_name(ref: ImageRef) -> str:
    """The repository name as containers/image compares it (``docker.io/…``)."""
    registry = "docker.io" if ref.registry == DOCKER_HUB else ref.registry
    return f"{registry}/{ref.repository}"


def same_name(a: ImageRef, b: ImageRef) -> bool:
    """Whether two references name the same repository."""
    return normalized_name(a) == normalized_name(b)


def api_host(registry: str) -> str:
    """Where the distribution API of ``registry`` lives."""
    return DOCKER_HUB_API if registry == DOCKER_HUB else registry
