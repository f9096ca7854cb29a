"""What the trust loaders need to know about OpenPGP certificates (shared by the
policy loader and :mod:`gitguard.trust.gittrust`): fingerprints, user IDs, e-mails,
read through Sequoia."""

from __future__ import annotations

from typing import Any, NamedTuple

from gitguard._text import first_line


class CertificateInfo(NamedTuple):
    """What the trust loaders need from one certificate. ``data`` is the certificate
    as Sequoia serialises it (binary); fingerprints are upper-case hex."""

    fingerprint: str
    subkeys: tuple[str, ...]
    user_ids: tuple[str, ...]
    emails: tuple[str, ...]
    data: bytes


def _uid_email(uid: str) -> str | None:
    import re

    m = re.search(r"<([^<>\s]+@[^<>\s]+)>\s*$", uid)
    if m:
        return m.group(1)
    if "@" in uid and not any(c.isspace() or c in "<>" for c in uid):
        return uid
    return None


def cert_info(cert: Any) -> CertificateInfo:
    from pysequoia.packet import PacketPile, Tag

    raw = bytes(cert)
    packets = list(PacketPile.from_bytes(raw))
    subkeys = tuple(
        p.fingerprint.upper() for p in packets if p.tag == Tag.PublicSubkey and p.fingerprint
    )
    # From the packets, not ``cert.user_ids``: that applies Sequoia's policy and
    # raises for old certificates (SHA-1 self-signatures, RSA-1024), which must load
    # so the verifier can report their signatures as weak-algorithm.
    uids = tuple(u for u in (p.user_id for p in packets if p.tag == Tag.UserID) if u is not None)
    emails = tuple(e for e in (_uid_email(u) for u in uids) if e)
    return CertificateInfo(cert.fingerprint.upper(), subkeys, uids, emails, raw)


def split_certs(data: bytes) -> list[Any]:
    import pysequoia
    from pysequoia.packet import PacketPile, Tag

    try:
        tags = [p.tag for p in PacketPile.from_bytes(data)]
    except Exception as e:  # pysequoia raises bare RuntimeError/ValueError
        raise ValueError(f"not OpenPGP data: {first_line(e)}") from e
    if Tag.SecretKey in tags or Tag.SecretSubkey in tags:
        raise ValueError(
            "contains secret key material; export the public certificate "
            "(gpg --export --armor) and use that"
        )
    try:
        certs = list(pysequoia.Cert.split_bytes(data))
    except Exception as e:
        raise ValueError(f"not an OpenPGP certificate: {first_line(e)}") from e
    if not certs:
        raise ValueError("contains no OpenPGP certificate")
    return certs


def read_certificates(data: bytes) -> list[CertificateInfo]:
    """Every certificate in ``data`` (armored or binary, one or many).

    Raises ValueError (with a message for the user) for data that is not OpenPGP,
    holds no certificate, or holds secret key material.
    """
    return [cert_info(c) for c in split_certs(data)]


def cert_signer_name(info: CertificateInfo) -> str:
    """The signer name for a certificate nobody claims: its first user-ID e-mail,
    else its first user ID, else ``openpgp:<fingerprint>``."""
    if info.emails:
        return info.emails[0]
    if info.user_ids:
        return info.user_ids[0]
    return f"openpgp:{info.fingerprint}"
