"""With no policy, trust what git trusts — so ``%G?`` from git and our verdicts agree.

- SSH: the file named by ``gpg.ssh.allowedSignersFile`` (``~`` expanded as git does;
  a relative path is taken from the top of the work tree, or the git directory of a
  bare repository, where git runs ``ssh-keygen``). Configured but unreadable is an
  error; not configured means no SSH key is trusted.
- OpenPGP: every public key in the user's GnuPG keyring (``$GNUPGHOME`` or
  ``~/.gnupg``), read with the program git would run (``gpg.openpgp.program``, else
  ``gpg.program``, else ``gpg``). Keys whose validity is full or ultimate are trusted
  (expired or revoked keys: when their ownertrust is, so that the verifier judges
  the signature's time); the others are known but not trusted (``trusted=False``:
  git's ``U``). Each key is attributed to a signer named after its first user-ID e-mail
  (:func:`gitguard.trust.policy.cert_signer_name`). No GnuPG home or no usable gpg gives an
  empty OpenPGP part, with a note saying so.

gpg runs three times in all (``--version``, ``--list-keys``, one ``--export`` of every
key), never once per key.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from gitguard import git
from gitguard.errors import PolicyError
from gitguard.model import OpenPGPTrustedCert, SshTrustedKey, TrustStore

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["collect_git_trust", "trust_from_git"]

ALLOWED_SIGNERS_KEY = "gpg.ssh.allowedSignersFile"
_TRUSTED_VALIDITY = frozenset({"f", "u"})  # --with-colons validity: full, ultimate


def trust_from_git(repo: Path) -> TrustStore:
    """The trust store equivalent to git's own configuration for ``repo``.

    Notes about parts that are empty (no keyring, no gpg, no allowed signers file)
    go to this module's logger at INFO level. Raises :class:`PolicyError` when the
    configured allowed signers file is missing or malformed.
    """
    import logging

    store, notes = collect_git_trust(repo)
    log = logging.getLogger(__name__)
    for note in notes:
        log.info("%s", note)
    return store


def collect_git_trust(repo: Path) -> tuple[TrustStore, list[str]]:
    """Like :func:`trust_from_git`, returning the notes instead of logging them."""
    from pathlib import Path

    notes: list[str] = []
    config = git.GitConfig.read(repo)
    ssh = _ssh_keys(Path(repo), config, notes)
    openpgp = _gnupg_keys(config, notes)
    return TrustStore(ssh=tuple(ssh), openpgp=tuple(openpgp)), notes


def _ssh_keys(repo: Path, config: git.GitConfig, notes: list[str]) -> list[SshTrustedKey]:
    from pathlib import Path

    from gitguard.trust.allowed_signers import parse_allowed_signers

    value = config.path(ALLOWED_SIGNERS_KEY)
    if not value:
        notes.append(f"git config {ALLOWED_SIGNERS_KEY} is not set: no SSH key is trusted")
        return []
    path = Path(value)
    if not path.is_absolute():
        path = _git_cwd(repo) / path
    try:
        data = path.read_bytes()
    except OSError as e:
        raise PolicyError(
            [f"git config {ALLOWED_SIGNERS_KEY}: cannot read {path}: {e.strerror or e}"]
        ) from None
    return parse_allowed_signers(data.decode("utf-8", "surrogateescape"), str(path))


def _git_cwd(repo: Path) -> Path:
    """Where git runs ssh-keygen: the work tree top, or the git dir when bare."""
    from pathlib import Path

    rc, out, _ = git.run("rev-parse", "--show-toplevel", cwd=repo, check=False)
    top = out.decode("utf-8", "surrogateescape").strip()
    if rc == 0 and top:
        return Path(top)
    rc, out, _ = git.run("rev-parse", "--absolute-git-dir", cwd=repo, check=False)
    gitdir = out.decode("utf-8", "surrogateescape").strip()
    return Path(gitdir) if rc == 0 and gitdir else repo


def _effective_validity(validity: str, ownertrust: str) -> str:
    """GnuPG reports validity ``e``/``r`` for an expired/revoked key whatever its
    ownertrust. Such a key the user trusts is still *trusted*: whether one signature
    falls inside its lifetime is for the verifier to decide at the signature's time
    (git's ``Y``/``R`` come from the signature, not from the key's trust)."""
    if validity in ("e", "r") and ownertrust in _TRUSTED_VALIDITY:
        return ownertrust
    return validity


def _gnupg_keys(config: git.GitConfig, notes: list[str]) -> list[OpenPGPTrustedCert]:
    from gitguard.trust.certificates import cert_signer_name, read_certificates

    program = config.get("gpg.openpgp.program") or config.get("gpg.program") or "gpg"
    home = os.environ.get("GNUPGHOME") or os.path.expanduser("~/.gnupg")
    if not os.path.isdir(home):
        notes.append(f"no GnuPG home at {home}: no OpenPGP key is trusted")
        return []

    import gnupg

    try:
        gpg = gnupg.GPG(gpgbinary=program)
    except (OSError, ValueError) as e:
        notes.append(f"cannot run {program} ({e}): no OpenPGP key is trusted")
        return []
    listed = gpg.list_keys()
    validity: dict[str, str] = {}
    for key in listed:
        fpr = str(key.get("fingerprint") or "").upper()
        if fpr:
            validity[fpr] = _effective_validity(
                str(key.get("trust") or ""), str(key.get("ownertrust") or "")
            )
    if not validity:
        detail = (getattr(listed, "stderr", "") or "").strip().splitlines()
        why = f" ({detail[-1]})" if detail and "error" in detail[-1].lower() else ""
        notes.append(f"the GnuPG keyring in {home} has no public keys{why}")
        return []
    data = gpg.export_keys(list(validity), armor=False)
    try:
        certs = read_certificates(bytes(data))
    except ValueError as e:
        notes.append(f"cannot read the keys exported by {program}: {e}")
        return []
    source = f"GnuPG keyring {home}"
    return [
        OpenPGPTrustedCert(
            signer=cert_signer_name(info),
            cert=info.data,
            source=source,
            trusted=validity.get(info.fingerprint, "") in _TRUSTED_VALIDITY,
        )
        for info in certs
    ]
