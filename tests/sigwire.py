"""Signature bytes for the tests, written and read from the specifications (RFC 9580
for OpenPGP, ``PROTOCOL.sshsig`` for SSH) independently of gitguard's own parsers:
OpenPGP packets, subpackets and MPIs, the ASCII armor of both formats (with knobs for
every layout a reader may meet), and the facts a signature packet states.

The differential fuzzer (:mod:`fuzzsig`) builds its mutations from these; the
real-world corpus (:mod:`realworld_corpus`), its sampler and the receive guard's attack
tests read and re-armor signatures with them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

# --------------------------------------------------------------------------- OpenPGP packets


def mpi(value: bytes | int) -> bytes:
    """An OpenPGP MPI with the exact bit count."""
    if isinstance(value, int):
        value = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    value = value.lstrip(b"\0")
    bits = (len(value) - 1) * 8 + value[0].bit_length() if value else 0
    return bits.to_bytes(2, "big") + value


def subpacket(kind: int, value: bytes, *, critical: bool = False, five: bool = False) -> bytes:
    """One signature subpacket; ``five`` uses the (non-minimal) 5-octet length form."""
    body = bytes([kind | (0x80 if critical else 0)]) + value
    n = len(body)
    if five:
        return b"\xff" + n.to_bytes(4, "big") + body
    if n < 192:
        return bytes([n]) + body
    if n < 16320:
        n -= 192
        return bytes([(n >> 8) + 192, n & 0xFF]) + body
    return b"\xff" + n.to_bytes(4, "big") + body


def packet(tag: int, body: bytes, style: str = "new") -> bytes:
    """An OpenPGP packet with header ``style``: ``new`` (minimal new format),
    ``new-5`` (new format, 5-octet length), ``old-1``/``old-2``/``old-4`` (old format
    with that length size), ``old-indeterminate``, ``partial`` (new format partial
    body lengths, then the rest)."""
    n = len(body)
    if style == "new":
        if n < 192:
            return bytes([0xC0 | tag, n]) + body
        if n < 8384:
            m = n - 192
            return bytes([0xC0 | tag, (m >> 8) + 192, m & 0xFF]) + body
        style = "new-5"
    if style == "new-5":
        return bytes([0xC0 | tag, 0xFF]) + n.to_bytes(4, "big") + body
    if style.startswith("old-"):
        size = {"old-1": 1, "old-2": 2, "old-4": 4}.get(style)
        if size == 1 and n > 255:
            size = 2
        if size is None:
            return bytes([0x80 | (tag << 2) | 3]) + body
        length_type = {1: 0, 2: 1, 4: 2}[size]
        return bytes([0x80 | (tag << 2) | length_type]) + n.to_bytes(size, "big") + body
    if style == "partial":
        out = bytes([0xC0 | tag])
        pos = 0
        while n - pos > 32:
            out += bytes([0xE0 + 5]) + body[pos : pos + 32]  # 2**5 octets
            if len(out) > 1 + 33:  # one partial chunk then a final length is enough
                out = out[: 1 + 33]
                pos = 32
                break
            pos += 32
        rest = body[pos:]
        m = len(rest)
        if m < 192:
            return out + bytes([m]) + rest
        m -= 192
        return out + bytes([(m >> 8) + 192, m & 0xFF]) + rest
    raise ValueError(style)


def split_packets(data: bytes) -> list[tuple[int, bytes]]:
    """``(tag, body)`` of each packet (new or old format, no partial lengths)."""
    out: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(data):
        head = data[pos]
        pos += 1
        if head & 0x40:
            tag = head & 0x3F
            first = data[pos]
            if first < 192:
                n, pos = first, pos + 1
            elif first < 224:
                n, pos = ((first - 192) << 8) + data[pos + 1] + 192, pos + 2
            else:
                n, pos = int.from_bytes(data[pos + 1 : pos + 5], "big"), pos + 5
        else:
            tag = (head >> 2) & 0x0F
            size = {0: 1, 1: 2, 2: 4}.get(head & 3)
            if size is None:
                n = len(data) - pos
            else:
                n, pos = int.from_bytes(data[pos : pos + size], "big"), pos + size
        out.append((tag, data[pos : pos + n]))
        pos += n
    return out


# --------------------------------------------------------------------------- armor


def crc24(data: bytes) -> int:
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


@dataclass
class ArmorSpec:
    """How a binary signature is armored: OpenPGP (RFC 9580 section 6) or SSHSIG."""

    label: str = "PGP SIGNATURE"
    end_label: str | None = None
    headers: list[str] = field(default_factory=list)
    blank: bool = True  # the blank line after the BEGIN line / headers (OpenPGP)
    line_len: int = 64
    crc: str = "good"  # good | none | bad | garbage | short | twice
    eol: bytes = b"\n"
    line_suffix: bytes = b""  # appended to every line (trailing whitespace)
    line_prefix: bytes = b""  # prepended to every body line
    blank_in_body: bool = False
    strip_pad: bool = False
    end_on_last_line: bool = False  # the END line glued to the last base64 line


def _base64_lines(data: bytes, spec: ArmorSpec) -> list[bytes]:
    """``data`` in base64, one item per armor line, laid out as ``spec`` says."""
    b64 = base64.b64encode(data)
    if spec.strip_pad:
        b64 = b64.rstrip(b"=")
    step = spec.line_len if spec.line_len > 0 else max(1, len(b64))
    body = [spec.line_prefix + b64[i : i + step] for i in range(0, len(b64), step)]
    if spec.blank_in_body and len(body) > 1:
        body.insert(len(body) // 2, b"")
    return body


def _with_end(lines: list[bytes], spec: ArmorSpec) -> bytes:
    """``lines`` and the END line (or the END glued to the last line), each ended."""
    end = f"-----END {spec.end_label or spec.label}-----".encode()
    if spec.end_on_last_line:
        lines[-1] += end
    else:
        lines.append(end)
    return b"".join(line + spec.line_suffix + spec.eol for line in lines)


def armor_pgp(binary: bytes, spec: ArmorSpec | None = None) -> bytes:
    """OpenPGP ASCII armor (RFC 9580 section 6) laid out as ``spec`` says; by default
    as gpg writes a detached signature."""
    spec = spec or ArmorSpec()
    body = _base64_lines(binary, spec)
    crc = base64.b64encode(crc24(binary).to_bytes(3, "big"))
    crc_lines = {
        "good": [b"=" + crc],
        "none": [],
        "bad": [b"=" + (b"AAAA" if crc != b"AAAA" else b"BBBB")],
        "garbage": [b"=A*A*"],
        "short": [b"=" + crc[:3]],
        "twice": [b"=" + crc, b"=" + crc],
    }[spec.crc]
    lines = [f"-----BEGIN {spec.label}-----".encode()]
    lines += [h.encode() for h in spec.headers]
    if spec.blank:
        lines.append(b"")
    return _with_end(lines + body + crc_lines, spec)


def armor_ssh(blob: bytes, spec: ArmorSpec) -> bytes:
    """The SSHSIG armor (``PROTOCOL.sshsig``) of ``blob``, laid out as ``spec`` says."""
    return _with_end([f"-----BEGIN {spec.label}-----".encode(), *_base64_lines(blob, spec)], spec)


# --------------------------------------------------------------------------- reading


def dearmor(sig: bytes) -> bytes:
    """The bytes an armored signature's base64 lines decode to (armor headers, the
    checksum and what follows the END line left out)."""
    lines = sig.decode("ascii", "replace").splitlines()
    body: list[str] = []
    in_body = False
    for line in lines[1:]:
        if line.startswith("-----END"):
            break
        if not in_body:
            in_body = not line.strip() or ":" not in line
            if in_body and line.strip():
                body.append(line.strip())
            continue
        if line.startswith("="):
            break
        body.append(line.strip())
    return base64.b64decode("".join(body) + "===")


@dataclass(frozen=True)
class PgpFacts:
    """What the first signature packet says, read here (not by gitguard)."""

    version: int
    hash_algo: int
    created: int | None
    issuer: str  # long key id, upper-case hex ("" if none)


def pgp_facts(sig: bytes) -> PgpFacts | None:
    """The facts of an armored OpenPGP signature's first packet; ``None`` when that
    is no signature packet or cannot be read."""
    try:
        data = dearmor(sig)
        ctb = data[0]
        if ctb & 0x40:
            tag = ctb & 0x3F
            off = 2 if data[1] < 192 else 3 if data[1] < 224 else 6
        else:
            tag = (ctb >> 2) & 0x0F
            off = 1 + {0: 1, 1: 2, 2: 4}.get(ctb & 3, 0)
        body = data[off:]
        if tag != 2:
            return None
        if body[0] == 3:  # v3: len5 type time(4) keyid(8) pk hash
            when = int.from_bytes(body[3:7], "big")
            return PgpFacts(3, body[16], when, body[7:15].hex().upper())
        if body[0] != 4:
            return PgpFacts(body[0], 0, None, "")
        hash_algo = body[3]
        created = None
        issuer = ""
        pos = 4
        for _ in range(2):
            length = int.from_bytes(body[pos : pos + 2], "big")
            area = body[pos + 2 : pos + 2 + length]
            pos += 2 + length
            i = 0
            while i < len(area):
                n = area[i]
                if n < 192:
                    hl = 1
                elif n < 255:
                    n = ((n - 192) << 8) + area[i + 1] + 192
                    hl = 2
                else:
                    n = int.from_bytes(area[i + 1 : i + 5], "big")
                    hl = 5
                kind = area[i + hl] & 0x7F
                value = area[i + hl + 1 : i + hl + n]
                if kind == 2 and created is None:
                    created = int.from_bytes(value, "big")
                elif kind == 16 and not issuer:
                    issuer = value.hex().upper()
                elif kind == 33 and len(value) >= 9:
                    issuer = value[-8:].hex().upper()
                i += hl + n
        return PgpFacts(4, hash_algo, created, issuer)
    except (IndexError, ValueError):
        return None
