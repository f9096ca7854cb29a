"""Certificate checks for X.509 signatures: the chain (built by cryptography's
RFC 5280 verifier at a time *inside* the certificate's window, never "now"), the
profile (key usage, extended key usage), Fulcio's embedded SCTs, identities and OIDC
issuer, and CRL revocation for S/MIME.

Chain results are cached per leaf certificate together with the time window over
which they hold (the intersection of every validity period involved), so a
certificate that signed many commits is validated once. A leaf's extensions are read
once (:func:`extension_map`) and shared by every check that needs one.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.x509.certificate_transparency import LogEntryType
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID, ObjectIdentifier
from cryptography.x509.verification import (
    ClientVerifier,
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from gitguard.model import Status
from gitguard.signatures._cms import _Shape as _cms_shape
from gitguard.signatures._cms import fast_issuer as _cms_fast_issuer
from gitguard.signatures._x509_trustroot import SigstoreRoot, TimedKey

OID_ISSUER_V1: Final = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
OID_ISSUER_V2: Final = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
OID_USERNAME: Final = ObjectIdentifier("1.3.6.1.4.1.57264.1.7")
ANY_EKU: Final = ObjectIdentifier("2.5.29.37.0")

EKU_OIDS: Final[dict[str, ObjectIdentifier | None]] = {
    "emailProtection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "codeSigning": ExtendedKeyUsageOID.CODE_SIGNING,
    "any": None,
}

_MAX_CACHE: Final = 4096
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MS: Final = timedelta(milliseconds=1)

# A certificate's extensions by OID (cryptography rejects duplicates when parsing).
Extensions = Mapping[ObjectIdentifier, x509.Extension[Any]]
_T = TypeVar("_T", bound=x509.ExtensionType)


class ChainError(Exception):
    """The certificate is not acceptable. ``status`` is the verdict, ``code`` a
    stable reason code, the message the reason."""

    def __init__(self, status: Status, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def utc(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ts(value: datetime) -> int:
    return int(value.timestamp())


def _naive(t: int) -> datetime:
    return datetime.fromtimestamp(t, UTC).replace(tzinfo=None)


def validity(cert: x509.Certificate) -> tuple[int, int]:
    return _ts(cert.not_valid_before_utc), _ts(cert.not_valid_after_utc)


def check_window(
    cert: x509.Certificate, t: int, what: str, window: tuple[int, int] | None = None
) -> None:
    """``t`` must lie in the certificate's validity (bounds inclusive); ``window`` is
    :func:`validity` of ``cert`` when the caller already has it."""
    start, end = validity(cert) if window is None else window
    if t < start:
        raise ChainError(
            Status.NOT_YET_VALID,
            "cert-not-yet-valid",
            f"certificate was not yet valid at {what} {utc(t)} (valid from {utc(start)})",
        )
    if t > end:
        raise ChainError(
            Status.EXPIRED_KEY,
            "cert-expired",
            f"certificate had expired at {what} {utc(t)} (valid until {utc(end)})",
        )


# --------------------------------------------------------------------------- identities


def _utf8_der(value: bytes) -> str | None:
    if len(value) >= 2 and value[0] == 0x0C and value[1] < 0x80 and len(value) == 2 + value[1]:
        try:  # the common short form, read directly
            return value[2:].decode("utf-8")
        except UnicodeDecodeError:
            pass
    from asn1crypto import core

    try:
        text = core.UTF8String.load(value, strict=True).native
    except Exception:  # not DER
        return None
    return text if isinstance(text, str) else None


def extension_map(cert: x509.Certificate) -> Extensions:
    """``cert``'s extensions by OID, read once for all the checks below (the same
    lookup as ``get_extension_for_class``: each known OID parses to its one class)."""
    return {ext.oid: ext for ext in cert.extensions}


def _value(exts: Extensions, oid: ObjectIdentifier, kind: type[_T]) -> _T | None:
    """The value of extension ``oid`` when it is a ``kind`` (what
    ``get_extension_for_class(kind)`` finds), else ``None``."""
    ext = exts.get(oid)
    if ext is None or not isinstance(ext.value, kind):
        return None
    return ext.value


def san_values(cert: x509.Certificate, exts: Extensions | None = None) -> tuple[str, ...]:
    """Every SAN value usable as an identity: e-mail, URI, DNS name, Fulcio username."""
    san = _value(
        extension_map(cert) if exts is None else exts,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        x509.SubjectAlternativeName,
    )
    if san is None:
        return ()
    out: list[str] = []
    for name in san:
        if isinstance(name, x509.RFC822Name | x509.UniformResourceIdentifier | x509.DNSName):
            out.append(name.value)
        elif isinstance(name, x509.OtherName) and name.type_id == OID_USERNAME:
            text = _utf8_der(name.value)
            if text:
                out.append(text)
    return tuple(dict.fromkeys(out))


def emails(cert: x509.Certificate) -> tuple[str, ...]:
    """The certificate's e-mail addresses: SAN rfc822Name, then subject emailAddress."""
    out: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        out.extend(san.get_values_for_type(x509.RFC822Name))
    except x509.ExtensionNotFound:
        pass
    for attr in cert.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS):
        if isinstance(attr.value, str):
            out.append(attr.value)
    return tuple(dict.fromkeys(out))


def oidc_issuer(cert: x509.Certificate, exts: Extensions | None = None) -> str | None:
    """Fulcio's OIDC issuer: extension .8 (DER UTF8String), else .1 (raw bytes). Both
    present and different: the certificate is refused."""
    v1 = v2 = None
    for ext in (extension_map(cert) if exts is None else exts).values():  # in cert order
        if not isinstance(ext.value, x509.UnrecognizedExtension):
            continue
        if ext.oid == OID_ISSUER_V2:
            v2 = _utf8_der(ext.value.value)
            if v2 is None:
                raise ChainError(
                    Status.MALFORMED,
                    "issuer-malformed",
                    "certificate's OIDC issuer extension (1.3.6.1.4.1.57264.1.8) is not a "
                    "DER UTF8String",
                )
        elif ext.oid == OID_ISSUER_V1:
            try:
                v1 = ext.value.value.decode("utf-8")
            except UnicodeDecodeError:
                raise ChainError(
                    Status.MALFORMED,
                    "issuer-malformed",
                    "certificate's OIDC issuer extension (1.3.6.1.4.1.57264.1.1) is not UTF-8",
                ) from None
    if v1 is not None and v2 is not None and v1 != v2:
        raise ChainError(
            Status.MALFORMED,
            "issuer-mismatch",
            f"certificate names two different OIDC issuers ({v2!r} in 57264.1.8, {v1!r} in "
            "57264.1.1)",
        )
    return v2 if v2 is not None else v1


def fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest().upper()


# --------------------------------------------------------------------------- profile


def check_eku(
    cert: x509.Certificate, wanted: str, *, required: bool, exts: Extensions | None = None
) -> None:
    oid = EKU_OIDS[wanted]
    if oid is None:
        return
    eku = _value(
        extension_map(cert) if exts is None else exts,
        ExtensionOID.EXTENDED_KEY_USAGE,
        x509.ExtendedKeyUsage,
    )
    if eku is None:
        if required:
            raise ChainError(
                Status.UNKNOWN_KEY, "eku", f"certificate has no extended key usage ({wanted})"
            )
        return  # RFC 5280: no EKU extension means any purpose
    if oid not in eku and ANY_EKU not in eku:
        raise ChainError(
            Status.UNKNOWN_KEY,
            "eku",
            f"certificate is not for {wanted} (extended key usage: "
            + ", ".join(o.dotted_string for o in eku)
            + ")",
        )


def check_key_usage(
    cert: x509.Certificate, *, non_repudiation_ok: bool, exts: Extensions | None = None
) -> None:
    ku = _value(
        extension_map(cert) if exts is None else exts, ExtensionOID.KEY_USAGE, x509.KeyUsage
    )
    if ku is None:
        return
    if ku.digital_signature or (non_repudiation_ok and ku.content_commitment):
        return
    raise ChainError(Status.UNKNOWN_KEY, "key-usage", "certificate's key usage excludes signing")


@functools.cache
def _extension_policies(ee_san_optional: bool) -> tuple[ExtensionPolicy, ExtensionPolicy]:
    """The CA and end-entity extension policies (immutable; built once per process)."""
    ca = ExtensionPolicy.webpki_defaults_ca().may_be_present(
        x509.ExtendedKeyUsage, Criticality.AGNOSTIC, None
    )
    ee = ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.ExtendedKeyUsage, Criticality.AGNOSTIC, None
    )
    if ee_san_optional:
        ee = ee.may_be_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
    return ca, ee


def _policy_builder(store: Store, t: int, *, ee_san_optional: bool) -> ClientVerifier:
    ca, ee = _extension_policies(ee_san_optional)
    return (
        PolicyBuilder()
        .store(store)
        .time(_naive(t))
        .extension_policies(ca_policy=ca, ee_policy=ee)
        .build_client_verifier()
    )


class _ChainCache:
    """Successful chains per leaf, with the time window over which they hold."""

    def __init__(self) -> None:
        self._ok: dict[bytes, tuple[float, float, tuple[x509.Certificate, ...], int]] = {}

    def get(self, der: bytes, t: int) -> tuple[tuple[x509.Certificate, ...], int] | None:
        """The chain (and the number of valid SCTs) if one was found for this leaf
        that holds at ``t``."""
        hit = self._ok.get(der)
        if hit is not None and hit[0] <= t <= hit[1]:
            return hit[2], hit[3]
        return None

    def put(
        self,
        der: bytes,
        chain: Sequence[x509.Certificate],
        start: float = float("-inf"),
        end: float = float("inf"),
        scts: int = 0,
        *,
        windows: Sequence[tuple[int, int]] | None = None,
    ) -> None:
        """Remember ``chain`` for the leaf ``der`` over ``start..end`` narrowed to the
        validity of every certificate in it (``windows``: those validities, when the
        caller has them)."""
        for nb, na in windows if windows is not None else map(validity, chain):
            start, end = max(start, nb), min(end, na)
        if len(self._ok) >= _MAX_CACHE:
            self._ok.pop(next(iter(self._ok)))
        self._ok[der] = (start, end, tuple(chain), scts)


# --------------------------------------------------------------------------- Sigstore


def _sct_hash(
    sct: x509.certificate_transparency.SignedCertificateTimestamp,
) -> hashes.HashAlgorithm:
    algo = sct.signature_hash_algorithm
    if isinstance(algo, hashes.SHA256 | hashes.SHA384 | hashes.SHA512):
        return algo
    raise ChainError(Status.WEAK_ALGORITHM, "sct-bad", "SCT uses a weak hash")


# ECDSA signature parameters per SCT hash, built once (they hold no state).
_SCT_ECDSA: Final = {
    h.name: ec.ECDSA(h) for h in (hashes.SHA256(), hashes.SHA384(), hashes.SHA512())
}


def issuer_key_hash(issuer: x509.Certificate) -> bytes:
    """SHA-256 of the issuer's DER SubjectPublicKeyInfo (RFC 6962 ``issuer_key_hash``)."""
    return hashlib.sha256(
        issuer.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).digest()


def verify_scts(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    ctlogs: dict[bytes, TimedKey],
    key_hash: bytes | None = None,
    exts: Extensions | None = None,
) -> int:
    """Verify the embedded precertificate SCTs (RFC 6962 §3.2); at least one must come
    from a CT log of the trusted root, valid at its timestamp. Returns how many did."""
    scts = _value(
        extension_map(cert) if exts is None else exts,
        ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS,
        x509.PrecertificateSignedCertificateTimestamps,
    )
    if scts is None:
        raise ChainError(Status.UNKNOWN_KEY, "sct-missing", "certificate has no embedded SCT")
    if key_hash is None:
        key_hash = issuer_key_hash(issuer)
    tbs = cert.tbs_precertificate_bytes
    good = 0
    for sct in scts:
        log = ctlogs.get(sct.log_id)
        if log is None or sct.entry_type != LogEntryType.PRE_CERTIFICATE:
            continue
        ms = (sct.timestamp.replace(tzinfo=UTC) - _EPOCH) // _MS
        if not log.valid_at(ms / 1000):
            continue
        extension_bytes = sct.extension_bytes
        data = b"".join(
            (
                struct.pack(">BBQH", sct.version.value, 0, ms, 1),
                key_hash,
                len(tbs).to_bytes(3, "big"),
                tbs,
                len(extension_bytes).to_bytes(2, "big"),
                extension_bytes,
            )
        )
        key = log.key
        try:
            if isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(sct.signature, data, _SCT_ECDSA[_sct_hash(sct).name])
            elif isinstance(key, rsa.RSAPublicKey):
                key.verify(sct.signature, data, PKCS1v15(), _sct_hash(sct))
            else:
                continue
        except InvalidSignature:
            raise ChainError(
                Status.BAD_SIGNATURE,
                "sct-bad",
                f"SCT from CT log {log.name} does not verify for this certificate",
            ) from None
        good += 1
    if not good:
        raise ChainError(
            Status.UNKNOWN_KEY,
            "sct-missing",
            "certificate has no SCT from a CT log of the trusted root",
        )
    return good


class SigstoreChains:
    """Fulcio chains from a trusted root: CA ``validFor`` windows enforced at the
    verification time, code-signing EKU, digital-signature key usage, SCTs."""

    def __init__(self, root: SigstoreRoot) -> None:
        self.root = root
        self._issuers = {ca.chain[0].subject.public_bytes() for ca in root.cas}
        # Per set of CAs valid at a time: the policy builder with their store and the
        # extension policies set (each commit adds only its verification time).
        self._builders: dict[tuple[int, ...], PolicyBuilder] = {}
        self._cache = _ChainCache()
        # Per CA, computed once: the RFC 6962 issuer key hash of its issuing certificate.
        self._key_hashes = [issuer_key_hash(ca.chain[0]) for ca in root.cas]

    def is_fulcio(
        self, cert: x509.Certificate, der: bytes | None = None, issuer: bytes | None = None
    ) -> bool:
        """Whether ``cert`` (DER ``der``) names a Fulcio CA of the trusted root as its
        issuer. ``issuer``: its raw issuer name as :func:`._cms.fast_issuer` reads
        ``der``, when the caller already has it."""
        if issuer is None and der is not None:
            with contextlib.suppress(_cms_shape):  # the raw name, without building a Name
                issuer = _cms_fast_issuer(der)
        if issuer is not None and issuer in self._issuers:
            return True
        return cert.issuer.public_bytes() in self._issuers

    def _verifier(self, cas: Sequence[int], t: int) -> ClientVerifier:
        """What :func:`_policy_builder` builds for the store of ``cas``."""
        key = tuple(cas)
        builder = self._builders.get(key)
        if builder is None:
            ca, ee = _extension_policies(ee_san_optional=False)
            store = Store([c for i in cas for c in self.root.cas[i].chain])
            builder = PolicyBuilder().store(store).extension_policies(ca_policy=ca, ee_policy=ee)
            self._builders[key] = builder
        return builder.time(_naive(t)).build_client_verifier()

    def _ca_for(self, chain: Sequence[x509.Certificate], cas: Sequence[int]) -> int:
        for i in cas:
            issuer = self.root.cas[i].chain[0]
            if issuer is chain[1] or issuer == chain[1]:  # the store hands back its own
                return i
        return -1  # pragma: no cover - the store only holds these

    def verify(
        self, cert: x509.Certificate, der: bytes, t: int, window: tuple[int, int] | None = None
    ) -> int:
        """Check the Fulcio certificate at time ``t``; return the number of valid
        SCTs. ``window`` is :func:`validity` of ``cert`` when the caller has it.
        Raises :class:`ChainError`."""
        cached = self._cache.get(der, t)
        if cached is not None:
            return cached[1]
        if window is None:
            window = validity(cert)
        check_window(cert, t, "signing time", window)
        cas = [i for i, ca in enumerate(self.root.cas) if ca.valid_at(t)]
        if not cas:
            raise ChainError(
                Status.UNKNOWN_KEY,
                "chain-untrusted",
                f"no Fulcio CA of the trusted root is valid at {utc(t)}",
            )
        verifier = self._verifier(cas, t)
        try:
            chain = verifier.verify(cert, []).chain
        except (VerificationError, ValueError) as e:
            raise ChainError(
                Status.UNKNOWN_KEY,
                "chain-untrusted",
                f"certificate does not chain to a Fulcio CA of the trusted root valid at "
                f"{utc(t)}: {e}",
            ) from None
        exts = extension_map(cert)
        check_key_usage(cert, non_repudiation_ok=False, exts=exts)
        check_eku(cert, "codeSigning", required=True, exts=exts)
        i = self._ca_for(chain, cas)
        key_hash = self._key_hashes[i] if i >= 0 else None
        good = verify_scts(cert, chain[1], self.root.ctlogs, key_hash, exts)
        ca = self.root.cas[i if i >= 0 else cas[0]]
        end = ca.end if ca.end is not None else float("inf")
        windows = [window, *map(validity, chain[1:])]  # chain[0] is cert
        self._cache.put(der, chain, ca.start, end, good, windows=windows)
        return good


# --------------------------------------------------------------------------- S/MIME


@dataclass(frozen=True, slots=True)
class Revoked:
    serial: int
    when: int


class PkiChains:
    """S/MIME-style chains to a CA bundle: self-signed bundle certificates are trust
    anchors, the others (and the certificates in the signature) intermediates; the
    EKU the policy names; revocation by the configured CRLs (the leaf's issuer must
    have one when any CRL is configured, as ``openssl -crl_check`` requires)."""

    def __init__(self, bundle: Sequence[bytes], crls: Sequence[bytes], eku: str) -> None:
        anchors: list[x509.Certificate] = []
        self.intermediates: list[x509.Certificate] = []
        for der in bundle:
            cert = x509.load_der_x509_certificate(der)
            if cert.issuer == cert.subject and _self_signed(cert):
                anchors.append(cert)
            else:
                self.intermediates.append(cert)
        self.store = Store(anchors) if anchors else None
        self.crls = [x509.load_der_x509_crl(d) for d in crls]
        self.eku = eku
        self._cache = _ChainCache()

    def verify(
        self, cert: x509.Certificate, der: bytes, bag: Sequence[x509.Certificate], t: int, what: str
    ) -> tuple[x509.Certificate, ...]:
        cached = self._cache.get(der, t)
        if cached is None:
            check_window(cert, t, what)
            if self.store is None:
                raise ChainError(
                    Status.UNKNOWN_KEY,
                    "chain-untrusted",
                    "the CA bundle holds no self-signed CA certificate",
                )
            verifier = _policy_builder(self.store, t, ee_san_optional=True)
            others = [c for c in bag if c != cert] + self.intermediates
            try:
                chain = tuple(verifier.verify(cert, others).chain)
            except (VerificationError, ValueError) as e:
                raise ChainError(
                    Status.UNKNOWN_KEY,
                    "chain-untrusted",
                    f"certificate does not chain to a CA of the CA bundle at {utc(t)}: {e}",
                ) from None
            check_key_usage(cert, non_repudiation_ok=True)
            check_eku(cert, self.eku, required=False)
            self._cache.put(der, chain)
        else:
            chain = cached[0]
        if self.crls:
            self._check_crl(cert, chain[1])
        return chain

    def _check_crl(self, cert: x509.Certificate, issuer: x509.Certificate) -> None:
        key = issuer.public_key()
        found = False
        for crl in self.crls:
            if crl.issuer != issuer.subject:
                continue
            try:
                if not crl.is_signature_valid(key):  # type: ignore[arg-type]
                    continue
            except (TypeError, ValueError):
                continue
            found = True
            entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
            if entry is not None:
                raise ChainError(
                    Status.REVOKED_KEY,
                    "revoked",
                    f"certificate {cert.serial_number:X} was revoked on "
                    f"{utc(_ts(entry.revocation_date_utc))} "
                    f"(CRL of {issuer.subject.rfc4514_string()})",
                )
        if not found:
            raise ChainError(
                Status.UNKNOWN_KEY,
                "crl-missing",
                f"no CRL from {issuer.subject.rfc4514_string()} among the configured CRLs: "
                "revocation cannot be checked",
            )


def _self_signed(cert: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
