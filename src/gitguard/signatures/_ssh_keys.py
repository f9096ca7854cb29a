"""SSH public keys and their signature primitives, as OpenSSH reads them: the wire
format (strings, mpints), every key type git accepts (Ed25519, RSA, ECDSA, DSA, FIDO
``sk-`` keys, certificates), each loaded once with a ``check(signature, data)``.
The SSHSIG envelope, the trust entries and the verdicts are :mod:`.ssh`'s."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519

from gitguard._digest import sha256
from gitguard.model import Format, Status, Verification
from gitguard.trust.sshkeys import fingerprint

_VERSION: Final = 1  # SSHSIG

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

# OpenSSH refuses RSA keys under 1024 bits and parses none over 16384 bits.
_RSA_OPENSSH_MIN_BITS: Final = 1024
_RSA_MAX_BITS: Final = 16384
_RSA_WEAK_BELOW_BITS: Final = 2048

_u32 = struct.Struct(">I").unpack_from
_VERSION_LEN = struct.Struct(">II").unpack_from
_pack_u32 = struct.Struct(">I").pack


def _sstr(data: bytes) -> bytes:
    """SSH wire ``string``: uint32 length then the bytes."""
    return _pack_u32(len(data)) + data


class _Malformed(Exception):
    """Internal: the signature cannot be parsed; the message is the reason."""


def _take(buf: bytes, off: int, what: str) -> tuple[bytes, int]:
    """Read an SSH ``string`` at ``off``; return it and the offset after it."""
    start = off + 4
    if start > len(buf):
        raise _Malformed(f"{what} is truncated")
    (n,) = _u32(buf, off)
    stop = start + n
    if stop > len(buf):
        raise _Malformed(f"{what} is truncated (its length {n} runs past the end)")
    return buf[start:stop], stop


def _mpint(buf: bytes, off: int, what: str) -> tuple[int, int]:
    """Read an SSH ``mpint`` that must not be negative."""
    raw, off = _take(buf, off, what)
    if raw and raw[0] & 0x80:
        raise _Malformed(f"{what} is negative")
    return int.from_bytes(raw, "big"), off


def _end(buf: bytes, off: int, what: str) -> None:
    if off != len(buf):
        raise _Malformed(f"{len(buf) - off} unexpected byte(s) after {what}")


def _parse_blob(blob: bytes) -> None:
    """Walk an SSHSIG blob field by field, raising _Malformed with the first problem."""
    if len(blob) < 10:
        raise _Malformed("SSH signature blob is truncated before its version")
    (version,) = _u32(blob, 6)
    if version != _VERSION:
        raise _Malformed(f"SSH signature version {version} is not supported (only 1)")
    off = 10
    for what in ("public key", "namespace", "reserved field", "hash algorithm", "data"):
        _field, off = _take(blob, off, f"SSH signature {what}")
    _end(blob, off, "the SSH signature blob")


def _ascii(raw: bytes) -> str:
    return raw.decode("ascii", "backslashreplace")


# (status, note): status None means the signature verified and nothing is wrong with
# it; the note is extra information for the reason text.
_Result = tuple[Status | None, str]
_OK: Final[_Result] = (None, "")
_BAD: Final[_Result] = (Status.BAD_SIGNATURE, "")


class _Key:
    """A parsed, cached public key that can check one SSH signature blob."""

    __slots__ = (
        "bad",
        "certificate",
        "fingerprint",
        "git_refuses",
        "key_type",
        "verdicts",
        "weak",
    )

    def __init__(self, key_type: str, blob: bytes) -> None:
        self.key_type = key_type
        self.fingerprint = fp = fingerprint(blob)
        # Why this key is too weak to trust, and whether ssh-keygen refuses it outright.
        self.weak: str | None = None
        self.git_refuses = False
        # Set when the signature carried an SSH certificate for this key: describes it.
        self.certificate: str | None = None
        # Verdicts that do not depend on the payload, built once (see SshVerifier._verdict).
        self.verdicts: dict[tuple[Status, str, int, str, str | None, bool], Verification] = {}
        self.bad = Verification(
            Format.SSH,
            Status.BAD_SIGNATURE,
            f"{key_type} signature by {fp} does not verify over the signed bytes",
            key=fp,
            git_code="B",
        )

    def check(self, sig: bytes, data: bytes) -> _Result:
        raise NotImplementedError

    def _sig_type(self, sig: bytes, expected: bytes) -> int:
        sigtype, off = _take(sig, 0, "signature type")
        if sigtype != expected:
            raise _Malformed(
                f"signature type {_ascii(sigtype)!r} does not match key type {self.key_type}"
            )
        return off


def _load_sodium() -> Callable[[bytes, bytes], bool] | None:
    """libsodium's Ed25519 check through PyNaCl, if it is installed (a speed-up):
    ``verify(signature + message, public_key)``.

    PyNaCl's public ``nacl.bindings`` imports every binding it has (≈6 ms, paid by
    every push); its compiled cffi module ``nacl._sodium`` alone costs ≈0.6 ms and is
    called here exactly as ``nacl.bindings.crypto_sign_open`` calls it. Should a PyNaCl
    release rename that module, ``nacl.bindings`` is used instead."""
    try:
        from nacl._sodium import ffi, lib  # type: ignore[import-not-found]

        if lib.sodium_init() < 0:
            return None
        sign_open = lib.crypto_sign_open
        new = ffi.new

        def verify(signed: bytes, pk: bytes) -> bool:
            out = new("unsigned char[]", len(signed))
            out_len = new("unsigned long long *")
            return bool(sign_open(out, out_len, signed, len(signed), pk) == 0)

        return verify
    except (ImportError, AttributeError):
        pass
    try:
        from nacl.bindings import crypto_sign_open
        from nacl.exceptions import BadSignatureError
    except ImportError:
        return None

    def verify_bindings(signed: bytes, pk: bytes) -> bool:
        try:
            crypto_sign_open(signed, pk)
        except BadSignatureError:
            return False
        return True

    return verify_bindings


# Ed25519 is the usual git signing key and its verification dominates the hot path:
# libsodium verifies it 2.5 times as fast as OpenSSL here (≈70 µs against ≈175 µs).
# Both accept every signature OpenSSH makes; they differ only on contrived inputs
# (libsodium also refuses small-order keys and R values).
_SODIUM = _load_sodium()
ED25519_BACKENDS: Final[tuple[str, ...]] = (
    ("sodium", "cryptography") if _SODIUM is not None else ("cryptography",)
)
ed25519_backend = ED25519_BACKENDS[0]  # read when a key is loaded


def _ed25519_verifier(pk: bytes) -> Callable[[bytes, bytes], bool]:
    """A function telling whether a 64-byte signature verifies over a message."""
    key = ed25519.Ed25519PublicKey.from_public_bytes(pk)
    if ed25519_backend == "sodium" and _SODIUM is not None:
        sodium_verify = _SODIUM

        def verify_sodium(sig: bytes, message: bytes) -> bool:
            return sodium_verify(sig + message, pk)

        return verify_sodium

    def verify_openssl(sig: bytes, message: bytes) -> bool:
        try:
            key.verify(sig, message)
        except InvalidSignature:
            return False
        return True

    return verify_openssl


_ED25519_SIG_PREFIX: Final = _sstr(b"ssh-ed25519") + _pack_u32(64)


class _Ed25519Key(_Key):
    __slots__ = ("_verify",)

    def __init__(self, blob: bytes, pk: bytes) -> None:
        super().__init__("ssh-ed25519", blob)
        self._verify = _ed25519_verifier(pk)

    def check(self, sig: bytes, data: bytes) -> _Result:
        if len(sig) == 83 and sig.startswith(_ED25519_SIG_PREFIX):  # the only valid shape
            return _OK if self._verify(sig[19:], data) else _BAD
        off = self._sig_type(sig, b"ssh-ed25519")
        raw, off = _take(sig, off, "Ed25519 signature")
        _end(sig, off, "the Ed25519 signature")
        if len(raw) != 64:
            raise _Malformed(f"Ed25519 signature is {len(raw)} bytes, not 64")
        return _OK if self._verify(raw, data) else _BAD


_RSA_SIG_HASHES: Final[dict[bytes, hashes.HashAlgorithm]] = {
    b"rsa-sha2-512": hashes.SHA512(),
    b"rsa-sha2-256": hashes.SHA256(),
    b"ssh-rsa": hashes.SHA1(),  # noqa: S303 - recognised only to report it as weak
}


class _RsaKey(_Key):
    __slots__ = ("_modlen", "_padding", "_pk")

    def __init__(self, blob: bytes, e: int, n: int) -> None:
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        super().__init__("ssh-rsa", blob)
        bits = n.bit_length()
        if bits > _RSA_MAX_BITS:
            raise _Malformed(f"RSA key of {bits} bits is larger than OpenSSH accepts")
        self._padding = padding.PKCS1v15()
        try:
            self._pk = rsa.RSAPublicNumbers(e, n).public_key()
        except (ValueError, UnsupportedAlgorithm) as err:
            raise _Malformed(f"RSA public key is invalid: {err}") from None
        self._modlen = (bits + 7) // 8
        if bits < _RSA_WEAK_BELOW_BITS:
            self.weak = f"RSA key of {bits} bits (less than {_RSA_WEAK_BELOW_BITS})"
            self.git_refuses = bits < _RSA_OPENSSH_MIN_BITS

    def check(self, sig: bytes, data: bytes) -> _Result:
        sigtype, off = _take(sig, 0, "signature type")
        algorithm = _RSA_SIG_HASHES.get(sigtype)
        if algorithm is None:
            raise _Malformed(
                f"signature type {_ascii(sigtype)!r} is not an RSA signature algorithm"
            )
        raw, off = _take(sig, off, "RSA signature")
        _end(sig, off, "the RSA signature")
        if len(raw) > self._modlen:
            raise _Malformed(
                f"RSA signature is {len(raw)} bytes, longer than the {self._modlen}-byte modulus"
            )
        if len(raw) < self._modlen:  # OpenSSH left-pads short signatures
            raw = bytes(self._modlen - len(raw)) + raw
        try:
            self._pk.verify(raw, data, self._padding, algorithm)
        except InvalidSignature:
            return _BAD
        if sigtype == b"ssh-rsa":
            return (
                Status.WEAK_ALGORITHM,
                "signature algorithm ssh-rsa (RSA with SHA-1), which SSHSIG forbids",
            )
        return _OK


# key type -> (curve name in the key blob, cryptography's curve class name, hash).
_CURVES: Final[dict[str, tuple[bytes, str, type[hashes.HashAlgorithm]]]] = {
    "ecdsa-sha2-nistp256": (b"nistp256", "SECP256R1", hashes.SHA256),
    "ecdsa-sha2-nistp384": (b"nistp384", "SECP384R1", hashes.SHA384),
    "ecdsa-sha2-nistp521": (b"nistp521", "SECP521R1", hashes.SHA512),
}


def _load_ec_point(curve_name: str, point: bytes) -> ec.EllipticCurvePublicKey:
    from cryptography.hazmat.primitives.asymmetric import ec

    curve: ec.EllipticCurve = getattr(ec, curve_name)()
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
    except (ValueError, UnsupportedAlgorithm) as err:
        raise _Malformed(f"ECDSA public key point is invalid: {err}") from None


def _dss_der(r: int, s: int) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    return encode_dss_signature(r, s)


def _ecdsa_rs(raw: bytes) -> bytes:
    """The RFC 5656 ``mpint r, mpint s`` pair as the DER that OpenSSL verifies."""
    r, off = _mpint(raw, 0, "ECDSA signature r")
    s, off = _mpint(raw, off, "ECDSA signature s")
    _end(raw, off, "the ECDSA signature s")
    return _dss_der(r, s)


class _EcdsaKey(_Key):
    __slots__ = ("_algorithm", "_pk", "_sigtype")

    def __init__(self, key_type: str, blob: bytes, point: bytes) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        super().__init__(key_type, blob)
        _name, curve_name, hash_class = _CURVES[key_type]
        self._algorithm = ec.ECDSA(hash_class())
        self._pk = _load_ec_point(curve_name, point)
        self._sigtype = key_type.encode()

    def check(self, sig: bytes, data: bytes) -> _Result:
        off = self._sig_type(sig, self._sigtype)
        raw, off = _take(sig, off, "ECDSA signature")
        _end(sig, off, "the ECDSA signature")
        der = _ecdsa_rs(raw)
        try:
            self._pk.verify(der, data, self._algorithm)
        except InvalidSignature:
            return _BAD
        return _OK


def _presence(flags: int) -> _Result:
    if flags & 0x01:
        return _OK
    return (None, f"security key flags 0x{flags:02x}: user presence not asserted")


class _SkEd25519Key(_Key):
    __slots__ = ("_apphash", "_verify")

    def __init__(self, blob: bytes, pk: bytes, application: bytes) -> None:
        super().__init__("sk-ssh-ed25519@openssh.com", blob)
        self._verify = _ed25519_verifier(pk)
        self._apphash = sha256(application)

    def check(self, sig: bytes, data: bytes) -> _Result:
        off = self._sig_type(sig, b"sk-ssh-ed25519@openssh.com")
        raw, off = _take(sig, off, "Ed25519 signature")
        if off + 5 > len(sig):
            raise _Malformed("security key signature lacks its flags and counter")
        flags = sig[off]
        _end(sig, off + 5, "the security key counter")
        if len(raw) != 64:
            raise _Malformed(f"Ed25519 signature is {len(raw)} bytes, not 64")
        # PROTOCOL.u2f: SHA256(application) || flags || counter || SHA256(message)
        message = self._apphash + sig[off : off + 5] + sha256(data)
        if not self._verify(raw, message):
            return _BAD
        return _presence(flags)


_WEBAUTHN: Final = b"webauthn-sk-ecdsa-sha2-nistp256@openssh.com"


class _SkEcdsaKey(_Key):
    __slots__ = ("_algorithm", "_apphash", "_pk")

    def __init__(self, blob: bytes, point: bytes, application: bytes) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        super().__init__("sk-ecdsa-sha2-nistp256@openssh.com", blob)
        self._pk = _load_ec_point("SECP256R1", point)
        self._algorithm = ec.ECDSA(hashes.SHA256())
        self._apphash = sha256(application)

    def check(self, sig: bytes, data: bytes) -> _Result:
        sigtype, off = _take(sig, 0, "signature type")
        if sigtype == _WEBAUTHN:
            raise _Malformed("webauthn security key signatures are not supported yet")
        if sigtype != b"sk-ecdsa-sha2-nistp256@openssh.com":
            raise _Malformed(
                f"signature type {_ascii(sigtype)!r} does not match key type {self.key_type}"
            )
        raw, off = _take(sig, off, "ECDSA signature")
        if off + 5 > len(sig):
            raise _Malformed("security key signature lacks its flags and counter")
        flags = sig[off]
        _end(sig, off + 5, "the security key counter")
        der = _ecdsa_rs(raw)
        # PROTOCOL.u2f: ECDSA-SHA256 over
        # SHA256(application) || flags || counter || extensions (none) || SHA256(message)
        message = self._apphash + sig[off : off + 5] + sha256(data)
        try:
            self._pk.verify(der, message, self._algorithm)
        except InvalidSignature:
            return _BAD
        return _presence(flags)


class _DsaKey(_Key):
    __slots__ = ("_pk",)

    def __init__(self, blob: bytes, p: int, q: int, g: int, y: int) -> None:
        from cryptography.hazmat.primitives.asymmetric import dsa

        super().__init__("ssh-dss", blob)
        try:
            self._pk = dsa.DSAPublicNumbers(y, dsa.DSAParameterNumbers(p, q, g)).public_key()
        except (ValueError, UnsupportedAlgorithm) as err:
            raise _Malformed(f"DSA public key is invalid: {err}") from None
        self.weak = "DSA key (ssh-dss, SHA-1), deprecated by OpenSSH"

    def check(self, sig: bytes, data: bytes) -> _Result:
        off = self._sig_type(sig, b"ssh-dss")
        raw, off = _take(sig, off, "DSA signature")
        _end(sig, off, "the DSA signature")
        if len(raw) != 40:
            raise _Malformed(f"DSA signature is {len(raw)} bytes, not 40")
        der = _dss_der(int.from_bytes(raw[:20], "big"), int.from_bytes(raw[20:], "big"))
        try:
            self._pk.verify(der, data, hashes.SHA1())  # noqa: S303 - DSA is SHA-1 only
        except InvalidSignature:
            return _BAD
        return _OK


# Certificate type -> (plain key type, number of plain public key fields after the nonce)
# (OpenSSH PROTOCOL.certkeys).
_CERT_TYPES: Final = {
    "ssh-ed25519-cert-v01@openssh.com": ("ssh-ed25519", 1),
    "ssh-rsa-cert-v01@openssh.com": ("ssh-rsa", 2),
    "ecdsa-sha2-nistp256-cert-v01@openssh.com": ("ecdsa-sha2-nistp256", 2),
    "ecdsa-sha2-nistp384-cert-v01@openssh.com": ("ecdsa-sha2-nistp384", 2),
    "ecdsa-sha2-nistp521-cert-v01@openssh.com": ("ecdsa-sha2-nistp521", 2),
    "sk-ssh-ed25519-cert-v01@openssh.com": ("sk-ssh-ed25519@openssh.com", 2),
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com": ("sk-ecdsa-sha2-nistp256@openssh.com", 3),
    "ssh-dss-cert-v01@openssh.com": ("ssh-dss", 4),
}


def _load_certificate(blob: bytes, cert_type: str, off: int) -> _Key:
    """The key certified by an OpenSSH certificate, for checking a signature it made.

    The certificate itself (its CA signature, principals, validity) is only described:
    trusting a certificate authority (``cert-authority``) is not supported yet, so such
    a signature can at best be ``unknown-key`` — which is also what git says while the
    allowed-signers file has no ``cert-authority`` line for the CA."""
    plain_type, fields = _CERT_TYPES[cert_type]
    _nonce, off = _take(blob, off, "certificate nonce")
    start = off
    for _ in range(fields):
        _field, off = _take(blob, off, "certified public key")
    plain = _sstr(plain_type.encode()) + blob[start:off]
    if off + 12 > len(blob):
        raise _Malformed("certificate is truncated")
    off += 12  # uint64 serial, uint32 type
    key_id, off = _take(blob, off, "certificate key id")
    _principals, off = _take(blob, off, "certificate principals")
    if off + 16 > len(blob):
        raise _Malformed("certificate is truncated")
    off += 16  # uint64 valid after, uint64 valid before
    for what in ("critical options", "extensions", "reserved field"):
        _field, off = _take(blob, off, f"certificate {what}")
    ca, off = _take(blob, off, "certificate signature key")
    _signature, off = _take(blob, off, "certificate signature")
    _end(blob, off, "the certificate")
    key = _load_key(plain)
    key.certificate = f"SSH certificate {_ascii(key_id)!r} issued by CA key {fingerprint(ca)}"
    return key


def _load_key(blob: bytes) -> _Key:
    """Parse an SSH wire-format public key; raise _Malformed if it is not usable."""
    raw_type, off = _take(blob, 0, "public key type")
    key_type = _ascii(raw_type)
    key: _Key
    if key_type == "ssh-ed25519":
        pk, off = _take(blob, off, "Ed25519 public key")
        _end(blob, off, "the public key")
        if len(pk) != 32:
            raise _Malformed(f"Ed25519 public key is {len(pk)} bytes, not 32")
        key = _Ed25519Key(blob, pk)
    elif key_type == "ssh-rsa":
        e, off = _mpint(blob, off, "RSA public exponent")
        n, off = _mpint(blob, off, "RSA modulus")
        _end(blob, off, "the public key")
        key = _RsaKey(blob, e, n)
    elif key_type in _CURVES:
        curve, off = _take(blob, off, "ECDSA curve name")
        point, off = _take(blob, off, "ECDSA public key point")
        _end(blob, off, "the public key")
        if curve != _CURVES[key_type][0]:
            raise _Malformed(f"{key_type} key names curve {_ascii(curve)!r}")
        key = _EcdsaKey(key_type, blob, point)
    elif key_type == "sk-ssh-ed25519@openssh.com":
        pk, off = _take(blob, off, "Ed25519 public key")
        application, off = _take(blob, off, "security key application")
        _end(blob, off, "the public key")
        if len(pk) != 32:
            raise _Malformed(f"Ed25519 public key is {len(pk)} bytes, not 32")
        key = _SkEd25519Key(blob, pk, application)
    elif key_type == "sk-ecdsa-sha2-nistp256@openssh.com":
        curve, off = _take(blob, off, "ECDSA curve name")
        point, off = _take(blob, off, "ECDSA public key point")
        application, off = _take(blob, off, "security key application")
        _end(blob, off, "the public key")
        if curve != b"nistp256":
            raise _Malformed(f"{key_type} key names curve {_ascii(curve)!r}")
        key = _SkEcdsaKey(blob, point, application)
    elif key_type == "ssh-dss":
        p, off = _mpint(blob, off, "DSA p")
        q, off = _mpint(blob, off, "DSA q")
        g, off = _mpint(blob, off, "DSA g")
        y, off = _mpint(blob, off, "DSA y")
        _end(blob, off, "the public key")
        key = _DsaKey(blob, p, q, g, y)
    elif key_type in _CERT_TYPES:
        key = _load_certificate(blob, key_type, off)
    else:
        raise _Malformed(f"unsupported SSH key type {key_type!r}")
    return key
