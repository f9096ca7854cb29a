"""Reading X.509 trust files the policy names: CA bundles and CRLs, PEM (one or many
blocks) or DER. Returned as DER so the trust store stays plain, picklable bytes."""

from __future__ import annotations

import re
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization

_PEM: Final = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)


def _blocks(data: bytes, labels: tuple[bytes, ...]) -> list[bytes] | None:
    """The PEM blocks with one of ``labels`` (whole, armor included), or None when the
    data holds no PEM at all (then it may be DER)."""
    found = list(_PEM.finditer(data))
    if not found:
        return None
    return [m.group(0) for m in found if m.group(1) in labels]


def read_certificates(data: bytes) -> list[bytes]:
    """Every certificate in a PEM bundle, or the one DER certificate."""
    blocks = _blocks(data, (b"CERTIFICATE", b"TRUSTED CERTIFICATE"))
    try:
        if blocks is None:
            certs = [x509.load_der_x509_certificate(data)]
        else:
            certs = [x509.load_pem_x509_certificate(b) for b in blocks]
    except ValueError as e:
        raise ValueError(f"not a certificate: {e}") from None
    if not certs:
        raise ValueError("holds no certificate (expected PEM CERTIFICATE blocks or DER)")
    return [c.public_bytes(serialization.Encoding.DER) for c in certs]


def read_crls(data: bytes) -> list[bytes]:
    """Every CRL in a PEM file, or the one DER CRL."""
    blocks = _blocks(data, (b"X509 CRL",))
    try:
        if blocks is None:
            crls = [x509.load_der_x509_crl(data)]
        else:
            crls = [x509.load_pem_x509_crl(b) for b in blocks]
    except ValueError as e:
        raise ValueError(f"not a CRL: {e}") from None
    if not crls:
        raise ValueError("holds no CRL (expected PEM X509 CRL blocks or DER)")
    return [c.public_bytes(serialization.Encoding.DER) for c in crls]
