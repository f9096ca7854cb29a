"""Cosign-compatible key pairs: the encrypted private-key format, its parameter and
label variants, PKCS#8-only loading, public keys, signatures, passwords and the
``guard image generate-key-pair`` command. (Real cosign and skopeo load our keys in
tests/test_image_interop.py and tests/test_image_vectors.py.)"""

from __future__ import annotations

import base64
import json
import os
import pty
import re
import select
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from gitguard.cli.main import main
from gitguard.images import KeyFileError
from gitguard.images.keys import (
    COSIGN_LABEL,
    SCRYPT_PARAMS,
    SIGSTORE_LABEL,
    decrypt_private_key,
    encrypt_private_key,
    generate_key_pair,
    load_private_key,
    load_public_key,
    read_private_key,
    read_public_key,
)

VECTORS = Path(__file__).parent / "data" / "cosign"
PEM_BODY = re.compile(r"-----BEGIN ([A-Z ]+)-----\n(.*?)\n-----END \1-----\n", re.S)


def _document(pem: bytes) -> tuple[str, dict[str, object], list[str]]:
    m = PEM_BODY.fullmatch(pem.decode())
    assert m is not None, pem
    lines = m.group(2).split("\n")
    return m.group(1), json.loads(base64.b64decode("".join(lines))), lines


def _pem(label: str, doc: object) -> bytes:
    body = base64.b64encode(json.dumps(doc).encode()).decode()
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n".encode()


def _pkcs8(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey,
) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


# --- the format we write ----------------------------------------------------------------


def test_generated_key_has_cosigns_layout() -> None:
    private, public = generate_key_pair(b"pw")
    label, doc, lines = _document(private)
    assert label == COSIGN_LABEL
    assert all(len(line) == 64 for line in lines[:-1])
    assert 0 < len(lines[-1]) <= 64
    # Go's struct order, compact, []byte as standard base64.
    raw = base64.b64decode("".join(lines))
    assert raw.startswith(b'{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":"')
    assert b" " not in raw
    assert list(doc) == ["kdf", "cipher", "ciphertext"]
    assert doc["cipher"] == {"name": "nacl/secretbox", "nonce": doc["cipher"]["nonce"]}  # type: ignore[index]
    assert len(base64.b64decode(doc["kdf"]["salt"])) == 32  # type: ignore[index]
    assert len(base64.b64decode(doc["cipher"]["nonce"])) == 24
    # P-256 PKCS#8 is 138 bytes; secretbox adds a 16-byte tag.
    assert len(base64.b64decode(doc["ciphertext"])) == 154  # type: ignore[arg-type]
    assert public.startswith(b"-----BEGIN PUBLIC KEY-----\n")
    key = load_private_key(private, b"pw", source="gen")
    assert key.public_key.pem == public
    assert key.key.curve.name == "secp256r1"


@pytest.mark.parametrize("label", [COSIGN_LABEL, SIGSTORE_LABEL])
@pytest.mark.parametrize("n", [p[0] for p in SCRYPT_PARAMS])
def test_every_label_and_parameter_set_round_trips(label: str, n: int) -> None:
    der = _pkcs8(ec.generate_private_key(ec.SECP256R1()))
    pem = encrypt_private_key(der, b"secret", label=label, n=n)
    assert pem.startswith(f"-----BEGIN {label}-----\n".encode())
    assert _document(pem)[1]["kdf"]["params"] == {"N": n, "r": 8, "p": 1}  # type: ignore[index]
    assert decrypt_private_key(pem, b"secret", source="k") == der


def test_empty_password_is_allowed() -> None:
    private, _ = generate_key_pair(b"")
    load_private_key(private, b"", source="k")


# --- cosign's published vectors ------------------------------------------------------------


@pytest.mark.parametrize("name", ["pemcosignkey", "pemsigstorekey"])
def test_cosign_vectors_load_and_derive_cosigns_public_key(name: str) -> None:
    key = read_private_key(VECTORS / f"{name}.key", b"hello")
    assert key.public_key.pem == (VECTORS / f"{name}.pub").read_bytes()
    signature = key.sign(b"payload")
    assert read_public_key(VECTORS / f"{name}.pub").verify(b"payload", signature)


def test_cosign_sec1_vector_is_refused_as_not_pkcs8() -> None:
    path = VECTORS / "pemcosigneckey.key"
    der = decrypt_private_key(path.read_bytes(), b"hello", source=str(path))
    assert len(der) == 121  # the password is right: only the key encoding is wrong
    with pytest.raises(KeyFileError, match=r"pemcosigneckey\.key: the decrypted key is not PKCS#8"):
        read_private_key(path, b"hello")


def test_wrong_password_names_the_file() -> None:
    path = VECTORS / "pemcosignkey.key"
    with pytest.raises(KeyFileError) as e:
        read_private_key(path, b"not hello")
    assert str(e.value) == (
        f"{path}: cannot decrypt the private key: wrong password (or a damaged file)"
    )


# --- hostile and broken files -----------------------------------------------------------------


def _valid_doc() -> dict[str, object]:
    pem = encrypt_private_key(_pkcs8(ec.generate_private_key(ec.SECP256R1())), b"pw")
    return _document(pem)[1]


@pytest.mark.parametrize(
    ("params", "shown"),
    [
        ({"N": 1 << 24, "r": 8, "p": 1}, "N=16777216, r=8, p=1"),  # 16 GiB if scrypt ran
        ({"N": 16384, "r": 8, "p": 1}, "N=16384, r=8, p=1"),
        ({"N": 32768, "r": 16, "p": 1}, "N=32768, r=16, p=1"),
        ({"N": 32768, "r": 8, "p": 64}, "N=32768, r=8, p=64"),
        ({"N": "32768", "r": 8, "p": 1}, "N=32768, r=8, p=1"),
        ({"N": 32768.0, "r": 8, "p": 1}, "N=32768.0, r=8, p=1"),
    ],
)
def test_scrypt_parameters_are_checked_before_scrypt_runs(
    params: dict[str, object], shown: str
) -> None:
    doc = _valid_doc()
    doc["kdf"]["params"] = params  # type: ignore[index]
    start = time.monotonic()
    with pytest.raises(KeyFileError, match=f"k: unsupported scrypt parameters {shown}"):
        decrypt_private_key(_pem(COSIGN_LABEL, doc), b"pw", source="k")
    assert time.monotonic() - start < 5


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["kdf"].update(name="pbkdf2"), "unsupported key derivation 'pbkdf2'"),
        (lambda d: d["cipher"].update(name="aes-gcm"), "unsupported cipher 'aes-gcm'"),
        (lambda d: d["cipher"].update(nonce="AAAA"), "the nonce is 3 bytes, not 24"),
        (lambda d: d["kdf"].update(salt="!!"), r"kdf\.salt is not base64"),
        (lambda d: d.pop("ciphertext"), r"\.ciphertext is missing"),
        (lambda d: d.pop("kdf"), r"not a cosign private key \(no kdf/cipher\)"),
        (
            lambda d: d.update(ciphertext=base64.b64encode(b"x" * 154).decode()),
            "wrong password",
        ),
    ],
)
def test_broken_documents_are_refused_with_a_reason(edit: object, message: str) -> None:
    doc = _valid_doc()
    edit(doc)  # type: ignore[operator]
    with pytest.raises(KeyFileError, match=message):
        decrypt_private_key(_pem(COSIGN_LABEL, doc), b"pw", source="k")


def test_not_pem_and_wrong_labels() -> None:
    with pytest.raises(KeyFileError, match=r"k: not a PEM file"):
        decrypt_private_key(b"hello", b"", source="k")
    plain = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(KeyFileError, match=r'"PRIVATE KEY" is not .*cosign import-key-pair'):
        decrypt_private_key(plain, b"", source="k")
    _, public = generate_key_pair(b"")
    with pytest.raises(KeyFileError, match=r'"PUBLIC KEY" .*signing needs the private key'):
        decrypt_private_key(public, b"", source="k")
    with pytest.raises(KeyFileError, match=r"not base64-encoded JSON"):
        decrypt_private_key(
            f"-----BEGIN {COSIGN_LABEL}-----\nnot json\n-----END {COSIGN_LABEL}-----\n".encode(),
            b"",
            source="k",
        )


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (
            ec.generate_private_key(ec.SECP384R1()),
            "an ECDSA secp384r1 key; gitguard signs with P-256",
        ),
        (
            rsa.generate_private_key(65537, 2048),
            "RSAPrivateKey key; gitguard signs with ECDSA P-256",
        ),
        (ed25519.Ed25519PrivateKey.generate(), "Ed25519PrivateKey key; gitguard signs with ECDSA"),
    ],
)
def test_other_key_types_are_refused_for_signing(key: object, message: str) -> None:
    pem = encrypt_private_key(_pkcs8(key), b"pw")  # type: ignore[arg-type]
    with pytest.raises(KeyFileError, match=message):
        load_private_key(pem, b"pw", source="k")


def test_pkcs1_rsa_plaintext_is_refused() -> None:
    der = rsa.generate_private_key(65537, 2048).private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    with pytest.raises(KeyFileError, match="not PKCS#8"):
        load_private_key(encrypt_private_key(der, b"pw"), b"pw", source="k")


def test_missing_key_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(
        KeyFileError, match=f"cannot read private key {tmp_path}/nope.key: No such file"
    ):
        read_private_key(tmp_path / "nope.key", b"")


# --- public keys and signatures --------------------------------------------------------------


def test_public_key_loading() -> None:
    with pytest.raises(KeyFileError, match=r'"ENCRYPTED COSIGN PRIVATE KEY" is not "PUBLIC KEY"'):
        load_public_key(generate_key_pair(b"")[0], source="k")
    small = rsa.generate_private_key(65537, 1024).public_key()  # noqa: S505 - must be refused
    pem = small.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(KeyFileError, match="RSA key of 1024 bits is too small"):
        load_public_key(pem, source="k")
    pkcs1 = small.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
    with pytest.raises(KeyFileError, match=r'"RSA PUBLIC KEY" is not "PUBLIC KEY"'):
        load_public_key(pkcs1, source="k")
    for curve in (ec.SECP256R1(), ec.SECP384R1(), ec.SECP521R1()):
        private = ec.generate_private_key(curve)
        pub = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        algorithm = {256: hashes.SHA256(), 384: hashes.SHA384(), 521: hashes.SHA512()}[
            curve.key_size
        ]
        sig = private.sign(b"data", ec.ECDSA(algorithm))
        assert load_public_key(pub, source="k").verify(b"data", sig)


def test_signatures_are_strict_der() -> None:
    private, public = generate_key_pair(b"")
    key = load_private_key(private, b"", source="k")
    pub = load_public_key(public, source="p")
    sig = key.sign(b"payload")
    assert pub.verify(b"payload", sig)
    assert not pub.verify(b"payload!", sig)
    r, s = decode_dss_signature(sig)
    assert not pub.verify(b"payload", r.to_bytes(32, "big") + s.to_bytes(32, "big"))  # raw r||s
    assert pub.verify(b"payload", encode_dss_signature(r, s))
    # A non-minimal length encoding of the same (r, s) is BER, not DER.
    body = sig[2:]
    assert not pub.verify(b"payload", b"\x30\x81" + bytes([len(body)]) + body)
    other = load_public_key(generate_key_pair(b"")[1], source="o")
    assert not other.verify(b"payload", sig)


# --- the command ----------------------------------------------------------------------------


def test_generate_key_pair_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.environ["COSIGN_PASSWORD"] = "s3cret"
    prefix = tmp_path / "release"
    assert main(["image", "generate-key-pair", "--output-key-prefix", str(prefix)]) == 0
    key, pub = Path(f"{prefix}.key"), Path(f"{prefix}.pub")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(pub.stat().st_mode) == 0o644
    assert read_private_key(key, b"s3cret").public_key.pem == pub.read_bytes()
    assert "Private key written to" in capsys.readouterr().err
    # Never overwrites.
    assert main(["image", "generate-key-pair", "--output-key-prefix", str(prefix)]) == 1
    assert f"{prefix}.key already exists" in capsys.readouterr().err


def test_generate_key_pair_umask_does_not_widen_the_private_key(tmp_path: Path) -> None:
    os.environ["COSIGN_PASSWORD"] = ""
    old = os.umask(0)
    try:
        assert main(["image", "generate-key-pair", "--output-key-prefix", str(tmp_path / "k")]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "k.key").stat().st_mode) == 0o600


def test_no_password_option_exists(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["image", "sign", "--help"], ["image", "generate-key-pair", "--help"]):
        with pytest.raises(SystemExit):
            main(command)
        assert not re.search(r"--\S*pass", capsys.readouterr().out)


def _run_on_terminal(argv: list[str], answers: list[bytes], cwd: Path) -> tuple[int, str]:
    """Run ``argv`` with a pseudo-terminal as its controlling terminal and stdin,
    typing each answer after a prompt appears."""
    env = {k: v for k, v in os.environ.items() if k != "COSIGN_PASSWORD"}
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.chdir(cwd)
        os.execve(argv[0], argv, env)  # noqa: S606 - our own entry point, argv list
    output = b""
    pending = list(answers)
    deadline = time.monotonic() + 60
    status = None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            output += chunk
            if pending and output.count(b"password") > len(answers) - len(pending):
                os.write(fd, pending.pop(0) + b"\n")
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        raise AssertionError(f"timed out; output so far: {output!r}")
    assert status is not None
    return os.waitstatus_to_exitcode(status), output.decode("utf-8", "replace")


def test_password_prompt_on_a_terminal(tmp_path: Path) -> None:
    guard = str(Path(sys.executable).parent / "guard")
    code, out = _run_on_terminal(
        [guard, "image", "generate-key-pair", "--output-key-prefix", "t"],
        [b"tty-pw", b"tty-pw"],
        tmp_path,
    )
    assert code == 0, out
    assert "Enter password for private key:" in out
    assert "tty-pw" not in out  # not echoed
    read_private_key(tmp_path / "t.key", b"tty-pw")
    code, out = _run_on_terminal(
        [guard, "image", "generate-key-pair", "--output-key-prefix", "u"],
        [b"one", b"two"],
        tmp_path,
    )
    assert code == 1
    assert "the passwords do not match" in out
    assert not (tmp_path / "u.key").exists()


def test_without_password_or_terminal_it_says_how(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "COSIGN_PASSWORD"}
    guard = str(Path(sys.executable).parent / "guard")
    proc = subprocess.run(
        ["setsid", guard, "image", "generate-key-pair", "--output-key-prefix", str(tmp_path / "x")],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert (
        b"no password for the private key: set COSIGN_PASSWORD or run on a terminal" in proc.stderr
    )
