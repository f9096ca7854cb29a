"""Pure decisions: (object facts, verification, policy) -> verdict. No I/O here.

The verifiers answer "is this a valid signature by a key we know, valid at the time";
this module adds what the policy says about the *signer*: retired or compromised
signers, validity windows, forge keys trusted only for certain committers. Keeping
it pure lets the policy change along history later (in-repo policy) and makes the
decision table testable without git or keys.
"""

from typing import TYPE_CHECKING, Any, NamedTuple

from gitguard._text import utc
from gitguard.model import Format, Kind, SignedObject, Status, Verification

if TYPE_CHECKING:
    from gitguard.trust.policy import Policy, Rule

# git's %G? letter for each status, where the format does not say otherwise.
# Statuses git has no letter for are given the letter git shows for the same
# signature: git does not know about signer policy, so not-allowed and
# identity-mismatch are "G" for git. weak-algorithm is "B": we refuse SHA-1/MD5
# signatures that git still accepts (documented: stricter than git).
GIT_CODES: dict[Status, str] = {
    Status.GOOD: "G",
    Status.UNSIGNED: "N",
    Status.BAD_SIGNATURE: "B",
    Status.UNKNOWN_KEY: "E",
    Status.NOT_ALLOWED: "G",
    Status.EXPIRED_KEY: "Y",
    Status.REVOKED_KEY: "R",
    Status.NOT_YET_VALID: "B",
    Status.IDENTITY_MISMATCH: "G",
    Status.WEAK_ALGORITHM: "B",
    Status.UNPROVEN_TIME: "U",
    Status.MALFORMED: "B",
}

_REBASE_HINT = "git rebase --exec 'git commit --amend --no-edit -S' <base>"

HINTS: dict[Status, str] = {
    Status.GOOD: "",
    Status.UNSIGNED: (
        "sign it: `git commit --amend --no-edit -S` for the last commit, "
        f"`{_REBASE_HINT}` for a series"
    ),
    Status.BAD_SIGNATURE: (
        "the object was changed after signing, or the signature belongs to other "
        f"content; re-sign it (`{_REBASE_HINT}`) and investigate how it was altered"
    ),
    Status.UNKNOWN_KEY: (
        "if the key belongs to a trusted signer, add it to the trust store "
        "(allowed_signers / [trust] openpgp / the signer's keys); otherwise re-sign "
        "with a trusted key"
    ),
    Status.NOT_ALLOWED: (
        "this signer is not allowed here by the policy; re-sign with an allowed key"
    ),
    Status.EXPIRED_KEY: (
        "the key was expired or retired when this was signed; re-sign with a current key "
        "(or extend the key's expiry, e.g. `gpg --quick-set-expire`, and re-export it)"
    ),
    Status.REVOKED_KEY: "the key is revoked or marked compromised; re-sign with a current key",
    Status.NOT_YET_VALID: (
        "the key was not yet valid when this was signed; check the key's valid-after / "
        "valid_after and the signing time"
    ),
    Status.IDENTITY_MISMATCH: "the signer's identities do not include the committer's e-mail",
    Status.WEAK_ALGORITHM: (
        "re-sign with a strong hash (SHA-256 or better; for gpg "
        "`--personal-digest-preferences SHA512`)"
    ),
    Status.UNPROVEN_TIME: (
        "no transparency-log entry proves the signing time; sign with gitsign's offline "
        "mode (`git config gitsign.rekorMode offline`) so the signature embeds its Rekor "
        'entry, or accept unproven times ([trust.x509] tlog = "if-present")'
    ),
    Status.MALFORMED: (
        "the object or its signature cannot be parsed; inspect it with `git cat-file -p`"
    ),
}


# X.509 signatures name identities (certificate SANs), not keys.
X509_HINTS: dict[Status, str] = {
    Status.UNKNOWN_KEY: (
        "if this identity is a trusted signer, name it in the policy (signer "
        'sigstore = [{ identity = "…", issuer = "…" }] for gitsign, x509 = [{ email = "…" }] '
        "with [trust.x509] ca_bundle for S/MIME); otherwise re-sign as a trusted signer"
    ),
    Status.EXPIRED_KEY: (
        "the certificate was not valid when this was signed; re-sign (gitsign fetches a "
        "fresh certificate; for S/MIME renew the certificate)"
    ),
}


class Verdict(NamedTuple):
    """The decision about one signed-or-not object. Serialisable and stable."""

    object: str
    kind: Kind
    status: Status
    git_code: str
    format: Format | None
    key: str | None
    signer: str | None
    reason: str
    hint: str
    commit: str | None = None
    subject: str = ""
    author: str = ""
    ref: str | None = None
    rule: str | None = None
    # X.509 (gitsign / S/MIME) only: see gitguard.model.Verification.
    identity: str | None = None
    issuer: str | None = None
    time_source: str | None = None
    tlog_index: int | None = None

    @property
    def ok(self) -> bool:
        return self.status is Status.GOOD

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "object": self.object,
            "kind": self.kind.value,
            "status": self.status.value,
            "git_code": self.git_code,
            "format": self.format.value if self.format else None,
            "key": self.key,
            "signer": self.signer,
            "reason": self.reason,
        }
        if self.commit is not None:
            doc["commit"] = self.commit
        if self.ref is not None:
            doc["ref"] = self.ref
        if self.rule is not None:
            doc["rule"] = self.rule
        if self.format is Format.X509:
            for name in ("identity", "issuer", "time_source", "tlog_index"):
                value = getattr(self, name)
                if value is not None:
                    doc[name] = value
        if self.status is not Status.GOOD:
            doc["hint"] = self.hint
        return doc


def _verdict(
    obj: SignedObject,
    status: Status,
    reason: str,
    v: Verification | None = None,
    git_code: str | None = None,
) -> Verdict:
    if git_code is None:
        git_code = GIT_CODES[status]
    return Verdict(
        object=obj.oid,
        kind=obj.kind,
        status=status,
        git_code=git_code,
        format=v.format if v else None,
        key=v.key if v else None,
        signer=v.signer if v else None,
        reason=reason,
        hint=X509_HINTS.get(status, HINTS[status])
        if v is not None and v.format is Format.X509
        else HINTS[status],
        commit=obj.commit,
        subject=obj.subject,
        author=obj.author,
        identity=v.identity if v else None,
        issuer=v.issuer if v else None,
        time_source=v.time_source if v else None,
        tlog_index=v.tlog_index if v else None,
    )


def evaluate(
    obj: SignedObject, v: Verification | None, policy: "Policy | None", *, now: int | None = None
) -> Verdict:
    """Decide one object. ``v`` is ``None`` exactly when the object has no signature
    or is malformed.

    ``now`` (POSIX seconds) is given when the object is being *introduced* at that
    time, as on a push: then the signer's policy lifetime is also judged at ``now``,
    whatever time the signature or commit claims — a retired signer cannot sign newly
    pushed work with a backdated commit, and a signer not yet valid cannot push early.
    Without ``now`` (audits) only the signature's own time is judged, so history
    signed before a retirement stays good.
    """
    if obj.malformed is not None:
        return _verdict(obj, Status.MALFORMED, obj.malformed, v)
    if obj.signature is None or v is None:
        return _verdict(obj, Status.UNSIGNED, f"{obj.kind.value} is not signed")
    if v.status is not Status.GOOD:
        return _verdict(obj, v.status, v.reason, v, v.git_code)
    if policy is None or v.signer is None:
        return _verdict(obj, Status.GOOD, v.reason, v, v.git_code)
    signer = policy.signer(v.signer)
    if signer is None:
        # Trusted through a trust file without a [[signer]] entry of its own.
        return _verdict(obj, Status.GOOD, v.reason, v, v.git_code)
    if signer.compromised:
        return _verdict(
            obj,
            Status.REVOKED_KEY,
            f"signer {signer.name} is marked compromised: every signature by its keys is refused",
            v,
        )
    when = v.signed_at if v.signed_at is not None else obj.time
    if signer.valid_after is not None and (when is None or when < signer.valid_after):
        return _verdict(
            obj,
            Status.NOT_YET_VALID,
            f"signed before signer {signer.name}'s valid_after",
            v,
        )
    if signer.retired_after is not None and (when is None or when > signer.retired_after):
        return _verdict(
            obj,
            Status.EXPIRED_KEY,
            f"signed after signer {signer.name} was retired",
            v,
        )
    if now is not None and signer.retired_after is not None and now > signer.retired_after:
        return _verdict(
            obj,
            Status.EXPIRED_KEY,
            f"signer {signer.name} was retired after {utc(signer.retired_after)}: a retired "
            "key cannot sign newly pushed work, whatever date the "
            f"{'signature' if v.signed_at is not None else obj.kind.value} claims",
            v,
        )
    if now is not None and signer.valid_after is not None and now < signer.valid_after:
        return _verdict(
            obj,
            Status.NOT_YET_VALID,
            f"signer {signer.name} is not valid before {utc(signer.valid_after)}",
            v,
        )
    if signer.only_when_committer and obj.committer not in signer.only_when_committer:
        return _verdict(
            obj,
            Status.NOT_ALLOWED,
            f"signer {signer.name} may only sign for committer "
            f"{' / '.join(signer.only_when_committer)}, not {obj.committer}",
            v,
        )
    return _verdict(obj, Status.GOOD, v.reason, v, v.git_code)


def restate(verdict: Verdict, status: Status, reason: str) -> Verdict:
    """``verdict`` with another status (its git letter and hint) and reason."""
    return verdict._replace(
        status=status, git_code=GIT_CODES[status], reason=reason, hint=HINTS[status]
    )


def identity_matches(policy: "Policy", v: Verification, obj: SignedObject) -> bool:
    """Whether the committer's (tagger's) e-mail is an identity of the signature's
    key or of its signer (case-insensitive)."""
    email = obj.committer_email.casefold()
    if not email:
        return False
    identities = set(v.identities)
    signer = policy.signer(v.signer) if v.signer is not None else None
    if signer is not None:
        identities.update(signer.emails)
    return any(i.casefold() == email for i in identities)


def signer_allowed(rule: "Rule", signer: str | None) -> bool:
    """Whether ``rule`` lets ``signer`` sign (commits, tags, push certificates)."""
    return signer is not None and signer in rule.signers


def admit(
    verdict: Verdict,
    v: Verification | None,
    obj: SignedObject,
    policy: "Policy",
    rule: "Rule",
    *,
    ref: str,
    label: str,
) -> Verdict:
    """A rule's own admission, on top of a good :func:`evaluate` verdict: the signer
    must be one of the rule's ``signers`` and, with ``committer_must_match``, the
    committer (tagger) one of its identities. The one place this is decided for the
    receive guard, the release trigger and the client's pre-push check."""
    if not verdict.ok or v is None:
        return verdict
    if not signer_allowed(rule, v.signer):
        return restate(
            verdict,
            Status.NOT_ALLOWED,
            f"signer {v.signer} is not allowed on {ref} (rule {label} allows "
            f"{', '.join(rule.signers)})",
        )
    if rule.committer_must_match and not identity_matches(policy, v, obj):
        return restate(
            verdict,
            Status.IDENTITY_MISMATCH,
            f"committer e-mail <{obj.committer_email}> is not an identity of signer {v.signer}",
        )
    return verdict
