"""The shared vocabulary: verdict statuses, signature formats and the value objects
that flow between the layers (git facts -> verification -> verdict).

Everything here is immutable and cheap to pickle: audits move these objects between
worker processes, and verdicts are a stable, serialisable contract (JSON output, and
later verification records stored as git notes).
"""

import enum
from typing import NamedTuple


class Status(enum.Enum):
    """Verdict status. The string values are a stable contract (JSON, messages)."""

    GOOD = "good"
    UNSIGNED = "unsigned"
    BAD_SIGNATURE = "bad-signature"
    UNKNOWN_KEY = "unknown-key"
    NOT_ALLOWED = "not-allowed"
    EXPIRED_KEY = "expired-key"
    REVOKED_KEY = "revoked-key"
    NOT_YET_VALID = "not-yet-valid"
    IDENTITY_MISMATCH = "identity-mismatch"
    WEAK_ALGORITHM = "weak-algorithm"
    UNPROVEN_TIME = "unproven-time"
    MALFORMED = "malformed"


class Format(enum.Enum):
    """Signature format, selected by the armor header."""

    OPENPGP = "openpgp"
    SSH = "ssh"
    X509 = "x509"


class Kind(enum.Enum):
    """What kind of git object carried the signature."""

    COMMIT = "commit"
    TAG = "tag"
    MERGETAG = "mergetag"


class Verification(NamedTuple):
    """What a format verifier concluded about one signature over one payload.

    ``status`` is one of: good, bad-signature, unknown-key, expired-key, revoked-key,
    not-yet-valid, weak-algorithm, unproven-time (X.509), malformed. ``good`` means:
    the signature verifies over the exact payload, by a key in the trust store, and
    that key was valid for this signature. Policy decisions (signer retired, rule
    allows signer, identity match) are made later by :mod:`gitguard.evaluate`.

    ``key`` is the OpenPGP fingerprint (upper-case hex, of the key that made the
    signature; ``primary_key`` is the certificate's primary fingerprint) or the SSH
    ``SHA256:…`` fingerprint. ``signer`` is the trust-store signer name the key
    belongs to (``None`` when the key is unknown). ``identities`` are the e-mail
    addresses / principals the trust store associates with the key. ``signed_at``
    is the signature's own creation-time claim (OpenPGP), ``None`` for SSH.
    ``git_code`` overrides the default mapping from status to git's ``%G?`` letter
    when the format needs it (SSH unknown key is ``U`` in git, OpenPGP ``E``).
    """

    format: Format | None
    status: Status
    reason: str
    key: str | None = None
    primary_key: str | None = None
    signer: str | None = None
    identities: tuple[str, ...] = ()
    signed_at: int | None = None
    git_code: str | None = None
    # X.509 signatures: the identity that matched a trusted signer (else the
    # certificate's first identity), the Sigstore OIDC issuer, where ``signed_at``
    # comes from ("tlog": Rekor's integrated time, "signing-time": the CMS attribute,
    # a claim; "certificate": the certificate's notBefore; "object-time": the
    # committer/tagger time) and the Rekor log index when an entry proved the time.
    identity: str | None = None
    issuer: str | None = None
    time_source: str | None = None
    tlog_index: int | None = None


class SshTrustedKey(NamedTuple):
    """One trusted SSH public key (an allowed_signers line or a policy signer key).

    ``key_blob`` is the SSH wire-format public key (the base64-decoded key field).
    Times are POSIX seconds; ``None`` means unbounded. ``namespaces`` of ``None``
    means every namespace (allowed_signers without a ``namespaces=`` option).
    ``source`` names where it came from (``path:line``) for messages.
    """

    signer: str
    principals: tuple[str, ...]
    key_type: str
    key_blob: bytes
    valid_after: int | None = None
    valid_before: int | None = None
    namespaces: tuple[str, ...] | None = None
    source: str = ""


class OpenPGPTrustedCert(NamedTuple):
    """One trusted OpenPGP certificate (binary or armored bytes, as read).

    ``trusted`` is False for a certificate that is known but not trusted (for example
    a GnuPG keyring key without full validity): its good signatures are reported as
    ``unknown-key`` with git code ``U``, as git does.
    """

    signer: str
    cert: bytes
    source: str = ""
    trusted: bool = True


class SigstoreIdentity(NamedTuple):
    """A keyless (gitsign) signer: a Fulcio certificate identity (any SAN value, exact
    ``identity`` or fully anchored ``identity_regexp``) from the OIDC ``issuer``."""

    signer: str
    issuer: str
    identity: str | None = None
    identity_regexp: str | None = None
    source: str = ""


class X509Email(NamedTuple):
    """An S/MIME signer: a certificate e-mail address (compared case-insensitively)."""

    signer: str
    email: str
    source: str = ""


class X509Trust(NamedTuple):
    """X.509 trust. Sigstore mode is active when ``sigstore`` names identities
    (``trusted_root`` is the trusted_root.json content, ``None`` for the pinned
    public-good copy); S/MIME mode when ``ca_bundle`` holds certificates (DER), with
    optional ``crls`` (DER) and the required extended key usage ``eku``
    ("emailProtection", "codeSigning" or "any"). ``tlog`` is "require", "if-present"
    or "ignore" (embedded Rekor entries)."""

    sigstore: tuple[SigstoreIdentity, ...] = ()
    emails: tuple[X509Email, ...] = ()
    trusted_root: bytes | None = None
    ca_bundle: tuple[bytes, ...] = ()
    crls: tuple[bytes, ...] = ()
    eku: str = "emailProtection"
    tlog: str = "if-present"

    @property
    def configured(self) -> bool:
        return bool(self.sigstore or self.ca_bundle)


class TrustWarning(NamedTuple):
    """Something about a trusted key that is accepted but should be fixed by its
    owner, shown once per audit or push. ``key`` is the fingerprint the warning is
    about (a verdict's ``primary_key`` or ``key``), ``message`` says what and how to
    fix it."""

    key: str
    message: str


class TrustStore(NamedTuple):
    """Every key the verifiers may accept. An empty store trusts no one."""

    ssh: tuple[SshTrustedKey, ...] = ()
    openpgp: tuple[OpenPGPTrustedCert, ...] = ()
    x509: X509Trust = X509Trust()
    # OpenPGP certificates whose keys are bound by SHA-1 self-signatures: "warn"
    # (accept, and name them in a warning) or "refuse" (``weak-algorithm``).
    sha1_self_signatures: str = "warn"


class SignedObject(NamedTuple):
    """Facts about one signed-or-not git object, as read by :mod:`gitguard.gitobjects`.

    ``payload`` is the exact signed bytes (object without the signature header or the
    appended tag signature); ``signature`` the raw signature bytes or ``None``.
    ``malformed`` is set (and verification skipped) when the object cannot be parsed
    safely, e.g. two signature headers. ``time`` is the committer (commit) or tagger
    (tag) timestamp, POSIX seconds. ``commit`` is, for a mergetag, the merge commit
    that embeds it.
    """

    oid: str
    kind: Kind
    payload: bytes
    signature: bytes | None
    committer: str = ""
    committer_email: str = ""
    author: str = ""
    subject: str = ""
    time: int | None = None
    malformed: str | None = None
    commit: str | None = None
