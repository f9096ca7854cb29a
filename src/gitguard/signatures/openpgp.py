"""OpenPGP signatures on git commits and tags: fast per signature, careful per key.

Design
------
A git OpenPGP signature is one armored v4 signature packet of type 0x00 (binary
document) over the object's payload. Verifying one has two parts of very different
cost and change rate:

1. **The signature** (every commit; ``_openpgp_packets``, ``_openpgp_crypto``):
   de-armor, parse the packet (v4, or v3 as git.git's 2005-2008 tags carry), find the
   issuing key by issuer fingerprint (or key id) among the trusted certificates'
   primary keys and subkeys, hash payload + hashed area + trailer, and verify the
   primitive against a public-key object loaded once per key: OpenSSL
   (``cryptography``) for RSA and ECDSA, libsodium (through PyNaCl; 2x faster than
   OpenSSL here) for Ed25519. The *value* is judged, never its encoding: MPIs whose
   bit count is not minimal (Go's OpenPGP library, and so GitHub, writes them) are
   read as GnuPG reads them, and the two quick-check octets ("left 16 bits") are
   compared only to say so in the reason: they are not signed, and GnuPG and
   Sequoia verify a signature whose quick check is wrong. Also per signature,
   because they depend on the signature and not on the key: weak hashes (MD5,
   SHA-1, RIPEMD-160) and weak keys (RSA < 2048, DSA, ElGamal) are refused, as are
   critical subpackets GnuPG would not honour (in either area), creation times in
   the future (beyond :data:`FUTURE_TOLERANCE`) and a signature's own expiration
   (judged at *now*). The armor CRC-24 is not checked up front: RFC 9580 section 6.1
   forbids rejecting data for it, and it costs 15-50 us in Python; it is only used
   to explain a signature that fails anyway (``malformed``: damaged in transit).

2. **The key's validity at the signature's creation time T** (alive, bound,
   signing-capable, not revoked, self-signatures acceptable; ``_openpgp_certs``):
   delegated to sequoia's StandardPolicy through ``pysequoia.verify``, but only once
   per key, *validity interval* and signature *profile*. Whether a key is valid at T
   is a step function of T whose steps can only sit at times written in the
   certificate: key creation times, signature creation and expiration times, and
   creation + key validity period for every key (each ``t`` also as ``t + 1``, so
   that neither ``<`` nor ``<=`` rules can straddle a step). The profile is every
   signed field of the signature but its creation time (its hashed area with the
   time zeroed), so that a cached verdict is never reused for a signature that
   differs in anything sequoia could judge: a verdict is a function of the signature
   and the trust alone, whatever else the process verified first. The first
   signature of a (key, interval, profile) is given to sequoia as gitguard reads it
   (:meth:`~gitguard.signatures._openpgp_packets.SigPacket.normalized`: unhashed
   area reduced to the issuer key id, exact MPI bit counts, the computed quick
   check), with only its certificate in the store. sequoia's error is opaque, so
   when it refuses a signature the fast path found valid, the certificate model
   explains why: revocation in effect (hard revocations always, soft ones from
   their date) -> ``revoked-key``/R; key expired at T -> ``expired-key``/Y; T
   before the key's creation -> ``not-yet-valid``; no signing flag ->
   ``bad-signature``; weak primary key -> ``weak-algorithm``. A refusal the model
   cannot explain is reported as refused by the OpenPGP policy and not cached.

   Three refusals are overruled, each only after *every* rule of the model has been
   applied and passed (so an overrule never hides another reason): a key whose
   self-signatures all postdate the signature because GnuPG replaced them when the
   expiry was changed; self-signatures (bindings, back-signatures) made with SHA-1
   on a certificate the policy names, unless ``sha1_self_signatures = "refuse"``
   (the certificate is then named in a warning; see ``sha1_warning``); and v3
   signature packets, which sequoia's policy rejects as a format and GnuPG verifies.

Differences from ``git verify-commit`` (gpg 2.2), all deliberate:

- A signature made *before* its key expired stays good (sequoia's and RFC 9580's
  reading); gpg reports EXPKEYSIG (git ``Y``) once the key has expired *now*.
- A soft revocation (key superseded/retired) only affects signatures made after it;
  gpg reports every signature of a revoked key as REVKEYSIG (``R``).
- SHA-1/MD5/RIPEMD-160 data signatures, RSA keys under 2048 bits and DSA/ElGamal
  keys are ``weak-algorithm`` (git code ``B``); gpg 2.2 calls them good (git says E
  for MD5, which gpg 2.2 no longer verifies).
- An issuer fingerprint found only in the unhashed area selects the key (gpg reads
  it from the hashed area only and says E): it is not signed, but it only chooses
  which trusted key the signature must then verify under.
- Data signatures must use SHA-256, SHA-384 or SHA-512: SHA3 (which gpg 2.2 cannot
  verify, and Sequoia not with RSA) and SHA-224 are refused, where git says N or E.
- Encodings gpg tolerates but git never writes are refused: armor variations (a
  doubled checksum, headers without the blank line, a mislabelled END, a
  ``PGP MESSAGE`` armor), bytes after the signature value, packet lengths beyond the
  data, indeterminate lengths, wrapped or preceded packets, an algorithm field that
  names another algorithm than the key's, repeated signature expirations, and
  subpackets Sequoia cannot parse or does not honour as critical (key block).
- Text-mode signatures, several signatures, trailing packets are refused; gpg
  verifies each signature it finds. Signatures claiming a time in the future are
  ``not-yet-valid``; gpg accepts them.
- A damaged signature is ``malformed``, where git shows ``N`` (unsigned); a CRC
  mismatch on an otherwise intact signature is ignored (RFC 9580), where gpg refuses.

``when`` (the committer/tagger time) is not used: OpenPGP signatures carry their own
creation time, and key validity is judged at that time, as sequoia and gpg do.
Verifiers hold sequoia objects and are not picklable: build one per process from
the (picklable) trust store.
"""

from __future__ import annotations

import bisect
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from gitguard.model import Format, OpenPGPTrustedCert, Status, TrustWarning, Verification
from gitguard.signatures import _openpgp_crypto as cr
from gitguard.signatures import _openpgp_packets as pk
from gitguard.signatures._openpgp_certs import (
    Key,
    Verdict,
    build_cert,
    iso,
    judge,
    lifetime_at,
    read_certs,
    sequoia_refuses,
    sha1_warning,
)

__all__ = ["FUTURE_TOLERANCE", "CertInfo", "OpenPGPVerifier", "certificate_info"]

FUTURE_TOLERANCE = 300
"""Seconds a signature's creation time may lie ahead of this machine's clock."""

_SIG_TYPE_NAMES = {
    0x00: "binary document",
    0x01: "canonical text document",
    0x02: "standalone",
    0x10: "generic certification",
    0x13: "positive certification",
    0x18: "subkey binding",
    0x1F: "direct key",
    0x20: "key revocation",
    0x28: "subkey revocation",
    0x40: "timestamp",
}
# The hashes a data signature may use (SHA-256/384/512); the others are refused.
_FAST_HASHES = frozenset({8, 9, 10})
_DAMAGED = "its armor checksum (CRC-24) does not match either: the signature was damaged or edited"


def _same_algorithm(sig_algo: int, key_algo: int) -> bool:
    rsa = (pk.PK_RSA, pk.PK_RSA_SIGN)
    return sig_algo == key_algo or (sig_algo in rsa and key_algo in rsa)


def _one_signature(raw: bytes) -> pk.SigPacket:
    packets = pk.split_packets(raw)
    if len(packets) != 1 or packets[0][0] != pk.TAG_SIGNATURE:
        tags = ", ".join(str(tag) for tag, _ in packets)
        raise pk.PacketError(
            "a git OpenPGP signature is exactly one signature packet; this one holds "
            f"packets with tags [{tags}]"
        )
    sig = pk.parse_signature(packets[0][1])
    if sig.created is None:
        raise pk.PacketError("OpenPGP signature has no creation time in its hashed area")
    return sig


class OpenPGPVerifier:
    """Verifies git OpenPGP signatures against a fixed set of trusted certificates.

    Certificates are parsed and their keys loaded once, here. An entry that cannot be
    read is left out (its keys become unknown) and named in ``problems``; the policy
    loader reports such input earlier through :func:`certificate_info`.
    """

    def __init__(
        self, certs: Sequence[OpenPGPTrustedCert], *, sha1_self_signatures: str = "warn"
    ) -> None:
        self.problems: list[str] = []
        self.sha1_self_signatures = sha1_self_signatures
        self.warnings: list[TrustWarning] = []
        self._by_fpr: dict[bytes, list[Key]] = {}
        self._by_keyid: dict[bytes, list[Key]] = {}
        self._cache: dict[tuple[int, int, bytes], str | None] = {}
        now = int(time.time())
        serial = 0
        for entry in certs:
            try:
                parsed = [build_cert(s, entry, now) for s in read_certs(entry.cert)]
            except ValueError as exc:
                self.problems.append(f"{entry.source or entry.signer}: {exc}")
                continue
            for cert in parsed:
                warning = sha1_warning(cert, sha1_self_signatures)
                if warning is not None:
                    self.warnings.append(TrustWarning(cert.primary.fpr, warning))
                for key in cert.keys:
                    key.serial = serial
                    serial += 1
                    self._by_fpr.setdefault(key.packet.fingerprint, []).append(key)
                    self._by_keyid.setdefault(key.packet.keyid, []).append(key)

    def verify(self, payload: bytes, signature: bytes, *, when: int | None) -> Verification:
        """Verify one git signature. Bad input gives ``malformed`` (the parser raises
        :class:`~._openpgp_packets.PacketError` on purpose); any other exception is a
        bug and propagates, so that it is reported as one (exit 3; a hook refuses)
        instead of hiding as a verdict."""
        try:
            return self._verify(payload, signature)
        except pk.PacketError as exc:
            return Verification(Format.OPENPGP, Status.MALFORMED, str(exc))

    def _verify(self, payload: bytes, signature: bytes) -> Verification:
        armored = pk.dearmor(signature)
        raw = armored.data
        try:
            sig = _one_signature(raw)
        except pk.PacketError as exc:
            if armored.checksum_mismatch():
                raise pk.PacketError(f"{exc}; {_DAMAGED}") from None
            raise
        if sig.issuer_fpr is not None:
            keys = self._by_fpr.get(sig.issuer_fpr, [])
        elif sig.issuer_keyid is not None:
            keys = self._by_keyid.get(sig.issuer_keyid, [])
        else:
            return Verification(
                Format.OPENPGP,
                Status.UNKNOWN_KEY,
                "OpenPGP signature does not name its issuer",
                signed_at=sig.created,
                git_code="E",
            )
        if not keys:
            issuer = sig.issuer_fpr or sig.issuer_keyid or b""
            reason = f"signed by OpenPGP key {issuer.hex().upper()}, which is not trusted here"
            if self.problems:
                reason += f" (unreadable trusted certificates: {'; '.join(self.problems)})"
            return Verification(
                Format.OPENPGP,
                Status.UNKNOWN_KEY,
                reason,
                key=issuer.hex().upper(),
                signed_at=sig.created,
                git_code="E",
            )
        first: Verification | None = None
        for key in keys:
            result = self._check(key, sig, payload)
            if result.status is Status.GOOD or (
                result.status is Status.UNKNOWN_KEY and result.git_code == "U"
            ):
                return result
            if first is None or (
                first.status is Status.BAD_SIGNATURE and result.status is not Status.BAD_SIGNATURE
            ):
                first = result
        assert first is not None  # noqa: S101 - keys is not empty
        if first.status is Status.BAD_SIGNATURE and armored.checksum_mismatch():
            return first._replace(
                status=Status.MALFORMED, reason=f"{first.reason}; {_DAMAGED}", git_code=None
            )
        return first

    def lifetime_at(self, key_fpr: str, primary_fpr: str | None, t: int) -> Verdict | None:
        """Whether the trusted key ``key_fpr`` (of the certificate ``primary_fpr``)
        may still sign at ``t`` (see :func:`~._openpgp_certs.lifetime_at`); ``None``
        when it may or when no trusted key has that fingerprint."""
        for key in self._by_fpr.get(bytes.fromhex(key_fpr), []):
            cert = key.cert
            if cert is not None and (primary_fpr is None or cert.primary.fpr == primary_fpr):
                return lifetime_at(key, t)
        return None

    def _check(self, key: Key, sig: pk.SigPacket, payload: bytes) -> Verification:
        """The common case, with nothing computed that a good verdict does not need;
        anything unusual is left to :meth:`_explain`, which applies every rule."""
        cert = key.cert
        assert cert is not None  # noqa: S101 - set by build_cert
        check = key.check
        verify = check.verify
        ok: bool | None = None
        digest: bytes | None = None
        if (
            verify is not None
            and sig.sig_type == 0x00
            and sig.hash_algo in _FAST_HASHES
            and check.refusal is None
            and not sig.critical_unknown
            and _same_algorithm(sig.pk_algo, key.packet.pk_algo)
        ):
            digest = cr.digest(sig.hash_algo, (payload, sig.hashed_part, sig.trailer))
            ok = digest is not None and verify(digest, sig.hash_algo, sig.material)
            created = sig.created or 0
            now = int(time.time())
            if (
                ok
                and digest is not None
                and digest[:2] == sig.left16
                and cert.trusted
                and created <= now + FUTURE_TOLERANCE
                and (sig.expires_after is None or created + sig.expires_after > now)
                and self._validity(key, sig, payload, digest) is None
            ):
                return Verification(
                    Format.OPENPGP,
                    Status.GOOD,
                    f"good signature by {key.label}",
                    key=key.fpr,
                    primary_key=cert.primary.fpr,
                    signer=cert.signer,
                    identities=cert.identities,
                    signed_at=created,
                    git_code="G",
                )
        return self._explain(key, sig, payload, ok, digest)

    def _explain(
        self,
        key: Key,
        sig: pk.SigPacket,
        payload: bytes,
        ok: bool | None,
        digest: bytes | None = None,
    ) -> Verification:
        """Every rule, in order, with a reason for the verdict. ``ok`` and ``digest``
        are the crypto result and the hash if :meth:`_check` already computed them."""
        cert = key.cert
        assert cert is not None  # noqa: S101 - set by build_cert
        created = sig.created or 0

        def result(status: Status, reason: str, git_code: str | None) -> Verification:
            return Verification(
                Format.OPENPGP,
                status,
                reason,
                key=key.fpr,
                primary_key=cert.primary.fpr,
                signer=cert.signer,
                identities=cert.identities,
                signed_at=created,
                git_code=git_code,
            )

        check = key.check
        what = key.label
        if sig.sig_type != 0x00:
            name = _SIG_TYPE_NAMES.get(sig.sig_type, "unknown")
            return result(
                Status.BAD_SIGNATURE,
                f"signature type 0x{sig.sig_type:02x} ({name}) is not a binary-document "
                "signature (0x00), the only type git makes",
                "B",
            )
        if check.verify is None:
            return result(
                Status.WEAK_ALGORITHM if check.weak else Status.BAD_SIGNATURE,
                f"signatures by {what} are refused: {check.refusal}",
                "B",
            )
        if not _same_algorithm(sig.pk_algo, key.packet.pk_algo):
            return result(
                Status.BAD_SIGNATURE,
                f"signature algorithm {sig.pk_algo} does not match {what}",
                "B",
            )
        hash_name = cr.HASH_NAMES.get(sig.hash_algo, f"hash algorithm {sig.hash_algo}")
        if digest is None:
            digest = cr.digest(sig.hash_algo, (payload, sig.hashed_part, sig.trailer))
        if sig.hash_algo in cr.WEAK_HASHES:
            # Refused whether or not it verifies (OpenSSL may not even offer
            # RIPEMD-160 for RSA or ECDSA); the reason says which.
            valid = digest is not None and check.verify(digest, sig.hash_algo, sig.material)
            return result(
                Status.WEAK_ALGORITHM,
                f"signature by {what} uses {hash_name}, which gitguard refuses "
                + (
                    "(gpg 2.2 and git still accept it)"
                    if valid
                    else "(and it does not verify over the signed data either)"
                ),
                "B",
            )
        if digest is None or sig.hash_algo not in _FAST_HASHES:
            # SHA-224 (shorter than a P-256 key's order), SHA3 (GnuPG 2.2 cannot
            # verify it; Sequoia not with RSA) and unknown hashes: git cannot say G
            # for them, so neither does gitguard.
            return result(
                Status.BAD_SIGNATURE,
                f"signature uses {hash_name}, which gitguard does not accept for signatures "
                "(SHA-256, SHA-384 and SHA-512 are)",
                "B",
            )
        if ok is None:
            ok = check.verify(digest, sig.hash_algo, sig.material)
        notes: list[str] = []
        if sig.left16 != digest[:2]:
            # RFC 9580 section 5.2.4: the two octets are a quick check that lets a
            # reader skip the public-key operation; they are not signed, and anyone
            # can change them. GnuPG and Sequoia verify such signatures; so does this.
            notes.append(
                f"its quick-check octets ({sig.left16.hex()}) differ from the digest's "
                f"({digest[:2].hex()}): they are not signed and do not affect the verdict, "
                "which the signature value decides"
            )
        if not ok:
            return result(
                Status.BAD_SIGNATURE,
                f"signature by {what} does not verify over the signed data",
                "B",
            )
        if check.refusal is not None:
            return result(
                Status.WEAK_ALGORITHM if check.weak else Status.BAD_SIGNATURE,
                f"signatures by {what} are refused: {check.refusal}",
                "B",
            )
        if sig.critical_unknown:
            kinds = ", ".join(str(k) for k in sig.critical_unknown)
            return result(
                Status.BAD_SIGNATURE,
                f"signature carries critical subpacket(s) [{kinds}] that cannot be honoured",
                "B",
            )
        now = int(time.time())
        if created > now + FUTURE_TOLERANCE:
            return result(
                Status.NOT_YET_VALID,
                f"signature claims to be made at {iso(created)}, in the future",
                None,
            )
        if sig.expires_after is not None and created + sig.expires_after <= now:
            return result(
                Status.EXPIRED_KEY,
                f"signature by {what} expired at {iso(created + sig.expires_after)}",
                "X",
            )
        verdict = self._validity(key, sig, payload, digest)
        if verdict is not None:
            if verdict.status is not Status.GOOD:
                return result(verdict.status, verdict.reason, verdict.git_code)
            notes.append(verdict.reason)
        note = "".join(f"; {n}" for n in notes)
        if not cert.trusted:
            return result(
                Status.UNKNOWN_KEY,
                f"good signature by {what}, but its certificate "
                f"({cert.source or cert.signer}) is not trusted{note}",
                "U",
            )
        return result(Status.GOOD, f"good signature by {what}{note}", "G")

    def _validity(
        self, key: Key, sig: pk.SigPacket, payload: bytes, digest: bytes
    ) -> Verdict | None:
        """Whether ``key`` could make ``sig`` at its creation time: sequoia's verdict,
        explained by the certificate model when it refuses. Cached per key, validity
        interval and signature *profile* (every signed field but the creation time),
        so that the verdict is a function of the signature and the trust alone, never
        of which signature by the same key happened to be verified first."""
        cert = key.cert
        assert cert is not None  # noqa: S101 - set by build_cert
        interval = bisect.bisect_right(cert.breakpoints, sig.created or 0)
        cache_key = (key.serial, interval, sig.profile())
        try:
            problem = self._cache[cache_key]
        except KeyError:
            problem = sequoia_refuses(cert.seq, payload, sig.normalized(digest), key.fpr)
            self._cache[cache_key] = problem
        if problem is None:
            return None
        # sequoia's answer is cached, the explanation is not: its reason names this
        # signature's own time, and the model answers from cached bindings.
        verdict = judge(key, sig, problem, self.sha1_self_signatures)
        if not verdict.cacheable:
            del self._cache[cache_key]
        return verdict


# --- certificate facts for the policy loader ---------------------------------------


@dataclass(frozen=True, slots=True)
class CertInfo:
    """What the policy loader needs to know about one trusted certificate.

    Fingerprints are upper-case hex; ``key_fingerprints`` holds the primary key's
    first, then every subkey's. ``emails`` are the addresses of the certificate's
    non-revoked user IDs, in order, without duplicates.
    """

    fingerprint: str
    key_fingerprints: tuple[str, ...]
    user_ids: tuple[str, ...]
    emails: tuple[str, ...]
    source: str


def certificate_info(data: bytes, source: str) -> list[CertInfo]:
    """Describe every certificate in ``data`` (armored or binary, one or more).

    Raises :class:`ValueError` with a message starting with ``source`` when the data
    holds no certificate, cannot be parsed, holds secret key material, or has a primary
    key gitguard cannot use (not version 4).
    """
    if not data.strip():
        raise ValueError(f"{source}: file is empty, expected an OpenPGP certificate")
    try:
        certs = read_certs(data)
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None
    if not certs:
        raise ValueError(f"{source}: holds no OpenPGP certificate")
    infos = []
    entry = OpenPGPTrustedCert(signer="", cert=b"", source=source)
    for seq in certs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pysequoia: "Use Tsk::from_* functions"
            secret = seq.has_secret_keys
        if secret:
            raise ValueError(
                f"{source}: certificate {seq.fingerprint.upper()} includes secret key "
                "material; export the public key only (gpg --export --armor KEYID)"
            )
        try:
            cert = build_cert(seq, entry, 0)
        except pk.PacketError as exc:
            raise ValueError(f"{source}: certificate {seq.fingerprint.upper()}: {exc}") from None
        infos.append(
            CertInfo(
                fingerprint=cert.primary.fpr,
                key_fingerprints=tuple(k.fpr for k in cert.keys),
                user_ids=cert.user_ids,
                emails=cert.identities,
                source=source,
            )
        )
    return infos
