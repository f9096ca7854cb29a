"""Signature verification, one module per format, selected by the armor header.

Every verifier has the same shape::

    verifier = SshVerifier(trust.ssh)              # key parsing happens once, here
    verifier.verify(payload, signature, when=t)    # -> Verification, never raises

``verify`` never raises for bad input: garbage, truncated or oversized signatures
give a ``malformed`` :class:`~gitguard.model.Verification` with a reason. Format
modules are imported lazily so that a hook only pays for the formats it meets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from gitguard.model import Format, Status, TrustStore, TrustWarning, Verification

if TYPE_CHECKING:
    from collections.abc import Callable

ARMOR_OPENPGP = b"-----BEGIN PGP SIGNATURE-----"
ARMOR_SSH = b"-----BEGIN SSH SIGNATURE-----"
ARMOR_X509 = b"-----BEGIN SIGNED MESSAGE-----"

# A real signature is a few kilobytes at most (an X.509 chain is the largest); refuse
# to parse anything absurd rather than spend memory and time on it.
MAX_SIGNATURE_BYTES = 256 * 1024


class FormatVerifier(Protocol):
    def verify(self, payload: bytes, signature: bytes, *, when: int | None) -> Verification:
        """Verify ``signature`` over ``payload``; ``when`` is the object's own time
        (committer/tagger), used where git uses it (SSH key validity)."""
        ...


def detect_format(signature: bytes) -> Format | None:
    """The format named by the signature's armor header, or ``None`` if unrecognised.

    The header must come first, as git requires (gpg-interface.c
    ``get_format_by_sig``): git aborts on a signature with anything before it, so
    gitguard does not read past it either."""
    head = signature[:40]
    if head.startswith(ARMOR_OPENPGP):
        return Format.OPENPGP
    if head.startswith(ARMOR_SSH):
        return Format.SSH
    if head.startswith(ARMOR_X509):
        return Format.X509
    return None


class Verifier:
    """Dispatches each signature to the verifier for its format.

    Format verifiers are built on first use from the trust store, so the
    certificate work (parsing, binding signatures) happens once per process.
    """

    def __init__(self, trust: TrustStore) -> None:
        self._trust = trust
        self._verifiers: dict[Format, FormatVerifier] = {}

    def _get(self, fmt: Format) -> FormatVerifier:
        verifier = self._verifiers.get(fmt)
        if verifier is None:
            verifier = _FACTORIES[fmt](self._trust)
            self._verifiers[fmt] = verifier
        return verifier

    def warnings(self) -> list[TrustWarning]:
        """The :class:`~gitguard.model.TrustWarning` of every format verifier built
        so far (see :func:`trust_warnings` for all of them up front)."""
        found: list[TrustWarning] = []
        for verifier in self._verifiers.values():
            found.extend(getattr(verifier, "warnings", ()))
        return found

    def at_time(self, v: Verification, t: int) -> tuple[Status, str, str | None] | None:
        """For a good OpenPGP verdict: ``(status, reason, git code)`` when its key may
        no longer sign at ``t`` (expired or revoked since), else ``None``. The receive
        guard asks this with the push's time: the signature's own time is a claim."""
        if v.format is not Format.OPENPGP or v.key is None:
            return None
        verifier = self._verifiers.get(Format.OPENPGP)
        check = getattr(verifier, "lifetime_at", None)
        if check is None:
            return None
        verdict = check(v.key, v.primary_key, t)
        return None if verdict is None else (verdict.status, verdict.reason, verdict.git_code)

    def prepare(self, signature: bytes) -> None:
        """Build now the verifier that ``signature`` will need (imports, key parsing),
        e.g. while git works on something else."""
        fmt = detect_format(signature)
        if fmt is not None:
            self._get(fmt)

    def verify(self, payload: bytes, signature: bytes, *, when: int | None) -> Verification:
        if len(signature) > MAX_SIGNATURE_BYTES:
            return Verification(
                detect_format(signature),
                Status.MALFORMED,
                f"signature is {len(signature)} bytes, more than the "
                f"{MAX_SIGNATURE_BYTES} bytes any real signature needs",
            )
        fmt = detect_format(signature)
        if fmt is None:
            if signature.startswith(b"-----BEGIN PGP MESSAGE-----"):
                reason = (
                    "signature is an OpenPGP message armor ('PGP MESSAGE'); git writes "
                    "detached signatures ('PGP SIGNATURE'), the only OpenPGP armor "
                    "gitguard accepts"
                )
            else:
                reason = (
                    "signature does not start with a recognised armor header (-----BEGIN "
                    "PGP SIGNATURE-----, SSH SIGNATURE or SIGNED MESSAGE); git cannot "
                    "verify it either"
                )
            return Verification(None, Status.MALFORMED, reason)
        return self._get(fmt).verify(payload, signature, when=when)


def trust_warnings(trust: TrustStore) -> list[TrustWarning]:
    """What the trust store accepts but its key owners should fix (today: OpenPGP
    certificates bound by SHA-1 self-signatures), each once, in trust-store order."""
    if not trust.openpgp:
        return []
    from gitguard.signatures.openpgp import OpenPGPVerifier

    return OpenPGPVerifier(trust.openpgp, sha1_self_signatures=trust.sha1_self_signatures).warnings


def _openpgp(trust: TrustStore) -> FormatVerifier:
    from gitguard.signatures.openpgp import OpenPGPVerifier

    return OpenPGPVerifier(trust.openpgp, sha1_self_signatures=trust.sha1_self_signatures)


def _ssh(trust: TrustStore) -> FormatVerifier:
    from gitguard.signatures.ssh import SshVerifier

    return SshVerifier(trust.ssh)


def _x509(trust: TrustStore) -> FormatVerifier:
    from gitguard.signatures.x509 import X509Verifier

    return X509Verifier(trust.x509)


_FACTORIES: dict[Format, Callable[[TrustStore], FormatVerifier]] = {
    Format.OPENPGP: _openpgp,
    Format.SSH: _ssh,
    Format.X509: _x509,
}
