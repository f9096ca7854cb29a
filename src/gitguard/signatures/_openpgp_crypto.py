"""Public-key primitives for OpenPGP v4 signatures, over well-kept libraries.

RSA (PKCS#1 v1.5 with the DigestInfo of the signature's hash) and ECDSA (NIST P-256,
P-384, P-521, brainpool) go through ``cryptography``/OpenSSL; Ed25519 goes through
libsodium through PyNaCl (about twice as fast as OpenSSL here), with ``cryptography``
as the reference in tests; Ed448 through
``cryptography``. In OpenPGP every algorithm signs the *hash digest* of the data.

A key is loaded once into a :class:`KeyCheck`: a verify function closed over the
loaded public-key object, plus the reason gitguard refuses the key's signatures
whatever they say (DSA, ElGamal, RSA below 2048 bits, unknown curves).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

from gitguard.signatures import _openpgp_packets as pk

__all__ = [
    "HASH_NAMES",
    "WEAK_HASHES",
    "KeyCheck",
    "digest",
    "ed25519_openssl",
    "ed25519_sodium",
    "load_key",
]

HASH_NAMES = {
    1: "MD5",
    2: "SHA-1",
    3: "RIPEMD-160",
    8: "SHA-256",
    9: "SHA-384",
    10: "SHA-512",
    11: "SHA-224",
    12: "SHA3-256",
    14: "SHA3-512",
}
# Refused always, whatever the signature's date: collisions are practical (MD5, SHA-1)
# or the margin is gone (RIPEMD-160). gpg 2.2 still accepts SHA-1 data signatures.
WEAK_HASHES = frozenset({1, 2, 3})

_HASHLIB: dict[int, Callable[[bytes], Any]] = {
    1: hashlib.md5,
    2: hashlib.sha1,
    8: hashlib.sha256,
    9: hashlib.sha384,
    10: hashlib.sha512,
    11: hashlib.sha224,
    12: hashlib.sha3_256,
    14: hashlib.sha3_512,
}
_PREHASHED = {
    1: Prehashed(hashes.MD5()),  # noqa: S303 - verified only to report "weak", never "good"
    2: Prehashed(hashes.SHA1()),  # noqa: S303 - likewise
    8: Prehashed(hashes.SHA256()),
    9: Prehashed(hashes.SHA384()),
    10: Prehashed(hashes.SHA512()),
    11: Prehashed(hashes.SHA224()),
    12: Prehashed(hashes.SHA3_256()),
    14: Prehashed(hashes.SHA3_512()),
}
_ECDSA = {algo: ec.ECDSA(pre) for algo, pre in _PREHASHED.items()}
_PKCS1 = padding.PKCS1v15()

_OID_ED25519 = bytes.fromhex("2B06010401DA470F01")
_CURVES: dict[bytes, tuple[str, ec.EllipticCurve]] = {
    bytes.fromhex("2A8648CE3D030107"): ("P-256", ec.SECP256R1()),
    bytes.fromhex("2B81040022"): ("P-384", ec.SECP384R1()),
    bytes.fromhex("2B81040023"): ("P-521", ec.SECP521R1()),
    bytes.fromhex("2B2403030208010107"): ("brainpoolP256r1", ec.BrainpoolP256R1()),
    bytes.fromhex("2B240303020801010B"): ("brainpoolP384r1", ec.BrainpoolP384R1()),
    bytes.fromhex("2B240303020801010D"): ("brainpoolP512r1", ec.BrainpoolP512R1()),
}

Verify = Callable[[bytes, int, tuple[bytes, ...]], bool]
"""``verify(digest, hash_algo, signature_material) -> bool``."""


def digest(hash_algo: int, data: tuple[bytes, ...]) -> bytes | None:
    """The hash of the concatenated ``data``, or ``None`` for an unsupported hash."""
    ctor = _HASHLIB.get(hash_algo)
    if ctor is None:
        if hash_algo != 3:
            return None
        try:
            h = hashlib.new("ripemd160")
        except ValueError:
            return None
    else:
        h = ctor(data[0])
        data = data[1:]
    for part in data:
        h.update(part)
    result: bytes = h.digest()
    return result


@dataclass(frozen=True, slots=True)
class KeyCheck:
    """A loaded public key: ``verify`` is ``None`` when its signatures cannot be checked
    at all; ``refusal`` says why its signatures are refused even when they verify
    (``weak`` tells whether that is the algorithm policy)."""

    description: str
    verify: Verify | None
    refusal: str | None = None
    weak: bool = False


# --- Ed25519 -------------------------------------------------------------------------


def ed25519_sodium(public: bytes) -> Callable[[bytes, bytes], bool] | None:
    """``verify(signature64, message)`` through libsodium (PyNaCl's bundled copy)."""
    if len(public) != 32:
        return None
    from nacl.bindings import crypto_sign_open
    from nacl.exceptions import BadSignatureError

    def verify(sig: bytes, msg: bytes) -> bool:
        if len(sig) != 64:
            return False
        try:
            crypto_sign_open(sig + msg, public)
        except BadSignatureError:
            return False
        return True

    return verify


def ed25519_openssl(public: bytes) -> Callable[[bytes, bytes], bool]:
    """``verify(signature64, message)`` through cryptography/OpenSSL."""
    key = ed25519.Ed25519PublicKey.from_public_bytes(public)

    def verify(sig: bytes, msg: bytes) -> bool:
        try:
            key.verify(sig, msg)
        except InvalidSignature:
            return False
        return True

    return verify


def _ed25519(public: bytes, legacy: bool) -> Verify:
    raw = ed25519_sodium(public) or ed25519_openssl(public)
    if legacy:
        # Legacy EdDSA (algorithm 22): R and S as MPIs, leading zero bytes stripped.
        def verify(digest: bytes, _hash: int, material: tuple[bytes, ...]) -> bool:
            r, s = material
            if len(r) > 32 or len(s) > 32:
                return False
            return raw(r.rjust(32, b"\0") + s.rjust(32, b"\0"), digest)

    else:

        def verify(digest: bytes, _hash: int, material: tuple[bytes, ...]) -> bool:
            return raw(material[0], digest)

    return verify


# --- the others ----------------------------------------------------------------------


def _rsa(n_bytes: bytes, e_bytes: bytes) -> KeyCheck:
    n = int.from_bytes(n_bytes, "big")
    e = int.from_bytes(e_bytes, "big")
    bits = n.bit_length()
    key = rsa.RSAPublicNumbers(e, n).public_key()
    size = (bits + 7) // 8

    def verify(digest: bytes, hash_algo: int, material: tuple[bytes, ...]) -> bool:
        sig = material[0]
        pre = _PREHASHED.get(hash_algo)
        if pre is None or len(sig) > size:
            return False
        try:
            key.verify(sig.rjust(size, b"\0"), digest, _PKCS1, pre)
        except InvalidSignature:
            return False
        return True

    refusal = None
    if bits < 2048:
        refusal = f"RSA-{bits} key is below the 2048-bit minimum"
    return KeyCheck(f"RSA-{bits}", verify, refusal, weak=refusal is not None)


def _ecdsa(curve_name: str, curve: ec.EllipticCurve, point: bytes) -> KeyCheck:
    key = ec.EllipticCurvePublicKey.from_encoded_point(curve, point)

    def verify(digest: bytes, hash_algo: int, material: tuple[bytes, ...]) -> bool:
        algorithm = _ECDSA.get(hash_algo)
        if algorithm is None:
            return False
        r, s = material
        der = encode_dss_signature(int.from_bytes(r, "big"), int.from_bytes(s, "big"))
        try:
            key.verify(der, digest, algorithm)
        except InvalidSignature:
            return False
        return True

    return KeyCheck(f"ECDSA {curve_name}", verify)


def _ed448(public: bytes) -> KeyCheck:
    key = ed448.Ed448PublicKey.from_public_bytes(public)

    def verify(digest: bytes, _hash: int, material: tuple[bytes, ...]) -> bool:
        try:
            key.verify(material[0], digest)
        except InvalidSignature:
            return False
        return True

    return KeyCheck("Ed448", verify)


def load_key(key: pk.KeyPacket) -> KeyCheck:
    """Load ``key`` for verification; never raises."""
    algo = key.pk_algo
    try:
        if algo in (pk.PK_RSA, pk.PK_RSA_SIGN):
            return _rsa(*key.material)
        if algo == pk.PK_EDDSA_LEGACY:
            oid, point = key.material
            if oid != _OID_ED25519:
                return KeyCheck(
                    "EdDSA", None, f"EdDSA curve OID {oid.hex()} is not supported", True
                )
            if len(point) != 33 or point[0] != 0x40:
                return KeyCheck("Ed25519", None, "Ed25519 public key is malformed")
            return KeyCheck("Ed25519", _ed25519(point[1:], legacy=True))
        if algo == pk.PK_ED25519:
            return KeyCheck("Ed25519", _ed25519(key.material[0], legacy=False))
        if algo == pk.PK_ECDSA:
            oid, point = key.material
            curve = _CURVES.get(oid)
            if curve is None:
                return KeyCheck(
                    "ECDSA", None, f"ECDSA curve OID {oid.hex()} is not supported", True
                )
            return _ecdsa(curve[0], curve[1], point)
        if algo == pk.PK_ED448:
            return _ed448(key.material[0])
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        return KeyCheck(f"algorithm {algo}", None, f"public key cannot be loaded ({exc})")
    if algo == pk.PK_DSA:
        return KeyCheck("DSA", None, "DSA keys are refused by the algorithm policy", True)
    if algo in (pk.PK_ELGAMAL, pk.PK_ELGAMAL_SIGN):
        return KeyCheck("ElGamal", None, "ElGamal keys are refused by the algorithm policy", True)
    if algo in (pk.PK_RSA_ENCRYPT, pk.PK_ECDH, pk.PK_X25519, pk.PK_X448):
        return KeyCheck(f"algorithm {algo}", None, "an encryption-only key cannot sign")
    return KeyCheck(
        f"algorithm {algo}", None, f"public-key algorithm {algo} is not supported", True
    )
