"""Trusted OpenPGP certificates: a model built once, and the judge of key validity.

sequoia (``pysequoia``) parses each certificate and is the authority on whether a
key could make a signature at a given time (see :mod:`gitguard.signatures.openpgp`).
Its verdict is opaque, so this module keeps a model of the certificate's packets
(taken from sequoia's canonical serialisation): every key with its self-signatures
("bindings") and revocations, and every time at which the validity of a key can
change (the *breakpoints*). :func:`judge` explains a refusal from that model, and
implements the one place where gitguard deliberately accepts what sequoia refuses:

**Re-bound keys.** GnuPG *replaces* a key's self-signatures whenever its expiry is
changed, so after the routine "extend my key" step every older signature predates
the key's only binding signature. sequoia then refuses them all (no binding at the
signature's time); gpg, which never compares those times, accepts them. gitguard
judges such a signature with the earliest binding signature that it verifies itself
(the binding, and for a signing subkey its embedded back-signature), provided the
key had been created by then and is neither revoked nor expired at the signature's
time. This is not weaker against the key's owner: every timestamp involved is a
claim made by the owner's own keys.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import pysequoia

from gitguard._text import first_line
from gitguard._text import utc as iso
from gitguard.model import OpenPGPTrustedCert, Status
from gitguard.signatures import _openpgp_crypto as cr
from gitguard.signatures import _openpgp_packets as pk

__all__ = [
    "Cert",
    "Key",
    "Verdict",
    "build_cert",
    "iso",
    "judge",
    "lifetime_at",
    "read_certs",
    "sequoia_refuses",
    "sha1_warning",
]

_SELF_CERTIFICATIONS = frozenset({0x10, 0x11, 0x12, 0x13})
_DIRECT_KEY = 0x1F
_SUBKEY_BINDING = 0x18
_BACK_SIGNATURE = 0x19
_KEY_REVOCATION = 0x20
_SUBKEY_REVOCATION = 0x28
_SOFT_REVOCATIONS = {1: "superseded", 3: "retired"}
_HARD_REVOCATIONS = {0: "no reason given", 2: "key material compromised"}
POLICY_HASHES = frozenset({8, 9, 10, 12, 14})  # hashes sequoia's StandardPolicy accepts
_SHA1 = 2


_EMAIL_IN_BRACKETS = re.compile(r"<([^<>\s]+@[^<>\s]+)>\s*$")


def email(user_id: str) -> str | None:
    """The e-mail address of a user ID (``Name <addr>`` or a bare address)."""
    match = _EMAIL_IN_BRACKETS.search(user_id)
    if match:
        return match.group(1)
    text = user_id.strip()
    if "@" in text and not any(c in text for c in " <>"):
        return text
    return None


# --- the model ---------------------------------------------------------------------


@dataclass(eq=False, slots=True)
class _Binding:
    """A self-signature binding a key, with the bytes it signs before its own hashed
    area (``signed``), so that it can be verified when needed (``valid`` caches it)."""

    sig: pk.SigPacket
    signed: bytes
    created: int
    expires_at: int | None
    valid: bool | None = None
    back: pk.SigPacket | None = None  # the back-signature that verified, if one was needed


@dataclass(frozen=True, slots=True)
class _Revocation:
    created: int
    reason: int | None

    @property
    def hard(self) -> bool:
        return self.reason not in _SOFT_REVOCATIONS

    def describe(self) -> str:
        if self.reason is None:
            return "no reason given"
        return (
            _SOFT_REVOCATIONS.get(self.reason)
            or _HARD_REVOCATIONS.get(self.reason)
            or f"reason code {self.reason}"
        )


@dataclass(eq=False, slots=True)
class Key:
    """One key of a trusted certificate, loaded for verification."""

    packet: pk.KeyPacket
    check: cr.KeyCheck
    fpr: str
    primary: bool
    serial: int = 0
    label: str = ""  # "Ed25519 key <fingerprint>", for messages
    bindings: list[_Binding] = field(default_factory=list)
    revocations: list[_Revocation] = field(default_factory=list)
    cert: Cert | None = None


@dataclass(eq=False, slots=True)
class Cert:
    signer: str
    source: str
    trusted: bool
    seq: pysequoia.Cert
    primary: Key
    keys: list[Key]
    user_ids: tuple[str, ...]
    identities: tuple[str, ...]
    breakpoints: list[int]


def read_certs(data: bytes) -> list[pysequoia.Cert]:
    """Every certificate in ``data`` (armored or binary), parsed by sequoia."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pysequoia warns when handed a secret key
        try:
            return list(pysequoia.Cert.split_bytes(data))
        except Exception as exc:
            raise ValueError(f"not a valid OpenPGP certificate ({first_line(exc)})") from None


def _key_prefix(body: bytes) -> bytes:
    return b"\x99" + len(body).to_bytes(2, "big") + body


def _key(packet: pk.KeyPacket, *, primary: bool) -> Key:
    check = cr.load_key(packet)
    return Key(packet, check, packet.hex, primary, label=f"{check.description} key {packet.hex}")


def build_cert(seq: pysequoia.Cert, entry: OpenPGPTrustedCert, now: int) -> Cert:
    """Model ``seq`` from sequoia's canonical serialisation of it.

    Raises :class:`~gitguard.signatures._openpgp_packets.PacketError` when the
    primary key is not a v4 key.
    """
    packets = pk.split_packets(bytes(seq))
    if not packets or packets[0][0] != pk.TAG_PUBLIC_KEY:
        raise pk.PacketError("certificate does not start with a primary key packet")
    first = pk.parse_public_key(packets[0][1])
    primary = _key(first, primary=True)
    keys = [primary]
    primary_prefix = _key_prefix(packets[0][1])
    current: Key | None = primary
    signed = primary_prefix  # what a self-signature in the current position signs
    times = {now, first.created}
    validity_periods: set[int] = set()
    uid_packets: list[str] = []
    for tag, body in packets[1:]:
        if tag in (pk.TAG_USER_ID, pk.TAG_USER_ATTRIBUTE):
            current = primary
            marker = b"\xb4" if tag == pk.TAG_USER_ID else b"\xd1"
            signed = primary_prefix + marker + len(body).to_bytes(4, "big") + body
            if tag == pk.TAG_USER_ID:
                uid_packets.append(body.decode("utf-8", "replace"))
            continue
        if tag == pk.TAG_PUBLIC_SUBKEY:
            try:
                sub = pk.parse_public_key(body)
            except pk.PacketError:
                current = None  # e.g. a v6 subkey: not usable here
                continue
            current = _key(sub, primary=False)
            keys.append(current)
            signed = primary_prefix + _key_prefix(body)
            times.add(sub.created)
            continue
        if tag != pk.TAG_SIGNATURE or current is None:
            continue
        try:
            sig = pk.parse_signature(body)
        except pk.PacketError:
            continue
        if sig.created is None:
            continue
        for s in (sig, *sig.embedded):
            if s.created is not None:
                times.add(s.created)
                if s.expires_after:
                    times.add(s.created + s.expires_after)
        if sig.key_expires_after:
            validity_periods.add(sig.key_expires_after)
        if sig.sig_type in (_KEY_REVOCATION, _SUBKEY_REVOCATION):
            # Revocations are kept whoever issued them (designated revokers too): the
            # model only ever uses them to refuse, never to accept.
            if (sig.sig_type == _KEY_REVOCATION) == current.primary:
                current.revocations.append(_Revocation(sig.created, sig.revocation_reason))
            continue
        named = sig.issuer_fpr is not None or sig.issuer_keyid is not None
        if named and not sig.issuer_names(first.fingerprint, first.keyid):
            continue  # a third-party certification
        binds_primary = current.primary and (
            sig.sig_type in _SELF_CERTIFICATIONS
            or (sig.sig_type == _DIRECT_KEY and signed == primary_prefix)
        )
        if binds_primary or (not current.primary and sig.sig_type == _SUBKEY_BINDING):
            expires_at = sig.created + sig.expires_after if sig.expires_after else None
            current.bindings.append(_Binding(sig, signed, sig.created, expires_at))
    for key in keys:
        times.update(key.packet.created + period for period in validity_periods)
    try:
        user_ids = tuple(str(uid) for uid in seq.user_ids)  # sequoia drops revoked ones
    except Exception:
        user_ids = tuple(uid_packets)  # sequoia's policy refuses the whole certificate
    cert = Cert(
        signer=entry.signer,
        source=entry.source,
        trusted=entry.trusted,
        seq=seq,
        primary=primary,
        keys=keys,
        user_ids=user_ids,
        identities=tuple(dict.fromkeys(e for e in map(email, user_ids) if e)),
        # Validity can only change at these times; t and t + 1 both, so that a step
        # at t is isolated whether the rule behind it compares with < or <=.
        breakpoints=sorted(times | {t + 1 for t in times}),
    )
    for key in keys:
        key.cert = cert
    return cert


def sha1_warning(cert: Cert, mode: str) -> str | None:
    """A warning naming ``cert`` when a valid self-signature binding one of its keys
    (or a signing subkey's back-signature) uses SHA-1, else ``None``.

    Such certificates are common among long-lived keys (git.git's release key is
    one): GnuPG made SHA-1 self-signatures by default until 2.1 (2014). The data
    signatures are judged on their own hash; the binding only ties the key to the
    certificate the policy already names by fingerprint, so a SHA-1 collision there
    gains an attacker nothing the policy's choice of certificate did not already
    give. gitguard therefore accepts them by default (``warn``), names the
    certificate and the fix, and refuses them under ``sha1_self_signatures =
    "refuse"``.
    """
    weak = []
    for key in cert.keys:
        for binding in key.bindings:
            if not _binding_valid(binding, key, cert.primary):
                continue
            sigs = (binding.sig, binding.back)
            if any(sig is not None and sig.hash_algo == _SHA1 for sig in sigs):
                weak.append(key.fpr)
                break
    if not weak:
        return None
    which = cert.source or cert.signer
    subkeys = [fpr for fpr in weak if fpr != cert.primary.fpr]
    effect = (
        "signatures its keys made are accepted, with this warning"
        if mode == "warn"
        else 'signatures its keys made are refused (trust.sha1_self_signatures = "refuse")'
    )
    return (
        f"OpenPGP certificate {cert.primary.fpr} ({which}) binds "
        f"{'key ' + ', '.join(weak) if subkeys else 'its primary key'} with SHA-1 "
        f"self-signatures; {effect}. Its owner should renew them: `gpg --cert-digest-algo "
        f"SHA256 --quick-set-expire {cert.primary.fpr} <expiry>`"
        + (" (and again with ` *` for the subkeys)" if subkeys else "")
        + ", then publish the certificate again"
    )


# --- sequoia, and explaining it ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verdict:
    """Key validity for a signature time: a refusal, or ``GOOD`` with a note."""

    status: Status
    reason: str
    git_code: str | None
    cacheable: bool = True


def sequoia_refuses(cert: pysequoia.Cert, payload: bytes, raw: bytes, fpr: str) -> str | None:
    """``None`` if sequoia accepts the signature (``raw``, one binary packet) with
    ``cert`` as the only certificate in its store; otherwise its error's first line."""
    try:
        sig = pysequoia.Sig.from_bytes(raw)
        result = pysequoia.verify(payload, store=lambda _ids: [cert], signature=sig)
    except BaseException as exc:
        # PyO3 turns a Rust panic into PanicException, a BaseException.
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise
        return first_line(exc)
    if any(str(v.signing_key).upper() == fpr for v in result.valid_sigs):
        return None
    return "sequoia accepted the signature for a different key"


def _verify_sig(sig: pk.SigPacket, signed: bytes, signer: Key) -> bool:
    check = signer.check
    if check.verify is None or sig.critical_unknown:
        return False
    digest = cr.digest(sig.hash_algo, (signed, sig.hashed_part, sig.trailer))
    # The quick-check octets are not signed: the value decides, as for data signatures.
    return digest is not None and check.verify(digest, sig.hash_algo, sig.material)


def _binding_valid(binding: _Binding, key: Key, primary: Key) -> bool:
    """The binding verifies under the primary key and, when it makes ``key`` a signing
    subkey, carries a back-signature that verifies under ``key``."""
    if binding.valid is None:
        ok = _verify_sig(binding.sig, binding.signed, primary)
        if ok and not key.primary and (binding.sig.key_flags or 0) & 0x02:
            binding.back = next(
                (
                    back
                    for back in binding.sig.embedded
                    if back.sig_type == _BACK_SIGNATURE and _verify_sig(back, binding.signed, key)
                ),
                None,
            )
            ok = binding.back is not None
        binding.valid = ok
    return binding.valid


def _binding_at(key: Key, primary: Key, t: int) -> tuple[_Binding | None, bool]:
    """The valid binding that governs ``key`` at ``t``: the newest made by ``t`` and
    not expired then; failing that, the earliest made later (``True``: re-bound)."""
    valid = [b for b in key.bindings if _binding_valid(b, key, primary)]
    current = [b for b in valid if b.created <= t and (b.expires_at is None or b.expires_at > t)]
    if current:
        return max(current, key=lambda b: b.created), False
    later = [b for b in valid if b.created > t]
    if later:
        return min(later, key=lambda b: b.created), True
    return None, False


def lifetime_at(key: Key, t: int) -> Verdict | None:
    """Whether ``key`` (and its primary key) may still sign at ``t``: not revoked (hard
    revocations whenever made, soft ones from their date), not expired by the binding
    in force at ``t``. ``None`` when it may. Used at push time, when the signature's
    own creation time is only a claim made by whoever holds the key."""
    cert = key.cert
    assert cert is not None  # noqa: S101 - set by build_cert
    chain = [(cert.primary, "the certificate's primary key")]
    if key is not cert.primary:
        chain.append((key, "the signing subkey"))
    for k, label in chain:
        for rev in k.revocations:
            if rev.hard or rev.created <= t:
                return Verdict(
                    Status.REVOKED_KEY,
                    f"{label} {k.fpr} was revoked ({rev.describe()}) at {iso(rev.created)}",
                    "R",
                )
    for k, label in chain:
        binding, _ = _binding_at(k, cert.primary, t)
        period = binding.sig.key_expires_after if binding is not None else None
        if period and k.packet.created + period <= t:
            return Verdict(
                Status.EXPIRED_KEY,
                f"{label} {k.fpr} expired at {iso(k.packet.created + period)}",
                "Y",
            )
    return None


def judge(key: Key, sig: pk.SigPacket, problem: str, sha1_self_signatures: str) -> Verdict:
    """Why sequoia refused a signature the fast path found cryptographically valid;
    or ``GOOD`` when the only obstacle is a binding made after the signature."""
    cert = key.cert
    assert cert is not None  # noqa: S101 - set by build_cert
    primary = cert.primary
    t = sig.created or 0
    chain = [(primary, "the certificate's primary key")]
    if key is not primary:
        chain.append((key, "the signing subkey"))
    for k, label in chain:
        if k.check.refusal is not None:
            return Verdict(
                Status.WEAK_ALGORITHM if k.check.weak else Status.BAD_SIGNATURE,
                f"{label} {k.fpr} ({k.check.description}) is refused: {k.check.refusal}",
                "B",
            )
    for k, label in chain:
        for rev in k.revocations:
            if rev.hard:
                return Verdict(
                    Status.REVOKED_KEY,
                    f"{label} {k.fpr} is revoked ({rev.describe()}), which invalidates "
                    "every signature it made",
                    "R",
                )
            if rev.created <= t:
                return Verdict(
                    Status.REVOKED_KEY,
                    f"{label} {k.fpr} was revoked as {rev.describe()} at "
                    f"{iso(rev.created)}, before this signature ({iso(t)})",
                    "R",
                )
    for k, label in chain:
        if t < k.packet.created:
            return Verdict(
                Status.NOT_YET_VALID,
                f"signature made at {iso(t)}, before {label} {k.fpr} was created "
                f"({iso(k.packet.created)})",
                None,
            )
    bindings: list[tuple[Key, str, _Binding]] = []
    rebound: list[tuple[str, _Binding]] = []
    for k, label in chain:
        binding, later = _binding_at(k, primary, t)
        if binding is None:
            return Verdict(
                Status.BAD_SIGNATURE,
                f"{label} {k.fpr} has no valid binding signature in its certificate",
                "B",
            )
        if later:
            rebound.append((label, binding))
        bindings.append((k, label, binding))
    for k, label, binding in bindings:
        period = binding.sig.key_expires_after
        if period and k.packet.created + period <= t:
            return Verdict(
                Status.EXPIRED_KEY,
                f"{label} {k.fpr} expired at {iso(k.packet.created + period)}, before this "
                f"signature ({iso(t)})",
                "Y",
            )
    flags = bindings[-1][2].sig.key_flags
    if flags is not None and not flags & 0x02:
        return Verdict(
            Status.BAD_SIGNATURE,
            f"key {key.fpr} is not marked as a signing key in its certificate",
            "B",
        )
    notes: list[str] = []
    for k, label, binding in bindings:
        for self_sig, what in (
            (binding.sig, "self-signature binding"),
            (binding.back, "back-signature of"),
        ):
            if self_sig is None or self_sig.hash_algo in POLICY_HASHES:
                continue
            name = cr.HASH_NAMES.get(self_sig.hash_algo, f"hash {self_sig.hash_algo}")
            renew = (
                f"its owner can renew it with `gpg --cert-digest-algo SHA256 "
                f"--quick-set-expire {primary.fpr} <expiry>{'' if k.primary else ' *'}` "
                "and publish the certificate again"
            )
            if self_sig.hash_algo == _SHA1 and sha1_self_signatures == "warn":
                notes.append(
                    f"the {what} {label} {k.fpr} uses SHA-1, accepted with a warning "
                    '(trust.sha1_self_signatures = "warn")'
                )
                continue
            return Verdict(
                Status.WEAK_ALGORITHM,
                f"the {what} {label} {k.fpr} uses {name}, which the OpenPGP policy no longer "
                f"accepts; {renew}",
                "B",
            )
    if sig.hash_algo not in POLICY_HASHES:
        name = cr.HASH_NAMES.get(sig.hash_algo, f"hash algorithm {sig.hash_algo}")
        return Verdict(Status.WEAK_ALGORITHM, f"the OpenPGP policy refuses {name} signatures", "B")
    if rebound:
        label, binding = rebound[0]
        notes.append(
            f"{label} is bound by a self-signature dated {iso(binding.created)}, after the "
            "signature (GnuPG replaces self-signatures when an expiry changes); it was "
            "valid then by that binding, as gpg also judges"
        )
    if sig.version < 4:
        notes.append(
            f"a version {sig.version} signature packet (RFC 4880 section 5.2.2), which "
            "Sequoia's policy "
            "no longer accepts and GnuPG does: judged by its value and the key's validity"
        )
    if notes:
        # Every rule the model knows has been applied above; what sequoia refused is
        # explained by these accepted exceptions alone.
        return Verdict(Status.GOOD, "; ".join(notes), "G")
    return Verdict(
        Status.BAD_SIGNATURE,
        f"signature by {key.fpr} is refused by the OpenPGP policy (sequoia: {problem})",
        "B",
        cacheable=False,
    )
