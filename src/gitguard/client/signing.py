"""The signing check (``guard-signing``, ``guard-commit-msg``): is commit signing
configured, can git sign with the key (:mod:`~gitguard.client.ssh_keys`,
:mod:`~gitguard.client.gpg_keys`), and — with a policy — does the policy let that key
sign on this branch; without one, does git's own trust verify it.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gitguard.client.gpg_keys import openpgp_signing_key
from gitguard.client.report import SIGN_WHY, Problem, SigningKey, SigningReport, setup_fix
from gitguard.client.ssh_keys import pub_line, ssh_signing_key
from gitguard.errors import PolicyError
from gitguard.evaluate import signer_allowed

if TYPE_CHECKING:
    from gitguard.client.workspace import Workspace
    from gitguard.trust.gittrust import GpgCert
    from gitguard.trust.policy import Policy, Signer

__all__ = ["check_signing"]


def check_signing(
    ws: Workspace,
    policy: Policy | None,
    ref: str | None,
    *,
    now: float | None = None,
) -> SigningReport:
    """Is signing configured and usable, and (with a policy) trusted for ``ref``?"""
    problems: list[Problem] = []
    notes: list[str] = []
    cfg = ws.config
    fmt = (cfg.get("gpg.format") or "openpgp").strip().lower()
    spec = cfg.get("user.signingkey")
    spec = spec.strip() if spec else None
    gpgsign = cfg.bool("commit.gpgsign")
    if not gpgsign and not spec and cfg.get("gpg.format") is None:
        problems.append(
            Problem(
                "commit signing is not configured (commit.gpgsign, gpg.format and "
                "user.signingkey are unset)",
                _policy_why(policy, ref),
                setup_fix(),
            )
        )
        return SigningReport(None, tuple(problems), tuple(notes))
    if not gpgsign:
        problems.append(
            Problem(
                "commits are not signed automatically (commit.gpgsign is not true)",
                _policy_why(policy, ref),
                ("git config --global commit.gpgsign true", "or: guard setup"),
            )
        )
    key: SigningKey | None = None
    cert: GpgCert | None = None
    if fmt == "ssh":
        key, found = ssh_signing_key(ws, spec, notes)
        problems.extend(found)
    elif fmt == "openpgp":
        key, found, cert = openpgp_signing_key(ws, spec)
        problems.extend(found)
    elif fmt == "x509":
        program = cfg.get("gpg.x509.program") or "gpgsm"
        if shutil.which(program) is None:
            problems.append(
                Problem(
                    f"git signs X.509 signatures with `{program}`, which is not installed",
                    SIGN_WHY,
                    ("install it, or switch to SSH signing: guard setup",),
                )
            )
        notes.append("X.509 signing keys are not checked further")
    else:
        problems.append(
            Problem(
                f"gpg.format is {fmt!r}; git knows openpgp, ssh and x509",
                SIGN_WHY,
                ("git config --global gpg.format ssh", "or: guard setup"),
            )
        )
    if key is not None and not problems:
        problems.extend(_trust_problems(ws, key, cert, policy, ref=ref, now=now or time.time()))
    return SigningReport(key, tuple(problems), tuple(notes))


def _policy_why(policy: Policy | None, ref: str | None) -> str:
    if policy is None or ref is None:
        return SIGN_WHY
    rule = policy.rule_for(ref)
    if rule is None or rule.require == "none":
        return SIGN_WHY
    return (
        f"the policy ({policy.source}, rule at line {rule.line}) requires every new commit "
        f"on {ref} to be signed by {_names(rule.signers)}; the server refuses the push otherwise"
    )


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:6])
    return shown + (f" and {len(names) - 6} more" if len(names) > 6 else "")


def _key_owner(policy: Policy, key: SigningKey) -> Signer | None:
    for signer in policy.signers:
        if key.fingerprint is not None and key.fingerprint in signer.keys:
            return signer
    return None


def _admin_fix(key: SigningKey) -> str:
    if key.format == "ssh" and key.ssh_blob is not None and key.ssh_type is not None:
        return (
            "ask the policy admin to add your key to your [[signer]] entry: "
            f'keys = ["{pub_line(key.ssh_type, key.ssh_blob)}"]'
        )
    return (
        "ask the policy admin to add your key to your [[signer]] entry: "
        f'keys = ["openpgp:{key.fingerprint}"] (with your certificate from '
        f"`gpg --armor --export {key.fingerprint}` in [trust] openpgp)"
    )


def _trust_problems(
    ws: Workspace,
    key: SigningKey,
    cert: GpgCert | None,
    policy: Policy | None,
    *,
    ref: str | None,
    now: float,
) -> list[Problem]:
    if policy is None:
        return _git_trust_problems(ws, key, cert)
    if ref is None:
        return []
    rule = policy.rule_for(ref)
    if rule is None or rule.require == "none" or key.fingerprint is None:
        return []
    where = f"{policy.source}, rule at line {rule.line}"
    allowed = _names(rule.signers)
    signer = _key_owner(policy, key)
    other_keys = "or: sign with a key the policy lists: git config user.signingkey <that key>"
    if signer is None:
        return [
            Problem(
                f"your signing key {key.fingerprint} is not in the policy's trust store",
                f"the policy ({where}) allows only {allowed} to sign commits on {ref}; the "
                "server refuses commits signed by any other key",
                (_admin_fix(key), other_keys, "guard setup prints the line to hand over"),
            )
        ]
    if signer.compromised:
        return [
            Problem(
                f"your signing key {key.fingerprint} belongs to signer {signer.name}, which the "
                "policy marks compromised",
                "every signature by a compromised signer's keys is refused",
                ("create a new key (guard setup --generate) and have the admin trust it",),
            )
        ]
    if signer.retired_after is not None and now > signer.retired_after:
        return [
            Problem(
                f"signer {signer.name} (your key {key.fingerprint}) is retired in the policy",
                "the server judges new pushes by the time of the push: a retired signer's "
                "new work is refused",
                ("create a new key (guard setup --generate) and have the admin trust it",),
            )
        ]
    if not signer_allowed(rule, signer.name):
        return [
            Problem(
                f"your key belongs to signer {signer.name}, who may not sign commits on {ref}",
                f"the policy ({where}) allows only {allowed} there",
                (
                    "ask the policy admin to allow you on this branch, or commit on a "
                    "branch you may push to",
                ),
            )
        ]
    return []


def _git_trust_problems(ws: Workspace, key: SigningKey, cert: GpgCert | None) -> list[Problem]:
    """Without a policy the client requires "verifiable by git's own trust"."""
    why = (
        "with no gitguard policy in this repository, a commit must verify with git's own "
        "trust; guard-post-commit and guard-pre-push would report it as unknown-key"
    )
    if key.format == "ssh" and key.ssh_blob is not None and key.ssh_type is not None:
        from gitguard.trust.allowed_signers import parse_allowed_signers

        line = f'<your e-mail> namespaces="git" {pub_line(key.ssh_type, key.ssh_blob)}'
        fix = (
            "guard setup   (adds your key to ~/.config/git/allowed_signers and configures it)",
            f"or: echo '{line}' >> ~/.config/git/allowed_signers",
            "git config --global gpg.ssh.allowedSignersFile ~/.config/git/allowed_signers",
        )
        path = ws.config.path("gpg.ssh.allowedSignersFile")
        if not path:
            return [
                Problem(
                    "gpg.ssh.allowedSignersFile is not set: git cannot verify "
                    "SSH signatures, not even yours",
                    why,
                    fix,
                )
            ]
        if not os.path.isabs(path):
            path = ws.path(path)
        try:
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "surrogateescape")
            keys = parse_allowed_signers(text, path)
        except OSError as e:
            return [
                Problem(f"cannot read gpg.ssh.allowedSignersFile {path}: {e.strerror}", why, fix)
            ]
        except PolicyError as e:
            return [Problem(f"gpg.ssh.allowedSignersFile is invalid: {e.problems[0]}", why, fix)]
        if not any(k.key_blob == key.ssh_blob for k in keys):
            return [
                Problem(
                    f"your signing key {key.fingerprint} is not in {path}",
                    why,
                    fix,
                )
            ]
    elif key.format == "openpgp" and cert is not None and cert.primary.validity not in "fu":
        fpr = cert.primary.fingerprint
        return [
            Problem(
                f"GnuPG does not consider your own key {fpr} valid (validity "
                f"{cert.primary.validity or '-'}: not full or ultimate)",
                why,
                (f"echo '{fpr}:6:' | gpg --import-ownertrust   (you own this key: ultimate)",),
            )
        ]
    return []
