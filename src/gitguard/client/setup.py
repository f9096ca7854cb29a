"""``guard setup``: configure commit signing for the current user in one step.

1. Find a key: the one git is already configured with (if it is usable), else
   ``~/.ssh/id_ed25519_signing.pub``, ``id_ed25519.pub``, ``id_ecdsa.pub``,
   ``id_rsa.pub`` (with its private key next to it, or in the SSH agent), else a GnuPG
   secret key that can sign (one with ``user.email`` in a user ID first). ``--generate``
   makes an Ed25519 SSH signing key when none is found (``ssh-keygen -t ed25519 -N ''``:
   no passphrase, so no prompt; protect it later with ``ssh-keygen -p``).
2. Set ``gpg.format``, ``user.signingkey``, ``commit.gpgsign``, ``tag.gpgSign`` and, for
   SSH, ``gpg.ssh.allowedSignersFile`` with the user's own line in it (so git and
   gitguard verify the user's own commits), globally or in one repository.
3. Say what to hand to the admin: the allowed_signers line (SSH) or the fingerprint
   and armored certificate (OpenPGP).

:func:`plan_setup` decides without changing anything (``--dry-run`` prints the plan);
:func:`apply_setup` carries it out. Neither prints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

from gitguard import git, tools
from gitguard.client.ssh_keys import agent_identities
from gitguard.errors import GitError, GuardError
from gitguard.git import GitConfig

__all__ = ["FoundKey", "SetupPlan", "admin_text", "apply_setup", "plan_setup"]

SSH_NAMES = ("id_ed25519_signing", "id_ed25519", "id_ecdsa", "id_rsa")
GENERATED_NAME = "id_ed25519_signing"
TOOL_TIMEOUT = 20.0  # seconds for gpg and ssh-keygen: guard setup never waits on a prompt


@dataclass(frozen=True, slots=True)
class FoundKey:
    """A key to sign with. ``signingkey`` is the value for ``user.signingkey``;
    ``public_line`` (SSH) is ``<type> <base64>``; ``fingerprint`` is ``SHA256:…`` or
    the OpenPGP primary-key fingerprint."""

    format: Literal["ssh", "openpgp"]
    signingkey: str
    fingerprint: str
    source: str
    public_line: str | None = None


@dataclass
class SetupPlan:
    scope: Literal["global", "local"]
    repo: str | None
    email: str
    key: FoundKey
    generate: str | None = None  # private key path to create with ssh-keygen
    changes: list[tuple[str, str]] = field(default_factory=list)
    unchanged: list[tuple[str, str]] = field(default_factory=list)
    allowed_signers: str | None = None  # file to add the user's own line to
    allowed_line: str | None = None  # None: already there (or not SSH)
    notes: list[str] = field(default_factory=list)

    def commands(self) -> list[str]:
        """The changes as the shell commands that make them."""
        import shlex

        where = "--global" if self.scope == "global" else "--local"
        prefix = "git" if self.repo is None else f"git -C {shlex.quote(self.repo)}"
        out: list[str] = []
        if self.generate is not None:
            out.append(
                f"ssh-keygen -t ed25519 -N '' -C {shlex.quote(self.email)} "
                f"-f {shlex.quote(self.generate)}"
            )
        if self.allowed_line is not None and self.allowed_signers is not None:
            out.append(
                f"echo {shlex.quote(self.allowed_line)} >> {shlex.quote(self.allowed_signers)}"
            )
        out.extend(f"{prefix} config {where} {k} {shlex.quote(v)}" for k, v in self.changes)
        return out


def _home() -> str:
    return os.path.expanduser("~")


def _allowed_signers_default() -> str:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(_home(), ".config")
    return os.path.join(base, "git", "allowed_signers")


def _read_public(path: str) -> str | None:
    from gitguard.trust.sshkeys import parse_public_key_line

    try:
        with open(path, encoding="utf-8") as f:
            fields = f.read().split()
    except OSError:
        return None
    try:
        parse_public_key_line(" ".join(fields[:2]))
    except ValueError:
        return None
    return " ".join(fields[:2])


def _ssh_found(pub: str, line: str, source: str) -> FoundKey:
    import base64

    from gitguard.trust.sshkeys import fingerprint

    blob = base64.b64decode(line.split()[1])
    return FoundKey("ssh", pub, fingerprint(blob), source, line)


def find_ssh_key() -> FoundKey | None:
    """The first of ``~/.ssh/{SSH_NAMES}.pub`` whose private key is next to it or in
    the SSH agent."""
    import base64

    agent: list[bytes] | None = None
    for name in SSH_NAMES:
        pub = os.path.join(_home(), ".ssh", name + ".pub")
        line = _read_public(pub)
        if line is None:
            continue
        usable = os.path.isfile(pub[: -len(".pub")])
        if not usable:
            if agent is None:
                agent, _ = agent_identities()
            usable = base64.b64decode(line.split()[1]) in agent
        if usable:
            return _ssh_found(pub, line, f"SSH key {pub}")
    return None


def _gpg_program(cfg: GitConfig) -> str:
    return cfg.get("gpg.openpgp.program") or cfg.get("gpg.program") or "gpg"


def find_gpg_key(cfg: GitConfig, email: str, selector: str | None = None) -> FoundKey | None:
    """A GnuPG secret key that can sign now: for ``selector`` if given, else preferring
    one with ``email`` in a user ID."""
    import time

    from gitguard.client.gpg_keys import usable_cert, usable_signing_key
    from gitguard.trust.gittrust import list_gpg_keys

    try:
        certs = list_gpg_keys(_gpg_program(cfg), selector, secret=True).certs
    except tools.ToolMissing:
        return None
    now = time.time()
    usable = [
        c for c in certs if usable_cert(c, now) and any(usable_signing_key(k, now) for k in c.keys)
    ]
    usable.sort(key=lambda c: not any(f"<{email.lower()}>" in u.lower() for u in c.uids))
    if not usable:
        return None
    cert = usable[0]
    fpr = cert.primary.fingerprint
    uid = cert.uids[0] if cert.uids else fpr
    return FoundKey("openpgp", fpr, fpr, f"GnuPG key {fpr} ({uid})")


def _configured_key(cfg: GitConfig, email: str) -> FoundKey | None:
    """The key git is configured with already, if it is usable."""
    spec = (cfg.get("user.signingkey") or "").strip()
    if not spec:
        return None
    fmt = (cfg.get("gpg.format") or "openpgp").lower()
    if fmt == "openpgp":
        return find_gpg_key(cfg, email, spec.rstrip("!"))
    if fmt != "ssh" or spec.startswith(("key::", "ssh-")):
        return None
    path = os.path.expanduser(spec)
    pub = path if path.endswith(".pub") else path + ".pub"
    line = _read_public(pub)
    if line is None or not os.path.isfile(pub[: -len(".pub")]):
        return None
    return _ssh_found(pub, line, f"SSH key {pub} (already configured)")


def _read_scope(repo: str | None) -> GitConfig:
    """The configuration file ``guard setup`` writes to; empty when there is none."""
    try:
        return GitConfig.read(repo, scope="global" if repo is None else "local")
    except GitError:  # no ~/.gitconfig yet
        return GitConfig({})


def plan_setup(
    repo: str | None,
    *,
    generate: bool = False,
    prefer: Literal["ssh", "openpgp"] | None = None,
    key: str | None = None,
) -> SetupPlan:
    """Decide what ``guard setup`` would do; changes nothing. Raises GuardError when
    no key is found (and ``generate`` is false) or ``user.email`` is not set."""
    if repo is not None:
        from gitguard.client.workspace import open_workspace

        repo = open_workspace(repo).top
    cfg = GitConfig.read(repo or _home())
    email = (cfg.get("user.email") or "").strip()
    if not email:
        raise GuardError(
            "user.email is not set; git signs as the committer, so set it first:\n"
            "  git config --global user.email you@example.com"
        )
    found: FoundKey | None = None
    generate_path: str | None = None
    notes: list[str] = []
    if key is not None:
        found = _explicit_key(cfg, email, key, prefer)
    elif not generate and prefer is None:
        found = _configured_key(cfg, email)
    if found is None and key is None:
        if prefer != "openpgp":
            found = find_ssh_key()
        if found is None and prefer != "ssh":
            found = find_gpg_key(cfg, email)
    if found is None:
        if not generate:
            raise GuardError(
                "no SSH key (~/.ssh/id_ed25519.pub, id_ecdsa.pub, id_rsa.pub) and no GnuPG "
                "secret key that can sign was found.\n"
                "  guard setup --generate   creates ~/.ssh/id_ed25519_signing (Ed25519, no "
                "passphrase) and configures it\n"
                "  or create one yourself:  ssh-keygen -t ed25519 -f ~/.ssh/id_ed25519_signing"
            )
        path = os.path.join(_home(), ".ssh", GENERATED_NAME)
        generate_path = path
        notes.append(
            f"the new key {path} has no passphrase (so nothing prompts); to add one: "
            f"ssh-keygen -p -f {path} (then load it with ssh-add)"
        )
        found = FoundKey("ssh", path + ".pub", "(new key)", f"new SSH key {path}")
    plan = SetupPlan(
        "global" if repo is None else "local",
        repo,
        email,
        found,
        generate=generate_path,
        notes=notes,
    )

    current = _read_scope(repo)
    wanted: list[tuple[str, str]] = [
        ("gpg.format", found.format),
        ("user.signingkey", found.signingkey),
        ("commit.gpgsign", "true"),
        ("tag.gpgSign", "true"),
    ]
    if found.format == "ssh":
        configured = cfg.path("gpg.ssh.allowedSignersFile")
        target = configured if configured and os.path.isabs(configured) else None
        target = target or _allowed_signers_default()
        plan.allowed_signers = target
        wanted.append(("gpg.ssh.allowedSignersFile", target))
        if found.public_line is None or not _has_line(target, found.public_line):
            plan.allowed_line = f'{email} namespaces="git" {found.public_line or "<new key>"}'
    for k, v in wanted:
        if current.get(k) == v:
            plan.unchanged.append((k, v))
        else:
            plan.changes.append((k, v))
    return plan


def _explicit_key(
    cfg: GitConfig, email: str, key: str, prefer: Literal["ssh", "openpgp"] | None
) -> FoundKey:
    path = os.path.expanduser(key)
    if prefer != "openpgp" and os.path.isfile(path):
        pub = path if path.endswith(".pub") else path + ".pub"
        line = _read_public(pub)
        if line is None:
            raise GuardError(f"{pub}: not an SSH public key")
        return _ssh_found(pub, line, f"SSH key {pub}")
    found = find_gpg_key(cfg, email, key)
    if found is None:
        raise GuardError(f"{key}: neither an SSH key file nor a GnuPG secret key that can sign")
    return found


def _has_line(path: str, public_line: str) -> bool:
    blob = public_line.split()[1]
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return any(blob in line.split() for line in f)
    except OSError:
        return False


def apply_setup(plan: SetupPlan) -> FoundKey:
    """Carry out ``plan``; returns the key (with its real fingerprint when generated)."""
    found = plan.key
    if plan.generate is not None:
        os.makedirs(os.path.dirname(plan.generate), mode=0o700, exist_ok=True)
        rc, _, err = tools.run(
            ("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", plan.email, "-f", plan.generate),
            timeout=TOOL_TIMEOUT,
            check=False,
        )
        if rc:
            raise GuardError(
                f"ssh-keygen could not create {plan.generate}: "
                f"{err.decode('utf-8', 'replace').strip() or f'exit {rc}'}"
            )
        line = _read_public(plan.generate + ".pub")
        if line is None:
            raise GuardError(f"ssh-keygen wrote no usable {plan.generate}.pub")
        found = _ssh_found(plan.generate + ".pub", line, f"new SSH key {plan.generate}")
        plan.key = found
        plan.allowed_line = f'{plan.email} namespaces="git" {line}'
    if plan.allowed_line is not None and plan.allowed_signers is not None:
        os.makedirs(os.path.dirname(plan.allowed_signers), exist_ok=True)
        with open(plan.allowed_signers, "a+", encoding="utf-8") as f:
            f.seek(0)
            existing = f.read()
            if existing and not existing.endswith("\n"):
                f.write("\n")
            f.write(plan.allowed_line + "\n")
    scope = "--global" if plan.scope == "global" else "--local"
    for k, v in plan.changes:
        git.run("config", scope, k, v, cwd=plan.repo or _home())
    return found


def admin_text(key: FoundKey, email: str, cfg_cwd: str | None = None) -> str:
    """What to hand to the policy admin."""
    if key.format == "ssh":
        line = key.public_line or "<key>"
        return (
            f"Hand this to your gitguard admin (SSH key {key.fingerprint}):\n"
            f"  allowed_signers line:\n"
            f'    {email} namespaces="git" {line}\n'
            f"  or in the policy, your [[signer]] entry:\n"
            f'    emails = ["{email}"]\n'
            f'    keys = ["{line}"]\n'
        )
    cfg = GitConfig.read(cfg_cwd or _home())
    argv = (_gpg_program(cfg), "--batch", "--armor", "--export", key.fingerprint)
    try:
        rc, out, err = tools.run(argv, timeout=TOOL_TIMEOUT, check=False)
    except tools.ToolError as e:
        rc, out, err = 1, b"", str(e).encode()
    armored = out.decode("utf-8", "replace").strip() if rc == 0 else ""
    if not armored:
        armored = f"(gpg --armor --export {key.fingerprint} failed: {err.decode().strip()})"
    return (
        f"Hand this to your gitguard admin (OpenPGP key):\n"
        f"  fingerprint {key.fingerprint}\n"
        f"  in the policy, your [[signer]] entry:\n"
        f'    emails = ["{email}"]\n'
        f'    keys = ["openpgp:{key.fingerprint}"]\n'
        f"  and this certificate in a file listed in [trust] openpgp:\n"
        f"{armored}\n"
    )
