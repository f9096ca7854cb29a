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

gpg runs twice in all (``--list-keys``, one ``--export`` of every key), never once per
key. :func:`list_gpg_keys` is gitguard's one GnuPG key lister (the client's signing
checks and ``guard setup`` list secret keys with it): gpg's ``--with-colons`` records
(GnuPG's doc/DETAILS), read through :mod:`gitguard.tools` with a timeout.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from gitguard import git, tools
from gitguard.errors import PolicyError
from gitguard.model import OpenPGPTrustedCert, SshTrustedKey, TrustStore

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "GpgCert",
    "GpgKey",
    "GpgListing",
    "collect_git_trust",
    "list_gpg_keys",
    "parse_gpg_colons",
    "trust_from_git",
]

ALLOWED_SIGNERS_KEY = "gpg.ssh.allowedSignersFile"
_TRUSTED_VALIDITY = frozenset({"f", "u"})  # --with-colons validity: full, ultimate
GPG_TIMEOUT = 20.0  # seconds to list a keyring's keys: a client hook must not hang
# Listing and exporting a whole keyring (thousands of keys) for an audit takes seconds.
_KEYRING_TIMEOUT = 120.0


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

    try:
        listed = list_gpg_keys(program, timeout=_KEYRING_TIMEOUT)
    except tools.ToolError as e:
        notes.append(f"cannot run {program} ({e}): no OpenPGP key is trusted")
        return []
    validity = {
        c.primary.fingerprint: _effective_validity(c.primary.validity, c.primary.ownertrust)
        for c in listed.certs
    }
    if not validity:
        detail = listed.stderr.strip().splitlines()
        why = f" ({detail[-1]})" if detail and "error" in detail[-1].lower() else ""
        notes.append(f"the GnuPG keyring in {home} has no public keys{why}")
        return []
    try:
        exported = tools.run(
            (program, "--batch", "--no-tty", "--export", *validity), timeout=_KEYRING_TIMEOUT
        )
        certs = read_certificates(exported.stdout)
    except (tools.ToolError, ValueError) as e:
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


# --------------------------------------------------------------------------- gpg --with-colons


@dataclass(frozen=True, slots=True)
class GpgKey:
    """A primary key or subkey as gpg lists it. ``validity`` and ``ownertrust`` are
    gpg's letters (``u`` ultimate, ``f`` full, ``e`` expired, ``r`` revoked…);
    ``secret``: its secret part is here or on a card (not a stub)."""

    fingerprint: str  # upper-case hex
    validity: str
    expires: int | None
    capabilities: str
    secret: bool
    ownertrust: str = ""


@dataclass(frozen=True, slots=True)
class GpgCert:
    primary: GpgKey
    subkeys: tuple[GpgKey, ...]
    uids: tuple[str, ...]

    @property
    def keys(self) -> tuple[GpgKey, ...]:
        return (self.primary, *self.subkeys)


class GpgListing(NamedTuple):
    returncode: int
    certs: list[GpgCert]
    stderr: str


def list_gpg_keys(
    program: str, selector: str | None = None, *, secret: bool = False, timeout: float = GPG_TIMEOUT
) -> GpgListing:
    """The keys ``program`` (gpg) lists in the user's keyring: every public key, or
    with ``secret`` the secret keys (listing them needs no passphrase), optionally
    only those ``selector`` names. A gpg failure is its exit code and stderr in the
    listing; a gpg that cannot run raises :class:`~gitguard.tools.ToolError`
    (:class:`~gitguard.tools.ToolMissing` when it is not installed)."""
    which = "--list-secret-keys" if secret else "--list-keys"
    argv = (program, "--batch", "--no-tty", "--with-colons", "--fixed-list-mode", which)
    rc, out, err = tools.run(
        (*argv, "--", selector) if selector else argv, timeout=timeout, check=False
    )
    text = out.decode("utf-8", "replace")
    return GpgListing(rc, parse_gpg_colons(text), err.decode("utf-8", "replace"))


def parse_gpg_colons(text: str) -> list[GpgCert]:
    """Certificates from ``gpg --with-colons --list-keys`` or ``--list-secret-keys``:
    ``pub``/``sec`` and ``sub``/``ssb`` records, each followed by its ``fpr`` line, and
    ``uid`` lines (GnuPG's doc/DETAILS)."""
    certs: list[GpgCert] = []
    primary: GpgKey | None = None
    subs: list[GpgKey] = []
    uids: list[str] = []
    pending: list[str] | None = None

    def flush() -> None:
        if primary is not None:
            certs.append(GpgCert(primary, tuple(subs), tuple(uids)))

    for line in text.splitlines():
        f = line.split(":")
        rec = f[0]
        if rec in ("sec", "ssb", "pub", "sub"):
            if rec in ("sec", "pub"):
                flush()
                primary, subs, uids = None, [], []
            pending = f
        elif rec == "fpr" and pending is not None and len(f) > 9:
            if pending[0] in ("sec", "pub"):
                primary = _gpg_key(pending, f[9])
            else:
                subs.append(_gpg_key(pending, f[9]))
            pending = None
        elif rec == "uid" and len(f) > 9:
            uids.append(f[9])
    flush()
    return certs


def _gpg_key(record: list[str], fingerprint: str) -> GpgKey:
    """One key from its ``pub``/``sec``/``sub``/``ssb`` record and its fingerprint."""

    def field(n: int) -> str:  # 1-based, as DETAILS numbers them
        return record[n - 1] if len(record) >= n else ""

    expires = field(7)
    token = field(15)  # "+": secret here, "#": stub, else a card's serial number
    return GpgKey(
        fingerprint.upper(),
        field(2),
        int(expires) if expires.isdigit() else None,
        field(12),
        token not in ("", "#") and record[0] in ("sec", "ssb"),
        field(9) if record[0] in ("pub", "sec") else "",
    )
