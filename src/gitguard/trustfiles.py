"""Trust from key files named on the command line (``--allowed-signers``,
``--openpgp-key``), without a policy file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gitguard.errors import PolicyError
from gitguard.model import OpenPGPTrustedCert, SshTrustedKey, TrustStore


def read_openpgp_certs(data: bytes, source: str) -> list[OpenPGPTrustedCert]:
    """Split a keyring file into certificates, each a signer named as the policy
    loader names unclaimed certificates (:func:`gitguard.policy.cert_signer_name`)."""
    from gitguard.policy import cert_signer_name, read_certificates

    try:
        certs = read_certificates(data)
    except ValueError as e:
        raise PolicyError([f"{source}: {e}"]) from e
    return [
        OpenPGPTrustedCert(signer=cert_signer_name(info), cert=info.data, source=source)
        for info in certs
    ]


def load_key_files(allowed_signers: Sequence[Path], openpgp_keys: Sequence[Path]) -> TrustStore:
    """Read every file, collecting every problem before failing."""
    from gitguard.allowed_signers import load_allowed_signers

    problems: list[str] = []
    ssh: list[SshTrustedKey] = []
    pgp: list[OpenPGPTrustedCert] = []
    for path in allowed_signers:
        try:
            ssh.extend(load_allowed_signers(path))
        except PolicyError as e:
            problems.extend(e.problems)
        except OSError as e:
            problems.append(f"{path}: cannot read allowed signers file: {e.strerror}")
    for path in openpgp_keys:
        try:
            data = path.read_bytes()
        except OSError as e:
            problems.append(f"{path}: cannot read OpenPGP key file: {e.strerror}")
            continue
        try:
            pgp.extend(read_openpgp_certs(data, str(path)))
        except PolicyError as e:
            problems.extend(e.problems)
    if problems:
        raise PolicyError(problems)
    return TrustStore(ssh=tuple(ssh), openpgp=tuple(pgp))
