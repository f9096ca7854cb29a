"""CMS signatures edited for the X.509 tests (gitsign's and smimesign's DER): the same
signature in BER form, and with unsigned attributes added, each enclosing length fixed
up by hand (asn1crypto will not write what it cannot read). The edits walk the DER
with gitguard's own TLV reader (test_cms_fast_path checks it agrees with asn1crypto).
"""

from __future__ import annotations

from gitguard.signatures import _cms


def ber_wrapped(der: bytes) -> bytes:
    """The same CMS with its outer ContentInfo in BER indefinite-length form: nothing
    signed changes, the asn1crypto parser reads it, the fast path must not."""
    _, c, e = _cms._tlv(der, 0, len(der))
    assert e == len(der)
    return b"\x30\x80" + der[c:] + b"\x00\x00"


def attribute(oid: str, *values: bytes) -> bytes:
    """The DER of an attribute (type, SET OF values) with raw DER ``values``, built
    without asn1crypto's attribute classes (they refuse values of unexpected types)."""
    from asn1crypto import core

    body = core.ObjectIdentifier(oid).dump() + core.SetOf(contents=b"".join(values)).dump()
    return bytes(core.Sequence(contents=body).dump())


def with_unsigned_contents(der: bytes, contents: bytes) -> bytes:
    """``der`` (a signature with no unsigned attributes) with an unsigned-attributes
    element of the given contents appended to its SignerInfo, every enclosing length
    fixed up. Built by hand: asn1crypto would not write what it cannot read."""

    def tlv(tag: int, body: bytes) -> bytes:
        n = len(body)
        head = bytes([n]) if n < 0x80 else bytes([0x80 | ((n.bit_length() + 7) // 8)])
        if n >= 0x80:
            head += n.to_bytes(head[0] & 0x7F, "big")
        return bytes([tag]) + head + body

    def rebuild(buf: bytes, path: list[int]) -> bytes:
        tag, c, e = _cms._tlv(buf, 0, len(buf))
        kids = [buf[s:e2] for _, s, _, e2 in _cms._children(buf, c, e)]
        if not path:
            return tlv(tag, b"".join(kids) + tlv(0xA1, contents))
        kids[path[0]] = rebuild(kids[path[0]], path[1:])
        return tlv(tag, b"".join(kids))

    # ContentInfo > [0] > SignedData > signerInfos (last) > SignerInfo
    _, c, e = _cms._tlv(der, 0, len(der))
    sd = _cms._children(der, *_cms._tlv(der, _cms._children(der, c, e)[1][2], e)[1:])
    return rebuild(der, [1, 0, len(sd) - 1, 0])
