"""What the client checks report, and how it is shown: a :class:`Problem` (what is
wrong, why the server will refuse it, the exact commands that fix it), the signing key
found and the signing check's :class:`SigningReport`; :func:`format_problems` renders
problems for a person. The checks never print: the hook adapters
(:mod:`gitguard.client.hooks`) and the CLI do.

The words several checks share live here too: why an unsigned commit is refused
(:data:`SIGN_WHY`) and the steps that set up a signing key.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "SIGN_WHY",
    "Problem",
    "SigningKey",
    "SigningReport",
    "format_problems",
    "gpg_fix",
    "setup_fix",
    "signingkey_fix",
]


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason the commit or push will not be accepted.

    ``what``: what is wrong (one line). ``why``: why the server will refuse it.
    ``fix``: the exact commands (or steps) that fix it, in order; alternatives are
    separate entries starting with ``or:``.
    """

    what: str
    why: str
    fix: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SigningKey:
    """The key git will sign with. ``fingerprint`` is the SSH ``SHA256:…`` fingerprint
    or the OpenPGP primary-key fingerprint (upper-case hex), as policies name keys."""

    format: str
    spec: str
    fingerprint: str | None = None
    ssh_blob: bytes | None = None
    ssh_type: str | None = None


@dataclass(frozen=True, slots=True)
class SigningReport:
    key: SigningKey | None
    problems: tuple[Problem, ...]
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def _paint(color: bool, code: str, text: str) -> str:
    return f"\033[{code}m{text}\033[0m" if color else text


def format_problems(title: str, problems: Sequence[Problem], *, color: bool) -> str:
    """A block a person can act on: what, why, and the commands that fix it."""
    out = [_paint(color, "1;31", title)]
    for p in problems:
        out.append(f"  {_paint(color, '1', '✗')} {p.what}")
        out.append(f"    why: {p.why}")
        if p.fix:
            out.append("    fix:")
            out.extend(f"      {_paint(color, '36', step)}" for step in p.fix)
    return "\n".join(out) + "\n"


# The words shared by the SSH, GnuPG and signing checks.

SIGN_WHY = (
    "servers that enforce signing (gitguard's receive guard, protected branches) refuse "
    "unsigned commits, and guard-pre-push stops them before they leave this machine"
)


def _ssh_candidates() -> list[str]:
    home = os.path.expanduser("~")
    names = ("id_ed25519", "id_ecdsa", "id_rsa")
    return [
        os.path.join(home, ".ssh", n + ".pub")
        for n in names
        if os.path.isfile(os.path.join(home, ".ssh", n + ".pub"))
    ]


def signingkey_fix() -> tuple[str, ...]:
    found = _ssh_candidates()
    pub = found[0].replace(os.path.expanduser("~"), "~", 1) if found else "~/.ssh/id_ed25519.pub"
    steps = ["git config --global gpg.format ssh", f"git config --global user.signingkey {pub}"]
    if not found:
        steps.insert(0, "ssh-keygen -t ed25519 -f ~/.ssh/id_ed25519   (if you have no key yet)")
    return tuple(steps)


def gpg_fix() -> tuple[str, ...]:
    return (
        "gpg --list-secret-keys --keyid-format long   (find your key's fingerprint)",
        "git config --global user.signingkey <FINGERPRINT>",
        "or: guard setup   (configures an SSH or GnuPG key it finds)",
    )


def setup_fix() -> tuple[str, ...]:
    return (
        "guard setup   (finds your SSH or GnuPG key and configures everything)",
        *(f"or: {s}" if i == 0 else s for i, s in enumerate(signingkey_fix())),
        "git config --global commit.gpgsign true",
    )
