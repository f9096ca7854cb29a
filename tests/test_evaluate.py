"""The pure decision table: facts + verification + policy -> verdict."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import pytest

from gitguard.evaluate import GIT_CODES, HINTS, evaluate
from gitguard.model import Format, Kind, SignedObject, Status, TrustStore, Verification
from gitguard.trust.policy import Policy, Signer

OBJ = SignedObject(
    oid="a" * 40,
    kind=Kind.COMMIT,
    payload=b"tree x\n",
    signature=b"-----BEGIN SSH SIGNATURE-----\n",
    committer="Alice <alice@example.com>",
    committer_email="alice@example.com",
    author="Alice <alice@example.com>",
    subject="Add things",
    time=1_700_000_000,
)
GOOD = Verification(Format.SSH, Status.GOOD, "good signature", key="SHA256:k", signer="alice")


def _policy(**signer: object) -> Policy:
    fields: dict[str, object] = {
        "name": "alice",
        "emails": ("alice@example.com",),
        "keys": (),
        "valid_after": None,
        "retired_after": None,
        "compromised": False,
        "only_when_committer": (),
    }
    fields.update(signer)
    return Policy(
        source="policy.toml",
        version=1,
        trust=TrustStore(),
        signers=(Signer(**fields),),  # type: ignore[arg-type]
        groups=MappingProxyType({}),
        rules=(),
        default="allow",
        release=None,
    )


@dataclass(frozen=True)
class Case:
    name: str
    obj: SignedObject
    verification: Verification | None
    policy: Policy | None
    status: Status
    git_code: str


CASES = [
    Case("unsigned", OBJ._replace(signature=None), None, None, Status.UNSIGNED, "N"),
    Case(
        "malformed object",
        OBJ._replace(malformed="two gpgsig headers"),
        None,
        None,
        Status.MALFORMED,
        "B",
    ),
    Case("good, no policy", OBJ, GOOD, None, Status.GOOD, "G"),
    Case(
        "verifier's own git code is kept",
        OBJ,
        Verification(Format.SSH, Status.UNKNOWN_KEY, "unknown", git_code="U"),
        None,
        Status.UNKNOWN_KEY,
        "U",
    ),
    Case(
        "bad signature passes through",
        OBJ,
        Verification(Format.OPENPGP, Status.BAD_SIGNATURE, "bad"),
        _policy(),
        Status.BAD_SIGNATURE,
        "B",
    ),
    Case("good with policy", OBJ, GOOD, _policy(), Status.GOOD, "G"),
    Case("compromised signer", OBJ, GOOD, _policy(compromised=True), Status.REVOKED_KEY, "R"),
    Case(
        "signed before valid_after",
        OBJ,
        GOOD,
        _policy(valid_after=1_700_000_001),
        Status.NOT_YET_VALID,
        "B",
    ),
    Case("signed on valid_after", OBJ, GOOD, _policy(valid_after=1_700_000_000), Status.GOOD, "G"),
    Case(
        "signed after retirement",
        OBJ,
        GOOD,
        _policy(retired_after=1_699_999_999),
        Status.EXPIRED_KEY,
        "Y",
    ),
    Case(
        "OpenPGP signature time decides, not committer time",
        OBJ,
        GOOD._replace(format=Format.OPENPGP, signed_at=1_600_000_000),
        _policy(retired_after=1_699_999_999),
        Status.GOOD,
        "G",
    ),
    Case(
        "forge key for another committer",
        OBJ,
        GOOD,
        _policy(only_when_committer=("GitHub <noreply@github.com>",)),
        Status.NOT_ALLOWED,
        "G",
    ),
    Case(
        "forge key for its committer",
        OBJ._replace(committer="GitHub <noreply@github.com>"),
        GOOD,
        _policy(only_when_committer=("GitHub <noreply@github.com>",)),
        Status.GOOD,
        "G",
    ),
    Case(
        "signer only in a trust file",
        OBJ,
        GOOD._replace(signer="bob@example.com"),
        _policy(),
        Status.GOOD,
        "G",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_decision_table(case: Case) -> None:
    verdict = evaluate(case.obj, case.verification, case.policy)
    assert verdict.status is case.status
    assert verdict.git_code == case.git_code
    assert verdict.object == case.obj.oid
    if case.status is not Status.GOOD:
        assert verdict.hint == HINTS[case.status]
        assert verdict.hint
        assert verdict.to_json()["hint"] == verdict.hint
    else:
        assert "hint" not in verdict.to_json()


def test_every_status_has_a_git_code_and_hint() -> None:
    for status in Status:
        assert GIT_CODES[status] in "GBUXYREN"
        assert (HINTS[status] == "") == (status is Status.GOOD)


def test_json_contract_fields() -> None:
    doc = evaluate(OBJ, GOOD, None).to_json()
    assert list(doc) == [
        "object",
        "kind",
        "status",
        "git_code",
        "format",
        "key",
        "signer",
        "reason",
    ]
    assert doc["status"] == "good"
    assert doc["format"] == "ssh"


# --- a rule's admission (evaluate.admit): one home for receive, release and client ----


@pytest.mark.parametrize(
    ("signers", "must_match", "committer_email", "status", "reason"),
    [
        (("alice",), False, "alice@example.com", Status.GOOD, "good signature"),
        (
            ("bob",),
            False,
            "alice@example.com",
            Status.NOT_ALLOWED,
            "signer alice is not allowed on refs/heads/main (rule policy.toml:3 allows bob)",
        ),
        (("alice",), True, "ALICE@example.com", Status.GOOD, "good signature"),
        (
            ("alice",),
            True,
            "mallory@example.com",
            Status.IDENTITY_MISMATCH,
            "committer e-mail <mallory@example.com> is not an identity of signer alice",
        ),
    ],
)
def test_admit(
    signers: tuple[str, ...], must_match: bool, committer_email: str, status: Status, reason: str
) -> None:
    from gitguard.evaluate import admit
    from gitguard.trust.policy import Rule

    policy = _policy()
    obj = OBJ._replace(committer_email=committer_email)
    rule = Rule(refs=("refs/heads/main",), signers=signers, committer_must_match=must_match)
    verdict = evaluate(obj, GOOD, policy)
    admitted = admit(verdict, GOOD, obj, policy, rule, ref="refs/heads/main", label="policy.toml:3")
    assert (admitted.status, admitted.reason) == (status, reason)
    assert admitted.git_code == GIT_CODES[status]
    if status is not Status.GOOD:
        assert admitted.hint == HINTS[status]
