"""GnuPG signing-key discovery for the signing check and ``guard setup``: the secret
keys GnuPG holds for ``user.signingkey`` (or the committer's identity), listed with
:func:`gitguard.trust.gittrust.list_gpg_keys` (``gpg --batch --with-colons
--list-secret-keys``: no passphrase is needed to list, nothing can prompt), and whether
one of them can sign now — or why not: revoked, expired, only a public part or a card
stub, no signing subkey.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from gitguard import tools
from gitguard.client.report import SIGN_WHY, Problem, SigningKey, gpg_fix
from gitguard.client.workspace import committer_ident

if TYPE_CHECKING:
    from gitguard.client.workspace import Workspace
    from gitguard.trust.gittrust import GpgCert, GpgKey

__all__ = ["openpgp_signing_key", "usable_cert", "usable_signing_key"]


def openpgp_signing_key(
    ws: Workspace, spec: str | None
) -> tuple[SigningKey | None, list[Problem], GpgCert | None]:
    """The GnuPG key git would sign with for ``user.signingkey`` (``spec``; else the
    committer identity, as git does), the problems stopping it, and its certificate as
    gpg lists it. A selector ending in ``!`` names exactly that (sub)key, as in gpg."""
    from gitguard.trust.gittrust import list_gpg_keys

    program = (
        ws.config.get("gpg.openpgp.program") or ws.config.get("gpg.program") or "gpg"
    ).strip()
    selector = spec or committer_ident(ws)
    shown = f"user.signingkey = {spec}" if spec else f"the committer identity {selector!r}"
    if not selector:
        return None, [Problem("no OpenPGP signing key is configured", SIGN_WHY, gpg_fix())], None
    try:
        rc, certs, err = list_gpg_keys(program, selector.rstrip("!"), secret=True)
    except tools.ToolMissing:
        what = f"git signs OpenPGP signatures with `{program}`, which is not installed"
        fix = ("install GnuPG (Debian/Ubuntu: apt install gnupg)", "or: guard setup")
        return None, [Problem(what, SIGN_WHY, fix)], None
    if not certs:
        detail = err.strip().splitlines()[-1] if err.strip() else f"exit {rc}"
        what = f"GnuPG has no secret key for {shown} ({detail})"
        return None, [Problem(what, SIGN_WHY, gpg_fix())], None
    now = time.time()
    want = selector.rstrip("!").upper().removeprefix("0X")
    for cert in certs:
        keys = [k for k in cert.keys if not selector.endswith("!") or k.fingerprint.endswith(want)]
        if cert.primary.validity == "r":
            continue
        if any(usable_signing_key(k, now) for k in keys) and usable_cert(cert, now):
            return SigningKey("openpgp", selector, cert.primary.fingerprint), [], cert
    cert = certs[0]
    problem = _cannot_sign(cert, shown, now)
    return SigningKey("openpgp", selector, cert.primary.fingerprint), [problem], cert


def _cannot_sign(cert: GpgCert, shown: str, now: float) -> Problem:
    """Why the first certificate found cannot sign, and how to fix that."""
    fpr = cert.primary.fingerprint
    what: str
    fix: tuple[str, ...]
    if cert.primary.validity == "r":
        what, fix = (
            f"the OpenPGP key {fpr} ({shown}) is revoked",
            ("guard setup --generate   (or create a new key and set user.signingkey)",),
        )
    elif cert.primary.validity == "e" or (
        cert.primary.expires is not None and cert.primary.expires <= now
    ):
        what, fix = (
            f"the OpenPGP key {fpr} ({shown}) has expired",
            (
                f"gpg --quick-set-expire {fpr} 1y",
                f"gpg --quick-set-expire {fpr} 1y '*'   (its subkeys)",
                f"then give the admin the refreshed public key: gpg --armor --export {fpr}",
            ),
        )
    elif not any(k.secret for k in cert.keys):
        what, fix = (
            f"only the public part of OpenPGP key {fpr} ({shown}) is here "
            "(the secret key is missing or on an offline/card stub)",
            ("import the secret key (gpg --import <file>) or use another key:", *gpg_fix()),
        )
    else:
        what, fix = (
            f"the OpenPGP key {fpr} ({shown}) has no usable signing (sub)key: every one "
            "is expired, revoked or lacks its secret part",
            (f"gpg --quick-add-key {fpr} ed25519 sign 1y",),
        )
    return Problem(what, SIGN_WHY, fix)


def usable_signing_key(key: GpgKey, now: float) -> bool:
    expired = key.validity == "e" or (key.expires is not None and key.expires <= now)
    return "s" in key.capabilities and key.secret and key.validity not in "rid" and not expired


def usable_cert(cert: GpgCert, now: float) -> bool:
    p = cert.primary
    return p.validity not in "rid" and not (
        p.validity == "e" or (p.expires is not None and p.expires <= now)
    )
