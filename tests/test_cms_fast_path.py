"""The fast DER reader for gitsign's CMS shape must agree with the asn1crypto parser
on everything it accepts (and hand everything else to it): checked on gitsign's
published vectors and on many mutations of them."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from cmsfixtures import attribute, ber_wrapped, with_unsigned_contents
from gitguard.gitobjects import parse_commit, parse_tag
from gitguard.signatures import _cms

VECTORS = Path(__file__).parent / "data" / "gitsign"
FILES = sorted(p for p in VECTORS.iterdir() if p.suffix in (".commit", ".txt"))


def _signature(path: Path) -> bytes | None:
    data = path.read_bytes()
    if data.startswith(b"object "):
        return parse_tag("0" * 40, data).signature
    return parse_commit("0" * 40, data, "sha1")[0].signature


def _der(path: Path) -> bytes:
    sig = _signature(path)
    assert sig is not None, path
    return _cms.dearmor(sig)


def _slow(der: bytes) -> _cms.SignedMessage | None:
    try:
        return _cms._parse(der)
    except Exception:  # any refusal counts as "not accepted"
        return None


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_fast_path_takes_gitsign_signatures_and_agrees(path: Path) -> None:
    der = _der(path)
    fast = _cms._parse_fast(der)
    assert fast is not None, "gitsign's own shape must take the fast path"
    assert fast == _cms._parse(der)


def test_fast_path_never_accepts_what_the_full_parser_reads_differently() -> None:
    rng = random.Random(20261125)  # noqa: S311 - reproducible mutations, not secrets
    ders = [_der(p) for p in FILES]
    accepted = 0
    for _ in range(3000):
        der = bytearray(rng.choice(ders))
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(der))
            if rng.random() < 0.7:
                der[pos] ^= 1 << rng.randrange(8)
            else:
                del der[pos : pos + rng.randint(1, 4)]
        fast = _cms._parse_fast(bytes(der))
        if fast is None:
            continue
        accepted += 1
        assert fast == _slow(bytes(der))
    assert accepted > 0  # the mutations did reach the fast path


REALWORLD = Path(__file__).parent / "data" / "realworld" / "gitsign"
# Every real X.509-signed object there (the sampled corpus of sigstore/gitsign's
# history, which also holds OpenPGP and SSH signatures, and the odd ones kept for issue
# 10; tests/test_x509.py names the latter).
REAL_FILES = [
    p
    for p in sorted(REALWORLD.glob("*.commit")) + sorted(REALWORLD.glob("*.tag"))
    if (_signature(p) or b"").startswith(_cms.ARMOR_BEGIN)
]
# An early gitsign build's Rekor layout: nine unsigned attributes, oddly typed.
ODD_REAL = ["c47e8bf5c86212dc9b6db0e3ec4df27a978b3d6e.commit"]


@pytest.mark.parametrize("name", ODD_REAL)
def test_fast_path_takes_odd_real_unsigned_attributes(name: str) -> None:
    der = _der(REALWORLD / name)
    fast = _cms._parse_fast(der)
    assert fast is not None
    assert fast == _cms._parse(der)
    assert len(fast.unsigned) == 9
    assert fast.unsigned_skipped == ()


def test_fast_path_agrees_on_real_objects() -> None:
    assert REAL_FILES
    for path in REAL_FILES:
        der = _der(path)
        fast = _cms._parse_fast(der)
        assert fast is None or fast == _cms._parse(der), path.name


def test_ber_wrapped_takes_the_full_parser_with_the_same_result() -> None:
    for path in FILES + REAL_FILES:
        der = _der(path)
        assert _cms._parse_fast(ber_wrapped(der)) is None
        assert _cms.parse(_cms.armor(ber_wrapped(der))) == _cms._parse(der)


@pytest.mark.parametrize("tag", [0x00, 0x05, 0x0C, 0x13, 0x24])
def test_odd_rekor_values_are_kept_raw_by_both_readers(tag: int) -> None:
    """A Rekor value that is not an OCTET STRING (universal tag 0, which asn1crypto
    refuses; NULL; UTF8String; PrintableString; constructed OCTET STRING) is unsigned:
    neither reader refuses the signature over it, both keep the value as it is and
    agree (the verifier then ignores it, tests/test_x509.py)."""
    der = _der(VECTORS / "e2e-offline.commit")
    (value,) = _cms.parse(_cms.armor(der)).unsigned_values(_cms.OID_REKOR_ENTRY)
    assert value[0] == 0x04
    at = der.index(value)
    mutated = der[:at] + bytes([tag]) + der[at + 1 :]
    fast = _cms._parse_fast(mutated)
    slow = _cms._parse(mutated)
    assert fast is not None
    assert fast == slow
    (odd,) = fast.unsigned_values(_cms.OID_REKOR_ENTRY)
    assert odd == bytes([tag]) + value[1:]
    assert _cms.parse(_cms.armor(ber_wrapped(mutated))) == fast
    with pytest.raises(_cms.CmsError, match="not an OCTET STRING"):
        _cms.octet_string(odd)


@pytest.mark.parametrize(
    "contents",
    [
        attribute("1.3.6.1.4.1.99999.1", b"\x05\x00", b"\x02\x01\x07"),  # unknown type
        attribute("1.2.840.113549.1.9.16.2.14", b"\x0c\x02hi"),  # a time-stamp token, odd
        attribute("1.2.840.113549.1.9.6", b"\x02\x01\x01"),  # a counter-signature, odd
        attribute("1.3.6.1.4.1.57264.3.1", b"\x13\x02ab"),  # Rekor entry, PrintableString
        b"\x02\x01\x01",  # not an attribute at all
        attribute("1.3.6.1.4.1.99999.1", b"\x05\x00") + b"\x30\x03\x06\x01\x80",  # bad OID
        b"\x30\x05\x06\x03\x2a\x03",  # truncated: the contents are not DER
    ],
    ids=["unknown", "timestamp", "countersignature", "rekor", "no-attribute", "bad-oid", "ber"],
)
def test_odd_unsigned_attributes_never_refuse_the_signature(contents: bytes) -> None:
    """Whatever the unsigned attributes hold, both readers read the signature (its
    signed part exactly as without them) and agree; what they cannot read is named."""
    der = _der(VECTORS / "git-commit.txt")
    plain = _cms._parse(der)
    assert plain.unsigned == ()
    mutated = with_unsigned_contents(der, contents)
    fast = _cms._parse_fast(mutated)
    slow = _cms._parse(mutated)
    assert fast == slow
    assert _cms.parse(_cms.armor(ber_wrapped(mutated))) == slow
    assert (slow.signed_attrs, slow.signature, slow.signer_cert) == (
        plain.signed_attrs,
        plain.signature,
        plain.signer_cert,
    )
    assert len(slow.unsigned) + len(slow.unsigned_skipped) >= 1
