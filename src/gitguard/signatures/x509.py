"""X.509/CMS signatures: gitsign (Sigstore keyless) and smimesign (S/MIME), verified
in-process and offline.

For each signature (GITSIGN.md §8):

1. parse the CMS SignedData (one signer, detached, signer certificate in the bag);
2. the message-digest attribute must be the digest of the exact payload, and the
   signer's signature must verify over the original signed-attribute bytes re-tagged
   as a SET;
3. Sigstore mode (the leaf is issued by a Fulcio CA of the trusted root): verify the
   embedded Rekor entry when there is one and the policy does not say ``tlog =
   "ignore"`` (:mod:`._rekor`); its integrated time must lie in the certificate's
   window and becomes the verification time (``time_source = "tlog"``), else the
   signing-time attribute (a claim, ``"signing-time"``). A Rekor attribute whose value
   is not an OCTET STRING holding a readable entry is ignored, as any unsigned
   attribute may be: the signature is judged as if it had none, and the reason says
   so. The chain to a Fulcio CA valid at that time, code-signing EKU, embedded SCTs;
   identities are every SAN value, the issuer comes from extension .8 (falling back
   to .1; disagreement fails). ``tlog = "require"`` and no entry: ``unproven-time``.
4. S/MIME mode (a CA bundle is configured): the chain to the bundle at the signing
   time (else the committer/tagger time), the configured EKU, the CRLs; identities
   are the certificate's e-mail addresses.
5. the identities are matched against the trusted signers: no match is
   ``unknown-key`` with git code U (a good signature by someone we do not trust).

Without any X.509 trust configured every well-formed signature stays ``unknown-key``
with git code E, as git reports a signature it cannot check.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gitguard.model import (
    Format,
    SigstoreIdentity,
    Status,
    Verification,
    X509Email,
    X509Trust,
)
from gitguard.signatures import _cms
from gitguard.signatures._x509_chain import (
    ChainError,
    PkiChains,
    SigstoreChains,
    emails,
    extension_map,
    fingerprint,
    oidc_issuer,
    san_values,
    utc,
    validity,
)
from gitguard.signatures._x509_trustroot import load_root

if TYPE_CHECKING:
    from gitguard.signatures import _rekor

_MAX_CERTS: Final = 4096

# Certificate problems ``openssl cms -verify`` also reports (chain, validity,
# revocation); the profile checks (EKU, key usage, SCT, issuer extensions) are ours.
_CHAIN_FAILURES: Final = frozenset(
    {"chain-untrusted", "cert-expired", "cert-not-yet-valid", "revoked", "crl-missing"}
)


@dataclass(frozen=True, slots=True)
class X509Result:
    """Everything one verification found. ``code`` is a stable reason code;
    ``cms_chain_ok`` says whether the CMS signature, the digest and the certificate
    chain (with revocation, in S/MIME mode) held: what ``openssl cms -verify``
    checks. ``None`` when verification did not get that far."""

    status: Status
    code: str
    reason: str
    git_code: str | None = None
    mode: str | None = None
    key: str | None = None
    signer: str | None = None
    identity: str | None = None
    identities: tuple[str, ...] = ()
    issuer: str | None = None
    time: int | None = None
    time_source: str | None = None
    tlog_index: int | None = None
    sct_count: int = 0
    cms_chain_ok: bool | None = None

    def verification(self) -> Verification:
        return Verification(
            format=Format.X509,
            status=self.status,
            reason=self.reason,
            key=self.key,
            signer=self.signer,
            identities=self.identities,
            signed_at=self.time,
            git_code=self.git_code,
            identity=self.identity,
            issuer=self.issuer,
            time_source=self.time_source,
            tlog_index=self.tlog_index,
        )


def _match_sigstore(
    principals: tuple[SigstoreIdentity, ...],
    patterns: dict[str, re.Pattern[str]],
    identities: tuple[str, ...],
    issuer: str | None,
) -> tuple[str, str] | None:
    if issuer is None:
        return None
    for p in principals:
        if p.issuer != issuer:
            continue
        for ident in identities:
            if p.identity is not None and ident == p.identity:
                return p.signer, ident
            if p.identity_regexp is not None and patterns[p.identity_regexp].fullmatch(ident):
                return p.signer, ident
    return None


def _match_email(
    principals: tuple[X509Email, ...], addresses: tuple[str, ...]
) -> tuple[str, str] | None:
    for p in principals:
        want = p.email.casefold()
        for address in addresses:
            if address.casefold() == want:
                return p.signer, address
    return None


class X509Verifier:
    """Verifies X.509 signatures against :class:`~gitguard.model.X509Trust`. Built once
    per process; certificate parsing and chain results are cached."""

    def __init__(self, trust: X509Trust | None = None) -> None:
        self.trust = trust if trust is not None else X509Trust()
        self._certs: OrderedDict[bytes, x509.Certificate] = OrderedDict()
        self._patterns = {
            p.identity_regexp: re.compile(p.identity_regexp)
            for p in self.trust.sigstore
            if p.identity_regexp is not None
        }
        self._sigstore: SigstoreChains | None = None
        if self.trust.sigstore:
            self._sigstore = SigstoreChains(load_root(self.trust.trusted_root))
        self._pki: PkiChains | None = None
        if self.trust.ca_bundle:
            self._pki = PkiChains(self.trust.ca_bundle, self.trust.crls, self.trust.eku)

    def _cert(self, der: bytes) -> x509.Certificate:
        cert = self._certs.get(der)
        if cert is None:
            cert = x509.load_der_x509_certificate(der)
            if len(self._certs) >= _MAX_CERTS:
                self._certs.popitem(last=False)
            self._certs[der] = cert
        return cert

    def verify(self, payload: bytes, signature: bytes, *, when: int | None) -> Verification:
        return self.check(payload, signature, when=when).verification()

    def check(self, payload: bytes, signature: bytes, *, when: int | None) -> X509Result:
        """Verify ``signature`` over ``payload``; never raises for bad input."""
        try:
            msg = _cms.parse(signature)
            cert = self._cert(msg.signer_cert)
        except _cms.CmsError as e:
            return X509Result(Status.MALFORMED, "cms-malformed", str(e))
        except (ValueError, x509.InvalidVersion) as e:  # InvalidVersion: not a ValueError
            return X509Result(
                Status.MALFORMED, "cert-malformed", f"signer certificate cannot be parsed: {e}"
            )
        key = fingerprint(msg.signer_cert)
        try:
            return self._check(msg, cert, key, payload, when)
        except ValueError as e:
            # cryptography parses extensions when they are first read: a damaged one
            # (SAN, SCT list, ...) surfaces here, in whichever check reads it first.
            return X509Result(
                Status.MALFORMED,
                "cert-malformed",
                f"signer certificate cannot be parsed: {e}",
                key=key,
                cms_chain_ok=False,
            )

    def _check(
        self,
        msg: _cms.SignedMessage,
        cert: x509.Certificate,
        key: str,
        payload: bytes,
        when: int | None,
    ) -> X509Result:
        if not self.trust.configured:
            return X509Result(
                Status.UNKNOWN_KEY,
                "no-trust",
                "X.509 signature (gitsign/smimesign), but no X.509 trust is configured "
                "(signers' sigstore or x509 identities)",
                git_code="E",
                key=key,
            )
        try:
            if not _cms.digest_matches(msg, payload):
                return X509Result(
                    Status.BAD_SIGNATURE,
                    "digest-mismatch",
                    "CMS message digest does not match the signed object",
                    key=key,
                    cms_chain_ok=False,
                )
            if not _cms.verify_signature(msg, cert):
                return X509Result(
                    Status.BAD_SIGNATURE,
                    "signature-invalid",
                    "CMS signature does not verify with the signer's certificate",
                    key=key,
                    cms_chain_ok=False,
                )
        except _cms.WeakAlgorithm as e:
            return X509Result(
                Status.WEAK_ALGORITHM, "weak-algorithm", str(e), key=key, cms_chain_ok=False
            )
        except _cms.CmsError as e:
            return X509Result(Status.MALFORMED, "cms-malformed", str(e), key=key)

        if self._sigstore is not None and self._sigstore.is_fulcio(
            cert, msg.signer_cert, msg.signer_issuer
        ):
            return self._check_sigstore(msg, cert, key)
        if self._pki is not None:
            return self._check_pki(msg, cert, key, when)
        issuer = cert.issuer.rfc4514_string() or "(empty name)"
        where = "a Fulcio CA of the trusted root" if self._sigstore else "a CA of the CA bundle"
        return X509Result(
            Status.UNKNOWN_KEY,
            "chain-untrusted",
            f"certificate issued by {issuer} does not chain to {where}",
            git_code="E",
            key=key,
            cms_chain_ok=False,
        )

    # ------------------------------------------------------------------ Sigstore

    def _check_sigstore(
        self, msg: _cms.SignedMessage, cert: x509.Certificate, key: str
    ) -> X509Result:
        assert self._sigstore is not None  # noqa: S101 - only called when configured
        window = validity(cert)
        not_before, not_after = window

        # The time: Rekor's integrated time if an entry proves it, else the claim.
        tlog_error: _rekor.TlogError | None = None
        tlog_index: int | None = None
        ignored: list[str] = []  # unsigned attributes left out, and why
        entries = msg.unsigned_values(_cms.OID_REKOR_ENTRY) if msg.unsigned else ()
        t: int
        source: str
        if msg.signing_time is not None:
            t, source = msg.signing_time, "signing-time"
        else:
            t, source = not_before, "certificate"
        if self.trust.tlog != "ignore":
            ignored.extend(msg.unsigned_skipped)
            if entries:
                proven = self._tlog(msg, cert, entries, ignored)
                if isinstance(proven, tuple):
                    (t, tlog_index), source = proven, "tlog"
                elif proven is not None:
                    tlog_error = proven

        # Each outcome builds its result once, with the fields every outcome shares.
        result = partial(
            X509Result,
            mode="sigstore",
            key=key,
            time=t,
            time_source=source,
            tlog_index=tlog_index,
        )

        if source == "tlog" and not not_before <= t <= not_after:
            return result(
                Status.EXPIRED_KEY if t > not_after else Status.NOT_YET_VALID,
                "tlog-time-outside-cert",
                f"the transparency log recorded the signature at {utc(t)}, outside "
                f"the certificate's validity ({utc(not_before)} to {utc(not_after)})",
                cms_chain_ok=False,
            )
        sct_count = 0
        try:
            sct_count = self._sigstore.verify(cert, msg.signer_cert, t, window)
            exts = extension_map(cert)
            identities = san_values(cert, exts)
            issuer = oidc_issuer(cert, exts)
        except ChainError as e:
            return result(
                e.status,
                e.code,
                str(e),
                cms_chain_ok=e.code not in _CHAIN_FAILURES,
                git_code="E" if e.status is Status.UNKNOWN_KEY else None,
                sct_count=sct_count,
            )
        first = identities[0] if identities else None
        if tlog_error is not None:
            unknown = tlog_error.code == "tlog-unknown-log"
            return result(
                Status.UNKNOWN_KEY if unknown else Status.BAD_SIGNATURE,
                tlog_error.code,
                str(tlog_error),
                cms_chain_ok=True,
                git_code="E" if unknown else None,
                sct_count=sct_count,
                identities=identities,
                identity=first,
                issuer=issuer,
            )
        if issuer is None:
            return result(
                Status.UNKNOWN_KEY,
                "no-issuer",
                "Fulcio certificate names no OIDC issuer",
                cms_chain_ok=True,
                git_code="U",
                sct_count=sct_count,
                identities=identities,
                identity=first,
            )
        match = _match_sigstore(self.trust.sigstore, self._patterns, identities, issuer)
        if match is None:
            shown = ", ".join(identities) or "(none)"
            return result(
                Status.UNKNOWN_KEY,
                "identity-untrusted",
                f"keyless signature by {shown} (issuer {issuer}), which no trusted signer names",
                cms_chain_ok=True,
                git_code="U",
                sct_count=sct_count,
                identities=identities,
                identity=first,
                issuer=issuer,
            )
        signer, identity = match
        why = f" ({'; '.join(ignored)})" if ignored else ""
        if source != "tlog" and self.trust.tlog == "require":
            status = Status.UNPROVEN_TIME
            code = "no-tlog"
            reason = (
                f"keyless signature by {identity} (issuer {issuer}) carries no "
                f"transparency-log entry{why}, and the policy requires one "
                '(tlog = "require")'
            )
        elif source == "tlog":
            status, code = Status.GOOD, "verified"
            reason = (
                f"keyless signature by {identity} (issuer {issuer}), logged {utc(t)} "
                f"(Rekor index {tlog_index})"
            )
        else:
            status, code = Status.GOOD, "valid-unproven-time"
            reason = (
                f"keyless signature by {identity} (issuer {issuer}), signing time claimed "
                f"{utc(t)}, no transparency-log entry{why}"
            )
        return result(
            status,
            code,
            reason,
            cms_chain_ok=True,
            sct_count=sct_count,
            identities=identities,
            identity=identity,
            issuer=issuer,
            signer=signer,
        )

    def _tlog(
        self,
        msg: _cms.SignedMessage,
        cert: x509.Certificate,
        values: tuple[bytes, ...],
        ignored: list[str],
    ) -> tuple[int, int] | _rekor.TlogError | None:
        """The integrated time and log index the embedded Rekor entry proves for this
        signature, or why it does not; ``None`` when no value of the attribute holds a
        readable entry (each such value is named in ``ignored``).

        The attribute is unsigned: a value that is not an OCTET STRING holding a
        decodable ``TransparencyLogEntry`` (an early gitsign build wrote the log ID as a
        PrintableString under the same OID) proves nothing and disproves nothing, so
        the signature is judged as if it were absent. An entry that *does* decode is a
        claim about this signature and must verify."""
        # Imported here: only signatures that carry an entry (gitsign's offline mode)
        # need the Rekor code, and most processes never meet one.
        from gitguard.signatures import _rekor

        assert self._sigstore is not None  # noqa: S101 - only called when configured
        what = f"the unsigned attribute {_cms.OID_REKOR_ENTRY} (Rekor entry) was ignored"
        entries: list[_rekor.LogEntry] = []
        for value in values:
            try:
                entries.append(_rekor.decode_entry(_cms.octet_string(value)))
            except _cms.CmsError as e:
                ignored.append(f"{what}: {e}")
            except _rekor.TlogError as e:
                ignored.append(f"{what}: its value is not a readable entry ({e})")
        if not entries:
            return None
        if len(entries) > 1:
            return _rekor.TlogError("tlog-malformed", "more than one transparency-log entry")
        entry = entries[0]
        try:
            pem = cert.public_bytes(serialization.Encoding.PEM)
            body = _rekor.hashedrekord_body(msg.signed_attrs, msg.signature, pem)
            _rekor.verify_entry(entry, body, self._sigstore.root.tlogs)
        except _rekor.TlogError as e:
            return e
        return entry.integrated_time, entry.log_index

    # ------------------------------------------------------------------ S/MIME

    def _check_pki(
        self, msg: _cms.SignedMessage, cert: x509.Certificate, key: str, when: int | None
    ) -> X509Result:
        assert self._pki is not None  # noqa: S101 - only called when configured
        addresses = emails(cert)
        first = addresses[0] if addresses else None
        if msg.signing_time is not None:
            t, source = msg.signing_time, "signing-time"
        elif when is not None:
            t, source = when, "object-time"
        else:
            return X509Result(
                Status.MALFORMED,
                "no-time",
                "S/MIME signature has no signing time and the object no date",
                mode="pki",
                key=key,
                identities=addresses,
                identity=first,
            )

        result = partial(
            X509Result,
            mode="pki",
            key=key,
            identity=first,
            identities=addresses,
            time=t,
            time_source=source,
        )

        bag = [self._cert(d) for i, d in enumerate(msg.certificates) if i != msg.signer_index]
        what = "signing time" if source == "signing-time" else "commit time"
        try:
            self._pki.verify(cert, msg.signer_cert, bag, t, what)
        except ChainError as e:
            return result(
                e.status,
                e.code,
                str(e),
                cms_chain_ok=e.code not in _CHAIN_FAILURES,
                git_code={Status.UNKNOWN_KEY: "E", Status.NOT_YET_VALID: "B"}.get(e.status),
            )
        match = _match_email(self.trust.emails, addresses)
        if match is None:
            shown = ", ".join(addresses) or "(no e-mail address)"
            return result(
                Status.UNKNOWN_KEY,
                "identity-untrusted",
                f"S/MIME signature by {shown}, which no trusted signer names",
                cms_chain_ok=True,
                git_code="U",
            )
        signer, identity = match
        return result(
            Status.GOOD,
            "verified",
            f"S/MIME signature by {identity}, signed {utc(t)} ({source})",
            cms_chain_ok=True,
            identity=identity,
            signer=signer,
        )
