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
_WHITESPACE: Final = b" \t\n\r\x0b\x0c"

OID_REKOR_ENTRY: Final = "1.3.6.1.4.1.57264.3.1"

# Digests we accept for the message digest and the signature. SHA-1/MD5 are refused as
# weak (the same stance as the OpenPGP verifier).
STRONG_DIGESTS: Final = frozenset({"sha256", "sha384", "sha512"})
_HASHES: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_DIGESTS: Final = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}
# ECDSA signature parameters, built once (they hold no state).
_ECDSA: Final = {name: ec.ECDSA(h()) for name, h in _HASHES.items()}


class CmsError(Exception):
    """The signature cannot be parsed as what git signs; the message is the reason."""


class WeakAlgorithm(Exception):
    """The signature uses a digest or algorithm we refuse; the message says which."""


@dataclass(frozen=True, slots=True)
class SignedMessage:
    """One parsed CMS signature. ``signed_attrs`` are the original DER bytes of the
    signed attributes with the first byte re-tagged to 0x31 (what was signed).
    ``signer_issuer`` is the raw DER issuer name of the signer's certificate, as
    :func:`fast_issuer` reads it (``None`` when that certificate has an unusual shape),
    so that callers need not walk the certificate again.

    ``unsigned`` holds every unsigned attribute as ``(dotted type, raw DER values)``,
    whatever the values' types; ``unsigned_skipped`` says which unsigned attributes
    could not be read at all and were left out (see :func:`_read_unsigned`)."""

    certificates: tuple[bytes, ...]
    signer_index: int
    digest_algorithm: str
    signature_algorithm: str
    signature: bytes
    signed_attrs: bytes
    message_digest: bytes
    signing_time: int | None
    unsigned: tuple[tuple[str, tuple[bytes, ...]], ...]
    signer_issuer: bytes | None = None
    unsigned_skipped: tuple[str, ...] = ()

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


def dearmor(signature: bytes) -> bytes:
    """The DER inside ``-----BEGIN SIGNED MESSAGE-----`` armor."""
    text = signature.strip()
    if not text.startswith(ARMOR_BEGIN) or not text.endswith(ARMOR_END):
        raise CmsError("X.509 signature armor is incomplete")
    # Deleting the whitespace bytes.split() splits on, in one pass.
    body = text[len(ARMOR_BEGIN) : -len(ARMOR_END)].translate(None, _WHITESPACE)
    try:
        der = binascii.a2b_base64(body, strict_mode=True)  # base64.b64decode(validate=True)
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
    fast = _parse_fast(der)
    if fast is not None:
        return fast
    try:
        return _parse(der)
    except CmsError:
        raise
    except Exception as e:  # asn1crypto raises ValueError, TypeError, KeyError…
        raise CmsError(f"cannot parse the CMS signature: {str(e).splitlines()[0]}") from e


# --------------------------------------------------------------------------- fast path
#
# gitsign writes one shape of SignedData. This DER walker reads exactly that shape and
# returns ``None`` (falling back to the asn1crypto parser below, which then also names
# the problem) on anything else: other tags, BER lengths, SKI signer ids, signed
# attributes other than content type / message digest / signing time, unusual
# algorithms or times. Whatever it accepts, ``_parse`` accepts with the same result
# (checked side by side over the test suite and the benchmark). Unsigned attributes
# are read by both with the same function, :func:`_read_unsigned`.


def _oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    body = bytearray()
    for arc in [parts[0] * 40 + parts[1], *parts[2:]]:
        chunk = [arc & 0x7F]
        rest = arc >> 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        body.extend(reversed(chunk))
    return bytes([0x06, len(body)]) + bytes(body)


_OID_SIGNED_DATA: Final = _oid("1.2.840.113549.1.7.2")
_OID_DATA: Final = _oid("1.2.840.113549.1.7.1")
_OID_CONTENT_TYPE: Final = _oid("1.2.840.113549.1.9.3")
_OID_MESSAGE_DIGEST: Final = _oid("1.2.840.113549.1.9.4")
_OID_SIGNING_TIME: Final = _oid("1.2.840.113549.1.9.5")
_OID_REKOR: Final = _oid(OID_REKOR_ENTRY)
# Unsigned attribute types met in practice, by their DER: no decoding for these.
_UNSIGNED_NAMES: Final = {_OID_REKOR: OID_REKOR_ENTRY}
_FAST_DIGESTS: Final = {
    _oid("2.16.840.1.101.3.4.2.1"): "sha256",
    _oid("2.16.840.1.101.3.4.2.2"): "sha384",
    _oid("2.16.840.1.101.3.4.2.3"): "sha512",
}
_FAST_SIGNATURES: Final = {
    _oid("1.2.840.10045.4.3.2"): "sha256_ecdsa",
    _oid("1.2.840.10045.4.3.3"): "sha384_ecdsa",
    _oid("1.2.840.10045.4.3.4"): "sha512_ecdsa",
    _oid("1.2.840.113549.1.1.11"): "sha256_rsa",
    _oid("1.2.840.113549.1.1.12"): "sha384_rsa",
    _oid("1.2.840.113549.1.1.13"): "sha512_rsa",
    _oid("1.3.101.112"): "ed25519",
}
_NULL: Final = b"\x05\x00"


class _Shape(Exception):
    """Not the shape the fast path reads."""


def _tlv(buf: bytes, i: int, end: int) -> tuple[int, int, int]:
    """The DER element at ``i``: ``(tag, contents start, element end)``; low tag numbers
    and minimal definite lengths only."""
    if i + 2 > end:
        raise _Shape
    tag = buf[i]
    if tag & 0x1F == 0x1F:
        raise _Shape
    n = buf[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 4 or i + k > end or buf[i] == 0:
            raise _Shape
        n = int.from_bytes(buf[i : i + k], "big")
        if n < 0x80:
            raise _Shape
        i += k
    if i + n > end:
        raise _Shape
    return tag, i, i + n


def _children(buf: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """``(tag, element start, contents start, element end)`` of every child; the
    elements must fill ``start:end`` exactly. (:func:`_tlv`, inlined: this loop reads
    nearly every element of a signature.)"""
    out: list[tuple[int, int, int, int]] = []
    append = out.append
    i = start
    while i < end:
        if i + 2 > end:
            raise _Shape
        tag = buf[i]
        if tag & 0x1F == 0x1F:
            raise _Shape
        n = buf[i + 1]
        c = i + 2
        if n & 0x80:
            if n == 0x81:  # the common long form: one length byte, 0x80..0xff
                if c >= end or buf[c] < 0x80:
                    raise _Shape
                n = buf[c]
                c += 1
            else:
                k = n & 0x7F
                if k == 0 or k > 4 or c + k > end or buf[c] == 0:
                    raise _Shape
                n = int.from_bytes(buf[c : c + k], "big")
                if n < 0x80:
                    raise _Shape
                c += k
        e = c + n
        if e > end:
            raise _Shape
        append((tag, i, c, e))
        i = e
    return out


def _algorithm(buf: bytes, child: tuple[int, int, int, int], names: dict[bytes, str]) -> str:
    tag, _, c, e = child
    if tag != 0x30:
        raise _Shape
    parts = _children(buf, c, e)
    if not parts or parts[0][0] != 0x06 or len(parts) > 2:
        raise _Shape
    if len(parts) == 2 and buf[parts[1][1] : parts[1][3]] != _NULL:
        raise _Shape
    name = names.get(buf[parts[0][1] : parts[0][3]])
    if name is None:
        raise _Shape
    return name


_TBS_TAGS: Final = [0x02, 0x30, 0x30, 0x30, 0x30, 0x30]
_TBS_OPTIONAL: Final = frozenset({0x81, 0x82, 0xA3})


def _fast_cert(buf: bytes, c: int, e: int) -> tuple[int, bytes]:
    """Serial number and raw issuer of a certificate, checking the child tags of the
    certificate and its TBS as asn1crypto's lazy parse does."""
    cert = _children(buf, c, e)
    if len(cert) != 3 or cert[0][0] != 0x30 or cert[1][0] != 0x30 or cert[2][0] != 0x03:
        raise _Shape
    tbs = _children(buf, cert[0][2], cert[0][3])
    tags = [t[0] for t in tbs]
    if tags and tags[0] == 0xA0:
        tbs, tags = tbs[1:], tags[1:]
    if tags[:6] != _TBS_TAGS or tbs[0][2] == tbs[0][3]:
        raise _Shape
    rest = tags[6:]
    if rest and (rest != sorted(set(rest)) or not _TBS_OPTIONAL.issuperset(rest)):
        raise _Shape
    serial = int.from_bytes(buf[tbs[0][2] : tbs[0][3]], "big", signed=True)
    return serial, buf[tbs[2][1] : tbs[2][3]]


def fast_issuer(der: bytes) -> bytes:
    """The raw issuer name of a DER certificate; raises ``_Shape`` when unusual."""
    tag, c, e = _tlv(der, 0, len(der))
    if tag != 0x30 or e != len(der):
        raise _Shape
    return _fast_cert(der, c, e)[1]


def _fast_time(raw: bytes) -> int:
    if len(raw) != 13 or raw[12:] != b"Z" or not raw[:12].isdigit():
        raise _Shape
    digits = raw[:12].decode("ascii")
    year = int(digits[0:2])
    year += 2000 if year < 50 else 1900
    try:
        when = datetime(
            year,
            int(digits[2:4]),
            int(digits[4:6]),
            int(digits[6:8]),
            int(digits[8:10]),
            int(digits[10:12]),
            tzinfo=UTC,
        )
    except ValueError:
        raise _Shape from None
    return _timestamp(when)


def _parse_fast(der: bytes) -> SignedMessage | None:
    try:
        return _parse_fast_shape(der)
    except _Shape:
        return None


_SIGNED_DATA_TAGS: Final = [0x02, 0x31, 0x30, 0xA0, 0x31]
_SIGNED_DATA_TAGS_NO_CERTS: Final = [0x02, 0x31, 0x30, 0x31]
_SIGNER_INFO_TAGS: Final = [0x02, 0x30, 0x30, 0xA0, 0x30, 0x04]


def _parse_fast_shape(der: bytes) -> SignedMessage:
    b = der
    tag, c, e = _tlv(b, 0, len(b))
    if tag != 0x30 or e != len(b):
        raise _Shape
    info = _children(b, c, e)
    if len(info) != 2 or b[info[0][1] : info[0][3]] != _OID_SIGNED_DATA or info[1][0] != 0xA0:
        raise _Shape
    inner = _children(b, info[1][2], info[1][3])
    if len(inner) != 1 or inner[0][0] != 0x30:
        raise _Shape
    sd = _children(b, inner[0][2], inner[0][3])
    tags = [t[0] for t in sd]
    if tags == _SIGNED_DATA_TAGS:
        certs_el: tuple[int, int, int, int] | None = sd[3]
    elif tags == _SIGNED_DATA_TAGS_NO_CERTS:
        certs_el = None
    else:
        raise _Shape
    encap = _children(b, sd[2][2], sd[2][3])
    if len(encap) != 1 or b[encap[0][1] : encap[0][3]] != _OID_DATA:
        raise _Shape

    certs: list[bytes] = []
    ids: list[tuple[int, bytes]] = []
    if certs_el is not None:
        for t, s, c2, e2 in _children(b, certs_el[2], certs_el[3]):
            if t != 0x30:
                raise _Shape
            certs.append(b[s:e2])
            ids.append(_fast_cert(b, c2, e2))

    infos = _children(b, sd[-1][2], sd[-1][3])
    if len(infos) != 1 or infos[0][0] != 0x30:
        raise _Shape
    si = _children(b, infos[0][2], infos[0][3])
    si_tags = [t[0] for t in si]
    if si_tags[:6] != _SIGNER_INFO_TAGS or not (len(si) == 6 or si_tags[6:] == [0xA1]):
        raise _Shape

    sid = _children(b, si[1][2], si[1][3])
    if len(sid) != 2 or sid[0][0] != 0x30 or sid[1][0] != 0x02 or sid[1][2] == sid[1][3]:
        raise _Shape
    issuer = b[sid[0][1] : sid[0][3]]
    serial = int.from_bytes(b[sid[1][2] : sid[1][3]], "big", signed=True)
    index = -1
    for i, (cert_serial, cert_issuer) in enumerate(ids):
        if cert_serial == serial and cert_issuer == issuer:
            index = i
            break
    if index < 0:
        raise _Shape

    digest_algorithm = _algorithm(b, si[2], _FAST_DIGESTS)
    signature_algorithm = _algorithm(b, si[4], _FAST_SIGNATURES)
    attrs_start, attrs_end = si[3][2], si[3][3]
    signed_attrs = b"\x31" + b[si[3][1] + 1 : attrs_end]

    digest: bytes | None = None
    signing_time: int | None = None
    seen: set[bytes] = set()
    for t, _, c2, e2 in _children(b, attrs_start, attrs_end):
        attr = _children(b, c2, e2)
        if t != 0x30 or len(attr) != 2 or attr[1][0] != 0x31:
            raise _Shape
        oid = b[attr[0][1] : attr[0][3]]
        if oid in seen:
            raise _Shape
        seen.add(oid)
        values = _children(b, attr[1][2], attr[1][3])
        if len(values) != 1:
            raise _Shape
        vt, vs, vc, ve = values[0]
        if oid == _OID_MESSAGE_DIGEST and vt == 0x04:
            digest = b[vc:ve]
        elif oid == _OID_CONTENT_TYPE and b[vs:ve] == _OID_DATA:
            pass
        elif oid == _OID_SIGNING_TIME and vt == 0x17:
            signing_time = _fast_time(b[vc:ve])
        else:
            raise _Shape
    if digest is None or _OID_CONTENT_TYPE not in seen:
        raise _Shape

    unsigned: tuple[tuple[str, tuple[bytes, ...]], ...] = ()
    skipped: tuple[str, ...] = ()
    if len(si) == 7:
        unsigned, skipped = _read_unsigned(b, si[6][2], si[6][3])

    return SignedMessage(
        certificates=tuple(certs),
        signer_index=index,
        digest_algorithm=digest_algorithm,
        signature_algorithm=signature_algorithm,
        signature=b[si[5][2] : si[5][3]],
        signed_attrs=signed_attrs,
        message_digest=digest,
        signing_time=signing_time,
        unsigned=unsigned,
        signer_issuer=issuer,  # byte-equal to the signer certificate's (matched above)
        unsigned_skipped=skipped,
    )


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

    # Not through asn1crypto's attribute classes: they parse the values of the types
    # they know (time-stamp tokens, counter-signatures…) and raise on odd ones.
    unsigned: tuple[tuple[str, tuple[bytes, ...]], ...] = ()
    skipped: tuple[str, ...] = ()
    unsigned_attrs = si["unsigned_attrs"]
    if not absent(unsigned_attrs):
        raw_unsigned = unsigned_attrs.contents
        unsigned, skipped = _read_unsigned(raw_unsigned, 0, len(raw_unsigned))

    try:
        signer_issuer: bytes | None = fast_issuer(certs[index])
    except _Shape:
        signer_issuer = None

    return SignedMessage(
        certificates=tuple(certs),
        signer_index=index,
        digest_algorithm=str(digest_algorithm),
        signature_algorithm=str(sig_algo),
        signature=bytes(si["signature"].native),
        signed_attrs=signed_attrs,
        message_digest=bytes(digests[0]),
        signing_time=times[0] if times else None,
        unsigned=unsigned,
        signer_issuer=signer_issuer,
        unsigned_skipped=skipped,
    )


# --------------------------------------------------------------------------- unsigned
#
# Unsigned attributes (RFC 5652 §5.3, §11) are not covered by the signature: anyone who
# handles a signature can add, change or drop them, so none of them may decide whether
# the signature is valid. Both parsers read them here, from the raw bytes of the
# ``[1]`` element's contents, and never refuse a signature over them: an element that
# is not a DER ``SEQUENCE { type OID, values SET }`` is left out (and named in
# ``unsigned_skipped``); values are kept as raw DER whatever their type. What a value
# must be is for its user to check (x509 ignores a Rekor entry it cannot read).


def _dotted(raw: bytes) -> str:
    """The dotted form of an OBJECT IDENTIFIER's contents; raises ``_Shape`` when they
    are not a minimal encoding."""
    if not raw or raw[-1] & 0x80:
        raise _Shape
    arcs: list[int] = []
    value = 0
    start = True
    for byte in raw:
        if start and byte == 0x80:  # a leading zero group: not minimal
            raise _Shape
        value = (value << 7) | (byte & 0x7F)
        start = not byte & 0x80
        if start:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [first // 40, first % 40] if first < 80 else [2, first - 80]
    return ".".join(str(a) for a in head + arcs[1:])


def _read_unsigned(
    buf: bytes, start: int, end: int
) -> tuple[tuple[tuple[str, tuple[bytes, ...]], ...], tuple[str, ...]]:
    """``(attributes, skipped)``: every readable unsigned attribute in ``buf[start:end]``
    as ``(dotted type, raw DER values)``, and a note for each part left out."""
    try:
        elements = _children(buf, start, end)
    except _Shape:
        return (), ("the unsigned attributes were ignored: they are not DER",)
    attrs: list[tuple[str, tuple[bytes, ...]]] = []
    skipped: list[str] = []
    for n, (tag, _, c, e) in enumerate(elements, 1):
        try:
            attrs.append(_attribute(buf, tag, c, e))
        except _Shape:
            skipped.append(f"unsigned attribute {n} was ignored: not a DER (type, values) pair")
    return tuple(attrs), tuple(skipped)


def _attribute(buf: bytes, tag: int, c: int, e: int) -> tuple[str, tuple[bytes, ...]]:
    """``(dotted type, raw DER values)`` of the attribute with contents ``buf[c:e]``."""
    if tag != 0x30:
        raise _Shape
    parts = _children(buf, c, e)
    if len(parts) != 2 or parts[0][0] != 0x06 or parts[1][0] != 0x31:
        raise _Shape
    oid = _UNSIGNED_NAMES.get(buf[parts[0][1] : parts[0][3]])
    if oid is None:
        oid = _dotted(buf[parts[0][2] : parts[0][3]])
    values = _children(buf, parts[1][2], parts[1][3])
    return oid, tuple(buf[s:e2] for _, s, _, e2 in values)


_TYPE_NAMES: Final = {
    0x01: "a BOOLEAN",
    0x02: "an INTEGER",
    0x03: "a BIT STRING",
    0x04: "an OCTET STRING",
    0x05: "a NULL",
    0x06: "an OBJECT IDENTIFIER",
    0x0A: "an ENUMERATED",
    0x0C: "a UTF8String",
    0x13: "a PrintableString",
    0x14: "a T61String",
    0x16: "an IA5String",
    0x17: "a UTCTime",
    0x18: "a GeneralizedTime",
    0x1E: "a BMPString",
    0x24: "a constructed (BER) OCTET STRING",
    0x30: "a SEQUENCE",
    0x31: "a SET",
}


def type_name(der: bytes) -> str:
    """What a DER value is, for messages: "a PrintableString", "an INTEGER"…"""
    if not der:
        return "empty"
    return _TYPE_NAMES.get(der[0], f"an element with tag 0x{der[0]:02x}")


def octet_string(der: bytes) -> bytes:
    """The contents of a DER OCTET STRING attribute value; raises :class:`CmsError`
    naming what the value is instead."""
    try:
        tag, c, e = _tlv(der, 0, len(der))
    except _Shape:
        tag, c, e = -1, 0, -1
    if tag != 0x04 or e != len(der):
        raise CmsError(f"its value is {type_name(der)}, not an OCTET STRING")
    return der[c:e]


def digest_matches(msg: SignedMessage, payload: bytes) -> bool:
    """The message-digest attribute equals the digest of the exact payload."""
    digest = _DIGESTS.get(msg.digest_algorithm)
    if digest is None:
        raise WeakAlgorithm(f"CMS digest algorithm {msg.digest_algorithm} is too weak")
    return digest(payload).digest() == msg.message_digest


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
            key.verify(msg.signature, data, _ECDSA[h.name])
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
