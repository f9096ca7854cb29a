"""Signed pushes: the certificate ``git push --signed`` sends, checked by our engine.

A server that sets ``receive.certNonceSeed`` asks clients for a push certificate;
``git push --signed`` then sends one, signed with the pusher's OpenPGP or SSH key
(``user.signingkey``, namespace ``git`` for SSH)::

    certificate version 0.1
    pusher <key id or ident> <time> <tz>
    pushee <the URL pushed to>
    nonce <the nonce the server issued for this push>
    push-option <option>                  (zero or more)

    <old> <new> <ref>                     (one line per ref update)
    -----BEGIN PGP SIGNATURE-----         (or SSH SIGNATURE)
    …

receive-pack stores it as a blob and hands the pre-receive and post-receive hooks
``GIT_PUSH_CERT`` (the blob id), ``GIT_PUSH_CERT_NONCE`` and
``GIT_PUSH_CERT_NONCE_STATUS`` (``OK``, ``UNSOLICITED``, ``MISSING``, ``BAD`` or
``SLOP``). git's own verdict (``GIT_PUSH_CERT_STATUS``, ``_SIGNER``, ``_KEY``) comes
from gpg and git's trust configuration, not from our policy: it is ignored. The update
hook gets none of these, so signed pushes can only be enforced from pre-receive.

:func:`check_certificate` accepts a certificate when, all at once:

- git says its nonce is ``OK`` (the one this server issued for this very push, or, for
  stateless HTTP, one it issued within ``receive.certNonceSlop`` seconds) and the
  certificate carries that nonce, and this repository has not seen the same signed
  content before (:func:`remember_certificate`; git's nonces have a resolution of one
  second): a certificate copied from an earlier push is refused, however its signature
  was re-encoded;
- it is version 0.1, names a ``pushee`` (one of ``pushees`` when the server lists them,
  ``git config gitguard.pushee``) and its ref updates are exactly the push's updates;
- nothing follows the line that ends its signature's armor (``-----END … -----``):
  git ends a certificate there, and verifiers ignore what follows, so bytes there
  only serve to make a used certificate look new;
- its signature, over the certificate up to the signature (cut where git cuts it,
  never re-serialised), verifies with :class:`gitguard.signatures.Verifier` against the
  policy's trust store, judged at push time (``now``);
- the signer is not compromised, retired (at ``now``) or not yet valid, and is not a
  narrowly trusted forge key (``only_when_committer``): such keys sign for a forge's
  web commits, never for pushes.

Whether that signer may push to a given ref is the rule's decision
(:mod:`gitguard.server.receive`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from gitguard._text import utc
from gitguard.model import Status

if TYPE_CHECKING:
    from gitguard.gitobjects import Repo
    from gitguard.model import Verification
    from gitguard.signatures import Verifier
    from gitguard.trust.policy import Policy

CERT_VERSION = "0.1"
NONCE_OK = "OK"
SEEN_WINDOW = 24 * 3600  # seconds a used certificate is remembered

# Armor lines that start the signature appended to a certificate (git's
# parse_signed_buffer: the last line starting with one of these).
_SIG_STARTS = (
    b"-----BEGIN PGP SIGNATURE-----",
    b"-----BEGIN PGP MESSAGE-----",
    b"-----BEGIN SSH SIGNATURE-----",
    b"-----BEGIN SIGNED MESSAGE-----",
)

_NONCE_PROBLEMS = {
    "UNSOLICITED": (
        "the server did not ask for a signed push (its receive.certNonceSeed is not set; "
        "`guard server install` sets it)"
    ),
    "MISSING": "the certificate carries no nonce",
    "BAD": (
        "the certificate's nonce is not the one this server issued for this push: "
        "a replayed or forged certificate"
    ),
    "SLOP": (
        "the certificate's nonce was issued for an earlier request (stale, or replayed); "
        "for stateless HTTP servers raise receive.certNonceSlop"
    ),
}


class PushCertError(ValueError):
    """A push certificate cannot be parsed; the message says why."""


@dataclass(frozen=True, slots=True)
class PushCert:
    """What git handed the hook: the certificate's bytes and git's nonce verdict.
    ``reused`` is set when :func:`remember_certificate` has seen its signed content
    before."""

    blob: bytes
    nonce_status: str
    nonce: str
    reused: bool = False


@dataclass(frozen=True, slots=True)
class Certificate:
    """A parsed certificate. ``payload`` is the signed bytes (everything before the
    signature), ``signature`` the appended signature or ``None``. ``updates`` are
    ``(old, new, ref)`` in certificate order."""

    version: str
    pusher: str
    pushee: str | None
    nonce: str | None
    options: tuple[str, ...]
    updates: tuple[tuple[str, str, str], ...]
    payload: bytes
    signature: bytes | None


@dataclass(frozen=True, slots=True)
class CertCheck:
    """The outcome of :func:`check_certificate`. ``problems`` empty means valid for
    this push; ``signer`` and ``key`` name who signed it when the signature is good."""

    problems: tuple[str, ...]
    signer: str | None = None
    key: str | None = None
    verification: Verification | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        """``signed by alice (SHA256:…)`` or the problems, for reports."""
        if self.ok:
            return f"signed by {self.signer} ({self.key})"
        return "; ".join(self.problems)


def split_signature(blob: bytes) -> tuple[bytes, bytes | None]:
    """``(payload, signature)``: the signature starts at the last line that opens a
    known armor, as in git's ``parse_signed_buffer``."""
    match = len(blob)
    pos = 0
    while pos < len(blob):
        if blob.startswith(_SIG_STARTS, pos):
            match = pos
        nl = blob.find(b"\n", pos)
        pos = len(blob) if nl < 0 else nl + 1
    if match == len(blob):
        return blob, None
    return blob[:match], blob[match:]


def _armor_end_problem(signature: bytes) -> str | None:
    """Why ``signature`` (from its BEGIN line on) does not end exactly with the END
    line of its armor, or ``None``. The END line's newline may be missing; anything
    else after it, an extra newline included, is a problem."""
    begin = next(s for s in _SIG_STARTS if signature.startswith(s))
    end = b"-----END " + begin[len(b"-----BEGIN ") :]
    shown = end.decode("ascii")
    at = signature.find(b"\n" + end)
    if at < 0:
        return f"the certificate's signature has no `{shown}` line (truncated?)"
    after = signature[at + 1 + len(end) :]
    extra = after[1:] if after.startswith(b"\n") else after
    if not extra:
        return None
    n = len(extra)
    return (
        f"the certificate has {n} byte{'s' if n != 1 else ''} after the line `{shown}` "
        "that ends its signature (git ends a certificate there): it was changed after it "
        "was signed"
    )


def _is_oid(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)


def parse_certificate(blob: bytes) -> Certificate:
    """Parse a push certificate; raises :class:`PushCertError`, also for anything
    after the signature's armor END line."""
    payload, signature = split_signature(blob)
    if signature is not None:
        problem = _armor_end_problem(signature)
        if problem is not None:
            raise PushCertError(problem)
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PushCertError(f"certificate is not UTF-8 text (byte {e.start})") from None
    head, sep, body = text.partition("\n\n")
    if not sep:
        raise PushCertError("certificate has no blank line after its headers")
    lines = head.split("\n")
    prefix = "certificate version "
    if not lines[0].startswith(prefix):
        raise PushCertError("certificate does not start with `certificate version`")
    version = lines[0][len(prefix) :]
    if version != CERT_VERSION:
        raise PushCertError(f"certificate version {version!r} is not {CERT_VERSION}")
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        key, _, value = line.partition(" ")
        headers.setdefault(key, []).append(value)
    for key in ("pusher", "pushee", "nonce"):
        if len(headers.get(key, [])) > 1:
            raise PushCertError(f"certificate has more than one `{key}` header")
    if "pusher" not in headers:
        raise PushCertError("certificate has no `pusher` header")
    updates: list[tuple[str, str, str]] = []
    for line in body.split("\n"):
        if not line:
            continue
        fields = line.split(" ")
        if len(fields) != 3 or not all(_is_oid(f) for f in fields[:2]):
            raise PushCertError(f"certificate has a malformed update line: {line[:120]!r}")
        updates.append((fields[0], fields[1], fields[2]))
    return Certificate(
        version=version,
        pusher=headers["pusher"][0],
        pushee=headers.get("pushee", [None])[0],
        nonce=headers.get("nonce", [None])[0],
        options=tuple(headers.get("push-option", ())),
        updates=tuple(updates),
        payload=payload,
        signature=signature,
    )


def read_push_cert(repo: Repo, environ: Mapping[str, str]) -> PushCert | None:
    """The certificate git handed this hook (``GIT_PUSH_CERT*``), or ``None`` when the
    push was not signed. Raises :class:`~gitguard.errors.GitError` when the blob named
    by ``GIT_PUSH_CERT`` cannot be read."""
    oid = environ.get("GIT_PUSH_CERT")
    if not oid:
        return None
    from gitguard import git

    _, blob, _ = git.run("cat-file", "blob", oid, cwd=repo.path)
    return PushCert(
        blob=blob,
        nonce_status=environ.get("GIT_PUSH_CERT_NONCE_STATUS", ""),
        nonce=environ.get("GIT_PUSH_CERT_NONCE", ""),
    )


def _normalise_url(url: str) -> str:
    url = url.rstrip("/")
    return url[: -len(".git")] if url.endswith(".git") else url


def _signer_problems(policy: Policy, v: Verification, now: int) -> list[str]:
    if v.signer is None:
        return []
    signer = policy.signer(v.signer)
    if signer is None:
        return []
    if signer.compromised:
        return [f"certificate signer {signer.name} is marked compromised"]
    problems = []
    if signer.retired_after is not None and now > signer.retired_after:
        problems.append(
            f"certificate signer {signer.name} was retired after {utc(signer.retired_after)}"
        )
    if signer.valid_after is not None and now < signer.valid_after:
        problems.append(
            f"certificate signer {signer.name} is not valid before {utc(signer.valid_after)}"
        )
    if signer.only_when_committer:
        problems.append(
            f"certificate signer {signer.name} is trusted only for commits by "
            f"{' / '.join(signer.only_when_committer)}, not for pushes"
        )
    return problems


def check_certificate(
    cert: PushCert | None,
    updates: Iterable[tuple[str, str, str]],
    *,
    verifier: Verifier,
    policy: Policy,
    now: int,
    pushees: Sequence[str] = (),
) -> CertCheck:
    """Check the push certificate against the push's ``updates`` (every ``(old, new,
    ref)`` of the push), the policy's trust store and the time of the push. Every
    problem found is reported, not only the first."""
    if cert is None:
        return CertCheck(("this push is not signed: push with `git push --signed`",))
    problems: list[str] = []
    if cert.reused:
        problems.append(
            "this certificate was already used by an earlier push: a replayed certificate"
        )
    if cert.nonce_status != NONCE_OK:
        status = cert.nonce_status or "(not set)"
        problems.append(
            f"nonce status {status}: "
            + _NONCE_PROBLEMS.get(cert.nonce_status, "git did not accept the nonce")
        )
    try:
        parsed = parse_certificate(cert.blob)
    except PushCertError as e:
        return CertCheck((*problems, str(e)))
    if parsed.nonce is None:
        if cert.nonce_status == NONCE_OK:
            problems.append("the certificate carries no nonce")
    elif parsed.nonce != cert.nonce:
        problems.append("the certificate's nonce is not the nonce this server issued for this push")
    if not parsed.pushee:
        problems.append("the certificate names no pushee (the repository it was made for)")
    elif pushees and _normalise_url(parsed.pushee) not in {_normalise_url(p) for p in pushees}:
        problems.append(
            f"the certificate was made for {parsed.pushee}, not for this repository "
            f"({', '.join(pushees)})"
        )
    actual = sorted(set(updates))
    listed = sorted(set(parsed.updates))
    if len(parsed.updates) != len(listed) or listed != actual:
        missing = [u for u in actual if u not in listed]
        extra = [u for u in listed if u not in actual]
        detail = []
        if missing:
            detail.append("it does not list " + ", ".join(" ".join(u) for u in missing))
        if extra:
            detail.append("it lists " + ", ".join(" ".join(u) for u in extra) + " not pushed")
        if not detail:
            detail.append("it lists an update twice")
        problems.append("the certificate's ref updates differ from the push: " + "; ".join(detail))
    if parsed.signature is None:
        problems.append("the certificate is not signed")
        return CertCheck(tuple(problems))
    v = verifier.verify(parsed.payload, parsed.signature, when=now)
    if v.status is not Status.GOOD:
        problems.append(f"certificate signature: {v.status.value}: {v.reason}")
        return CertCheck(tuple(problems), v.signer, v.key, v)
    problems.extend(_signer_problems(policy, v, now))
    return CertCheck(tuple(problems), v.signer, v.key, v)


def replay_key(blob: bytes) -> str:
    """What makes two certificates "the same" for replay detection: a digest of the
    signed content, the bytes before the signature exactly as they are verified
    (:func:`split_signature`). Not of the whole blob, and not of the signature: what
    follows the signature, its armor (line wrapping, headers, checksum) and even its
    value (OpenPGP's unhashed subpackets, quick-check octets; ECDSA's ``s``/``n - s``)
    can all change without the signature ceasing to verify. The signed content holds
    the nonce, the pusher's time and the ref updates; a genuine push never repeats it."""
    import hashlib

    payload, _ = split_signature(blob)
    return hashlib.sha256(b"gitguard push certificate signed content\0" + payload).hexdigest()


def remember_certificate(cert: PushCert, git_dir: str, now: int) -> PushCert:
    """Record ``cert`` as used in ``GIT_DIR/gitguard/push-certs`` and return it with
    ``reused`` set if its signed content (:func:`replay_key`) was recorded before.

    git's nonce is a keyed hash of the repository path and the time *in seconds*, and
    stateless HTTP servers accept nonces up to ``receive.certNonceSlop`` seconds old:
    a certificate captured from a push and replayed within that second (or that slop)
    gets ``GIT_PUSH_CERT_NONCE_STATUS=OK``. Its signed content is identical, though,
    however the bytes around it were changed, and a genuine push never sends the same
    signed content twice. Entries are kept for :data:`SEEN_WINDOW` seconds, longer
    than any nonce stays acceptable. (Entries written before the key was the signed
    content are digests of the whole blob: still recognised, for that window.)
    """
    import fcntl
    import hashlib

    key = replay_key(cert.blob)
    legacy = hashlib.sha256(cert.blob).hexdigest()
    directory = os.path.join(git_dir, "gitguard")
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "push-certs"), "a+", encoding="ascii") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # concurrent pushes: one reader-writer at a time
        f.seek(0)
        kept: list[tuple[int, str]] = []
        for line in f.read().splitlines():
            when, _, seen = line.partition(" ")
            if when.isdigit() and now - int(when) <= SEEN_WINDOW:
                kept.append((int(when), seen))
        reused = any(seen in (key, legacy) for _, seen in kept)
        if not reused:
            kept.append((now, key))
        f.seek(0)
        f.truncate()
        f.write("".join(f"{when} {seen}\n" for when, seen in kept))
    return replace(cert, reused=reused)
