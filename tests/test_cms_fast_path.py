"""The fast DER reader for gitsign's CMS shape must agree with the asn1crypto parser
on everything it accepts (and hand everything else to it): checked on gitsign's
published vectors and on many mutations of them."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from gitguard.gitobjects import parse_commit, parse_tag
from gitguard.signatures import _cms

VECTORS = Path(__file__).parent / "data" / "gitsign"
FILES = sorted(p for p in VECTORS.iterdir() if p.suffix in (".commit", ".txt"))


def _der(path: Path) -> bytes:
    data = path.read_bytes()
    if data.startswith(b"object "):
        sig = parse_tag("0" * 40, data).signature
    else:
        sig = parse_commit("0" * 40, data, "sha1")[0].signature
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


@pytest.mark.parametrize("tag", [0x00, 0x05, 0x0C])
def test_fast_path_leaves_odd_rekor_values_to_the_full_parser(tag: int) -> None:
    # A Rekor entry that is not an OCTET STRING: universal tag 0 is refused by
    # asn1crypto, other tags are read by it; either way the fast path must not decide.
    der = _der(VECTORS / "e2e-offline.commit")
    (value,) = _cms.parse(_cms.armor(der)).unsigned_values(_cms.OID_REKOR_ENTRY)
    assert value[0] == 0x04
    at = der.index(value)
    mutated = der[:at] + bytes([tag]) + der[at + 1 :]
    assert _cms._parse_fast(mutated) is None
    slow = _slow(mutated)
    if tag == 0x00:
        assert slow is None
        with pytest.raises(_cms.CmsError):
            _cms.parse(_cms.armor(mutated))
    else:
        assert slow is not None
        assert _cms.parse(_cms.armor(mutated)) == slow
