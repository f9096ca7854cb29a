"""SSH signing-key discovery for the signing check: which key ``user.signingkey``
names (a literal ``key::``/``ssh-…`` key, a public key file, or a private key file), and
whether git could sign with it — a private key file next to it, or an identity in the
SSH agent.

Nothing here may prompt: the agent is asked only with ``ssh-add -L`` and only when
``SSH_AUTH_SOCK`` is set, and a private key file is never decrypted — its public half
is read from the unencrypted header of the OpenSSH format.
"""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING, NamedTuple

from gitguard import tools
from gitguard.client.report import SIGN_WHY, Problem, SigningKey, signingkey_fix

if TYPE_CHECKING:
    from gitguard.client.workspace import Workspace

__all__ = ["agent_identities", "openssh_private_public_blob", "pub_line", "ssh_signing_key"]


def ssh_signing_key(
    ws: Workspace, spec: str | None, notes: list[str]
) -> tuple[SigningKey | None, list[Problem]]:
    """The SSH key ``user.signingkey`` (``spec``) names, and what stops git signing with
    it: ``ssh-keygen`` missing, a key that cannot be read, no private key to sign with."""
    from gitguard.trust.sshkeys import fingerprint

    if not spec:
        if ws.config.get("gpg.ssh.defaultKeyCommand"):
            notes.append(
                "the SSH signing key comes from gpg.ssh.defaultKeyCommand; it is not checked"
            )
            return None, []
        return None, [
            Problem(
                "no SSH signing key is configured (user.signingkey is not set)",
                SIGN_WHY,
                (*signingkey_fix(), "or: guard setup"),
            )
        ]
    program = ws.config.get("gpg.ssh.program") or "ssh-keygen"
    problems: list[Problem] = []
    if shutil.which(program) is None:
        problems.append(
            Problem(
                f"git signs SSH signatures with `{program}`, which is not installed",
                SIGN_WHY,
                ("install OpenSSH's client tools (Debian/Ubuntu: apt install openssh-client)",),
            )
        )
    literal = _is_literal_ssh_key(spec)
    found = _literal_key(literal) if literal is not None else _key_file(ws, spec)
    if isinstance(found, Problem):
        return None, [found]
    key_type, blob, private_ok = found
    if blob is not None and not private_ok:
        agent, note = agent_identities()
        if note:
            notes.append(note)
        private_ok = blob in agent
    if not private_ok:
        fpr = fingerprint(blob) if blob is not None else spec
        problems.append(
            Problem(
                f"cannot sign with SSH key {fpr} (user.signingkey = {spec}): no private key "
                "file next to it and no SSH agent identity for it",
                SIGN_WHY,
                (
                    "load the private key into your SSH agent: ssh-add <private key file>",
                    "or: point git at the private key's public half: git config --global "
                    "user.signingkey <private key file>.pub",
                    "or: guard setup --generate",
                ),
            )
        )
    key_fpr = fingerprint(blob) if blob is not None else None
    return SigningKey("ssh", spec, key_fpr, blob, key_type), problems


class _Found(NamedTuple):
    """What ``user.signingkey`` led to: the public key (when known) and whether its
    private key was found next to it."""

    key_type: str | None
    blob: bytes | None
    private_ok: bool


def _literal_key(literal: str) -> _Found | Problem:
    from gitguard.trust.sshkeys import parse_public_key_line

    try:
        key_type, blob = parse_public_key_line(literal)
    except ValueError as e:
        return Problem(
            f"user.signingkey is not a valid SSH public key ({e})", SIGN_WHY, signingkey_fix()
        )
    return _Found(key_type, blob, False)


def _key_file(ws: Workspace, spec: str) -> _Found | Problem:
    """A key file: a private key (git signs with it directly) or a public key, whose
    private key ``ssh-keygen -Y sign`` looks for without ``.pub``/``-cert.pub``."""
    from gitguard.trust.sshkeys import parse_public_key_line

    path = os.path.expanduser(spec)
    if not os.path.isabs(path):
        path = ws.path(path)
    try:
        with open(path, "rb") as f:
            data = f.read(64 * 1024)
    except OSError as e:
        return Problem(
            f"user.signingkey names {spec}, which cannot be read ({e.strerror})",
            SIGN_WHY,
            (*signingkey_fix(), "or: guard setup"),
        )
    if b"PRIVATE KEY-----" in data:
        return _private_key_file(path, data)
    try:
        key_type, blob = parse_public_key_line(data.decode("utf-8", "replace").strip())
    except ValueError as e:
        return Problem(
            f"user.signingkey names {spec}, which is not an SSH key ({e})",
            SIGN_WHY,
            signingkey_fix(),
        )
    private_ok = False
    for suffix in ("-cert.pub", ".pub"):
        if path.endswith(suffix):
            private_ok = os.path.isfile(path[: -len(suffix)])
            break
    return _Found(key_type, blob, private_ok)


def _private_key_file(path: str, data: bytes) -> _Found:
    """Its public half: from the OpenSSH header, else from ``PATH.pub``; unknown (None)
    for a PEM key without a readable ``.pub``."""
    from gitguard.trust.sshkeys import blob_type, parse_public_key_line

    key_type: str | None = None
    blob = openssh_private_public_blob(data)
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
    return _Found(key_type, blob, True)


def _is_literal_ssh_key(spec: str) -> str | None:
    """git's ``is_literal_ssh_key``: ``key::<key>`` or a value starting with ``ssh-``."""
    if spec.startswith("key::"):
        return spec[5:]
    if spec.startswith("ssh-"):
        return spec
    return None


def openssh_private_public_blob(data: bytes) -> bytes | None:
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


def pub_line(key_type: str, blob: bytes) -> str:
    import base64

    return f"{key_type} {base64.b64encode(blob).decode()}"
