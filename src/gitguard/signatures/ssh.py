"""SSH signatures (OpenSSH ``SSHSIG``), verified in-process the way git checks them.

git signs with ``ssh-keygen -Y sign -n git`` and checks with ``ssh-keygen -Y
find-principals`` / ``-Y verify`` (``-Y check-novalidate`` for keys not in the
allowed-signers file), passing the committer/tagger time as ``-Overify-time``. This
module reproduces that verdict without a process per signature:

* armor and blob per OpenSSH ``PROTOCOL.sshsig``; the signed data is
  ``"SSHSIG" || string "git" || string "" || string hash_alg || string H(payload)``;
* key types ``ssh-ed25519``, ``ssh-rsa`` (``rsa-sha2-256``/``rsa-sha2-512``),
  ``ecdsa-sha2-nistp256/384/521``, the FIDO types ``sk-ssh-ed25519@openssh.com`` and
  ``sk-ecdsa-sha2-nistp256@openssh.com`` (``PROTOCOL.u2f``), and ``ssh-dss`` (weak);
* trust: the first trust entry for the signing key whose ``valid-after`` /
  ``valid-before`` window contains ``when`` names the signer (what
  ``find-principals`` does); its ``namespaces`` option must allow ``git``.

What git 2.39 (with OpenSSH 9.2) reports, recorded in ``Verification.git_code``
(each measured in tests/test_ssh.py against ``git log --format=%G?``):

- good signature, trusted key valid at ``when``: ``good``, G
- good signature, key not in the trust store: ``unknown-key``, U
- good signature, ``when`` before valid-after / after valid-before of every entry for
  the key: ``not-yet-valid`` / ``expired-key``, U (bounds are inclusive)
- good signature, trusted key whose ``namespaces`` exclude "git": ``unknown-key``, B
- signature does not verify, or its namespace is not "git": ``bad-signature``, B
- ``ssh-rsa`` (RSA/SHA-1) signature algorithm: ``weak-algorithm``, B
- RSA key of 1024-2047 bits, DSA key: ``weak-algorithm``, with the letter git gives
  for the key's trust (G/U/…); RSA key under 1024 bits: ``weak-algorithm``, B
- cannot be parsed: ``malformed``, B

``ssh-keygen -Y verify`` does not require the FIDO user-presence flag, so neither
does this verifier (the reason text says when it is absent). Deliberately stricter
than ssh-keygen: SSHSIG version 0 (ssh-keygen only refuses versions above 1). Signatures
made with an SSH certificate are checked with the certified key and reported as
``unknown-key`` (U): trusting certificate authorities is not supported yet. Not
supported yet (``malformed``): webauthn security-key signatures.

The key types and their primitives live in :mod:`._ssh_keys`; this module holds the
SSHSIG envelope, the trust entries and the verdicts.
"""

from __future__ import annotations

import binascii
import functools
import re
import struct
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from cryptography.exceptions import UnsupportedAlgorithm

from gitguard._digest import sha256, sha512
from gitguard.model import Format, SshTrustedKey, Status, Verification
from gitguard.signatures._ssh_keys import (
    _VERSION,
    _VERSION_LEN,
    _ascii,
    _Key,
    _load_key,
    _Malformed,
    _pack_u32,
    _parse_blob,
    _sstr,
    _u32,
)

if TYPE_CHECKING:
    pass

# Ed25519 is what a push usually brings: the modules for the other key types (RSA,
# ECDSA, DSA: ≈2.5 ms of imports) are imported when such a key is first loaded.

NAMESPACE: Final = "git"

_BEGIN: Final = b"-----BEGIN SSH SIGNATURE-----\n"
_END: Final = b"\n-----END SSH SIGNATURE-----"
_MAGIC: Final = b"SSHSIG"
_WHITESPACE: Final = b" \t\r\n\v\f"

# Keys that signed something are cached; unknown keys are bounded so that an audit of
# a history full of distinct strangers cannot grow the cache without limit.
_MAX_CACHED_KEYS: Final = 4096


@functools.lru_cache(maxsize=256)
def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """OpenSSH ``match_pattern``: ``*`` and ``?`` wildcards, case-sensitive."""
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    )


def _match_list(value: str, patterns: Sequence[str]) -> bool:
    """OpenSSH ``match_pattern_list(value, patterns) == 1``: some pattern matches and
    no negated (``!``) pattern does."""
    positive = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if _pattern_regex(pattern[1:] if negated else pattern).fullmatch(value):
            if negated:
                return False
            positive = True
    return positive


def _split_patterns(values: Sequence[str]) -> tuple[str, ...]:
    """Patterns as OpenSSH reads them: each value may itself be a comma list."""
    return tuple(p for v in values for p in v.split(",") if p)


def _iso(t: int) -> str:
    from datetime import UTC, datetime

    try:
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return str(t)


class _Entry:
    """A trust entry with its ``namespaces`` verdict for git precomputed."""

    __slots__ = ("after", "allows_git", "before", "principals", "trusted")

    def __init__(self, trusted: SshTrustedKey) -> None:
        self.trusted = trusted
        self.after = trusted.valid_after
        self.before = trusted.valid_before
        self.allows_git = trusted.namespaces is None or _match_list(
            NAMESPACE, _split_patterns(trusted.namespaces)
        )
        self.principals = _split_patterns(trusted.principals)

    def valid_at(self, t: int) -> bool:
        return (self.after is None or t >= self.after) and (self.before is None or t <= self.before)


def _name(entry: SshTrustedKey) -> str:
    return f"{entry.signer} ({entry.source})" if entry.source else entry.signer


# The signed-data prefix per hash algorithm: "SSHSIG", string namespace, string
# reserved (always empty: verifiers ignore the blob's reserved field), string hash_alg,
# and the length of the digest string that follows.
_HASHES: Final = {
    b"sha512": (sha512, 64),
    b"sha256": (sha256, 32),
}
_SIGNED_PREFIX: Final = {
    name: _MAGIC + _sstr(NAMESPACE.encode()) + _sstr(b"") + _sstr(name) + _pack_u32(size)
    for name, (_fn, size) in _HASHES.items()
}


class SshVerifier:
    """Verifies SSHSIG signatures against trusted SSH keys; see the module docstring."""

    def __init__(self, keys: Sequence[SshTrustedKey]) -> None:
        self._trust: dict[bytes, list[_Entry]] = {}
        for trusted in keys:
            self._trust.setdefault(trusted.key_blob, []).append(_Entry(trusted))
        self._keys: dict[bytes, _Key | str] = {}
        for blob in self._trust:
            self._keys[blob] = self._parse_key(blob)

    @staticmethod
    def _parse_key(blob: bytes) -> _Key | str:
        try:
            return _load_key(blob)
        except _Malformed as err:
            return str(err)
        except (ValueError, TypeError, OverflowError, UnsupportedAlgorithm) as err:
            return f"public key cannot be loaded: {err}"

    def _key(self, blob: bytes) -> _Key | str:
        key = self._keys.get(blob)
        if key is None:
            if len(self._keys) >= _MAX_CACHED_KEYS + len(self._trust):
                self._keys = {b: k for b, k in self._keys.items() if b in self._trust}
            key = self._keys[blob] = self._parse_key(blob)
        return key

    def verify(self, payload: bytes, signature: bytes, *, when: int | None) -> Verification:
        """Verify one git SSH signature over ``payload``. Bad input gives ``malformed``
        (raised on purpose as ``_Malformed``); any other exception is a bug and
        propagates, to be reported as one (exit 3; a hook refuses)."""
        try:
            return self._verify(payload, signature, when)
        except _Malformed as err:
            return Verification(Format.SSH, Status.MALFORMED, str(err), git_code="B")

    def _verify(self, payload: bytes, signature: bytes, when: int | None) -> Verification:
        # Armor, as ssh-keygen reads it: the header starts the text, the body runs to
        # the first "\n-----END…", whitespace in the base64 is ignored, and anything
        # after the footer is too.
        if not signature.startswith(_BEGIN):
            raise _Malformed(
                "SSH signature does not start with the line '-----BEGIN SSH SIGNATURE-----'"
            )
        end = signature.find(_END, len(_BEGIN))
        if end < 0:
            raise _Malformed("SSH signature armor has no END line")
        body = signature[len(_BEGIN) : end].translate(None, _WHITESPACE)
        try:
            blob = binascii.a2b_base64(body, strict_mode=True)
        except binascii.Error:
            raise _Malformed("SSH signature armor is not valid base64") from None

        # The blob: "SSHSIG", uint32 version, then five strings. The fast path reads
        # the lengths directly; any inconsistency is explained by _parse_blob.
        if not blob.startswith(_MAGIC):
            raise _Malformed("SSH signature blob does not start with 'SSHSIG'")
        version = sig_end = -1
        try:
            (version, n) = _VERSION_LEN(blob, 6)
            pub_end = 14 + n
            (n,) = _u32(blob, pub_end)
            ns_end = pub_end + 4 + n
            (n,) = _u32(blob, ns_end)
            reserved_end = ns_end + 4 + n
            (n,) = _u32(blob, reserved_end)
            hash_end = reserved_end + 4 + n
            (n,) = _u32(blob, hash_end)
            sig_end = hash_end + 4 + n
        except struct.error:
            pass  # a length runs past the end
        if version != _VERSION or sig_end != len(blob):
            _parse_blob(blob)  # raises _Malformed with the precise reason
            raise _Malformed("SSH signature blob is inconsistent")  # pragma: no cover
        pubblob = blob[14:pub_end]
        namespace = blob[pub_end + 4 : ns_end]
        hashalg = blob[reserved_end + 4 : hash_end]

        hashing = _HASHES.get(hashalg)
        if hashing is None:
            raise _Malformed(f"hash algorithm {_ascii(hashalg)!r} is not sha256 or sha512")
        key = self._keys.get(pubblob) or self._key(pubblob)
        if isinstance(key, str):
            raise _Malformed(key)
        if namespace != b"git":
            return Verification(
                Format.SSH,
                Status.BAD_SIGNATURE,
                f"signature namespace is {_ascii(namespace)!r}, not 'git': "
                "it was not made as a git signature",
                key=key.fingerprint,
                git_code="B",
            )

        data = _SIGNED_PREFIX[hashalg] + hashing[0](payload)
        problem, note = key.check(blob[hash_end + 4 :], data)
        if problem is Status.BAD_SIGNATURE:
            return key.bad
        if problem is Status.WEAK_ALGORITHM:  # the ssh-rsa (SHA-1) signature algorithm
            return self._judge(pubblob, key, when=when, note="", weak=note, refused=True)
        if key.weak is not None:
            return self._judge(
                pubblob, key, when=when, note="", weak=key.weak, refused=key.git_refuses
            )
        return self._judge(pubblob, key, when=when, note=note, weak=None, refused=False)

    def _judge(
        self,
        pubblob: bytes,
        key: _Key,
        *,
        when: int | None,
        note: str,
        weak: str | None,
        refused: bool,
    ) -> Verification:
        """The trust verdict for a signature that verified with ``key``. ``weak`` says
        why the signature is weak, ``refused`` that ssh-keygen refuses it outright."""
        t = int(time.time()) if when is None else when
        entries = self._trust.get(pubblob)
        if not entries:
            return self._verdict(key, Status.UNKNOWN_KEY, "U", None, note, weak, refused)
        for entry in entries:
            if entry.valid_at(t):
                chosen = entry
                break
        else:
            return self._outside_validity(key, entries[0], t, weak, refused)
        if chosen.allows_git:
            return self._verdict(key, Status.GOOD, "G", chosen, note, weak, refused)
        # git then runs `ssh-keygen -Y verify -I <principal>` for each principal of that
        # entry: another entry for this key and principal may allow "git".
        for principal in chosen.principals:
            for entry in entries:
                if (
                    entry.allows_git
                    and entry.valid_at(t)
                    and _match_list(principal, entry.principals)
                ):
                    return self._verdict(key, Status.GOOD, "G", entry, note, weak, refused)
        return self._verdict(key, Status.UNKNOWN_KEY, "B", chosen, note, weak, refused)

    @staticmethod
    def _verdict(  # noqa: PLR0917 - private, called from _judge only
        key: _Key,
        status: Status,
        code: str,
        entry: _Entry | None,
        note: str,
        weak: str | None,
        refused: bool,
    ) -> Verification:
        """The verdict for a time-independent outcome, built once per (key, outcome):
        these are immutable and shared, so the hot path allocates none."""
        cache_key = (status, code, id(entry), note, weak, refused)
        cached = key.verdicts.get(cache_key)
        if cached is not None:
            return cached
        fp = key.fingerprint
        trusted = entry.trusted if entry is not None else None
        if status is Status.UNKNOWN_KEY and trusted is not None:
            namespaces = ",".join(trusted.namespaces or ())
            reason = (
                f"key {fp} of {_name(trusted)} is trusted only for namespaces "
                f"{namespaces!r}, not 'git'"
            )
            trusted = None
        elif key.certificate is not None:
            reason = (
                f"good {key.key_type} signature by {fp} with an {key.certificate}; "
                "certificate authorities are not supported as trust yet"
            )
        elif trusted is None:
            reason = (
                f"good {key.key_type} signature by {fp}, a key the trust store does not contain"
            )
        else:
            reason = f"good {key.key_type} signature by {_name(trusted)} with key {fp}"
        if note:
            reason = f"{reason}; {note}"
        if weak is not None:
            who = f" of {_name(trusted)}" if trusted is not None else ""
            reason = (
                f"{key.key_type} signature by key {fp}{who} verifies but uses a weak "
                f"algorithm: {weak}"
            )
            status = Status.WEAK_ALGORITHM
            if refused:
                code = "B"  # ssh-keygen refuses the key or the ssh-rsa signature outright
        verdict = Verification(
            Format.SSH,
            status,
            reason,
            key=fp,
            signer=trusted.signer if trusted is not None else None,
            identities=trusted.principals if trusted is not None else (),
            git_code=code,
        )
        key.verdicts[cache_key] = verdict
        return verdict

    @staticmethod
    def _outside_validity(
        key: _Key, first: _Entry, t: int, weak: str | None, refused: bool
    ) -> Verification:
        """No trust entry for the key is valid at ``t``; git says U (find-principals
        finds no one, check-novalidate finds a good signature)."""
        fp = key.fingerprint
        trusted = first.trusted
        if first.after is not None and t < first.after:
            status = Status.NOT_YET_VALID
            reason = (
                f"key {fp} of {_name(trusted)} is valid only from {_iso(first.after)}; "
                f"the signature claims {_iso(t)}"
            )
        else:
            status = Status.EXPIRED_KEY
            before = first.before if first.before is not None else t
            reason = (
                f"key {fp} of {_name(trusted)} expired at {_iso(before)}; "
                f"the signature claims {_iso(t)}"
            )
        code = "U"
        if weak is not None:
            reason = f"{reason}; it also uses a weak algorithm: {weak}"
            status = Status.WEAK_ALGORITHM
            if refused:
                code = "B"
        return Verification(
            Format.SSH,
            status,
            reason,
            key=fp,
            signer=trusted.signer,
            identities=trusted.principals,
            git_code=code,
        )
