"""CMS (RFC 5652) SignedData as gitsign and smimesign write it: parse, check the
message digest over the exact payload, and check the signer's signature over the
*original* signed-attribute bytes re-tagged as a SET (0x31).

asn1crypto parses; cryptography verifies. Nothing here re-encodes what was signed: the
signed attributes are hashed from the bytes found in the signature (GITSIGN.md §7.1).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa

ARMOR_BEGIN: Final = b"-----BEGIN SIGNED MESSAGE-----"
ARMOR_END: Final = b"-----END SIGNED MESSAGE-----"

OID_REKOR_ENTRY: Final = "1.3.6.1.4.1.57264.3.1"

# Digests we accept for the message digest and the signature. SHA-1/MD5 are refused as
# weak (the same stance as the OpenPGP verifier).
STRONG_DIGESTS: Final = frozenset({"sha256", "sha384", "sha512"})
_HASHES: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class CmsError(Exception):
    """The signature cannot be parsed as what git signs; the message is the reason."""


class WeakAlgorithm(Exception):
    """The signature uses a digest or algorithm we refuse; the message says which."""


@dataclass(frozen=True, slots=True)
class SignedMessage:
    """One parsed CMS signature. ``signed_attrs`` are the original DER bytes of the
    signed attributes with the first byte re-tagged to 0x31 (what was signed)."""

    certificates: tuple[bytes, ...]
    signer_index: int
    digest_algorithm: str
    signature_algorithm: str
    signature: bytes
    signed_attrs: bytes
    message_digest: bytes
    signing_time: int | None
    unsigned: tuple[tuple[str, tuple[bytes, ...]], ...]

    @property
    def signer_cert(self) -> bytes:
        return self.certificates[self.signer_index]

    def unsigned_values(self, oid: str) -> tuple[bytes, ...]:
        """The DER values of every unsigned attribute of type ``oid``."""
        out: list[bytes] = []
        for attr_oid, values in self.unsigned:
            if attr_oid == oid:
                out.extend(values)
        return tuple(out)

    def without_unsigned(self, oid: str) -> SignedMessage:
        """The same message with the unsigned attributes of type ``oid`` removed."""
        kept = tuple((o, v) for o, v in self.unsigned if o != oid)
        return SignedMessage(
            self.certificates,
            self.signer_index,
            self.digest_algorithm,
            self.signature_algorithm,
            self.signature,
            self.signed_attrs,
            self.message_digest,
            self.signing_time,
            kept,
        )


def dearmor(signature: bytes) -> bytes:
    """The DER inside ``-----BEGIN SIGNED MESSAGE-----`` armor."""
    text = signature.strip()
    if not text.startswith(ARMOR_BEGIN) or not text.endswith(ARMOR_END):
        raise CmsError("X.509 signature armor is incomplete")
    body = b"".join(text[len(ARMOR_BEGIN) : -len(ARMOR_END)].split())
    try:
        der = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise CmsError("X.509 signature armor is not valid base64") from None
    if not der or der[0] != 0x30:
        raise CmsError("X.509 signature is not a CMS structure")
    return der


def armor(der: bytes) -> bytes:
    """``der`` in the armor gitsign writes (64-column base64)."""
    b64 = base64.b64encode(der)
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return ARMOR_BEGIN + b"\n" + b"\n".join(lines) + b"\n" + ARMOR_END + b"\n"


def _timestamp(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def parse(signature: bytes) -> SignedMessage:
    """Parse an armored detached CMS signature; raise :class:`CmsError` with the first
    problem found."""
    der = dearmor(signature)
    try:
        return _parse(der)
    except CmsError:
        raise
    except Exception as e:  # asn1crypto raises ValueError, TypeError, KeyError…
        raise CmsError(f"cannot parse the CMS signature: {str(e).splitlines()[0]}") from e


def _parse(der: bytes) -> SignedMessage:
    from asn1crypto import cms, core

    def absent(value: object) -> bool:  # an absent OPTIONAL field; cheaper than .native
        return isinstance(value, core.Void)

    info = cms.ContentInfo.load(der, strict=True)
    if info["content_type"].native != "signed_data":
        raise CmsError(f"CMS content is {info['content_type'].native}, not signed data")
    sd = info["content"]
    encap = sd["encap_content_info"]
    if encap["content_type"].native != "data":
        raise CmsError(f"CMS encapsulated content is {encap['content_type'].native}, not data")
    if not absent(encap["content"]):
        raise CmsError("CMS signature carries its content (only detached signatures are used)")

    certs: list[bytes] = []
    parsed_certs = []
    if not absent(sd["certificates"]):
        for choice in sd["certificates"]:
            if choice.name != "certificate":
                continue  # attribute certificates and others: not for signing
            certs.append(choice.chosen.dump())
            parsed_certs.append(choice.chosen)

    infos = list(sd["signer_infos"])
    if len(infos) != 1:
        raise CmsError(f"CMS signature has {len(infos)} signers, expected exactly one")
    si = infos[0]

    sid = si["sid"]
    index = -1
    if sid.name == "issuer_and_serial_number":
        issuer = sid.chosen["issuer"]
        serial = sid.chosen["serial_number"].native
        candidates = [
            i
            for i, cert in enumerate(parsed_certs)
            if cert["tbs_certificate"]["serial_number"].native == serial
        ]
        raw_issuer = issuer.dump()
        for i in candidates:  # byte-equal names first; RFC 5280 name comparison after
            if parsed_certs[i]["tbs_certificate"]["issuer"].dump() == raw_issuer:
                index = i
                break
        else:
            for i in candidates:
                if parsed_certs[i]["tbs_certificate"]["issuer"] == issuer:
                    index = i
                    break
    else:
        ski = sid.chosen.native
        for i, cert in enumerate(parsed_certs):
            if cert.key_identifier == ski:
                index = i
                break
    if index < 0:
        raise CmsError("the signer's certificate is not in the CMS signature")

    digest_algorithm = si["digest_algorithm"]["algorithm"].native
    sig_algo = si["signature_algorithm"]["algorithm"].native

    attrs = si["signed_attrs"]
    if absent(attrs):
        raise CmsError("CMS signature has no signed attributes (no message digest)")
    raw = attrs.dump()
    if raw[:1] != b"\xa0":
        raise CmsError("CMS signed attributes are not tagged [0]")
    signed_attrs = b"\x31" + raw[1:]

    digests: list[bytes] = []
    times: list[int] = []
    seen: set[str] = set()
    for attr in attrs:
        oid = attr["type"].dotted
        if oid in seen:
            raise CmsError(f"CMS signed attribute {attr['type'].native} appears twice")
        seen.add(oid)
        values = list(attr["values"])
        name = attr["type"].native
        if name in ("message_digest", "content_type", "signing_time") and len(values) != 1:
            raise CmsError(f"CMS signed attribute {name} has {len(values)} values")
        if name == "message_digest":
            digests.append(values[0].native)
        elif name == "content_type" and values[0].native != "data":
            raise CmsError(f"CMS content-type attribute is {values[0].native}, not data")
        elif name == "signing_time":
            times.append(_timestamp(values[0].native))
    if not digests:
        raise CmsError("CMS signed attributes have no message digest")
    if "1.2.840.113549.1.9.3" not in seen:
        raise CmsError("CMS signed attributes have no content type")

    unsigned: list[tuple[str, tuple[bytes, ...]]] = []
    if not absent(si["unsigned_attrs"]):
        for attr in si["unsigned_attrs"]:
            unsigned.append((attr["type"].dotted, tuple(v.dump() for v in attr["values"])))

    return SignedMessage(
        certificates=tuple(certs),
        signer_index=index,
        digest_algorithm=str(digest_algorithm),
        signature_algorithm=str(sig_algo),
        signature=bytes(si["signature"].native),
        signed_attrs=signed_attrs,
        message_digest=bytes(digests[0]),
        signing_time=times[0] if times else None,
        unsigned=tuple(unsigned),
    )


def octet_string(der: bytes) -> bytes:
    """The contents of a DER OCTET STRING attribute value."""
    from asn1crypto import core

    try:
        value = core.OctetString.load(der, strict=True).native
    except Exception as e:
        raise CmsError(f"attribute value is not an OCTET STRING: {e}") from e
    return bytes(value)


def digest_matches(msg: SignedMessage, payload: bytes) -> bool:
    """The message-digest attribute equals the digest of the exact payload."""
    if msg.digest_algorithm not in STRONG_DIGESTS:
        raise WeakAlgorithm(f"CMS digest algorithm {msg.digest_algorithm} is too weak")
    return hashlib.new(msg.digest_algorithm, payload).digest() == msg.message_digest


def _named_hash(name: str, fallback: str) -> hashes.HashAlgorithm:
    digest = name.split("_", 1)[0] if "_" in name else fallback
    if digest not in _HASHES:
        raise WeakAlgorithm(f"CMS signature algorithm {name} uses {digest}, which is too weak")
    return _HASHES[digest]()


def verify_signature(msg: SignedMessage, cert: x509.Certificate) -> bool:
    """The signer's signature over the signed attributes verifies with ``cert``'s key.
    Raises :class:`WeakAlgorithm` for refused algorithms, :class:`CmsError` for
    algorithms that do not fit the key."""
    algo = msg.signature_algorithm
    data = msg.signed_attrs
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm) as e:
        raise CmsError(f"the signer's public key cannot be used: {e}") from e
    try:
        if algo.endswith("_ecdsa") or algo == "ecdsa":
            if not isinstance(key, ec.EllipticCurvePublicKey):
                raise CmsError(f"signature algorithm {algo} does not fit the signer's key")
            h = _named_hash(algo if algo != "ecdsa" else "", msg.digest_algorithm)
            key.verify(msg.signature, data, ec.ECDSA(h))
        elif algo.endswith("_rsa") or algo in ("rsassa_pkcs1v15", "rsa"):
            if not isinstance(key, rsa.RSAPublicKey):
                raise CmsError(f"signature algorithm {algo} does not fit the signer's key")
            if key.key_size < 2048:
                raise WeakAlgorithm(f"RSA key of {key.key_size} bits is too weak")
            plain = algo in ("rsassa_pkcs1v15", "rsa")
            h = _named_hash("" if plain else algo, msg.digest_algorithm)
            key.verify(msg.signature, data, padding.PKCS1v15(), h)
        elif algo == "rsassa_pss":
            raise CmsError("RSASSA-PSS CMS signatures are not supported")
        elif algo == "ed25519":
            if not isinstance(key, ed25519.Ed25519PublicKey):
                raise CmsError(f"signature algorithm {algo} does not fit the signer's key")
            key.verify(msg.signature, data)
        elif algo == "ed448":
            if not isinstance(key, ed448.Ed448PublicKey):
                raise CmsError(f"signature algorithm {algo} does not fit the signer's key")
            key.verify(msg.signature, data)
        else:
            raise CmsError(f"signature algorithm {algo} is not supported")
    except InvalidSignature:
        return False
    return True
