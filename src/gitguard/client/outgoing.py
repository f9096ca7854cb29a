"""The commits about to leave this machine, judged as the server's receive guard will
judge them: every commit a push would send (``guard-pre-push``, :func:`check_push`) and
the commit just made (``guard-post-commit``, :func:`check_head`).

Both run the server's own engine (:func:`gitguard.server.receive.check_updates`), with
the history the remote is known to have counted as already checked; without a policy,
against :func:`git_trust_policy` (every new commit signed by a key git trusts).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gitguard import git
from gitguard.errors import GuardError

if TYPE_CHECKING:
    from gitguard.client.workspace import Workspace
    from gitguard.gitobjects import Repo
    from gitguard.model import TrustStore
    from gitguard.server.receive import ReceiveResult
    from gitguard.trust.policy import Policy

__all__ = [
    "GIT_TRUST_SOURCE",
    "PushLine",
    "check_head",
    "check_push",
    "git_trust_policy",
    "known_revisions",
    "parse_pre_push",
]


@dataclass(frozen=True, slots=True)
class PushLine:
    """One pre-push stdin line: ``<local ref> <local oid> <remote ref> <remote oid>``."""

    local_ref: str
    local_oid: str
    remote_ref: str
    remote_oid: str


def parse_pre_push(text: str, zero_id: str) -> list[PushLine]:
    """Parse pre-push input. Object ids must be as long as the repository's
    (``zero_id``: SHA-1 40, SHA-256 64 hex digits)."""
    lines = []
    hexdigits = set("0123456789abcdef")
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        parts = line.rsplit(" ", 3)
        if len(parts) != 4:
            raise GuardError(f"pre-push input line {n} is not '<ref> <oid> <ref> <oid>': {line!r}")
        for oid in (parts[1], parts[3]):
            if len(oid) != len(zero_id) or not set(oid) <= hexdigits:
                raise GuardError(f"pre-push input line {n}: {oid!r} is not an object id")
        lines.append(PushLine(*parts))
    return lines


GIT_TRUST_SOURCE = "git-trust"


def git_trust_policy(trust: TrustStore) -> Policy:
    """The implicit policy of a repository without one: every new commit on every ref
    signed by a key git itself trusts (one rule, ``git-trust:0``)."""
    from gitguard.trust.policy import Policy, Rule, Signer

    names = tuple(dict.fromkeys([k.signer for k in trust.ssh] + [c.signer for c in trust.openpgp]))
    rule = Rule(refs=("*",), require="signed", signers=names, line=0)
    return Policy(
        source=GIT_TRUST_SOURCE,
        version=1,
        trust=trust,
        signers=tuple(Signer(n) for n in names),
        rules=(rule,),
    )


def _client_policy(policy: Policy) -> Policy:
    """The policy as the client can check it: a push certificate only exists once git
    sends the push, so ``require_signed_push`` is left to the server."""

    if not any(r.require_signed_push for r in policy.rules):
        return policy
    rules = tuple(r._replace(require_signed_push=False) for r in policy.rules)
    return policy._replace(rules=rules)


def _protected(policy: Policy, ref: str) -> bool:
    rule = policy.rule_for(ref)
    return rule is not None and rule.require == "signed"


def known_revisions(
    repo: Repo, remote: str, policy: Policy, lines: Sequence[PushLine]
) -> list[str]:
    """What the server's protected history is, as far as this clone knows it: the
    remote-tracking refs of ``remote`` whose branch a ``require = "signed"`` rule
    protects (``refs/remotes/R/X`` stands for ``refs/heads/X``), and the remote's
    current value of each pushed protected ref when we have that commit."""
    fmt = "%(objectname) %(*objectname) %(refname)"
    prefix = f"refs/remotes/{remote}/"
    _, out, _ = git.run("for-each-ref", f"--format={fmt}", prefix, cwd=repo.path)
    known: list[str] = []
    for entry in out.decode("utf-8", "surrogateescape").split("\n"):
        if not entry:
            continue
        oid, peeled, ref = entry.split(" ", 2)
        branch = ref.removeprefix(prefix)
        if branch != "HEAD" and _protected(policy, f"refs/heads/{branch}"):
            known.append(peeled or oid)
    for line in lines:
        old = line.remote_oid
        if old != repo.zero_id and _protected(policy, line.remote_ref) and _is_commit(repo, old):
            known.append(old)
    return list(dict.fromkeys(known))


def _is_commit(repo: Repo, oid: str) -> bool:
    rc, _, _ = git.run("cat-file", "-e", f"{oid}^{{commit}}", cwd=repo.path, check=False)
    return rc == 0


def check_push(
    repo: Repo,
    remote: str,
    lines: Sequence[PushLine],
    policy: Policy | None,
    trust: TrustStore,
    *,
    now: int | None = None,
) -> ReceiveResult:
    """What the server's receive guard would decide about this push, decided by the
    same engine (:func:`gitguard.server.receive.check_updates`) with the history the remote is
    known to have as already checked. Without a policy, :func:`git_trust_policy`."""
    from gitguard.server.receive import RefUpdate, check_updates

    effective = _client_policy(policy) if policy is not None else git_trust_policy(trust)
    updates = [RefUpdate(x.remote_oid, x.local_oid, x.remote_ref) for x in lines]
    known = known_revisions(repo, remote, effective, lines)
    when = int(time.time()) if now is None else now
    return check_updates(repo, updates, effective, now=when, known=known)


def check_head(
    ws: Workspace, ref: str | None, policy: Policy | None, trust: TrustStore
) -> ReceiveResult:
    """The verdict on the commit just made, as the server would judge it when ``ref``
    (the current branch; ``HEAD`` when detached) is pushed: its parents count as
    known, so only the new commit is checked."""
    from gitguard.server.receive import RefUpdate, check_updates

    effective = _client_policy(policy) if policy is not None else git_trust_policy(trust)
    repo = ws.repo
    _, out, _ = git.run("rev-list", "--no-walk", "--parents", "HEAD", cwd=ws.top)
    head, *parents = out.decode().split()
    target = ref or "HEAD"
    update = RefUpdate(repo.zero_id, head, target)
    return check_updates(repo, [update], effective, now=int(time.time()), known=parents)
