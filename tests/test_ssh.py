"""SSH signature verification (SSHSIG), checked against the real tools.

Every verdict is compared with two oracles on the same bytes: git itself (a commit
object carrying the signature in its ``gpgsig`` header, read back with ``git log
--format=%G?`` and ``gpg.ssh.allowedSignersFile``; git passes the committer time as
``-Overify-time``) and ``ssh-keygen -Y verify`` / ``-Y check-novalidate``.
"""

from __future__ import annotations

import base64
import itertools
import os
import random
import secrets
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

import sk_sign
from gitfixtures import git_oracle
from gitguard.model import SshTrustedKey, Status, TrustStore, Verification
from gitguard.signatures import Verifier
from gitguard.signatures import _ssh_keys as ssh_keys_module
from gitguard.signatures.ssh import SshVerifier
from gitguard.trust.sshkeys import parse_public_key_line

SK_SIGN = Path(__file__).with_name("sk_sign.py")
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
T0 = 1_700_000_000  # committer time of the test commits
HOUR = 3600

# ssh-keygen generated key kinds: name -> ssh-keygen arguments
KEYGEN_KINDS: dict[str, list[str]] = {
    "ed25519": ["-t", "ed25519"],
    "rsa3072": ["-t", "rsa", "-b", "3072"],
    "ecdsa256": ["-t", "ecdsa", "-b", "256"],
    "ecdsa384": ["-t", "ecdsa", "-b", "384"],
    "ecdsa521": ["-t", "ecdsa", "-b", "521"],
    "rsa1024": ["-t", "rsa", "-b", "1024"],
    "dsa": ["-t", "dsa"],
}
SK_KINDS: dict[str, sk_sign.Kind] = {"sk-ed25519": "ed25519", "sk-ecdsa": "ecdsa"}
STRONG = ["ed25519", "rsa3072", "ecdsa256", "ecdsa384", "ecdsa521", "sk-ed25519", "sk-ecdsa"]
WEAK = ["rsa1024", "dsa"]


# --------------------------------------------------------------------------- keys


@dataclass(frozen=True)
class Key:
    name: str
    key_type: str
    blob: bytes
    path: Path  # private key (ssh-keygen format, or sk_sign's PEM)
    sk: bool

    def trusted(
        self,
        signer: str = "alice",
        *,
        principals: tuple[str, ...] | None = None,
        valid_after: int | None = None,
        valid_before: int | None = None,
        namespaces: tuple[str, ...] | None = None,
    ) -> SshTrustedKey:
        return SshTrustedKey(
            signer=signer,
            principals=principals or (f"{signer}@example.com",),
            key_type=self.key_type,
            key_blob=self.blob,
            valid_after=valid_after,
            valid_before=valid_before,
            namespaces=namespaces,
            source=f"test:{self.name}",
        )


class Env:
    """Keys, a scratch directory and a bare repository for the git oracle."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.keys: dict[str, Key] = {}
        self._n = itertools.count()
        self.repo = root / "oracle.git"
        # Module-scoped: runs before conftest's per-test isolation, so isolate by hand.
        self.git_env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("GIT_", "SSH_AUTH_SOCK", "GNUPG"))
            },
            "HOME": str(root),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "TZ": "UTC",
            "LC_ALL": "C",
        }
        subprocess.run(
            ["git", "init", "-q", "--bare", str(self.repo)], check=True, env=self.git_env
        )

    def scratch(self, suffix: str = "") -> Path:
        return self.root / f"f{next(self._n)}{suffix}"

    def add_keygen(self, name: str, args: list[str]) -> None:
        path = self.root / f"key-{name}"
        subprocess.run(
            ["ssh-keygen", "-q", *args, "-N", "", "-C", name, "-f", str(path)],
            check=True,
            capture_output=True,
        )
        # not parse_public_key_line: the trust loaders refuse ssh-dss, the verifier must not
        key_type, b64 = Path(f"{path}.pub").read_text().split()[:2]
        self.keys[name] = Key(name, key_type, base64.b64decode(b64), path, sk=False)

    def add_sk(self, name: str, kind: sk_sign.Kind) -> None:
        path = self.root / f"key-{name}"
        key_type, blob = parse_public_key_line(sk_sign.make_sk_key(kind, path))
        self.keys[name] = Key(name, key_type, blob, path, sk=True)

    def sign(
        self, key: Key, payload: bytes, *, namespace: str = "git", hashalg: str = "sha512"
    ) -> bytes:
        """A real signature: ``ssh-keygen -Y sign``, or the software security key."""
        if key.sk:
            return sk_sign.sign(payload, key.path, namespace=namespace, hashalg=hashalg)
        data = self.scratch()
        data.write_bytes(payload)
        subprocess.run(
            [
                "ssh-keygen",
                "-q",
                "-Y",
                "sign",
                "-n",
                namespace,
                "-f",
                str(key.path),
                "-O",
                f"hashalg={hashalg}",
                str(data),
            ],
            check=True,
            capture_output=True,
        )
        return Path(f"{data}.sig").read_bytes()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    e = Env(tmp_path_factory.mktemp("ssh"))
    for name, args in KEYGEN_KINDS.items():
        e.add_keygen(name, args)
    e.add_keygen("stranger", ["-t", "ed25519"])
    for name, kind in SK_KINDS.items():
        e.add_sk(name, kind)
    return e


# --------------------------------------------------------------------------- oracles


def payload(t: int = T0, message: str = "a test commit") -> bytes:
    return (
        f"tree {EMPTY_TREE}\n"
        f"author A U Thor <author@example.com> {t} +0000\n"
        f"committer C O Mitter <committer@example.com> {t} +0000\n"
        f"\n{message}\n"
    ).encode()


def stamp(t: int) -> str:
    return time.strftime("%Y%m%d%H%M%SZ", time.gmtime(t))


def allowed_line(entry: SshTrustedKey) -> str:
    opts = []
    if entry.namespaces is not None:
        opts.append(f'namespaces="{",".join(entry.namespaces)}"')
    if entry.valid_after is not None:
        opts.append(f'valid-after="{stamp(entry.valid_after)}"')
    if entry.valid_before is not None:
        opts.append(f'valid-before="{stamp(entry.valid_before)}"')
    key = f"{entry.key_type} {base64.b64encode(entry.key_blob).decode()}"
    return " ".join(filter(None, [",".join(entry.principals), ",".join(opts), key]))


@dataclass(frozen=True)
class Outcome:
    ours: Verification
    git: str  # git log --format=%G?
    keygen_verify: bool  # ssh-keygen -Y verify -I <first principal>
    keygen_novalidate: bool  # ssh-keygen -Y check-novalidate -n git


def git_signature(sig: bytes) -> bytes:
    """The signature as git reads it back from a ``gpgsig`` header."""
    return sig if sig.endswith(b"\n") else sig + b"\n"


def check(
    env: Env,
    signed: bytes,
    sig: bytes,
    trust: list[SshTrustedKey],
    *,
    when: int = T0,
    principal: str | None = None,
) -> Outcome:
    """Our verdict, git's and ssh-keygen's for ``sig`` over the commit ``signed``."""
    sig = git_signature(sig)
    ours = SshVerifier(trust).verify(signed, sig, when=when)

    allowed = env.scratch(".allowed")
    allowed.write_text("".join(allowed_line(e) + "\n" for e in trust))
    head, _, message = signed.partition(b"\n\n")
    folded = sig[:-1].replace(b"\n", b"\n ")
    commit = head + b"\ngpgsig " + folded + b"\n\n" + message
    oid = subprocess.run(
        ["git", "hash-object", "-t", "commit", "-w", "--literally", "--stdin"],
        input=commit, capture_output=True, check=True, cwd=env.repo, env=env.git_env,
    ).stdout.decode().strip()  # fmt: skip
    git = git_oracle(
        ["git", "-c", f"gpg.ssh.allowedSignersFile={allowed}", "log", "-1", "--format=%G?", oid],
        cwd=env.repo, env=env.git_env,
    ).stdout.decode().strip()  # fmt: skip

    sigfile = env.scratch(".sig")
    sigfile.write_bytes(sig)
    if principal is None:
        principal = trust[0].principals[0] if trust else "nobody@example.com"
    verify_time = f"-Overify-time={stamp(when)}"
    verified = subprocess.run(
        ["ssh-keygen", "-Y", "verify", "-n", "git", "-f", str(allowed), "-I", principal,
         "-s", str(sigfile), verify_time],
        input=signed, capture_output=True, check=False,
    )  # fmt: skip
    novalidate = subprocess.run(
        ["ssh-keygen", "-Y", "check-novalidate", "-n", "git", "-s", str(sigfile), verify_time],
        input=signed, capture_output=True, check=False,
    )  # fmt: skip
    return Outcome(
        ours,
        git,
        verified.returncode == 0 and verified.stdout.startswith(b"Good"),
        novalidate.returncode == 0 and novalidate.stdout.startswith(b"Good"),
    )


def expect(outcome: Outcome, status: Status, git: str) -> None:
    """Our status is ``status``; git said ``git``, and so does our ``git_code``;
    ssh-keygen agrees: ``-Y verify`` accepts exactly when git says G,
    ``-Y check-novalidate -n git`` accepts whenever git says G or U and never for a
    bad or malformed signature."""
    ours = outcome.ours
    assert ours.status is status, ours.reason
    assert outcome.git == git, f"git says {outcome.git}; {ours.reason}"
    assert ours.git_code == git, ours.reason
    assert outcome.keygen_verify == (git == "G")
    if git in ("G", "U"):
        assert outcome.keygen_novalidate
    if status in (Status.MALFORMED, Status.BAD_SIGNATURE):
        assert not outcome.keygen_novalidate
    assert ours.reason


# --------------------------------------------------------------------------- the matrix

SCENARIOS: dict[str, tuple[Status, str]] = {
    "good": (Status.GOOD, "G"),
    "unknown-key": (Status.UNKNOWN_KEY, "U"),
    "wrong-namespace": (Status.BAD_SIGNATURE, "B"),
    "flipped-payload-byte": (Status.BAD_SIGNATURE, "B"),
    "transplanted": (Status.BAD_SIGNATURE, "B"),
    "not-yet-valid": (Status.NOT_YET_VALID, "U"),
    "expired": (Status.EXPIRED_KEY, "U"),
    "inside-window": (Status.GOOD, "G"),
}


def scenario(env: Env, key: Key, name: str) -> Outcome:
    signed = payload()
    sig = env.sign(key, signed)
    trust = [key.trusted()]
    if name == "unknown-key":
        trust = [env.keys["stranger"].trusted()]
    elif name == "wrong-namespace":
        sig = env.sign(key, signed, namespace="file")
    elif name == "flipped-payload-byte":
        signed = payload(message="a test commiT")
    elif name == "transplanted":
        sig = env.sign(key, payload(message="another commit"))
    elif name == "not-yet-valid":
        trust = [key.trusted(valid_after=T0 + HOUR)]
    elif name == "expired":
        trust = [key.trusted(valid_before=T0 - HOUR)]
    elif name == "inside-window":
        trust = [key.trusted(valid_after=T0 - HOUR, valid_before=T0 + HOUR)]
    return check(env, signed, sig, trust)


@pytest.mark.parametrize("name", list(SCENARIOS))
@pytest.mark.parametrize("kind", STRONG)
def test_key_types(env: Env, kind: str, name: str) -> None:
    key = env.keys[kind]
    outcome = scenario(env, key, name)
    status, git = SCENARIOS[name]
    expect(outcome, status, git)
    ours = outcome.ours
    assert ours.key is not None
    assert ours.key.startswith("SHA256:")
    if status in (Status.GOOD, Status.NOT_YET_VALID, Status.EXPIRED_KEY):
        assert ours.signer == "alice"
        assert ours.identities == ("alice@example.com",)
    else:
        assert ours.signer is None


@pytest.mark.parametrize(
    ("name", "git"),
    [("good", "G"), ("unknown-key", "U"), ("flipped-payload-byte", "B")],
)
@pytest.mark.parametrize("kind", WEAK)
def test_weak_keys(env: Env, kind: str, name: str, git: str) -> None:
    """RSA-1024 and DSA keys verify with ssh-keygen (git says G or U), but are weak."""
    outcome = scenario(env, env.keys[kind], name)
    expect(outcome, Status.BAD_SIGNATURE if git == "B" else Status.WEAK_ALGORITHM, git)
    if name == "good":
        assert outcome.ours.signer == "alice"


def test_fingerprint_matches_ssh_keygen(env: Env) -> None:
    for key in env.keys.values():
        sig = env.sign(key, payload())
        v = SshVerifier([]).verify(payload(), sig, when=T0)
        listed = subprocess.run(
            ["ssh-keygen", "-l", "-f", f"{key.path}.pub"], capture_output=True, check=True
        ).stdout.split()[1]
        assert v.key == listed.decode(), key.name


# --------------------------------------------------------------------------- trust details


def test_validity_bounds_are_inclusive(env: Env) -> None:
    key = env.keys["ed25519"]
    sig = env.sign(key, payload())
    expect(check(env, payload(), sig, [key.trusted(valid_after=T0)]), Status.GOOD, "G")
    expect(check(env, payload(), sig, [key.trusted(valid_before=T0)]), Status.GOOD, "G")
    expect(check(env, payload(), sig, [key.trusted(valid_after=T0 + 1)]), Status.NOT_YET_VALID, "U")
    expect(check(env, payload(), sig, [key.trusted(valid_before=T0 - 1)]), Status.EXPIRED_KEY, "U")


def test_when_is_the_committer_time(env: Env) -> None:
    """git judges validity at the commit's own time, not now."""
    key = env.keys["ed25519"]
    old = payload(t=T0 - 10 * HOUR)
    sig = env.sign(key, old)
    trust = [key.trusted(valid_before=T0 - 5 * HOUR)]
    expect(check(env, old, sig, trust, when=T0 - 10 * HOUR), Status.GOOD, "G")
    # without a time the verifier, like ssh-keygen, judges at the present
    assert SshVerifier(trust).verify(old, sig, when=None).status is Status.EXPIRED_KEY


@pytest.mark.parametrize(
    ("namespaces", "status", "git"),
    [
        (("git",), Status.GOOD, "G"),
        (("file", "git"), Status.GOOD, "G"),
        (("file,git",), Status.GOOD, "G"),
        (("*",), Status.GOOD, "G"),
        (("g?t",), Status.GOOD, "G"),
        (("file",), Status.UNKNOWN_KEY, "B"),
        (("!git", "*"), Status.UNKNOWN_KEY, "B"),
    ],
)
def test_namespaces_option(env: Env, namespaces: tuple[str, ...], status: Status, git: str) -> None:
    key = env.keys["ed25519"]
    sig = env.sign(key, payload())
    outcome = check(env, payload(), sig, [key.trusted(namespaces=namespaces)])
    expect(outcome, status, git)
    if status is Status.UNKNOWN_KEY:
        assert "namespaces" in outcome.ours.reason


def test_first_entry_valid_at_when_names_the_signer(env: Env) -> None:
    key = env.keys["ed25519"]
    sig = env.sign(key, payload())
    trust = [
        key.trusted("old", valid_before=T0 - HOUR),
        key.trusted("current", valid_after=T0 - HOUR),
        key.trusted("also", valid_after=T0 - HOUR),
    ]
    outcome = check(env, payload(), sig, trust, principal="current@example.com")
    expect(outcome, Status.GOOD, "G")
    assert outcome.ours.signer == "current"
    assert outcome.ours.identities == ("current@example.com",)

    # every entry outside its window: the first entry explains why
    trust = [key.trusted("late", valid_after=T0 + HOUR), key.trusted("old", valid_before=T0 - 1)]
    outcome = check(env, payload(), sig, trust)
    expect(outcome, Status.NOT_YET_VALID, "U")
    assert outcome.ours.signer == "late"


def test_entry_for_another_namespace_then_one_for_git(env: Env) -> None:
    """git asks ssh-keygen to verify each principal of the first matching entry; a
    later entry for the same key and principal that allows "git" makes it good."""
    key = env.keys["ed25519"]
    sig = env.sign(key, payload())
    same = [
        key.trusted("files", namespaces=("file",), principals=("p@example.com",)),
        key.trusted("commits", namespaces=("git",), principals=("p@example.com",)),
    ]
    outcome = check(env, payload(), sig, same)
    expect(outcome, Status.GOOD, "G")
    assert outcome.ours.signer == "commits"

    other = [
        key.trusted("files", namespaces=("file",), principals=("p@example.com",)),
        key.trusted("commits", namespaces=("git",), principals=("q@example.com",)),
    ]
    expect(check(env, payload(), sig, other), Status.UNKNOWN_KEY, "B")


# --------------------------------------------------------------------------- armor and hashes


def test_sha256_signature(env: Env) -> None:
    for kind in ("ed25519", "rsa3072", "sk-ecdsa"):
        key = env.keys[kind]
        sig = env.sign(key, payload(), hashalg="sha256")
        expect(check(env, payload(), sig, [key.trusted()]), Status.GOOD, "G")


def test_text_after_the_footer_is_ignored(env: Env) -> None:
    """ssh-keygen reads up to the END line and no further (git says G)."""
    key = env.keys["ed25519"]
    sig = env.sign(key, payload()) + b"trailing words\n"
    expect(check(env, payload(), sig, [key.trusted()]), Status.GOOD, "G")


def test_reserved_field_is_ignored(env: Env) -> None:
    """PROTOCOL.sshsig: verifiers ignore a non-empty reserved field (it is not signed:
    the signed data always carries an empty one). ssh-keygen does; git says G."""
    key = env.keys["ed25519"]
    sig = _reblob(env, "ed25519", lambda b: _with_field(b, 2, b"future use"))
    expect(check(env, payload(), sig, [key.trusted()]), Status.GOOD, "G")


def test_base64_wrapping_does_not_matter(env: Env) -> None:
    key = env.keys["ecdsa256"]
    blob = unarmor(env.sign(key, payload()))
    b64 = base64.b64encode(blob)
    sig = b"-----BEGIN SSH SIGNATURE-----\n" + b64[:10] + b"\n" + b64[10:]
    sig += b"\n-----END SSH SIGNATURE-----\n"
    expect(check(env, payload(), sig, [key.trusted()]), Status.GOOD, "G")


def test_security_key_without_user_presence(env: Env) -> None:
    """ssh-keygen -Y verify does not require the user-presence flag; neither do we,
    but the reason says so."""
    for kind in SK_KINDS:
        key = env.keys[kind]
        sig = sk_sign.sign(payload(), key.path, flags=0x00, counter=7)
        outcome = check(env, payload(), sig, [key.trusted()])
        expect(outcome, Status.GOOD, "G")
        assert "user presence not asserted" in outcome.ours.reason


def test_security_key_flags_are_signed(env: Env) -> None:
    key = env.keys["sk-ed25519"]
    blob = bytearray(unarmor(sk_sign.sign(payload(), key.path, flags=0x01)))
    blob[-5] = 0x05  # the flags byte sits before the 4-byte counter at the very end
    sig = sk_sign.armor(bytes(blob))
    expect(check(env, payload(), sig, [key.trusted()]), Status.BAD_SIGNATURE, "B")


def test_application_is_part_of_the_key(env: Env, tmp_path: Path) -> None:
    path = tmp_path / "sk-app"
    key_type, blob = parse_public_key_line(sk_sign.make_sk_key("ecdsa", path, "ssh:git"))
    sig = sk_sign.sign(payload(), path)
    trust = [SshTrustedKey("alice", ("alice@example.com",), key_type, blob)]
    assert SshVerifier(trust).verify(payload(), sig, when=T0).status is Status.GOOD


# --------------------------------------------------------------------------- weak RSA


def unarmor(sig: bytes) -> bytes:
    lines = sig.strip().splitlines()
    return base64.b64decode(b"".join(lines[1:-1]))


def rsa_sshsig(
    private: rsa.RSAPrivateKey, sigtype: str, algorithm: hashes.HashAlgorithm, signed: bytes
) -> bytes:
    numbers = private.public_key().public_numbers()
    pub = (
        sk_sign.ssh_string(b"ssh-rsa") + sk_sign.ssh_mpint(numbers.e) + sk_sign.ssh_mpint(numbers.n)
    )
    raw = private.sign(sk_sign.signed_data(signed), padding.PKCS1v15(), algorithm)
    sigblob = sk_sign.ssh_string(sigtype.encode()) + sk_sign.ssh_string(raw)
    return sk_sign.armor(sk_sign.sshsig_blob(pub, sigblob))


def rsa3072_private(env: Env) -> rsa.RSAPrivateKey:
    private = serialization.load_ssh_private_key(env.keys["rsa3072"].path.read_bytes(), None)
    assert isinstance(private, rsa.RSAPrivateKey)
    return private


def test_ssh_rsa_sha1_signature_is_weak(env: Env) -> None:
    key = env.keys["rsa3072"]
    sha1 = hashes.SHA1()  # noqa: S303 - making the weak signature on purpose
    sig = rsa_sshsig(rsa3072_private(env), "ssh-rsa", sha1, payload())
    outcome = check(env, payload(), sig, [key.trusted()])
    expect(outcome, Status.WEAK_ALGORITHM, "B")
    assert "SHA-1" in outcome.ours.reason
    # a SHA-1 signature that does not even verify is simply bad
    other = rsa_sshsig(rsa3072_private(env), "ssh-rsa", sha1, payload(message="other"))
    expect(check(env, payload(), other, [key.trusted()]), Status.BAD_SIGNATURE, "B")


def test_hand_made_rsa_sha256_signature_is_good(env: Env) -> None:
    """The construction used for the weak cases is right: rsa-sha2-256 verifies."""
    key = env.keys["rsa3072"]
    sig = rsa_sshsig(rsa3072_private(env), "rsa-sha2-256", hashes.SHA256(), payload())
    expect(check(env, payload(), sig, [key.trusted()]), Status.GOOD, "G")


def _probable_prime(bits: int) -> int:
    while True:
        n = secrets.randbits(bits) | (3 << (bits - 2)) | 1  # top two bits: p*q has 2*bits
        if all(pow(a, n - 1, n) == 1 for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)):
            return n


def test_rsa_key_under_1024_bits(env: Env) -> None:
    """ssh-keygen refuses RSA keys under 1024 bits outright: git says B."""
    e = 65537
    while True:
        p, q = _probable_prime(384), _probable_prime(384)
        phi = (p - 1) * (q - 1)
        if p != q and phi % e:
            break
    d = pow(e, -1, phi)
    private = rsa.RSAPrivateNumbers(
        p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), rsa.RSAPublicNumbers(e, p * q)
    ).private_key()
    sig = rsa_sshsig(private, "rsa-sha2-512", hashes.SHA512(), payload())
    numbers = private.public_key().public_numbers()
    blob = (
        sk_sign.ssh_string(b"ssh-rsa") + sk_sign.ssh_mpint(numbers.e) + sk_sign.ssh_mpint(numbers.n)
    )
    trust = [SshTrustedKey("alice", ("alice@example.com",), "ssh-rsa", blob)]
    outcome = check(env, payload(), sig, trust)
    expect(outcome, Status.WEAK_ALGORITHM, "B")
    assert "768 bits" in outcome.ours.reason


# --------------------------------------------------------------------------- malformed


def _half(sig: bytes) -> bytes:
    """The first half of the armored text, closed with an END line."""
    return sig[: len(sig) // 2] + b"\n-----END SSH SIGNATURE-----\n"


def _in_body(sig: bytes, old: bytes, new: bytes) -> bytes:
    """Replace ``old`` by ``new`` in the base64 lines only, not in the armor lines."""
    lines = sig.split(b"\n")
    body = b"\n".join(lines[1:-2]).replace(old, new, 3)
    return b"\n".join([lines[0], body, *lines[-2:]])


def _reblob(env: Env, kind: str, edit: Callable[[bytes], bytes]) -> bytes:
    return sk_sign.armor(edit(unarmor(env.sign(env.keys[kind], payload()))))


def _fields(blob: bytes) -> tuple[bytes, list[bytes]]:
    """Split an SSHSIG blob into its 10-byte preamble and its five strings."""
    out, off = [], 10
    for _ in range(5):
        (n,) = struct.unpack(">I", blob[off : off + 4])
        out.append(blob[off + 4 : off + 4 + n])
        off += 4 + n
    return blob[:10], out


def _with_field(blob: bytes, index: int, value: bytes) -> bytes:
    head, fields = _fields(blob)
    fields[index] = value
    return head + b"".join(sk_sign.ssh_string(f) for f in fields)


def _with_sigblob(blob: bytes, edit: Callable[[bytes], bytes]) -> bytes:
    return _with_field(blob, 4, edit(_fields(blob)[1][4]))


def _ed25519_sig(sigtype: bytes, raw: bytes) -> bytes:
    return sk_sign.ssh_string(sigtype) + sk_sign.ssh_string(raw)


def _inner(sigblob: bytes) -> bytes:
    """The second string of a signature blob (the raw signature)."""
    (n,) = struct.unpack(">I", sigblob[:4])
    (m,) = struct.unpack(">I", sigblob[4 + n : 8 + n])
    return sigblob[8 + n : 8 + n + m]


MALFORMED: dict[str, Callable[[Env], bytes]] = {
    "truncated-base64": lambda e: _half(e.sign(e.keys["ed25519"], payload())),
    "garbage-base64": lambda e: _in_body(e.sign(e.keys["ed25519"], payload()), b"A", b"!"),
    "no-end-line": lambda e: e.sign(e.keys["ed25519"], payload()).replace(b"-----END", b"-----FIN"),
    "empty-body": lambda e: b"-----BEGIN SSH SIGNATURE-----\n-----END SSH SIGNATURE-----\n",
    "crlf-armor": lambda e: e.sign(e.keys["ed25519"], payload()).replace(b"\n", b"\r\n"),
    "wrong-magic": lambda e: _reblob(e, "ed25519", lambda b: b"SSHSIH" + b[6:]),
    "version-2": lambda e: _reblob(e, "ed25519", lambda b: b[:6] + struct.pack(">I", 2) + b[10:]),
    "trailing-bytes": lambda e: _reblob(e, "ed25519", lambda b: b + b"\0"),
    "length-past-end": lambda e: _reblob(
        e, "ed25519", lambda b: b[:10] + struct.pack(">I", 0xFFFF) + b[14:]
    ),
    "truncated-blob": lambda e: _reblob(e, "rsa3072", lambda b: b[:-7]),
    "hash-sha1": lambda e: _reblob(e, "ed25519", lambda b: _with_field(b, 3, b"sha1")),
    "unknown-key-type": lambda e: _reblob(
        e, "ed25519", lambda b: _with_field(b, 0, sk_sign.ssh_string(b"ssh-foo") + b"\0" * 8)
    ),
    "sig-type-mismatch": lambda e: _reblob(
        e, "ed25519", lambda b: _with_sigblob(b, lambda s: _ed25519_sig(b"ssh-rsa", _inner(s)))
    ),
    "ecdsa-curve-mismatch": lambda e: _reblob(
        e,
        "ecdsa256",
        lambda b: _with_sigblob(b, lambda s: _ed25519_sig(b"ecdsa-sha2-nistp384", _inner(s))),
    ),
    "ed25519-short-signature": lambda e: _reblob(
        e,
        "ed25519",
        lambda b: _with_sigblob(b, lambda s: _ed25519_sig(b"ssh-ed25519", _inner(s)[:63])),
    ),
    "rsa-unknown-algorithm": lambda e: _reblob(
        e, "rsa3072", lambda b: _with_sigblob(b, lambda s: _ed25519_sig(b"rsa-sha2-384", _inner(s)))
    ),
    "ecdsa-negative-r": lambda e: _reblob(
        e,
        "ecdsa256",
        lambda b: _with_sigblob(
            b,
            lambda s: _ed25519_sig(
                b"ecdsa-sha2-nistp256", sk_sign.ssh_string(b"\x80" + b"\1" * 31) + b"\0\0\0\1\1"
            ),
        ),
    ),
    "sk-missing-counter": lambda e: _reblob(
        e, "sk-ed25519", lambda b: _with_sigblob(b, lambda s: s[:-4])
    ),
    "sk-webauthn": lambda e: _reblob(
        e,
        "sk-ecdsa",
        lambda b: _with_sigblob(
            b,
            lambda s: (
                sk_sign.ssh_string(b"webauthn-sk-ecdsa-sha2-nistp256@openssh.com")
                + s[4 + 34 :]
                + sk_sign.ssh_string(b"https://example.com")
                + sk_sign.ssh_string(b"{}")
                + sk_sign.ssh_string(b"")
            ),
        ),
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed(env: Env, case: str) -> None:
    sig = MALFORMED[case](env)
    trust = [k.trusted() for k in env.keys.values()]
    expect(check(env, payload(), sig, trust), Status.MALFORMED, "B")


def test_version_0_is_refused_though_ssh_keygen_accepts_it(env: Env) -> None:
    """PROTOCOL.sshsig defines version 1 only; ssh-keygen 9.2 checks only "not
    greater than 1". We are deliberately stricter: git says G, we say malformed."""
    key = env.keys["ed25519"]
    sig = _reblob(env, "ed25519", lambda b: b[:6] + struct.pack(">I", 0) + b[10:])
    outcome = check(env, payload(), sig, [key.trusted()])
    assert outcome.ours.status is Status.MALFORMED
    assert outcome.git == "G"


def test_not_armored_at_all() -> None:
    v = SshVerifier([])
    for junk in (b"", b"hello", b"-----BEGIN PGP SIGNATURE-----\n", b"\xff" * 100):
        result = v.verify(payload(), junk, when=T0)
        assert result.status is Status.MALFORMED
        assert result.git_code == "B"


# --------------------------------------------------------------------------- fuzzing


def _mutations(blob: bytes, rng: random.Random, count: int) -> Iterator[bytes]:
    for i in range(count):
        b = bytearray(blob)
        if i % 3 == 0:
            yield bytes(b[: rng.randrange(len(b))])
        elif i % 3 == 1:
            pos = rng.randrange(len(b))
            b[pos] ^= 1 << rng.randrange(8)
            yield bytes(b)
        else:
            pos = rng.randrange(len(b))
            b[pos : pos + rng.randrange(1, 5)] = rng.randbytes(rng.randrange(0, 5))
            yield bytes(b)


@pytest.mark.parametrize("kind", STRONG)
def test_fuzz_never_raises(env: Env, kind: str) -> None:
    key = env.keys[kind]
    good = env.sign(key, payload())
    blob = unarmor(good)
    verifier = SshVerifier([key.trusted()])
    rng = random.Random(f"fuzz-{kind}")  # noqa: S311 - reproducible test data
    sampled: list[bytes] = []
    for mutated in _mutations(blob, rng, 400):
        if mutated == blob:  # a replacement by the same bytes
            continue
        sig = sk_sign.armor(mutated)
        v = verifier.verify(payload(), sig, when=T0)
        assert v.status in (Status.MALFORMED, Status.BAD_SIGNATURE), (v, mutated.hex())
        assert "could not be checked" not in v.reason, v.reason  # no unexpected exception
        if len(sampled) < 8 and rng.random() < 0.05:
            sampled.append(sig)
    end_line = len(b"-----END SSH SIGNATURE-----\n")
    for cut in range(0, len(good) - end_line, 7):  # truncated and bit-flipped armor text
        text = bytearray(good[:cut])
        v = verifier.verify(payload(), bytes(text), when=T0)
        assert v.status is Status.MALFORMED
        if cut:
            text[rng.randrange(cut)] ^= 1 << rng.randrange(8)
            v = verifier.verify(payload(), bytes(text) + good[cut:], when=T0)
            assert v.status in (Status.MALFORMED, Status.BAD_SIGNATURE, Status.GOOD)
    # ssh-keygen agrees that a sample of the mutants are no good
    for sig in sampled:
        sigfile = env.scratch(".sig")
        sigfile.write_bytes(sig)
        r = subprocess.run(
            ["ssh-keygen", "-Y", "check-novalidate", "-n", "git", "-s", str(sigfile)],
            input=payload(), capture_output=True, check=False,
        )  # fmt: skip
        assert r.returncode != 0


# --------------------------------------------------------------------------- dispatch and cache


def test_dispatch_through_verifier(env: Env) -> None:
    key = env.keys["ed25519"]
    sig = env.sign(key, payload())
    v = Verifier(TrustStore(ssh=(key.trusted(),))).verify(payload(), sig, when=T0)
    assert v.status is Status.GOOD
    assert v.signer == "alice"


def test_many_unknown_keys_do_not_break_the_cache(env: Env) -> None:
    key = env.keys["ed25519"]
    verifier = SshVerifier([key.trusted()])
    good = env.sign(key, payload())
    stranger = unarmor(env.sign(env.keys["stranger"], payload()))
    _, fields = _fields(stranger)
    for i in range(5000):  # distinct (bogus) Ed25519 keys, each parsed once
        pk = sk_sign.ssh_string(b"ssh-ed25519") + sk_sign.ssh_string(i.to_bytes(32, "big"))
        sig = sk_sign.armor(_with_field(stranger, 0, pk))
        assert verifier.verify(payload(), sig, when=T0).status in (
            Status.BAD_SIGNATURE,
            Status.MALFORMED,
        )
    assert fields[0] != key.blob
    assert verifier.verify(payload(), good, when=T0).status is Status.GOOD


# --------------------------------------------------------------------------- sk_sign with git


def _git(repo: Path, *args: str, extra_env: dict[str, str] | None = None) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True, check=True, text=True, env={**os.environ, **(extra_env or {})},
    ).stdout  # fmt: skip


def _split_commit(raw: bytes) -> tuple[bytes, bytes]:
    """(payload, signature) of a commit object with a ``gpgsig`` header."""
    head, _, message = raw.partition(b"\n\n")
    kept: list[bytes] = []
    sig: list[bytes] = []
    in_sig = False
    for line in head.split(b"\n"):
        if line.startswith(b"gpgsig "):
            in_sig = True
            sig.append(line[len(b"gpgsig ") :])
        elif in_sig and line.startswith(b" "):
            sig.append(line[1:])
        else:
            in_sig = False
            kept.append(line)
    return b"\n".join(kept) + b"\n\n" + message, b"".join(s + b"\n" for s in sig)


@pytest.mark.parametrize(
    ("kind", "flags"), [("ed25519", "0x01"), ("ecdsa", "0x01"), ("ecdsa", "0")]
)
def test_git_commit_signed_with_software_security_key(
    tmp_path: Path, kind: sk_sign.Kind, flags: str
) -> None:
    keyfile = tmp_path / "id_sk"
    line = sk_sign.make_sk_key(kind, keyfile)
    program = tmp_path / "sk-ssh-keygen"
    program.write_text(f"#!/bin/sh\nexec '{sys.executable}' '{SK_SIGN}' \"$@\"\n")
    program.chmod(0o755)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"committer@example.com {line}\n")
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    for name, value in {
        "gpg.format": "ssh",
        "user.signingkey": str(keyfile),
        "gpg.ssh.program": str(program),
        "gpg.ssh.allowedSignersFile": str(allowed),
    }.items():
        _git(repo, "config", name, value)
    _git(
        repo,
        "commit",
        "-q",
        "-S",
        "--allow-empty",
        "-m",
        "signed",
        extra_env={"SK_SIGN_FLAGS": flags},
    )

    assert _git(repo, "log", "-1", "--format=%G?%n%GS").split() == ["G", "committer@example.com"]
    raw = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "commit", "HEAD"], capture_output=True, check=True
    ).stdout
    signed, sig = _split_commit(raw)
    key_type, blob = parse_public_key_line(line)
    when = int(_git(repo, "log", "-1", "--format=%ct"))
    v = SshVerifier(
        [SshTrustedKey("committer", ("committer@example.com",), key_type, blob)]
    ).verify(signed, sig, when=when)
    assert v.status is Status.GOOD, v.reason
    assert v.git_code == "G"
    assert ("user presence not asserted" in v.reason) == (flags == "0")


def test_sk_sign_program_signs_like_ssh_keygen(tmp_path: Path) -> None:
    """The program writes <file>.sig that ssh-keygen -Y verify accepts."""
    keyfile = tmp_path / "id_sk"
    line = sk_sign.make_sk_key("ed25519", keyfile)
    data = tmp_path / "data"
    data.write_bytes(b"some bytes\n")
    subprocess.run(
        [
            sys.executable,
            str(SK_SIGN),
            "-Y",
            "sign",
            "-n",
            "git",
            "-f",
            f"{keyfile}.pub",
            str(data),
        ],
        check=True,
    )
    allowed = tmp_path / "allowed"
    allowed.write_text(f"me {line}\n")
    r = subprocess.run(
        [sys.executable, str(SK_SIGN), "-Y", "verify", "-n", "git", "-f", str(allowed), "-I", "me",
         "-s", f"{data}.sig"],
        input=b"some bytes\n", capture_output=True, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b'Good "git" signature for me with ED25519-SK key')


@pytest.mark.parametrize("backend", ["sodium", "cryptography"])
def test_ed25519_backends_agree(env: Env, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """libsodium (PyNaCl, a dependency: the fast path) and OpenSSL give the same verdicts."""
    assert backend in ssh_keys_module.ED25519_BACKENDS
    monkeypatch.setattr(ssh_keys_module, "ed25519_backend", backend)
    for kind in ("ed25519", "sk-ed25519"):
        key = env.keys[kind]
        sig = env.sign(key, payload())
        verifier = SshVerifier([key.trusted()])
        assert verifier.verify(payload(), sig, when=T0).status is Status.GOOD
        flipped = payload(message="a test commiT")
        assert verifier.verify(flipped, sig, when=T0).status is Status.BAD_SIGNATURE
        blob = bytearray(unarmor(sig))
        blob[-10 if kind == "sk-ed25519" else -1] ^= 0x01  # inside the 64 signature bytes
        bad = sk_sign.armor(bytes(blob))
        assert verifier.verify(payload(), bad, when=T0).status is Status.BAD_SIGNATURE


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa256", "rsa3072"])
def test_signature_made_with_a_certificate(env: Env, kind: str) -> None:
    """A signature carrying an SSH certificate verifies with the certified key; with
    no cert-authority trust git says U, even when the plain key is trusted."""
    key = env.keys[kind]
    ca = env.root / "ca"
    if not ca.exists():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(ca)],
            check=True, capture_output=True,
        )  # fmt: skip
    subprocess.run(
        ["ssh-keygen", "-q", "-s", str(ca), "-I", f"cert-{kind}", "-n", "alice@example.com",
         f"{key.path}.pub"],
        check=True, capture_output=True,
    )  # fmt: skip
    data = env.scratch()
    data.write_bytes(payload())
    subprocess.run(
        ["ssh-keygen", "-q", "-Y", "sign", "-n", "git", "-f", f"{key.path}-cert.pub", str(data)],
        check=True, capture_output=True,
    )  # fmt: skip
    sig = Path(f"{data}.sig").read_bytes()
    outcome = check(env, payload(), sig, [key.trusted()])
    expect(outcome, Status.UNKNOWN_KEY, "U")
    assert f"'cert-{kind}'" in outcome.ours.reason
    plain = SshVerifier([]).verify(payload(), env.sign(key, payload()), when=T0)
    assert outcome.ours.key == plain.key  # git shows the certified key's fingerprint
    flipped = check(env, payload(message="a test commiT"), sig, [key.trusted()])
    expect(flipped, Status.BAD_SIGNATURE, "B")
