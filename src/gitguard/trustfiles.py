"""Trust from key files named on the command line (``--allowed-signers``,
``--openpgp-key``), without a policy file."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from gitguard.errors import PolicyError
from gitguard.model import OpenPGPTrustedCert, SshTrustedKey, TrustStore

_EMAIL = re.compile(r"<([^<>\s]+@[^<>\s]+)>")


def read_openpgp_certs(data: bytes, source: str) -> list[OpenPGPTrustedCert]:
    """Split a keyring file into certificates; each becomes a signer named after
    its first user ID's e-mail (or its fingerprint when it has none)."""
    import pysequoia

    try:
        certs = pysequoia.Cert.split_bytes(data)
    except Exception as e:
        first = str(e).split("\n", 1)[0]
        raise PolicyError([f"{source}: not an OpenPGP certificate ({first})"]) from e
    if not certs:
        raise PolicyError([f"{source}: no OpenPGP certificate found"])
    out: list[OpenPGPTrustedCert] = []
    for cert in certs:
        name = cert.fingerprint.upper()
        for uid in cert.user_ids:
            m = _EMAIL.search(str(uid))
            if m:
                name = m.group(1)
                break
        out.append(OpenPGPTrustedCert(signer=name, cert=bytes(cert), source=source))
    return out


def load_key_files(
    allowed_signers: Sequence[Path], openpgp_keys: Sequence[Path]
) -> TrustStore:
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
