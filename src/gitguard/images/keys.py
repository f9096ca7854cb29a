"""Cosign-compatible key pairs: ECDSA P-256, cosign's encrypted private-key format.

Private key file (cosign ``pkg/cosign/keys.go``, go-securesystemslib ``encrypted``)::

    -----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----     (or ENCRYPTED SIGSTORE PRIVATE KEY)
    base64 of {"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":"<b64>"},
               "cipher":{"name":"nacl/secretbox","nonce":"<b64>"},"ciphertext":"<b64>"}
    -----END ENCRYPTED COSIGN PRIVATE KEY-----

The secretbox key is ``scrypt(password, salt, N, r=8, p=1, 32 bytes)``; the plaintext is
a PKCS#8 DER private key (SEC1 and PKCS#1 are refused, as cosign refuses them). Only
the three parameter sets cosign accepts are used, and they are checked *before*
scrypt runs (a hostile file must not make us burn memory). We write the
``ENCRYPTED COSIGN PRIVATE KEY`` label with N=32768, which every cosign and
containers/image (skopeo, podman) version reads; we read both labels and every
accepted N.

Public key file: PEM ``PUBLIC KEY`` (PKIX SubjectPublicKeyInfo), as ``cosign
public-key`` writes it. Signatures: DER ECDSA over SHA-256 of the payload, base64
with padding. Verification also accepts P-384/SHA-384, P-521/SHA-512 and RSA
PKCS#1 v1.5/SHA-256 public keys (cosign can make those); signing needs P-256.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitguard.images import KeyFileError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
    from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

__all__ = [
    "COSIGN_LABEL",
    "SCRYPT_PARAMS",
    "SIGSTORE_LABEL",
    "PublicKey",
    "SigningKey",
    "decrypt_private_key",
    "encrypt_private_key",
    "generate_key_pair",
    "load_private_key",
    "load_public_key",
    "password_from_env_or_terminal",
    "read_private_key",
    "read_public_key",
    "write_key_pair",
]

COSIGN_LABEL = "ENCRYPTED COSIGN PRIVATE KEY"
SIGSTORE_LABEL = "ENCRYPTED SIGSTORE PRIVATE KEY"
_LABELS = (COSIGN_LABEL, SIGSTORE_LABEL)
# (N, r, p) cosign accepts (go-securesystemslib CheckParams); the middle one is its
# default, the first the only one old readers (cosign <= 2.1, skopeo <= 1.13) accept.
SCRYPT_PARAMS = ((32768, 8, 1), (65536, 8, 1), (131072, 8, 1))
_NONCE_SIZE = 24
_SALT_SIZE = 32
_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _pem(label: str, der: bytes) -> bytes:
    body = base64.b64encode(der).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return (f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n").encode()


def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    # scrypt needs 128 * r * N bytes; allow that (128 MiB for N=131072) plus slack.
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=129 * r * n + 1024, dklen=32)


def encrypt_private_key(
    pkcs8_der: bytes, password: bytes, *, label: str = COSIGN_LABEL, n: int = 32768
) -> bytes:
    """Wrap a PKCS#8 DER private key in cosign's encrypted PEM format."""
    from nacl.secret import SecretBox

    if label not in _LABELS:
        raise ValueError(f"unknown PEM label {label!r}")
    if (n, 8, 1) not in SCRYPT_PARAMS:
        raise ValueError(f"scrypt N={n} is not one cosign accepts")
    salt = secrets.token_bytes(_SALT_SIZE)
    nonce = secrets.token_bytes(_NONCE_SIZE)
    box = SecretBox(_scrypt(password, salt, n, 8, 1))
    ciphertext = box.encrypt(pkcs8_der, nonce).ciphertext
    # Go's field order and encoding ([]byte as standard base64), compact.
    doc = (
        f'{{"kdf":{{"name":"scrypt","params":{{"N":{n},"r":8,"p":1}},"salt":"{_b64(salt)}"}},'
        f'"cipher":{{"name":"nacl/secretbox","nonce":"{_b64(nonce)}"}},'
        f'"ciphertext":"{_b64(ciphertext)}"}}'
    )
    return _pem(label, doc.encode("ascii"))


def _pem_blocks(data: bytes) -> list[tuple[str, bytes]]:
    return [(m.group(1).decode("ascii"), m.group(2)) for m in _PEM.finditer(data)]


def _b64_field(doc: dict[str, Any], key: str, where: str, source: str) -> bytes:
    value = doc.get(key)
    if not isinstance(value, str):
        raise KeyFileError(f"{source}: not a cosign private key: {where}.{key} is missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise KeyFileError(
            f"{source}: not a cosign private key: {where}.{key} is not base64"
        ) from None


def decrypt_private_key(pem: bytes, password: bytes, *, source: str) -> bytes:
    """The PKCS#8 DER key inside an encrypted cosign key. ``source`` names the file
    in messages. Raises :class:`~gitguard.images.KeyFileError`."""
    from nacl.exceptions import CryptoError
    from nacl.secret import SecretBox

    blocks = _pem_blocks(pem)
    if not blocks:
        raise KeyFileError(f"{source}: not a PEM file (no -----BEGIN … line)")
    label, body = blocks[0]
    if label not in _LABELS:
        hint = ""
        if "PRIVATE KEY" in label:
            hint = " (a plain private key: wrap it with `cosign import-key-pair --key FILE`)"
        elif label == "PUBLIC KEY":
            hint = " (this is a public key; signing needs the private key)"
        raise KeyFileError(
            f'{source}: PEM label "{label}" is not "{COSIGN_LABEL}" or "{SIGSTORE_LABEL}"{hint}'
        )
    try:
        raw = base64.b64decode(b"".join(body.split()), validate=True)
        doc = json.loads(raw)
    except (binascii.Error, ValueError):
        raise KeyFileError(f"{source}: the PEM body is not base64-encoded JSON") from None
    if not isinstance(doc, dict):
        raise KeyFileError(f"{source}: the PEM body is not a JSON object")
    kdf = doc.get("kdf")
    cipher = doc.get("cipher")
    if not isinstance(kdf, dict) or not isinstance(cipher, dict):
        raise KeyFileError(f"{source}: not a cosign private key (no kdf/cipher)")
    if kdf.get("name") != "scrypt":
        raise KeyFileError(
            f"{source}: unsupported key derivation {kdf.get('name')!r} (want scrypt)"
        )
    if cipher.get("name") != "nacl/secretbox":
        raise KeyFileError(
            f"{source}: unsupported cipher {cipher.get('name')!r} (want nacl/secretbox)"
        )
    params = kdf.get("params")
    if not isinstance(params, dict):
        raise KeyFileError(f"{source}: no scrypt parameters")
    triple = (params.get("N"), params.get("r"), params.get("p"))
    if not all(type(v) is int for v in triple) or triple not in SCRYPT_PARAMS:
        raise KeyFileError(
            f"{source}: unsupported scrypt parameters N={triple[0]}, r={triple[1]}, "
            f"p={triple[2]} (cosign accepts N=32768/65536/131072 with r=8, p=1)"
        )
    n, r, p = (int(v) for v in triple)
    salt = _b64_field(kdf, "salt", "kdf", source)
    nonce = _b64_field(cipher, "nonce", "cipher", source)
    ciphertext = _b64_field(doc, "ciphertext", "", source)
    if len(nonce) != _NONCE_SIZE:
        raise KeyFileError(f"{source}: the nonce is {len(nonce)} bytes, not {_NONCE_SIZE}")
    if not salt:
        raise KeyFileError(f"{source}: empty scrypt salt")
    key = _scrypt(password, salt, n, r, p)
    try:
        return SecretBox(key).decrypt(ciphertext, nonce)
    except CryptoError:
        raise KeyFileError(
            f"{source}: cannot decrypt the private key: wrong password (or a damaged file)"
        ) from None


def _der_header(data: bytes, pos: int) -> tuple[int, int, int]:
    """``(tag, content start, content end)`` of the DER element at ``pos``."""
    if pos + 2 > len(data):
        raise ValueError("truncated")
    tag = data[pos]
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise ValueError("bad length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("truncated")
    return tag, pos, pos + length


def _is_pkcs8(der: bytes) -> bool:
    """PrivateKeyInfo ::= SEQUENCE { INTEGER, SEQUENCE (algorithm), OCTET STRING, … }.
    SEC1 has an OCTET STRING and PKCS#1 an INTEGER where PKCS#8 has the algorithm."""
    try:
        tag, start, end = _der_header(der, 0)
        if tag != 0x30 or end != len(der):
            return False
        tag, _, after_version = _der_header(der, start)
        if tag != 0x02:
            return False
        tag, _, _ = _der_header(der, after_version)
    except ValueError:
        return False
    return tag == 0x30


@dataclass(frozen=True)
class PublicKey:
    """A verification key; ``pem`` is its PKIX ``PUBLIC KEY`` PEM."""

    key: PublicKeyTypes
    pem: bytes
    source: str

    def verify(self, payload: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (DER ECDSA, or RSA PKCS#1 v1.5) verifies over ``payload``."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

        try:
            if isinstance(self.key, ec.EllipticCurvePublicKey):
                algorithm: hashes.HashAlgorithm = {
                    "secp256r1": hashes.SHA256(),
                    "secp384r1": hashes.SHA384(),
                    "secp521r1": hashes.SHA512(),
                }[self.key.curve.name]
                # OpenSSL re-encodes the parsed signature and refuses non-DER input,
                # as Go's ecdsa.VerifyASN1 does; raw r||s does not parse at all.
                self.key.verify(signature, payload, ec.ECDSA(algorithm))
            elif isinstance(self.key, rsa.RSAPublicKey):
                self.key.verify(signature, payload, padding.PKCS1v15(), hashes.SHA256())
            else:  # pragma: no cover - refused by load_public_key
                return False
        except InvalidSignature:
            return False
        return True

    @property
    def fingerprint(self) -> str:
        """``SHA256:`` of the DER SubjectPublicKeyInfo, base64 (cosign's key hint form)."""
        from cryptography.hazmat.primitives import serialization

        der = self.key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return "SHA256:" + _b64(hashlib.sha256(der).digest())


@dataclass(frozen=True)
class SigningKey:
    """A decrypted ECDSA P-256 private key."""

    key: EllipticCurvePrivateKey
    source: str

    def sign(self, payload: bytes) -> bytes:
        """DER ECDSA-P256 signature over SHA-256(payload)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        return self.key.sign(payload, ec.ECDSA(hashes.SHA256()))

    @property
    def public_key(self) -> PublicKey:
        from cryptography.hazmat.primitives import serialization

        pub = self.key.public_key()
        pem = pub.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return PublicKey(pub, pem, f"public key of {self.source}")


def load_private_key(pem: bytes, password: bytes, *, source: str) -> SigningKey:
    """Decrypt and load a cosign private key for signing (ECDSA P-256 only)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    der = decrypt_private_key(pem, password, source=source)
    if not _is_pkcs8(der):
        raise KeyFileError(
            f"{source}: the decrypted key is not PKCS#8 (an SEC1 or PKCS#1 key, which "
            "cosign refuses too; re-create it with `guard image generate-key-pair` or "
            "`cosign generate-key-pair`)"
        )
    try:
        key = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError) as e:
        raise KeyFileError(f"{source}: the decrypted key does not parse: {e}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise KeyFileError(
            f"{source}: a {type(key).__name__.removeprefix('_')} key; gitguard signs with "
            "ECDSA P-256 keys only"
        )
    if key.curve.name != "secp256r1":
        raise KeyFileError(
            f"{source}: an ECDSA {key.curve.name} key; gitguard signs with P-256 only"
        )
    return SigningKey(key, source)


def load_public_key(pem: bytes, *, source: str) -> PublicKey:
    """Load a PKIX ``PUBLIC KEY`` PEM (ECDSA P-256/384/521 or RSA >= 2048 bits)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    blocks = _pem_blocks(pem)
    if not blocks:
        raise KeyFileError(f"{source}: not a PEM file (no -----BEGIN … line)")
    label, body = blocks[0]
    if label != "PUBLIC KEY":
        hint = " (verification needs the public key: cosign.pub)" if "PRIVATE" in label else ""
        raise KeyFileError(f'{source}: PEM label "{label}" is not "PUBLIC KEY"{hint}')
    try:
        der = base64.b64decode(b"".join(body.split()), validate=True)
        key = serialization.load_der_public_key(der)
    except (binascii.Error, ValueError) as e:
        raise KeyFileError(f"{source}: not a valid public key: {e}") from None
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in ("secp256r1", "secp384r1", "secp521r1"):
            raise KeyFileError(f"{source}: ECDSA curve {key.curve.name} is not supported")
    elif isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise KeyFileError(f"{source}: RSA key of {key.key_size} bits is too small")
    else:
        raise KeyFileError(
            f"{source}: {type(key).__name__.removeprefix('_')} keys are not supported "
            "(ECDSA P-256/384/521 or RSA)"
        )
    canonical = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return PublicKey(key, canonical, source)


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise KeyFileError(f"cannot read {what} {path}: {e.strerror or e}") from None


def read_private_key(path: Path, password: bytes) -> SigningKey:
    """Load the encrypted private key file at ``path``."""
    return load_private_key(_read(path, "private key"), password, source=str(path))


def read_public_key(path: Path) -> PublicKey:
    """Load the public key file at ``path``."""
    return load_public_key(_read(path, "public key"), source=str(path))


def generate_key_pair(
    password: bytes, *, label: str = COSIGN_LABEL, n: int = 32768
) -> tuple[bytes, bytes]:
    """A new P-256 key pair: ``(encrypted private key PEM, public key PEM)``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return encrypt_private_key(der, password, label=label, n=n), public


def write_key_pair(prefix: str, password: bytes) -> tuple[Path, Path]:
    """Write ``PREFIX.key`` (mode 0600) and ``PREFIX.pub``; never overwrite a file."""
    private_path = Path(f"{prefix}.key")
    public_path = Path(f"{prefix}.pub")
    for p in (private_path, public_path):
        if p.exists() or p.is_symlink():
            raise KeyFileError(f"{p} already exists; remove it or choose another prefix")
    private_pem, public_pem = generate_key_pair(password)
    written: list[Path] = []
    try:
        for path, data, mode in (
            (private_path, private_pem, 0o600),
            (public_path, public_pem, 0o644),
        ):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
            written.append(path)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(path, mode)  # whatever the umask
    except OSError as e:
        for path in written:
            path.unlink(missing_ok=True)
        raise KeyFileError(f"cannot write {e.filename}: {e.strerror or e}") from None
    return private_path, public_path


def password_from_env_or_terminal(
    *, confirm: bool, env: str = "COSIGN_PASSWORD", purpose: str = "private key"
) -> bytes:
    """The key password: ``$COSIGN_PASSWORD`` when set (even empty, as cosign reads
    it), else a prompt on the terminal (twice when ``confirm``). Never argv."""
    value = os.environ.get(env)
    if value is not None:
        return value.encode("utf-8")
    try:  # getpass would fall back to reading a pipe on stdin: we want a terminal
        with open("/dev/tty", "rb"):
            pass
    except OSError:
        raise KeyFileError(
            f"no password for the {purpose}: set {env} or run on a terminal"
        ) from None
    import getpass

    try:
        first = getpass.getpass(f"Enter password for {purpose}: ")
        if confirm:
            second = getpass.getpass(f"Enter password for {purpose} again: ")
            if first != second:
                raise KeyFileError("the passwords do not match")
    except (EOFError, OSError):
        raise KeyFileError(
            f"no password for the {purpose}: set {env} or run on a terminal"
        ) from None
    return first.encode("utf-8")
