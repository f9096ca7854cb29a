"""cosign's published private-key test vectors (``tests/data/cosign/``, from sigstore/cosign
``pkg/cosign/keys_test.go``; see the README there): the COSIGN-labelled and the
SIGSTORE-labelled PKCS#8 keys load, the COSIGN-labelled SEC1 key is refused, as
IMAGE-SIGNING.md §5 says.

The real cosign 2.5.0 (``.tools/bin/cosign``) is the oracle: each expectation is
checked against it as well as against gitguard's loader, and the public keys gitguard
derives must be the ones cosign derives (``*.pub``), byte for byte.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from gitguard.images import KeyFileError
from gitguard.images.keys import load_private_key, load_public_key
from registry import ToolRun, image_tool_env, run_tool, tool

DATA = Path(__file__).parent / "data" / "cosign"
PASSWORD = "hello"
LOADS = ("pemcosignkey", "pemsigstorekey")
REFUSED = "pemcosigneckey"


@pytest.fixture(scope="module")
def cosign_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("cosign-vectors")
    env = image_tool_env(home / "base", home / "tools")
    env["COSIGN_PASSWORD"] = PASSWORD
    return env


def cosign_public_key(key: Path, env: dict[str, str]) -> ToolRun:
    return run_tool([tool("cosign"), "public-key", "--key", key], env=env, check=False)


def test_vector_files_are_what_the_readme_says() -> None:
    labels = {
        name: (DATA / f"{name}.key").read_text().splitlines()[0] for name in (*LOADS, REFUSED)
    }
    assert labels == {
        "pemcosignkey": "-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----",
        "pemsigstorekey": "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----",
        "pemcosigneckey": "-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----",
    }


@pytest.mark.parametrize("name", list(LOADS))
def test_pkcs8_vector_loads_and_matches_cosign(name: str, cosign_env: dict[str, str]) -> None:
    pem = (DATA / f"{name}.key").read_bytes()
    expected_pub = (DATA / f"{name}.pub").read_bytes()

    # The oracle: real cosign loads it and derives the recorded public key.
    oracle = cosign_public_key(DATA / f"{name}.key", cosign_env)
    assert oracle.returncode == 0, oracle.describe()
    assert oracle.stdout.encode() == expected_pub

    key = load_private_key(pem, PASSWORD.encode(), source=name)
    assert key.public_key.pem == expected_pub
    assert key.public_key.pem == load_public_key(expected_pub, source=f"{name}.pub").pem

    # A signature made with the loaded key verifies under cosign's public key.
    payload = b'{"critical":{},"optional":null}'
    cosign_pub = load_pem_public_key(expected_pub)
    assert isinstance(cosign_pub, ec.EllipticCurvePublicKey)
    cosign_pub.verify(key.sign(payload), payload, ec.ECDSA(hashes.SHA256()))


def test_sec1_vector_is_refused_like_cosign_refuses_it(cosign_env: dict[str, str]) -> None:
    oracle = cosign_public_key(DATA / f"{REFUSED}.key", cosign_env)
    assert oracle.returncode != 0
    assert "use ParseECPrivateKey instead for this key format" in oracle.stderr

    with pytest.raises(KeyFileError, match="PKCS#8") as info:
        load_private_key((DATA / f"{REFUSED}.key").read_bytes(), PASSWORD.encode(), source=REFUSED)
    assert REFUSED in str(info.value)


@pytest.mark.parametrize("name", [*LOADS, REFUSED])
def test_wrong_password_is_refused(name: str, cosign_env: dict[str, str]) -> None:
    oracle = cosign_public_key(DATA / f"{name}.key", {**cosign_env, "COSIGN_PASSWORD": "nope"})
    assert oracle.returncode != 0
    assert "decrypt" in oracle.stderr

    with pytest.raises(KeyFileError):
        load_private_key((DATA / f"{name}.key").read_bytes(), b"nope", source=name)
