"""SHA-256 and SHA-512 for the receive hook's path (SSH fingerprints and signatures).

Through cryptography, which verification loads anyway, rather than hashlib: hashlib
links the system's libcrypto a second time, ≈3 ms that every push would pay. A digest
costs ≈1 µs more this way, against ≈70 µs for the signature check it serves.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.hashes import SHA256, SHA512, Hash

_SHA256 = SHA256()
_SHA512 = SHA512()


def sha256(data: bytes) -> bytes:
    h = Hash(_SHA256)
    h.update(data)
    return h.finalize()


def sha512(data: bytes) -> bytes:
    h = Hash(_SHA512)
    h.update(data)
    return h.finalize()
