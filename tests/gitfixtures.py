"""Real-tool fixtures for signature tests: throwaway GnuPG homes and keys, SSH keys and
allowed_signers files, repositories with commits and tags signed the way git signs
them, raw-object tamper helpers, and git itself as the oracle.

Nothing here is mocked: keys come from ``gpg`` and ``ssh-keygen``, signatures from
``git commit -S`` / ``git tag -s`` (or from the same signing programs git runs, when a
test needs an object git would refuse to write), and the expected verdicts from
``git log --format=%G?`` and ``git verify-tag --raw``.

Every subprocess gets an explicit environment built by :func:`tool_env` (never the
caller's ``os.environ``): module-scoped fixtures run before the autouse isolation of
``conftest.py`` takes effect, so they must not depend on it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

TIMEOUT = 120

IDENTITY: dict[str, str] = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.com",
}

# git's %G? letters (Documentation/pretty-formats.txt).
GIT_CODES = frozenset("GBUXYREN")

OpenPGPAlgo = Literal["rsa2048", "rsa3072", "ed25519", "nistp256", "nistp384"]
SshKeyType = Literal["ed25519", "rsa", "ecdsa"]


class ToolError(Exception):
    """A fixture command failed; the message names the command, exit code and output."""


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    input: bytes | None = None,
    check: bool = True,
    timeout: float = TIMEOUT,
) -> subprocess.CompletedProcess[bytes]:
    """Run one command with an explicit environment; raise :class:`ToolError` on failure."""
    cmd = [os.fspath(a) for a in argv]
    proc = subprocess.run(
        cmd,
        env=dict(env),
        cwd=cwd,
        input=input,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode:
        raise ToolError(
            f"{' '.join(cmd)} failed (exit {proc.returncode})\n"
            f"stdout: {proc.stdout.decode('utf-8', 'replace')}\n"
            f"stderr: {proc.stderr.decode('utf-8', 'replace')}"
        )
    return proc


def tool_env(home: Path, *, gnupghome: Path | None = None) -> dict[str, str]:
    """A complete, isolated environment for git/gpg/ssh-keygen rooted at ``home``: no
    system or user git config, empty templates, pinned identities, C locale, UTC.
    Nothing is inherited but ``PATH``. ``conftest.isolated_env`` makes it every test's
    ``os.environ``."""
    home.mkdir(parents=True, exist_ok=True)
    gitconfig = home / ".gitconfig"
    if not gitconfig.exists():
        gitconfig.write_text("")
    gnupg = gnupghome if gnupghome is not None else home / ".gnupg"
    gnupg.mkdir(mode=0o700, parents=True, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "GNUPGHOME": str(gnupg),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "GIT_TEMPLATE_DIR": "",
        **IDENTITY,
        "LC_ALL": "C",
        "TZ": "UTC",
        "NO_COLOR": "1",
    }


def require_tools(tools: Sequence[str], purpose: str, fix: str) -> None:
    """Fail (never skip) when one of ``tools`` is not on PATH: called at import time,
    the whole test module fails; in a fixture, the tests using it. The message is
    "TOOL is required PURPOSE (FIX)"."""
    import pytest

    for tool in tools:
        if shutil.which(tool) is None:  # pragma: no cover - scripts/test.sh installs them
            message = " ".join(filter(None, (f"{tool} is required", purpose, f"({fix})")))
            pytest.fail(message, pytrace=False)


@contextlib.contextmanager
def isolated_environ(env: Mapping[str, str]) -> Iterator[None]:
    """Make ``os.environ`` exactly ``env`` for the duration (for in-process CLI runs
    from module-scoped fixtures), then restore it."""
    saved = os.environ.copy()
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _executable_script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


# --------------------------------------------------------------------------- OpenPGP


@dataclass(frozen=True)
class GpgKey:
    """A key in a :class:`GpgHome`. ``fingerprint`` is the primary key's;
    ``signing_fingerprint`` the (sub)key that makes signatures."""

    home: GpgHome
    uid: str
    fingerprint: str
    signing_fingerprint: str

    @property
    def signing_keyid(self) -> str:
        """The long key id git reports as ``%GK``."""
        return self.signing_fingerprint[-16:]


@dataclass(frozen=True)
class GpgHome:
    """A throwaway GnuPG home directory. Call :meth:`close` to stop its agent."""

    path: Path
    env: Mapping[str, str]

    @classmethod
    def create(cls, path: Path, env: Mapping[str, str]) -> GpgHome:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return cls(path, {**env, "GNUPGHOME": str(path)})

    def gpg(self, *args: str, input: bytes | None = None, faked_time: str | None = None) -> bytes:
        argv = ["gpg", "--homedir", str(self.path), "--batch", "--no-tty"]
        argv += ["--pinentry-mode", "loopback", "--passphrase", ""]
        if faked_time is not None:
            argv += ["--faked-system-time", faked_time]
        return run([*argv, *args], env=self.env, input=input).stdout

    def close(self) -> None:
        run(["gpgconf", "--homedir", str(self.path), "--kill", "all"], env=self.env, check=False)

    def _fingerprints(self, selector: str) -> list[tuple[str, str]]:
        """``(record type, fingerprint)`` for the primary and subkeys of ``selector``."""
        out = self.gpg("--with-colons", "--list-keys", selector).decode()
        result: list[tuple[str, str]] = []
        last = ""
        for line in out.splitlines():
            fields = line.split(":")
            if fields[0] in ("pub", "sub"):
                last = fields[0]
            elif fields[0] == "fpr":
                result.append((last, fields[9]))
        return result

    def gen_key(
        self,
        uid: str,
        algo: OpenPGPAlgo,
        *,
        usage: str = "sign",
        expire: str = "never",
        faked_time: str | None = None,
        cert_digest: str | None = None,
    ) -> GpgKey:
        """``gpg --quick-gen-key``. With ``faked_time`` (``20200101T000000``) the key is
        created at that time, so ``expire="1y"`` makes a key that has expired since;
        ``cert_digest="SHA1"`` binds it with SHA-1 self-signatures (GnuPG before 2.1)."""
        digest = ("--cert-digest-algo", cert_digest) if cert_digest else ()
        self.gpg(*digest, "--quick-gen-key", uid, algo, usage, expire, faked_time=faked_time)
        fprs = self._fingerprints(f"={uid}")
        primary = fprs[0][1]
        return GpgKey(self, uid, primary, primary)

    def add_signing_subkey(
        self, key: GpgKey, algo: OpenPGPAlgo, *, faked_time: str | None = None
    ) -> GpgKey:
        """Add a signing subkey; the returned key signs with it (``FPR!``)."""
        self.gpg("--quick-add-key", key.fingerprint, algo, "sign", "never", faked_time=faked_time)
        subs = [f for kind, f in self._fingerprints(key.fingerprint) if kind == "sub"]
        return GpgKey(self, key.uid, key.fingerprint, subs[-1])

    def export(self, key: GpgKey) -> bytes:
        """The armored public certificate."""
        return self.gpg("--armor", "--export", key.fingerprint)

    def import_keys(self, data: bytes) -> None:
        self.gpg("--import", input=data)

    def set_ownertrust(self, key: GpgKey, level: int = 6) -> None:
        """``--import-ownertrust`` (6 = ultimate, 5 = full, 3 = marginal)."""
        self.gpg("--import-ownertrust", input=f"{key.fingerprint}:{level}:\n".encode())

    def revoke(self, key: GpgKey, *, into: GpgHome | None = None) -> None:
        """Import the revocation certificate gpg wrote when it generated ``key`` (into
        this home, or into ``into`` when the key was generated elsewhere)."""
        rev = (self.path / "openpgp-revocs.d" / f"{key.fingerprint}.rev").read_bytes()
        # gpg defangs the stored certificate with a leading ':' on the armor line.
        rev = rev.replace(b":-----BEGIN PGP PUBLIC KEY BLOCK", b"-----BEGIN PGP PUBLIC KEY BLOCK")
        (into or self).import_keys(rev)

    def gpg_program(self, directory: Path, name: str, *extra: str) -> Path:
        """A ``gpg.program`` wrapper adding ``extra`` options (``--digest-algo SHA1``,
        ``--faked-system-time …``) to every gpg call git makes."""
        gpg = shutil.which("gpg", path=self.env["PATH"])
        assert gpg is not None, "gpg not on PATH"
        args = " ".join(f"'{a}'" for a in extra)
        return _executable_script(directory / name, f'exec {gpg} {args} "$@"')


@contextlib.contextmanager
def gpg_signing_key(directory: Path, uid: str, name: str) -> Iterator[tuple[GpgHome, GpgKey, Path]]:
    """A throwaway GnuPG home (``directory/gnupg``) with one Ed25519 signing key for
    ``uid``, its certificate exported to ``directory/NAME.asc``; the home's agent is
    stopped afterwards."""
    home = GpgHome.create(directory / "gnupg", tool_env(directory / "home"))
    try:
        key = home.gen_key(uid, "ed25519")
        cert = directory / f"{name}.asc"
        cert.write_bytes(home.export(key))
        yield home, key, cert
    finally:
        home.close()


# --------------------------------------------------------------------------- SSH


@dataclass(frozen=True)
class SshKey:
    path: Path  # private key; the public key is path + ".pub"
    key_type: str  # the wire type, e.g. "ssh-ed25519"
    public_line: str  # "<type> <base64>" without comment
    fingerprint: str  # "SHA256:…"


def ssh_key_from_public(path: Path, public_line: str, env: Mapping[str, str]) -> SshKey:
    pub = Path(f"{path}.pub")
    if not pub.exists():
        pub.write_text(public_line + "\n")
    out = run(["ssh-keygen", "-l", "-E", "sha256", "-f", pub], env=env).stdout.decode()
    fields = public_line.split()
    return SshKey(path, fields[0], f"{fields[0]} {fields[1]}", out.split()[1])


def make_ssh_key(
    directory: Path,
    name: str,
    key_type: SshKeyType,
    env: Mapping[str, str],
    *,
    bits: int | None = None,
) -> SshKey:
    """``ssh-keygen -t TYPE [-b BITS] -N '' -f DIR/NAME``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    argv: list[str | os.PathLike[str]] = ["ssh-keygen", "-q", "-t", key_type, "-N", ""]
    if bits is not None:
        argv += ["-b", str(bits)]
    run([*argv, "-C", name, "-f", path], env=env)
    return ssh_key_from_public(path, Path(f"{path}.pub").read_text().strip(), env)


def allowed_signers_line(
    principal: str,
    key: SshKey,
    *,
    valid_after: str | None = None,
    valid_before: str | None = None,
    namespaces: str | None = None,
) -> str:
    """One allowed_signers line; times as ssh-keygen accepts them (``YYYYMMDD[HHMM[SS]]``)."""
    options = []
    if namespaces is not None:
        options.append(f'namespaces="{namespaces}"')
    if valid_after is not None:
        options.append(f'valid-after="{valid_after}"')
    if valid_before is not None:
        options.append(f'valid-before="{valid_before}"')
    parts = [principal, ",".join(options), key.public_line]
    return " ".join(p for p in parts if p)


def write_allowed_signers(path: Path, lines: Sequence[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def ssh_sign(
    key: SshKey,
    data: bytes,
    env: Mapping[str, str],
    *,
    namespace: str = "git",
    program: Path | None = None,
    workdir: Path,
) -> bytes:
    """Sign ``data`` exactly as git does: ``ssh-keygen -Y sign -n NS -f KEY FILE``,
    reading ``FILE.sig``."""
    workdir.mkdir(parents=True, exist_ok=True)
    buf = workdir / "ssh-sign-buffer"
    sig = Path(f"{buf}.sig")
    sig.unlink(missing_ok=True)
    buf.write_bytes(data)
    run([program or "ssh-keygen", "-Y", "sign", "-n", namespace, "-f", key.path, buf], env=env)
    return sig.read_bytes()


# --------------------------------------------------------------------------- signers


@dataclass(frozen=True)
class Signer:
    """How git signs: the ``-c`` options and environment for ``commit -S`` / ``tag -s``,
    and :meth:`sign` to make the same signature over arbitrary bytes."""

    format: Literal["openpgp", "ssh"]
    signingkey: str
    program: Path | None = None
    gnupghome: Path | None = None
    ssh_key: SshKey | None = None

    def config(self) -> list[str]:
        cfg = ["-c", f"user.signingkey={self.signingkey}"]
        if self.format == "ssh":
            cfg += ["-c", "gpg.format=ssh"]
            if self.program is not None:
                cfg += ["-c", f"gpg.ssh.program={self.program}"]
        else:
            cfg += ["-c", "gpg.format=openpgp"]
            if self.program is not None:
                cfg += ["-c", f"gpg.program={self.program}"]
        return cfg

    def env(self, base: Mapping[str, str]) -> dict[str, str]:
        env = dict(base)
        if self.gnupghome is not None:
            env["GNUPGHOME"] = str(self.gnupghome)
        return env

    def sign(
        self, data: bytes, base_env: Mapping[str, str], *, workdir: Path, namespace: str = "git"
    ) -> bytes:
        """An armored detached signature over ``data``, made the way git makes it."""
        env = self.env(base_env)
        if self.format == "ssh":
            assert self.ssh_key is not None
            return ssh_sign(
                self.ssh_key, data, env, namespace=namespace, program=self.program, workdir=workdir
            )
        gpg: str | Path = self.program or "gpg"
        return run([gpg, "--status-fd=2", "-bsau", self.signingkey], env=env, input=data).stdout


def openpgp_signer(key: GpgKey, *, program: Path | None = None) -> Signer:
    # "FPR!" makes gpg use exactly that (sub)key, as a user pinning a subkey would.
    keyspec = (
        f"{key.signing_fingerprint}!"
        if key.signing_fingerprint != key.fingerprint
        else key.fingerprint
    )
    return Signer("openpgp", keyspec, program=program, gnupghome=key.home.path)


def ssh_signer(key: SshKey, *, program: Path | None = None) -> Signer:
    return Signer("ssh", str(key.path), program=program, ssh_key=key)


# --------------------------------------------------------------------------- raw objects


def signature_header_name(object_format: str) -> bytes:
    """The commit header git writes the signature into for this object format."""
    return b"gpgsig-sha256" if object_format == "sha256" else b"gpgsig"


def _header_spans(raw: bytes) -> tuple[list[tuple[bytes, int, int]], int]:
    """``(name, start, end)`` for each header (with its continuation lines) and the
    offset where the header section ends (the blank line)."""
    spans: list[tuple[bytes, int, int]] = []
    pos = 0
    while pos < len(raw):
        if raw[pos : pos + 1] == b"\n":
            return spans, pos
        eol = raw.find(b"\n", pos)
        end = len(raw) if eol < 0 else eol + 1
        while end < len(raw) and raw[end : end + 1] == b" ":
            nxt = raw.find(b"\n", end)
            end = len(raw) if nxt < 0 else nxt + 1
        name = raw[pos:end].split(b" ", 1)[0].rstrip(b"\n")
        spans.append((name, pos, end))
        pos = end
    return spans, len(raw)


def _unfold(value: bytes) -> bytes:
    """A multi-line header value without its one-space continuation prefixes."""
    lines = value.rstrip(b"\n").split(b"\n")
    return b"\n".join([lines[0], *(line[1:] for line in lines[1:])]) + b"\n"


def split_signature(raw: bytes, header: bytes = b"gpgsig") -> tuple[bytes, bytes | None]:
    """``(payload, signature)``: the commit without its signature header, and the
    unfolded signature (``None`` if unsigned). Mirrors git's
    ``parse_buffer_signed_by_header`` for one header."""
    spans, _ = _header_spans(raw)
    for name, start, end in spans:
        if name == header:
            value = raw[start + len(header) + 1 : end]
            return raw[:start] + raw[end:], _unfold(value)
    return raw, None


def add_signature(payload: bytes, signature: bytes, header: bytes = b"gpgsig") -> bytes:
    """Insert ``signature`` as a header at the end of the header section, each line
    prefixed by one space, as git's ``add_header_signature`` does."""
    _, eoh = _header_spans(payload)
    return payload[:eoh] + fold_header(header, signature) + payload[eoh:]


def fold_header(name: bytes, value: bytes) -> bytes:
    """``name value`` with continuation lines prefixed by one space (as git writes
    ``gpgsig`` and ``mergetag``)."""
    lines = value.rstrip(b"\n").split(b"\n")
    return name + b"".join(b" " + line + b"\n" for line in lines)


def replace_header(raw: bytes, name: bytes, value: bytes, *, occurrence: int = 0) -> bytes:
    """``raw`` with the ``occurrence``-th ``name`` header's value replaced."""
    spans = [(s, e) for n, s, e in _header_spans(raw)[0] if n == name]
    start, end = spans[occurrence]
    return raw[:start] + fold_header(name, value) + raw[end:]


def flip_message_byte(raw: bytes) -> bytes:
    """Change one byte of the message (the first letter after the headers) while
    keeping every header, signature included."""
    _, eoh = _header_spans(raw)
    for i in range(eoh + 1, len(raw)):
        c = raw[i : i + 1]
        if c.isalpha():
            return raw[:i] + c.swapcase() + raw[i + 1 :]
    raise ValueError("no letter in the message to flip")


def transplant_signature(target: bytes, donor: bytes, header: bytes = b"gpgsig") -> bytes:
    """``target``'s content with ``donor``'s signature header."""
    payload, _ = split_signature(target, header)
    _, sig = split_signature(donor, header)
    assert sig is not None, "donor commit is not signed"
    return add_signature(payload, sig, header)


def header_values(raw: bytes, name: bytes) -> list[bytes]:
    """Each ``name`` header's value (the header section only), its continuation lines'
    leading space removed: a ``mergetag``'s is the embedded tag, byte for byte."""
    end = raw.find(b"\n\n")
    head = raw if end < 0 else raw[: end + 1]
    values: list[bytes] = []
    current: bytearray | None = None
    for line in head.splitlines(keepends=True):
        if current is not None and line.startswith(b" "):
            current += line[1:]
            continue
        if current is not None:
            values.append(bytes(current))
            current = None
        if line.startswith(name + b" "):
            current = bytearray(line[len(name) + 1 :])
    if current is not None:
        values.append(bytes(current))
    return values


def mergetags(raw_commit: bytes) -> list[bytes]:
    """The embedded tag objects (exact bytes) of every ``mergetag`` header."""
    return header_values(raw_commit, b"mergetag")


def split_tag_signature(raw_tag: bytes) -> tuple[bytes, bytes | None]:
    """``(payload, signature)`` of an annotated tag (signature appended to the message)."""
    armors = (
        b"-----BEGIN PGP SIGNATURE-----",
        b"-----BEGIN SSH SIGNATURE-----",
        b"-----BEGIN SIGNED MESSAGE-----",
    )
    _, eoh = _header_spans(raw_tag)
    best = -1
    for armor in armors:
        pos = raw_tag.rfind(b"\n" + armor, eoh)
        best = max(best, pos)
    if best < 0:
        return raw_tag, None
    return raw_tag[: best + 1], raw_tag[best + 1 :]


# --------------------------------------------------------------------------- repositories


@dataclass
class Repo:
    """A throwaway repository driven by real git with an explicit environment."""

    path: Path
    env: dict[str, str]
    object_format: str = "sha1"
    scratch: Path = field(init=False)

    def __post_init__(self) -> None:
        self.scratch = self.path.parent / f"{self.path.name}.scratch"
        self.scratch.mkdir(parents=True, exist_ok=True)

    @classmethod
    def init(cls, path: Path, env: Mapping[str, str], *, object_format: str = "sha1") -> Repo:
        run(
            ["git", "init", "-q", "-b", "main", f"--object-format={object_format}", path],
            env=env,
        )
        repo = cls(path, dict(env), object_format)
        repo.git("config", "commit.gpgSign", "false")
        repo.git("config", "tag.gpgSign", "false")
        return repo

    @property
    def signature_header(self) -> bytes:
        return signature_header_name(self.object_format)

    def git(
        self,
        *args: str,
        input: bytes | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> bytes:
        return run(
            ["git", "-C", self.path, *args], env=env or self.env, input=input, check=check
        ).stdout

    def rev_parse(self, rev: str) -> str:
        return self.git("rev-parse", "--verify", "--end-of-options", rev).decode().strip()

    def cat(self, oid: str) -> bytes:
        kind = self.git("cat-file", "-t", oid).decode().strip()
        return self.git("cat-file", kind, oid)

    def write_object(self, kind: str, data: bytes, *, literally: bool = False) -> str:
        """``git hash-object -t KIND -w --stdin [--literally]``."""
        args = ["hash-object", "-t", kind, "-w", "--stdin"]
        if literally:
            args.append("--literally")
        return self.git(*args, input=data).decode().strip()

    def hash_object(self, kind: str, data: bytes) -> str:
        return self.git("hash-object", "-t", kind, "--stdin", input=data).decode().strip()

    def update_ref(self, ref: str, oid: str) -> None:
        self.git("update-ref", ref, oid)

    def _dated(self, env: dict[str, str], date: str | None) -> dict[str, str]:
        if date is not None:
            env["GIT_COMMITTER_DATE"] = date
            env["GIT_AUTHOR_DATE"] = date
        return env

    def commit(self, message: str, *, signer: Signer | None = None, date: str | None = None) -> str:
        """``git commit --allow-empty [-S]`` on the current branch; returns the new id.
        ``date`` sets both author and committer dates (ISO 8601)."""
        env = self._dated(dict(signer.env(self.env) if signer else self.env), date)
        cfg = signer.config() if signer else []
        sign = ["-S"] if signer else ["--no-gpg-sign"]
        self.git(*cfg, "commit", "-q", "--allow-empty", *sign, "-m", message, env=env)
        return self.rev_parse("HEAD")

    def tag(
        self,
        name: str,
        message: str,
        *,
        signer: Signer | None = None,
        target: str = "HEAD",
        date: str | None = None,
    ) -> str:
        """An annotated tag (``git tag -s`` when ``signer``, else ``git tag -a``);
        returns the tag object id."""
        env = self._dated(dict(signer.env(self.env) if signer else self.env), date)
        cfg = signer.config() if signer else []
        self.git(*cfg, "tag", "-s" if signer else "-a", "-m", message, name, target, env=env)
        return self.rev_parse(f"refs/tags/{name}")

    def merge(self, rev: str, message: str, *, signer: Signer | None = None) -> str:
        """``git merge --no-ff [-S] -m MESSAGE REV``. Merging a signed tag records it in a
        ``mergetag`` header."""
        env = dict(signer.env(self.env) if signer else self.env)
        cfg = signer.config() if signer else []
        sign = ["-S"] if signer else ["--no-gpg-sign"]
        self.git(*cfg, "merge", "-q", "--no-ff", "--no-edit", *sign, "-m", message, rev, env=env)
        return self.rev_parse("HEAD")

    def unsigned_commit_payload(
        self, message: str, *, parents: Sequence[str] = (), date: str | None = None
    ) -> bytes:
        """The bytes of a fresh unsigned commit object (via ``git commit-tree``, not
        written to any ref), to be signed or tampered with and written raw."""
        env = self._dated(dict(self.env), date)
        empty_tree = self.write_object("tree", b"")
        args = ["commit-tree", "--no-gpg-sign"]
        for p in parents:
            args += ["-p", p]
        oid = self.git(*args, "-m", message, empty_tree, env=env).decode().strip()
        return self.cat(oid)

    def signed_raw_commit(
        self,
        message: str,
        signer: Signer,
        *,
        parents: Sequence[str] = (),
        namespace: str = "git",
        date: str | None = None,
    ) -> str:
        """A commit signed outside git's ``commit -S`` (e.g. in another SSH namespace):
        the signing program git would run, over the payload git would sign."""
        payload = self.unsigned_commit_payload(message, parents=parents, date=date)
        sig = signer.sign(payload, self.env, workdir=self.scratch, namespace=namespace)
        return self.write_object("commit", add_signature(payload, sig, self.signature_header))


# --------------------------------------------------------------------------- git's split
#
# How git 2.39 itself splits a signed object into payload and signature, corners
# included (several signature headers, an armor line anywhere in a tag): the real-world
# corpus test compares gitguard's parser with it, the fuzzer tells from it which objects
# git will abort on. The helpers above (split_signature & co.) build and tamper with
# well-formed objects instead.

# The armor lines git recognises (gpg-interface.c ``sigcheck_*_formats``), by format.
ARMORS = {
    b"-----BEGIN PGP SIGNATURE-----": "openpgp",
    b"-----BEGIN PGP MESSAGE-----": "openpgp",
    b"-----BEGIN SSH SIGNATURE-----": "ssh",
    b"-----BEGIN SIGNED MESSAGE-----": "x509",
}


def signature_format(sig: bytes | None) -> str:
    """The format whose armor ``sig`` starts with: openpgp, ssh, x509; ``none`` for no
    signature, ``other`` for what git recognises as none of them."""
    if sig is None:
        return "none"
    for armor, name in ARMORS.items():
        if sig.startswith(armor):
            return name
    return "other"


def git_split_commit(raw: bytes, header: bytes) -> tuple[bytes, bytes | None, int]:
    """``(payload, signature, signature header lines)`` as git 2.39 splits a commit
    (commit.c ``parse_buffer_signed_by_header``): every ``header`` line and its
    continuation lines form the signature (concatenated, when there are several),
    every other ``gpgsig*`` header is dropped, the rest is the payload."""
    payload = bytearray()
    signature = bytearray()
    in_sig = saw = other = False
    count = 0
    pos, end = 0, len(raw)
    while pos < end:
        nl = raw.find(b"\n", pos)
        nxt = end if nl < 0 else nl + 1
        line = raw[pos:nxt]
        sig: bytes | None = None
        if in_sig and line.startswith(b" "):
            sig = line[1:]
        elif line.startswith(header + b" "):
            sig = line[len(header) + 1 :]
            other = False
            count += 1
        elif line.startswith(b"gpgsig"):
            other = True
        elif other and not line.startswith(b" "):
            other = False
        if sig is not None:
            signature += sig
            saw = in_sig = True
        else:
            if line.startswith(b"\n"):  # the message: the whole remainder
                nxt = end
                line = raw[pos:]
            if not other:
                payload += line
            in_sig = False
        pos = nxt
    return bytes(payload), bytes(signature) if saw else None, count


def git_split_tag(raw: bytes) -> tuple[bytes, bytes | None]:
    """``(payload, signature)`` as git splits a tag (gpg-interface.c
    ``parse_signed_buffer``): from the last line that starts a known armor."""
    match = len(raw)
    pos = 0
    while pos < len(raw):
        if raw.startswith(tuple(ARMORS), pos):
            match = pos
        nl = raw.find(b"\n", pos)
        pos = len(raw) if nl < 0 else nl + 1
    return raw[:match], raw[match:] if match < len(raw) else None


# --------------------------------------------------------------------------- the oracle


@dataclass(frozen=True)
class GitVerdict:
    """What git says about one signature: ``%G?``, ``%GK``, ``%GF``, ``%GP``."""

    code: str
    key: str = ""
    fingerprint: str = ""
    primary: str = ""


def git_answer(cmd: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    """Run a command that verifies signatures (git, or a program like it) and return
    what it answered, whatever its exit code.

    git 2.39 writes the payload to ``ssh-keygen``/``gpg`` on a pipe without ignoring
    SIGPIPE: when the program exits before reading it (it does, at once, for some
    malformed signatures), git may die of SIGPIPE depending on timing. That is a race
    in git, not an answer; run again (a few times) until git answers."""
    for _ in range(8):
        proc = subprocess.run(list(cmd), capture_output=True, check=False, **kwargs)
        if proc.returncode != -signal.SIGPIPE:
            break
    return proc


def git_oracle(cmd: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    """Run a git command that verifies signatures, as a test oracle (see
    :func:`git_answer`); raise when git fails."""
    proc = git_answer(cmd, **kwargs)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, list(cmd), proc.stdout, proc.stderr)
    return proc


def git_log_verdicts(repo: Repo, *revs: str) -> dict[str, GitVerdict]:
    """``git log --format='%H %G? %GK %GF %GP'`` over ``revs`` (default ``--all``)."""
    fmt = "--format=%H%x1f%G?%x1f%GK%x1f%GF%x1f%GP"
    cmd = ["git", "-C", str(repo.path), "log", fmt, *(revs or ("--all",))]
    out = git_oracle(cmd, env=repo.env).stdout.decode()
    verdicts = {}
    for line in out.splitlines():
        oid, code, key, fpr, primary = line.split("\x1f")
        verdicts[oid] = GitVerdict(code, key, fpr, primary)
    return verdicts


# git 2.39 gpg-interface.c: sigcheck_gpg_status[] (exclusive status lines).
GPG_RESULTS = {
    "GOODSIG": "G",
    "BADSIG": "B",
    "ERRSIG": "E",
    "EXPSIG": "X",
    "EXPKEYSIG": "Y",
    "REVKEYSIG": "R",
}
_TRUST_BELOW_MARGINAL = ("TRUST_UNDEFINED", "TRUST_NEVER")


def parse_gpg_status(status: str) -> GitVerdict:
    """git's reading of gpg ``--status-fd`` output (``parse_gpg_output`` plus the
    ``%G?`` mapping in pretty.c: a good signature below marginal trust is ``U``)."""
    code, key, fpr, primary, trust = "N", "", "", "", ""
    seen_exclusive = 0
    for line in status.splitlines():
        if not line.startswith("[GNUPG:] "):
            continue
        fields = line[len("[GNUPG:] ") :].split(" ")
        if fields[0] in GPG_RESULTS:
            seen_exclusive += 1
            if seen_exclusive > 1:  # several signatures: git refuses them as E
                return GitVerdict("E")
            code = GPG_RESULTS[fields[0]]
            key = fields[1] if len(fields) > 1 else ""
        elif fields[0] == "VALIDSIG":
            fpr = fields[1]
            primary = fields[10] if len(fields) > 10 else ""
        elif fields[0].startswith("TRUST_"):
            trust = fields[0]
    if code == "G" and trust in _TRUST_BELOW_MARGINAL:
        code = "U"
    return GitVerdict(code, key, fpr, primary)


def parse_ssh_output(output: str) -> GitVerdict:
    """git's reading of ssh-keygen's output (``parse_ssh_output``): the first line
    decides; a good signature by a key without a matching principal is ``U``."""
    first = output.split("\n", 1)[0]
    if first.startswith('Good "git" signature for '):
        code = "G"
    elif first.startswith('Good "git" signature with '):
        code = "U"
    else:
        return GitVerdict("B")
    at = first.find("key ")
    fpr = first[at + 4 :].strip() if at >= 0 else ""
    return GitVerdict(code, fpr, fpr, "")


def parse_verify_output(text: str, signature: bytes) -> GitVerdict:
    """git's reading of what verified ``signature``: ssh-keygen's output for an SSH
    signature, else gpg's (or gpgsm's) status lines."""
    if signature.startswith(b"-----BEGIN SSH SIGNATURE-----"):
        return parse_ssh_output(text)
    return parse_gpg_status(text)


def git_verify_raw(repo: Repo, what: Literal["tag", "commit"], oid: str) -> GitVerdict:
    """``git verify-tag --raw`` / ``git verify-commit --raw``, read as git reads it."""
    raw = repo.cat(oid)
    if what == "tag":
        _, sig = split_tag_signature(raw)
    else:
        _, sig = split_signature(raw, repo.signature_header)
    if sig is None:
        return GitVerdict("N")
    proc = run(["git", "-C", repo.path, f"verify-{what}", "--raw", oid], env=repo.env, check=False)
    return parse_verify_output((proc.stdout + proc.stderr).decode("utf-8", "replace"), sig)


def git_verify_mergetag(repo: Repo, merge_commit: str) -> list[tuple[str, GitVerdict]]:
    """For each mergetag of ``merge_commit``: write the embedded tag as a tag object
    (``git hash-object -t tag -w``) and let ``git verify-tag --raw`` judge it."""
    result = []
    for tag in mergetags(repo.cat(merge_commit)):
        oid = repo.write_object("tag", tag)
        result.append((oid, git_verify_raw(repo, "tag", oid)))
    return result


# --------------------------------------------------------------------------- the CLI


@dataclass(frozen=True)
class AuditRun:
    rc: int
    output: str  # the --output file's content
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        data = json.loads(self.output)
        assert isinstance(data, dict)
        return data

    def results(self) -> list[dict[str, Any]]:
        results = self.json()["results"]
        assert isinstance(results, list)
        return results


def run_audit(
    repo: Repo,
    *args: str,
    out: Path,
    env: Mapping[str, str] | None = None,
    fmt: str = "json",
) -> AuditRun:
    """``guard -C REPO audit ARGS --format FMT --output OUT``, in-process, with
    ``os.environ`` set to ``env`` (default: the repository's environment)."""
    from gitguard.cli.main import main

    out.unlink(missing_ok=True)
    argv = ["-C", str(repo.path), "audit", *args, "--format", fmt, "--output", str(out)]
    stdout, stderr = io.StringIO(), io.StringIO()
    with (
        isolated_environ(env or repo.env),
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
    ):
        try:
            rc = main(argv)
        except SystemExit as e:  # argparse exits for usage errors
            rc = e.code if isinstance(e.code, int) else 2
    output = out.read_text("utf-8") if out.exists() else ""
    return AuditRun(rc, output, stdout.getvalue(), stderr.getvalue())


def index_results(results: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Results keyed by ``(kind, object)``; a duplicate key is an error."""
    index: dict[tuple[str, str], dict[str, Any]] = {}
    for r in results:
        k = (str(r["kind"]), str(r["object"]))
        assert k not in index, f"duplicate result for {k}"
        index[k] = dict(r)
    return index
