"""Trust from key files named on the command line (``--allowed-signers``,
``--openpgp-key``), without a policy file or next to one.

Next to a policy (``guard audit --policy P --allowed-signers F``), a key from these
files is attributed as the policy loader attributes its own trust files: a key one of
the policy's signers has belongs to that signer, and the file must name it so; any
other key belongs to a signer of its own (the line's first principal, the
certificate's first e-mail), which may not be the name or an e-mail of a policy
signer. Otherwise ``alice <mallory's key>`` in such a file would make mallory's
commits alice's in the audit, where the server refuses that policy line.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gitguard.errors import PolicyError
from gitguard.model import OpenPGPTrustedCert, SshTrustedKey, TrustStore

if TYPE_CHECKING:
    from gitguard.trust.certificates import CertificateInfo
    from gitguard.trust.policy import Policy


def read_openpgp_certs(
    data: bytes, source: str, *, policy: Policy | None = None
) -> list[OpenPGPTrustedCert]:
    """Split a keyring file into certificates, each a signer named as the policy
    loader names unclaimed certificates (:func:`gitguard.trust.policy.cert_signer_name`),
    or, with ``policy``, the policy's signer that has the certificate (see the module
    docstring)."""
    from gitguard.trust.certificates import read_certificates

    try:
        certs = read_certificates(data)
    except ValueError as e:
        raise PolicyError([f"{source}: {e}"]) from e
    names = _PolicyNames(policy)
    problems: list[str] = []
    out: list[OpenPGPTrustedCert] = []
    for info in certs:
        try:
            out.append(
                OpenPGPTrustedCert(
                    signer=names.cert_signer(info, source), cert=info.data, source=source
                )
            )
        except ValueError as e:
            problems.append(str(e))
    if problems:
        raise PolicyError(problems)
    return out


class _PolicyNames:
    """The names, e-mails and keys of a policy's signers (none without a policy)."""

    def __init__(self, policy: Policy | None) -> None:
        self.source = policy.source if policy is not None else ""
        self.names: set[str] = set()
        self.emails: dict[str, str] = {}
        self.keys: dict[str, str] = {}
        for signer in policy.signers if policy is not None else ():
            self.names.add(signer.name)
            for email in signer.emails:
                if email:
                    self.emails.setdefault(email.casefold(), signer.name)
            for key in signer.keys:
                self.keys.setdefault(key, signer.name)

    def named_by(self, identity: str) -> list[tuple[str, str]]:
        """``(signer, "the name" | "an e-mail")`` for each policy signer ``identity``
        is the name (exact) or an e-mail (case-insensitive) of."""
        found: list[tuple[str, str]] = []
        if identity in self.names:
            found.append((identity, "the name"))
        owner = self.emails.get(identity.casefold())
        if owner is not None and owner != identity:
            found.append((owner, "an e-mail"))
        return found

    def _borrowed(self, identities: Sequence[str], owner: str | None) -> tuple[bool, list[str]]:
        names_owner = False
        problems: list[str] = []
        for identity in dict.fromkeys(i for i in identities if i):
            for signer, how in self.named_by(identity):
                if signer == owner:
                    names_owner = True
                else:
                    problems.append(f'"{identity}" is {how} of signer "{signer}"')
        return names_owner, problems

    def ssh_signer(self, key: SshTrustedKey) -> str:
        import base64

        from gitguard.trust.sshkeys import fingerprint

        fpr = fingerprint(key.key_blob)
        owner = self.keys.get(fpr)
        names_owner, borrowed = self._borrowed(key.principals, owner)
        if borrowed:
            text = f"{key.key_type} {base64.b64encode(key.key_blob).decode('ascii')}"
            raise ValueError(
                "\n".join(
                    f"principal {b} of the policy ({self.source}), who does not have this "
                    f"line's key {fpr}: a key file cannot give a key to a policy signer; add "
                    f'"{text}" to that signer\'s keys in the policy if it is theirs, else '
                    "change the principal"
                    for b in borrowed
                )
            )
        if owner is None:
            return key.signer
        if not names_owner:
            raise ValueError(
                f'key {fpr} belongs to signer "{owner}" of the policy ({self.source}); name '
                f'that signer on this line ("{owner}" or one of its e-mails), or remove the line'
            )
        return owner

    def cert_signer(self, info: CertificateInfo, source: str) -> str:
        from gitguard.trust.certificates import cert_signer_name

        owner = self.keys.get(info.fingerprint)
        if owner is not None:
            return owner
        name = cert_signer_name(info)
        _, borrowed = self._borrowed((name, *info.emails), None)
        if borrowed:
            raise ValueError(
                f"{source}: certificate {info.fingerprint} is no policy signer's but its "
                f"user ID {borrowed[0]} of the policy ({self.source}); add "
                f'"openpgp:{info.fingerprint}" to that signer\'s keys in the policy if it is '
                "theirs, else leave the certificate out"
            )
        return name


def load_key_files(
    allowed_signers: Sequence[Path],
    openpgp_keys: Sequence[Path],
    *,
    policy: Policy | None = None,
) -> TrustStore:
    """Read every file, collecting every problem before failing. ``policy``: the
    policy these keys are used next to (see the module docstring)."""
    from gitguard.trust.allowed_signers import load_allowed_signers

    names = _PolicyNames(policy)
    signer_for = names.ssh_signer if policy is not None else None
    problems: list[str] = []
    ssh: list[SshTrustedKey] = []
    pgp: list[OpenPGPTrustedCert] = []
    for path in allowed_signers:
        try:
            ssh.extend(load_allowed_signers(path, signer_for=signer_for))
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
            pgp.extend(read_openpgp_certs(data, str(path), policy=policy))
        except PolicyError as e:
            problems.extend(e.problems)
    if problems:
        raise PolicyError(problems)
    return TrustStore(ssh=tuple(ssh), openpgp=tuple(pgp))
