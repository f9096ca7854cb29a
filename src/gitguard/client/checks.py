"""Client-side checks: is commit signing configured and usable, does the policy trust
the key for this branch, does a message carry the DCO sign-off, and would the server
accept the commits a push is about to send.

The checks return :class:`Problem` values (what is wrong, why the server will refuse
it, the exact commands that fix it) and never print; the hook adapters in
:mod:`gitguard.client.hooks` and the CLI do the talking. This module is the one place on the
client side that runs ``gpg``, ``gpgsm``, ``ssh-add`` and ``ssh-keygen`` (through
:mod:`gitguard.tools`; git goes through :mod:`gitguard.git`).

Nothing here may pop a pinentry or touch the network: GnuPG is asked for its secret
keys with ``--batch --with-colons --list-secret-keys`` (no passphrase is needed to
list), the SSH agent only with ``ssh-add -L`` and only when ``SSH_AUTH_SOCK`` is set,
and an SSH private key file is never decrypted — its public half is read from the
unencrypted header of the OpenSSH format.

Client policy discovery (:func:`find_policy`): ``--policy FILE``, then
``git config guard.policy``, then ``.gitguard.toml`` at the top of the work tree. With
none, what is required is "signed and verifiable by git's own trust"
(``gpg.ssh.allowedSignersFile`` and the GnuPG keyring, see :mod:`gitguard.trust.gittrust`).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gitguard import git, tools
from gitguard.errors import GitError, GuardError, PolicyError
from gitguard.evaluate import signer_allowed

if TYPE_CHECKING:
    from gitguard.gitobjects import Repo
    from gitguard.model import TrustStore
    from gitguard.server.receive import ReceiveResult
    from gitguard.trust.gittrust import GpgCert, GpgKey
    from gitguard.trust.policy import Policy, Signer

__all__ = [
    "Problem",
    "PushLine",
    "SigningKey",
    "SigningReport",
    "Workspace",
    "check_head",
    "check_push",
    "check_signing",
    "check_signoff",
    "client_trust",
    "current_branch",
    "find_policy",
    "format_problems",
    "git_trust_policy",
    "known_revisions",
    "load_client_policy",
    "open_workspace",
    "parse_pre_push",
]

POLICY_FILE = ".gitguard.toml"


# --------------------------------------------------------------------------- results


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


# --------------------------------------------------------------------------- workspace


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
    lines = out.decode("utf-8", "surrogateescape").splitlines()
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


# --------------------------------------------------------------------------- SSH keys


def _is_literal_ssh_key(spec: str) -> str | None:
    """git's ``is_literal_ssh_key``: ``key::<key>`` or a value starting with ``ssh-``."""
    if spec.startswith("key::"):
        return spec[5:]
    if spec.startswith("ssh-"):
        return spec
    return None


def _openssh_private_public_blob(data: bytes) -> bytes | None:
    """The public key blob stored unencrypted in an ``OPENSSH PRIVATE KEY`` file, or
    None for other formats (PEM RSA/EC keys carry no separate public part)."""
    import base64
    import binascii
    import struct

    begin, end = b"-----BEGIN OPENSSH PRIVATE KEY-----", b"-----END OPENSSH PRIVATE KEY-----"
    start = data.find(begin)
    stop = data.find(end)
    if start < 0 or stop < start:
        return None
    try:
        raw = base64.b64decode(b"".join(data[start + len(begin) : stop].split()))
    except (binascii.Error, ValueError):
        return None
    magic = b"openssh-key-v1\0"
    if not raw.startswith(magic):
        return None
    pos = len(magic)
    try:
        for _ in range(3):  # cipher name, kdf name, kdf options
            (n,) = struct.unpack(">I", raw[pos : pos + 4])
            pos += 4 + n
        (count,) = struct.unpack(">I", raw[pos : pos + 4])
        pos += 4
        if count < 1:
            return None
        (n,) = struct.unpack(">I", raw[pos : pos + 4])
        blob = raw[pos + 4 : pos + 4 + n]
    except struct.error:
        return None
    return blob if len(blob) == n else None


def agent_identities() -> tuple[list[bytes], str | None]:
    """Public key blobs the SSH agent holds (``ssh-add -L``), and a note when the agent
    could not be asked. Only when ``SSH_AUTH_SOCK`` is set."""
    import base64
    import binascii

    if not os.environ.get("SSH_AUTH_SOCK"):
        return [], None
    try:
        rc, out, err = tools.run(("ssh-add", "-L"), timeout=5, check=False)
    except tools.ToolMissing as e:
        return [], f"cannot ask the SSH agent for its keys ({e})"
    if rc == 1:  # "The agent has no identities."
        return [], None
    if rc:
        msg = err.decode("utf-8", "replace").strip() or f"exit {rc}"
        return [], f"cannot ask the SSH agent for its keys ({msg})"
    blobs = []
    for line in out.decode("utf-8", "replace").splitlines():
        fields = line.split()
        if len(fields) >= 2:
            try:
                blobs.append(base64.b64decode(fields[1], validate=True))
            except (binascii.Error, ValueError):
                continue
    return blobs, None


def _pub_line(key_type: str, blob: bytes) -> str:
    import base64

    return f"{key_type} {base64.b64encode(blob).decode()}"


def _ssh_key(
    ws: Workspace, spec: str | None, notes: list[str]
) -> tuple[SigningKey | None, list[Problem]]:
    from gitguard.trust.sshkeys import blob_type, fingerprint, parse_public_key_line

    why = _SIGN_WHY
    if not spec:
        if ws.config.get("gpg.ssh.defaultKeyCommand"):
            notes.append(
                "the SSH signing key comes from gpg.ssh.defaultKeyCommand; it is not checked"
            )
            return None, []
        return None, [
            Problem(
                "no SSH signing key is configured (user.signingkey is not set)",
                why,
                (*_signingkey_fix(), "or: guard setup"),
            )
        ]
    program = ws.config.get("gpg.ssh.program") or "ssh-keygen"
    problems: list[Problem] = []
    if shutil.which(program) is None:
        problems.append(
            Problem(
                f"git signs SSH signatures with `{program}`, which is not installed",
                why,
                ("install OpenSSH's client tools (Debian/Ubuntu: apt install openssh-client)",),
            )
        )
    literal = _is_literal_ssh_key(spec)
    private_ok = False
    blob: bytes | None = None
    key_type: str | None = None
    where = f"user.signingkey = {spec}"
    if literal is not None:
        try:
            key_type, blob = parse_public_key_line(literal)
        except ValueError as e:
            return None, [
                Problem(
                    f"user.signingkey is not a valid SSH public key ({e})",
                    why,
                    _signingkey_fix(),
                )
            ]
    else:
        path = os.path.expanduser(spec)
        if not os.path.isabs(path):
            path = ws.path(path)
        try:
            with open(path, "rb") as f:
                data = f.read(64 * 1024)
        except OSError as e:
            return None, [
                Problem(
                    f"user.signingkey names {spec}, which cannot be read ({e.strerror})",
                    why,
                    (*_signingkey_fix(), "or: guard setup"),
                )
            ]
        text = data.decode("utf-8", "replace").strip()
        if b"PRIVATE KEY-----" in data:
            private_ok = True
            blob = _openssh_private_public_blob(data)
            if blob is None and os.path.isfile(path + ".pub"):
                try:
                    with open(path + ".pub", encoding="utf-8") as f:
                        key_type, blob = parse_public_key_line(f.read().strip())
                except (OSError, ValueError):
                    blob = None
            if blob is not None and key_type is None:
                try:
                    key_type = blob_type(blob)
                except ValueError:
                    blob = None
        else:
            try:
                key_type, blob = parse_public_key_line(text)
            except ValueError as e:
                return None, [
                    Problem(
                        f"user.signingkey names {spec}, which is not an SSH key ({e})",
                        why,
                        _signingkey_fix(),
                    )
                ]
            # ssh-keygen -Y sign finds the private key by dropping ".pub"/"-cert.pub"
            for suffix in ("-cert.pub", ".pub"):
                if path.endswith(suffix):
                    private_ok = os.path.isfile(path[: -len(suffix)])
                    break
    if blob is not None and not private_ok:
        agent, note = agent_identities()
        if note:
            notes.append(note)
        private_ok = blob in agent
    if not private_ok:
        fpr = fingerprint(blob) if blob is not None else spec
        fixes = [
            "load the private key into your SSH agent: ssh-add <private key file>",
            "or: point git at the private key's public half: git config --global "
            "user.signingkey <private key file>.pub",
            "or: guard setup --generate",
        ]
        problems.append(
            Problem(
                f"cannot sign with SSH key {fpr} ({where}): no private key file next to it "
                "and no SSH agent identity for it",
                why,
                tuple(fixes),
            )
        )
    key = SigningKey(
        "ssh",
        spec,
        fingerprint(blob) if blob is not None else None,
        blob,
        key_type,
    )
    return key, problems


# --------------------------------------------------------------------------- OpenPGP keys


def usable_signing_key(key: GpgKey, now: float) -> bool:
    expired = key.validity == "e" or (key.expires is not None and key.expires <= now)
    return "s" in key.capabilities and key.secret and key.validity not in "rid" and not expired


def _committer_ident(ws: Workspace) -> str:
    rc, out, _ = git.run("var", "GIT_COMMITTER_IDENT", cwd=ws.top, check=False)
    ident = out.decode("utf-8", "replace").strip()
    return ident.rpartition(">")[0] + ">" if rc == 0 and ">" in ident else ""


def _openpgp_key(
    ws: Workspace, spec: str | None, notes: list[str]
) -> tuple[SigningKey | None, list[Problem], GpgCert | None]:
    why = _SIGN_WHY
    program = (
        ws.config.get("gpg.openpgp.program") or ws.config.get("gpg.program") or "gpg"
    ).strip()
    selector = spec or _committer_ident(ws)
    shown = f"user.signingkey = {spec}" if spec else f"the committer identity {selector!r}"
    if not selector:
        return None, [Problem("no OpenPGP signing key is configured", why, _gpg_fix())], None
    exact = selector.endswith("!")
    from gitguard.trust.gittrust import list_gpg_keys

    try:
        rc, certs, err = list_gpg_keys(program, selector.rstrip("!"), secret=True)
    except tools.ToolMissing:
        return (
            None,
            [
                Problem(
                    f"git signs OpenPGP signatures with `{program}`, which is not installed",
                    why,
                    ("install GnuPG (Debian/Ubuntu: apt install gnupg)", "or: guard setup"),
                )
            ],
            None,
        )
    if not certs:
        detail = err.strip().splitlines()[-1] if err.strip() else f"exit {rc}"
        return (
            None,
            [
                Problem(
                    f"GnuPG has no secret key for {shown} ({detail})",
                    why,
                    _gpg_fix(),
                )
            ],
            None,
        )
    now = time.time()
    want = selector.rstrip("!").upper().removeprefix("0X")
    for cert in certs:
        keys = [k for k in cert.keys if not exact or k.fingerprint.endswith(want)]
        if cert.primary.validity == "r":
            continue
        if any(usable_signing_key(k, now) for k in keys) and usable_cert(cert, now):
            key = SigningKey("openpgp", selector, cert.primary.fingerprint)
            return key, [], cert
    cert = certs[0]
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
            ("import the secret key (gpg --import <file>) or use another key:", *_gpg_fix()),
        )
    else:
        what, fix = (
            f"the OpenPGP key {fpr} ({shown}) has no usable signing (sub)key: every one "
            "is expired, revoked or lacks its secret part",
            (f"gpg --quick-add-key {fpr} ed25519 sign 1y",),
        )
    return SigningKey("openpgp", selector, fpr), [Problem(what, why, fix)], cert


def usable_cert(cert: GpgCert, now: float) -> bool:
    p = cert.primary
    return p.validity not in "rid" and not (
        p.validity == "e" or (p.expires is not None and p.expires <= now)
    )


# --------------------------------------------------------------------------- signing check


_SIGN_WHY = (
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


def _signingkey_fix() -> tuple[str, ...]:
    found = _ssh_candidates()
    pub = found[0].replace(os.path.expanduser("~"), "~", 1) if found else "~/.ssh/id_ed25519.pub"
    steps = ["git config --global gpg.format ssh", f"git config --global user.signingkey {pub}"]
    if not found:
        steps.insert(0, "ssh-keygen -t ed25519 -f ~/.ssh/id_ed25519   (if you have no key yet)")
    return tuple(steps)


def _gpg_fix() -> tuple[str, ...]:
    return (
        "gpg --list-secret-keys --keyid-format long   (find your key's fingerprint)",
        "git config --global user.signingkey <FINGERPRINT>",
        "or: guard setup   (configures an SSH or GnuPG key it finds)",
    )


def _setup_fix() -> tuple[str, ...]:
    return (
        "guard setup   (finds your SSH or GnuPG key and configures everything)",
        *(f"or: {s}" if i == 0 else s for i, s in enumerate(_signingkey_fix())),
        "git config --global commit.gpgsign true",
    )


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
                _setup_fix(),
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
        key, found = _ssh_key(ws, spec, notes)
        problems.extend(found)
    elif fmt == "openpgp":
        key, found, cert = _openpgp_key(ws, spec, notes)
        problems.extend(found)
    elif fmt == "x509":
        program = cfg.get("gpg.x509.program") or "gpgsm"
        if shutil.which(program) is None:
            problems.append(
                Problem(
                    f"git signs X.509 signatures with `{program}`, which is not installed",
                    _SIGN_WHY,
                    ("install it, or switch to SSH signing: guard setup",),
                )
            )
        notes.append("X.509 signing keys are not checked further")
    else:
        problems.append(
            Problem(
                f"gpg.format is {fmt!r}; git knows openpgp, ssh and x509",
                _SIGN_WHY,
                ("git config --global gpg.format ssh", "or: guard setup"),
            )
        )
    if key is not None and not problems:
        problems.extend(_trust_problems(ws, key, cert, policy, ref=ref, now=now or time.time()))
    return SigningReport(key, tuple(problems), tuple(notes))


def _policy_why(policy: Policy | None, ref: str | None) -> str:
    if policy is None or ref is None:
        return _SIGN_WHY
    rule = policy.rule_for(ref)
    if rule is None or rule.require == "none":
        return _SIGN_WHY
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
            f'keys = ["{_pub_line(key.ssh_type, key.ssh_blob)}"]'
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

        line = f'<your e-mail> namespaces="git" {_pub_line(key.ssh_type, key.ssh_blob)}'
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


# --------------------------------------------------------------------------- DCO


def signoff_required(ws: Workspace, flag: bool) -> bool:
    return flag or ws.config.bool("guard.requireSignoff")


def check_signoff(ws: Workspace, message: bytes) -> Problem | None:
    """A ``Signed-off-by:`` trailer for the committer (by e-mail, as DCO checkers do)."""
    ident = _committer_ident(ws)
    email = ident.rpartition("<")[2].rstrip(">").strip().lower()
    comment = ws.config.get("core.commentChar") or "#"
    if comment == "auto":
        comment = "#"
    lines: list[str] = []
    for line in message.decode("utf-8", "replace").splitlines():
        if line.startswith(comment) and " >8 " in line:
            break  # the scissors line of `git commit -v`: the diff follows
        if line.startswith(comment):
            continue
        lines.append(line)
    _, out, _ = git.run(
        "interpret-trailers", "--parse", input="\n".join(lines).encode() + b"\n", cwd=ws.top
    )
    for trailer in out.decode("utf-8", "replace").splitlines():
        key, _, value = trailer.partition(":")
        if key.strip().lower() == "signed-off-by" and f"<{email}>" in value.lower():
            return None
    return Problem(
        f"the commit message has no `Signed-off-by: {ident}` line (DCO)",
        "this project requires every commit to be signed off by its committer "
        "(Developer Certificate of Origin); such commits are refused",
        (
            "git commit -s   (commit again with --signoff; for the last commit: "
            "git commit --amend --no-edit -s)",
            f"or: end the message with the line: Signed-off-by: {ident}",
        ),
    )


# --------------------------------------------------------------------------- outgoing commits


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


# --------------------------------------------------------------------------- formatting


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
