"""Cosign-compatible container image signatures (key-based, legacy ``.sig`` scheme).

- :mod:`~gitguard.images.keys`: ECDSA P-256 key pairs in cosign's encrypted format.
- :mod:`~gitguard.images.payload`: the "simple signing" payload, byte-compatible with
  cosign, and its strict parser (as containers/image reads it).
- :mod:`~gitguard.images.reference`: image references and ``oci:PATH[:TAG]`` targets.
- :mod:`~gitguard.images.oci`: media types, the :class:`~gitguard.images.oci.Store`
  interface, and the OCI image layout directory store.
- :mod:`~gitguard.images.registry`: the distribution API client (anonymous, basic and
  bearer-token auth, docker ``config.json`` credentials, TLS by default).
- :mod:`~gitguard.images.sign` / :mod:`~gitguard.images.verify`: the workflows.

The formats are described in ``shared/IMAGE-SIGNING.md`` and ``docs/images.md``. This
package never prints; errors are :class:`ImageError` subclasses whose message names
what failed and where.
"""

from __future__ import annotations

from gitguard.errors import GuardError

__all__ = ["ImageError", "KeyFileError", "PayloadError", "RegistryError"]


class ImageError(GuardError):
    """An expected failure while signing or verifying an image."""


class KeyFileError(ImageError):
    """A key file cannot be read, decrypted or used (wrong password, bad format…)."""


class PayloadError(ImageError):
    """A signature payload is not a well-formed cosign simple-signing document."""


class RegistryError(ImageError):
    """A registry (or OCI layout) could not be reached or gave a bad answer.

    ``retryable`` is True for failures that may go away by themselves (network,
    5xx, 429, an image not pushed yet); the release queue retries those.
    """

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
