"""The repository a client hook or ``guard setup`` works in: its top, git directory,
object format and git config (:class:`Workspace`, read once by :func:`open_workspace`),
the branch being committed to, the committer, and the policy and trust the client
checks against.

Client policy discovery (:func:`find_policy`): ``--policy FILE``, then
``git config guard.policy``, then ``.gitguard.toml`` at the top of the work tree. With
none, what is required is "signed and verifiable by git's own trust"
(``gpg.ssh.allowedSignersFile`` and the GnuPG keyring, see :mod:`gitguard.trust.gittrust`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gitguard import git
from gitguard.errors import GitError, PolicyError

if TYPE_CHECKING:
    from gitguard.gitobjects import Repo
    from gitguard.model import TrustStore
    from gitguard.trust.policy import Policy

__all__ = [
    "POLICY_FILE",
    "Workspace",
    "client_trust",
    "committer_ident",
    "current_branch",
    "find_policy",
    "load_client_policy",
    "open_workspace",
]

POLICY_FILE = ".gitguard.toml"


@dataclass(frozen=True, slots=True)
class Workspace:
    """The repository a client hook runs in."""

    top: str
    git_dir: str
    object_format: str
    config: git.GitConfig

    @property
    def repo(self) -> Repo:
        # gitobjects is imported only by the checks that read objects (not guard-signing)
        from gitguard.gitobjects import Repo

        return Repo(self.top, self.object_format)

    def path(self, *parts: str) -> str:
        return os.path.join(self.top, *parts)


def open_workspace(path: str | os.PathLike[str] | None = None) -> Workspace:
    rc, out, err = git.run(
        "rev-parse",
        "--show-object-format",
        "--absolute-git-dir",
        "--show-toplevel",
        cwd=path,
        check=False,
    )
    lines = out.decode("utf-8", "surrogateescape").split("\n")  # paths may hold U+2028
    if rc or len(lines) < 2:
        where = os.fspath(path) if path is not None else os.getcwd()
        msg = err.decode("utf-8", "replace").strip()
        raise GitError(f"{where}: not a git work tree ({msg})")
    fmt, git_dir = lines[0].strip(), lines[1]
    top = lines[2] if len(lines) > 2 and lines[2] else git_dir
    return Workspace(top, git_dir, fmt, git.GitConfig.read(top))


def current_branch(ws: Workspace) -> str | None:
    """The full ref of the branch being committed to, or None (detached HEAD). During a
    rebase, the branch being rebased."""
    rc, out, _ = git.run("symbolic-ref", "-q", "HEAD", cwd=ws.top, check=False)
    if rc == 0 and out.strip():
        return out.decode("utf-8", "surrogateescape").strip()
    for d in ("rebase-merge", "rebase-apply"):
        try:
            with open(os.path.join(ws.git_dir, d, "head-name"), encoding="utf-8") as f:
                name = f.read().strip()
        except OSError:
            continue
        if name.startswith("refs/"):
            return name
    return None


def committer_ident(ws: Workspace) -> str:
    """``Name <email>`` of the committer, as git would record it; "" if git has none."""
    rc, out, _ = git.run("var", "GIT_COMMITTER_IDENT", cwd=ws.top, check=False)
    ident = out.decode("utf-8", "replace").strip()
    return ident.rpartition(">")[0] + ">" if rc == 0 and ">" in ident else ""


def find_policy(ws: Workspace, explicit: str | os.PathLike[str] | None) -> str | None:
    """The policy file for this repository: ``explicit``, then ``guard.policy`` (relative
    to the top of the work tree), then ``.gitguard.toml`` there. A configured file that
    does not exist is an error: failing open would weaken the check silently."""
    if explicit is not None:
        return os.fspath(explicit)
    configured = ws.config.path("guard.policy")
    if configured:
        path = configured if os.path.isabs(configured) else ws.path(configured)
        if not os.path.isfile(path):
            raise PolicyError([f"git config guard.policy: {path} does not exist"])
        return path
    default = ws.path(POLICY_FILE)
    return default if os.path.isfile(default) else None


def load_client_policy(ws: Workspace, explicit: str | os.PathLike[str] | None) -> Policy | None:
    path = find_policy(ws, explicit)
    if path is None:
        return None
    from pathlib import Path

    from gitguard.trust.policy import load_policy_file

    return load_policy_file(Path(path))


def client_trust(ws: Workspace, policy: Policy | None) -> tuple[TrustStore, list[str]]:
    """The keys the client verifies with: the policy's trust store, else what git
    trusts (``gpg.ssh.allowedSignersFile`` and the GnuPG keyring), with notes about
    empty parts."""
    if policy is not None:
        return policy.trust, []
    from pathlib import Path

    from gitguard.trust.gittrust import collect_git_trust

    return collect_git_trust(Path(ws.top))
