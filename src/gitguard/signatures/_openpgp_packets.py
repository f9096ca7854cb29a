"""OpenPGP wire format, as much of it as verifying a git signature needs (RFC 9580).

Pure parsing, no policy and no cryptography: ASCII armor (with its CRC-24), packet
framing (old and new headers), v4 signature packets with their subpackets, and v4
public-key packets with their fingerprints. Every function raises
:class:`PacketError` (a :class:`ValueError`) with a message naming what is wrong;
nothing here trusts a length field before checking it against the data.
"""

from __future__ import annotations

import binascii
import contextlib
import hashlib
from dataclasses import dataclass

__all__ = [
    "CRITICAL_OK",
    "Armored",
    "KeyPacket",
    "PacketError",
    "SigPacket",
    "crc24",
    "dearmor",
    "encode_mpi",
    "parse_public_key",
    "parse_signature",
    "split_packets",
]

# Packet tags (RFC 9580 section 5).
TAG_SIGNATURE = 2
TAG_PUBLIC_KEY = 6
TAG_TRUST = 12
TAG_USER_ID = 13
TAG_PUBLIC_SUBKEY = 14
TAG_USER_ATTRIBUTE = 17

# Public-key algorithms (RFC 9580 section 9.1).
PK_RSA = 1
PK_RSA_ENCRYPT = 2
PK_RSA_SIGN = 3
PK_ELGAMAL = 16
PK_DSA = 17
PK_ECDH = 18
PK_ECDSA = 19
PK_ELGAMAL_SIGN = 20
PK_EDDSA_LEGACY = 22
PK_X25519 = 25
PK_X448 = 26
PK_ED25519 = 27
PK_ED448 = 28

# Subpacket types (RFC 9580 section 5.2.3.7).
SUB_CREATED = 2
SUB_SIG_EXPIRES = 3
SUB_KEY_EXPIRES = 9
SUB_ISSUER = 16
SUB_NOTATION = 20
SUB_KEY_FLAGS = 27
SUB_REVOCATION_REASON = 29
SUB_EMBEDDED_SIGNATURE = 32
SUB_ISSUER_FPR = 33

# Subpacket types a signature may mark critical: those GnuPG honours as critical
# (parse-packet.c ``can_handle_critical``), which sequoia's StandardPolicy accepts
# too. A critical subpacket of any other type, in either area, makes the signature
# invalid (RFC 9580 section 5.2.3.7): types RFC 9580 defines but GnuPG does not
# honour as critical (keyserver preferences, signer's user ID, signature target,
# intended recipient, AEAD preferences, attested certifications, key block) are
# refused too, so that gitguard never says G where git says B. A critical notation
# (20) is refused always: gitguard knows no notation it could honour.
CRITICAL_OK = frozenset({2, 3, 4, 5, 6, 7, 9, 11, 12, 16, 21, 22, 24, 25, 26, 27, 29, 30, 32, 33})

# Hashed subpackets whose length RFC 9580 fixes; sequoia refuses other lengths.
_FIXED_LENGTHS = {2: 4, 3: 4, 4: 1, 7: 1, 9: 4, 12: 22, 16: 8, 25: 1}

ARMOR_BEGIN = b"-----BEGIN PGP SIGNATURE-----"
ARMOR_END = b"-----END PGP SIGNATURE-----"


class PacketError(ValueError):
    """The bytes are not the OpenPGP structure they claim to be."""


# --- ASCII armor -------------------------------------------------------------------


def _crc24_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
        table.append(crc & 0xFFFFFF)
    return tuple(table)


_CRC24_TABLE = _crc24_table()


def crc24(data: bytes) -> int:
    """The armor checksum (RFC 9580 section 6.1): CRC-24, init 0xB704CE, poly 0x864CFB."""
    crc = 0xB704CE
    table = _CRC24_TABLE
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFF) ^ table[(crc >> 16) ^ byte]
    return crc


@dataclass(frozen=True, slots=True)
class Armored:
    """The contents of an armor block and its optional CRC-24 footer."""

    data: bytes
    checksum: bytes | None

    def checksum_mismatch(self) -> bool:
        """Whether a present footer disagrees with the data. RFC 9580 section 6.1 says
        an implementation MUST NOT reject data for that (the signature protects it, the
        CRC does not), so this only serves to explain a signature that fails anyway;
        it costs 15-50 us in Python, which is why it is not computed up front."""
        if self.checksum is None:
            return False
        try:
            expected = binascii.a2b_base64(self.checksum[1:], strict_mode=True)
        except (binascii.Error, ValueError):
            return True
        return len(expected) != 3 or int.from_bytes(expected, "big") != crc24(self.data)


_FAST_HEAD = ARMOR_BEGIN + b"\n\n"
_FAST_TAIL = b"\n" + ARMOR_END + b"\n"


def dearmor(text: bytes) -> Armored:
    """The binary contents of one ``PGP SIGNATURE`` armor block.

    Accepts what gpg and sequoia emit: optional ``Key: value`` header lines, CR/LF line
    ends, an optional ``=XXXX`` checksum line (kept, not checked: see
    :meth:`Armored.checksum_mismatch`). Anything before BEGIN or after END is refused:
    a git signature is exactly one armor block.
    """
    # The shape git stores for gpg's and sequoia's output (no headers, LF, no blank or
    # padded lines) is taken directly; anything else, valid or not, goes through
    # :func:`_dearmor`, which gives the same result for this shape.
    if text.startswith(_FAST_HEAD) and text.endswith(_FAST_TAIL):
        lines = text[len(_FAST_HEAD) : -len(_FAST_TAIL)].split(b"\n")
        checksum = lines.pop() if lines[-1].startswith(b"=") else None
        if lines and all(lines) and (checksum is None or checksum == checksum.strip()):
            with contextlib.suppress(binascii.Error, ValueError):
                return Armored(binascii.a2b_base64(b"".join(lines), strict_mode=True), checksum)
    return _dearmor(text)


def _dearmor(text: bytes) -> Armored:
    lines = text.strip().split(b"\n")
    if len(lines) < 3 or lines[0].rstrip() != ARMOR_BEGIN:
        raise PacketError("OpenPGP armor does not start with '-----BEGIN PGP SIGNATURE-----'")
    if lines[-1].rstrip() != ARMOR_END:
        if any(line.rstrip() == ARMOR_END for line in lines):
            raise PacketError("data follows the OpenPGP armor's END line")
        raise PacketError("OpenPGP armor has no '-----END PGP SIGNATURE-----' line (truncated?)")
    body = [line.strip() for line in lines[1:-1]]
    start = 0
    if b"" in body:
        # Armor headers end at the first blank line; every line before it must be one.
        blank = body.index(b"")
        if all(b": " in line for line in body[:blank]):
            start = blank + 1
    elif body and b": " in body[0]:
        raise PacketError("OpenPGP armor headers are not followed by a blank line")
    body = [line for line in body[start:] if line]
    checksum: bytes | None = None
    if body and body[-1].startswith(b"="):
        checksum = body.pop()
    if not body:
        raise PacketError("OpenPGP armor holds no data")
    try:
        data = binascii.a2b_base64(b"".join(body), strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise PacketError(f"OpenPGP armor is not valid base64 ({exc})") from None
    return Armored(data, checksum)


# --- packet framing ----------------------------------------------------------------


def split_packets(data: bytes) -> list[tuple[int, bytes]]:
    """``(tag, body)`` for each packet; partial body lengths are refused (neither
    signatures nor certificates use them)."""
    packets: list[tuple[int, bytes]] = []
    pos = 0
    end = len(data)
    while pos < end:
        header = data[pos]
        if not header & 0x80:
            raise PacketError(f"byte {pos} is not an OpenPGP packet header (0x{header:02x})")
        pos += 1
        if header & 0x40:  # new format
            tag = header & 0x3F
            if pos >= end:
                raise PacketError("OpenPGP packet header is truncated")
            first = data[pos]
            pos += 1
            if first < 192:
                length = first
            elif first < 224:
                if pos >= end:
                    raise PacketError("OpenPGP packet length is truncated")
                length = ((first - 192) << 8) + data[pos] + 192
                pos += 1
            elif first == 255:
                if pos + 4 > end:
                    raise PacketError("OpenPGP packet length is truncated")
                length = int.from_bytes(data[pos : pos + 4], "big")
                pos += 4
            else:
                raise PacketError("OpenPGP packet uses a partial body length, not allowed here")
        else:  # old format
            tag = (header >> 2) & 0x0F
            length_type = header & 0x03
            if length_type == 3:
                raise PacketError(
                    "OpenPGP packet has an indeterminate length (old format), which "
                    "RFC 9580 section 4.2.2.4 does not allow for signatures or keys"
                )
            size = 1 << length_type
            if pos + size > end:
                raise PacketError("OpenPGP packet length is truncated")
            length = int.from_bytes(data[pos : pos + size], "big")
            pos += size
        if tag == 0:
            raise PacketError("OpenPGP packet has the reserved tag 0")
        if length > end - pos:
            raise PacketError(
                f"OpenPGP packet claims {length} bytes but only {end - pos} remain (truncated?)"
            )
        packets.append((tag, data[pos : pos + length]))
        pos += length
    return packets


def _mpi(data: bytes, pos: int) -> tuple[bytes, int]:
    """One multiprecision integer: a 2-byte bit count, then the big-endian bytes.

    The bit count only frames the bytes: the value is what they hold. RFC 9580
    section 3.2 asks writers for the exact bit count, but only v6 readers must
    enforce it; GnuPG reads ``(bits + 7) / 8`` bytes whatever their leading bits,
    and Go's OpenPGP library (which GitHub signs web-flow commits with) writes the
    key's size as the bit count of every RSA signature, so about half of its
    signatures declare a leading bit that is zero. Refusing them would refuse what
    every other implementation verifies, for no security gain: the encoding is not
    signed, the value is.
    """
    if pos + 2 > len(data):
        raise PacketError("OpenPGP MPI is truncated")
    bits = (data[pos] << 8) | data[pos + 1]
    size = (bits + 7) >> 3
    pos += 2
    if pos + size > len(data):
        raise PacketError("OpenPGP MPI is truncated")
    return data[pos : pos + size], pos + size


def _sig_mpi(data: bytes, pos: int) -> tuple[bytes, int]:
    """A signature MPI's value without leading zero bytes (see :func:`_mpi`)."""
    value, pos = _mpi(data, pos)
    return value.lstrip(b"\0"), pos


def encode_mpi(value: bytes) -> bytes:
    """``value`` as an MPI with the exact bit count (RFC 9580 section 3.2)."""
    value = value.lstrip(b"\0")
    bits = (len(value) - 1) * 8 + value[0].bit_length() if value else 0
    return bits.to_bytes(2, "big") + value


# --- signatures --------------------------------------------------------------------


@dataclass(slots=True, eq=False)  # not frozen: built once per commit, cheaper so
class SigPacket:
    """A parsed v4 (or v3) signature packet.

    ``hashed_part`` is what is hashed after the signed data, before the trailer: for
    v4 the packet body from the version byte through the hashed subpackets; for v3
    the signature type and creation time (RFC 4880 section 5.2.4). ``left16`` is the
    packet's quick-check copy of the digest's first two octets (not signed).
    ``material`` is the algorithm-specific signature *value*: ``(s,)`` for RSA,
    ``(r, s)`` for (EC)DSA and legacy EdDSA (MPIs, leading zero octets removed),
    ``(native,)`` for Ed25519/Ed448 (algorithms 27/28).
    ``expires_after``/``key_expires_after`` are periods in seconds (``None``: never).
    ``critical_unknown`` lists critical subpacket types gitguard cannot honour (in
    either area). ``embedded`` holds embedded signatures (a signing subkey's
    primary-key binding "back signature"). ``unhashed_issuer_fpr`` tells that the
    issuer fingerprint was only found in the unhashed area.
    """

    version: int
    sig_type: int
    pk_algo: int
    hash_algo: int
    hashed_part: bytes
    left16: bytes
    material: tuple[bytes, ...]
    mpis: bool
    created: int | None
    expires_after: int | None
    issuer_fpr: bytes | None
    issuer_keyid: bytes | None
    key_expires_after: int | None
    key_flags: int | None
    revocation_reason: int | None
    critical_unknown: tuple[int, ...]
    embedded: tuple[SigPacket, ...]
    created_at: int = -1  # offset of the creation time's value in hashed_part

    @property
    def trailer(self) -> bytes:
        """The hash trailer: 0x04 0xFF and the hashed part's length (v4); none (v3)."""
        if self.version < 4:
            return b""
        return b"\x04\xff" + len(self.hashed_part).to_bytes(4, "big")

    def profile(self) -> bytes:
        """Everything in the signature that can bear on its verdict except its
        creation time and its value: the hashed part with the creation time's value
        zeroed. Two signatures with the same profile, key and validity interval get
        the same key-validity verdict (the verifier's cache key)."""
        if self.version < 4:
            return bytes((self.version, self.sig_type, self.pk_algo, self.hash_algo))
        at = self.created_at
        if at < 0:
            return self.hashed_part
        return self.hashed_part[:at] + b"\0\0\0\0" + self.hashed_part[at + 4 :]

    def normalized(self, digest: bytes) -> bytes:
        """This signature as one binary packet that says exactly what gitguard
        reads from it, for sequoia to judge the same thing as the fast path: the
        signed part as is; an unhashed area holding only the issuer key id (it is
        not signed, and garbage there would otherwise make sequoia alone refuse);
        the quick-check octets taken from ``digest`` (they are not signed either,
        see :mod:`gitguard.signatures.openpgp`); MPIs with exact bit counts."""
        value = b"".join(encode_mpi(m) for m in self.material) if self.mpis else self.material[0]
        tail = digest[:2] + value
        keyid = self.issuer_keyid or (self.issuer_fpr[-8:] if self.issuer_fpr else None)
        if self.version < 4:
            body = (
                bytes((self.version, 5))
                + self.hashed_part
                + (keyid or b"\0" * 8)
                + bytes((self.pk_algo, self.hash_algo))
                + tail
            )
        else:
            unhashed = b"\x09\x10" + keyid if keyid else b""
            body = self.hashed_part + len(unhashed).to_bytes(2, "big") + unhashed + tail
        return b"\xc2\xff" + len(body).to_bytes(4, "big") + body

    def issuer_names(self, fpr: bytes, keyid: bytes) -> bool:
        """Whether this signature names the key (by fingerprint or key id) as issuer."""
        if self.issuer_fpr is not None:
            return self.issuer_fpr == fpr
        return self.issuer_keyid == keyid


def _subpackets(area: bytes) -> list[tuple[int, bytes, int]]:
    """``(type, value, offset of value)`` of each subpacket; the type keeps its
    critical bit (0x80)."""
    found = []
    pos = 0
    end = len(area)
    while pos < end:
        first = area[pos]
        if first < 192:
            length = first
            pos += 1
        elif first < 255:
            if pos + 2 > end:
                raise PacketError("signature subpacket length is truncated")
            length = ((first - 192) << 8) + area[pos + 1] + 192
            pos += 2
        else:
            if pos + 5 > end:
                raise PacketError("signature subpacket length is truncated")
            length = int.from_bytes(area[pos + 1 : pos + 5], "big")
            pos += 5
        if length == 0 or length > end - pos:
            raise PacketError("signature subpacket length is out of bounds")
        found.append((area[pos], area[pos + 1 : pos + length], pos + 1))
        pos += length
    return found


def _embedded(value: bytes, into: list[SigPacket]) -> None:
    with contextlib.suppress(PacketError):  # a broken back-signature does not count
        into.append(parse_signature(value))


def _material(body: bytes, pos: int, pk_algo: int) -> tuple[tuple[bytes, ...], bool]:
    """The signature value at ``pos`` (after the quick-check octets) and whether it is
    MPI-encoded; it must end the packet."""
    material: tuple[bytes, ...]
    mpis = True
    if pk_algo in (PK_RSA, PK_RSA_SIGN, PK_RSA_ENCRYPT):
        s, pos = _sig_mpi(body, pos)
        material = (s,)
    elif pk_algo in (PK_DSA, PK_ECDSA, PK_EDDSA_LEGACY, PK_ELGAMAL_SIGN):
        r, pos = _sig_mpi(body, pos)
        s, pos = _sig_mpi(body, pos)
        material = (r, s)
    else:
        mpis = False
        size = {PK_ED25519: 64, PK_ED448: 114}.get(pk_algo, len(body) - pos)
        material = (body[pos : pos + size],)
        pos += size
    if pos != len(body):
        raise PacketError("signature packet has a truncated or oversized signature value")
    return material, mpis


def _parse_v3(body: bytes) -> SigPacket:
    """A v3 signature packet (RFC 4880 section 5.2.2): type and creation time are the
    hashed material, the issuer key id is a plain field, there are no subpackets."""
    if len(body) < 19:
        raise PacketError("v3 signature packet is truncated")
    if body[1] != 5:
        raise PacketError(f"v3 signature's hashed material is {body[1]} octets, not 5")
    sig_type = body[2]
    pk_algo, hash_algo = body[15], body[16]
    material, mpis = _material(body, 19, pk_algo)
    return SigPacket(
        body[0],
        sig_type,
        pk_algo,
        hash_algo,
        body[2:7],
        body[17:19],
        material,
        mpis,
        int.from_bytes(body[3:7], "big"),
        None,
        None,
        body[7:15],
        None,
        None,
        None,
        (),
        (),
        1,
    )


def parse_signature(body: bytes) -> SigPacket:
    """Parse a signature packet body: version 4, or version 3 (RFC 4880)."""
    if not body:
        raise PacketError("signature packet is empty")
    version = body[0]
    if version in (2, 3):  # v2 (RFC 1991) has the v3 format
        return _parse_v3(body)
    if version != 4:
        raise PacketError(
            f"unsupported OpenPGP signature version {version} (v2, v3 and v4 are read)"
        )
    if len(body) < 6:
        raise PacketError("signature packet is truncated")
    sig_type, pk_algo, hash_algo = body[1], body[2], body[3]
    hashed_end = 6 + ((body[4] << 8) | body[5])
    if hashed_end + 2 > len(body):
        raise PacketError("signature hashed subpacket area is truncated")
    unhashed_start = hashed_end + 2
    pos = unhashed_start + ((body[hashed_end] << 8) | body[hashed_end + 1])
    if pos + 2 > len(body):
        raise PacketError("signature unhashed subpacket area is truncated")

    created = expires = key_expires = flags = reason = None
    created_at = -1
    seen_expiry = False
    fpr: bytes | None = None
    keyid: bytes | None = None
    critical: list[int] = []
    embedded: list[SigPacket] = []
    for raw_kind, value, offset in _subpackets(body[6:hashed_end]):
        is_critical = raw_kind & 0x80
        kind = raw_kind & 0x7F
        expected = _FIXED_LENGTHS.get(kind)
        if expected is not None and len(value) != expected:
            raise PacketError(f"signature subpacket {kind} has a malformed length")
        if is_critical and kind not in CRITICAL_OK:
            critical.append(kind)
        if kind == SUB_ISSUER_FPR:
            if not value:
                raise PacketError("issuer fingerprint subpacket is malformed")
            if len(value) == 21 and value[0] == 4:  # other versions cannot name a v4 key
                if fpr is not None and fpr != value[1:]:
                    raise PacketError("signature names two different issuer fingerprints")
                fpr = value[1:]
        elif kind == SUB_CREATED:
            if created is not None:
                raise PacketError("signature has a repeated creation time")
            created = int.from_bytes(value, "big")
            created_at = 6 + offset
        elif kind == SUB_ISSUER:
            if keyid is not None and keyid != value:
                raise PacketError("signature names two different issuer key ids")
            keyid = value
        elif kind == SUB_SIG_EXPIRES:
            if seen_expiry:
                # GnuPG reads the first, a last-wins reader the last: refuse the choice.
                raise PacketError("signature has a repeated expiration time")
            seen_expiry = True
            expires = int.from_bytes(value, "big") or None
        elif kind == SUB_KEY_EXPIRES:
            key_expires = int.from_bytes(value, "big") or None
        elif kind == SUB_KEY_FLAGS:
            flags = value[0] if value else 0
        elif kind == SUB_REVOCATION_REASON:
            reason = value[0] if value else 0
        elif kind == SUB_EMBEDDED_SIGNATURE:
            _embedded(value, embedded)
        elif kind == SUB_NOTATION:
            names = int.from_bytes(value[4:6], "big") + int.from_bytes(value[6:8], "big")
            if len(value) < 8 or 8 + names != len(value):
                raise PacketError("signature notation subpacket is malformed")
            if is_critical:
                critical.append(kind)  # gitguard honours no notation
    # Only the issuer is taken from the unhashed area (it merely selects the key the
    # signature must then verify under), and a signing subkey's back-signature. A
    # critical subpacket gitguard does not know makes the signature invalid here too,
    # as in GnuPG (RFC 9580 section 5.2.3.7 does not limit the rule to one area).
    for raw_kind, value, _ in _subpackets(body[unhashed_start:pos]):
        kind = raw_kind & 0x7F
        if raw_kind & 0x80 and kind not in CRITICAL_OK:
            critical.append(kind)
        if kind == SUB_ISSUER and len(value) == 8 and keyid is None:
            keyid = value
        elif kind == SUB_ISSUER_FPR and len(value) == 21 and value[0] == 4 and fpr is None:
            fpr = value[1:]
        elif kind == SUB_EMBEDDED_SIGNATURE:
            _embedded(value, embedded)
    if fpr is not None and keyid is not None and fpr[-8:] != keyid:
        raise PacketError("signature's issuer key id and issuer fingerprint disagree")

    material, mpis = _material(body, pos + 2, pk_algo)
    return SigPacket(
        version,
        sig_type,
        pk_algo,
        hash_algo,
        body[:hashed_end],
        body[pos : pos + 2],
        material,
        mpis,
        created,
        expires,
        fpr,
        keyid,
        key_expires,
        flags,
        reason,
        tuple(dict.fromkeys(critical)),
        tuple(embedded),
        created_at,
    )


# --- public keys -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyPacket:
    """A parsed v4 public-key (or public-subkey) packet.

    ``material`` is algorithm-specific: ``(n, e)`` for RSA, ``(oid, point)`` for ECDSA,
    legacy EdDSA and ECDH, ``(raw,)`` for Ed25519/Ed448, the group parameters for
    DSA/ElGamal, and ``()`` for algorithms gitguard does not know.
    """

    version: int
    created: int
    pk_algo: int
    fingerprint: bytes
    material: tuple[bytes, ...]

    @property
    def keyid(self) -> bytes:
        return self.fingerprint[-8:]

    @property
    def hex(self) -> str:
        return self.fingerprint.hex().upper()


def parse_public_key(body: bytes) -> KeyPacket:
    """Parse a public-key packet body; only version 4 is accepted."""
    if not body:
        raise PacketError("public-key packet is empty")
    if body[0] != 4:
        raise PacketError(f"unsupported OpenPGP key version {body[0]} (only v4 is accepted)")
    if len(body) < 6:
        raise PacketError("public-key packet is truncated")
    created = int.from_bytes(body[1:5], "big")
    pk_algo = body[5]
    pos = 6
    material: tuple[bytes, ...]
    if pk_algo in (PK_RSA, PK_RSA_ENCRYPT, PK_RSA_SIGN):
        n, pos = _mpi(body, pos)
        e, pos = _mpi(body, pos)
        material = (n, e)
    elif pk_algo in (PK_ECDSA, PK_EDDSA_LEGACY, PK_ECDH):
        if pos >= len(body):
            raise PacketError("public-key curve OID is truncated")
        oid_len = body[pos]
        if oid_len in (0, 0xFF) or pos + 1 + oid_len > len(body):
            raise PacketError("public-key curve OID is malformed")
        oid = body[pos + 1 : pos + 1 + oid_len]
        point, pos = _mpi(body, pos + 1 + oid_len)
        material = (oid, point)
    elif pk_algo == PK_ED25519:
        material = (body[pos : pos + 32],)
        if len(material[0]) != 32:
            raise PacketError("Ed25519 public key is truncated")
    elif pk_algo == PK_ED448:
        material = (body[pos : pos + 57],)
        if len(material[0]) != 57:
            raise PacketError("Ed448 public key is truncated")
    elif pk_algo == PK_DSA:
        p, pos = _mpi(body, pos)
        q, pos = _mpi(body, pos)
        g, pos = _mpi(body, pos)
        y, pos = _mpi(body, pos)
        material = (p, q, g, y)
    elif pk_algo in (PK_ELGAMAL, PK_ELGAMAL_SIGN):
        p, pos = _mpi(body, pos)
        g, pos = _mpi(body, pos)
        y, pos = _mpi(body, pos)
        material = (p, g, y)
    else:
        material = ()
    if len(body) > 0xFFFF:
        raise PacketError("public-key packet is too large for a v4 fingerprint")
    fingerprint = hashlib.sha1(  # noqa: S324 - the v4 fingerprint is defined as SHA-1
        b"\x99" + len(body).to_bytes(2, "big") + body
    ).digest()
    return KeyPacket(4, created, pk_algo, fingerprint, material)
