"""A seeded mutation engine for differential signature fuzzing (issue 10).

From a seed it makes signed git objects (commits and annotated tags) whose signatures
are edited in every layer a verifier reads, and runs git (with gpg and ssh-keygen) and
``guard audit`` over them:

* **OpenPGP** keys made by ``gpg`` (RSA-2048/3072, RSA-1024, Ed25519, ECDSA P-256, a
  signing subkey, an expired, a revoked, an untrusted and an unknown key). Signatures
  are *made here* with the throwaway secret keys taken out of gpg, so that
  structurally edited but validly signed variants exist: other hash algorithms
  (SHA-1, MD5, RIPEMD-160, SHA-224/384/512, SHA3-256/512), extra, critical and
  duplicated hashed subpackets, creation and expiration times, issuer placement,
  signature types, v3 packets, subpacket length encodings. Then edits of what is not
  signed (MPI bit counts, quick-check octets, the unhashed area, packet headers incl.
  old-format and indeterminate lengths, surrounding packets, bit flips, truncation)
  and of the armor (headers, CRLF, whitespace, CRC, labels, line lengths, text after
  it). Some signatures are made by ``gpg`` itself, as git makes them.
* **SSH** keys made by ``ssh-keygen`` (Ed25519, ECDSA P-256, RSA-3072 with
  rsa-sha2-512/256 and ssh-rsa, RSA-1024) and FIDO keys from :mod:`sk_sign`
  (sk-ed25519, sk-ecdsa), plus an unknown, an expired and a ``namespaces="file"``
  key. SSHSIG blobs are built and signed here (namespace, hash, reserved field,
  version, magic, signature algorithm, security-key flags and counter), then edited
  without re-signing (key and signature fields, MPI encodings, trailing bytes, bit
  flips, truncation) and re-armored (CRLF, line lengths, whitespace, text after END).
* **Objects**: where the signature header sits, duplicated signature headers, a
  foreign ``gpgsig-sha256`` header, a renamed one, repeated or missing
  author/committer/tagger headers, CRLF messages, tags with text after or a
  signature before the signature.

git is asked in batches (``git log --no-walk --stdin --format='%H %G?'``; a batch
git dies on is split until the object is alone, and objects whose signature git
will not recognise are asked alone: git aborts on them), tags one by one with
``git verify-tag --raw``; gitguard with one in-process ``guard audit --format json``
run (:func:`run_campaign`).

Every mutation is a function of ``(seed, index)`` alone (its own
``random.Random``): the same seed gives the same mutation *plan* (what is edited,
where, with which key). The key material itself is fresh for every run (made by the
real tools), so bytes differ between runs while descriptions and traits do not.

Packets, subpackets and both armors are written with :mod:`sigwire`, the SSH wire
types with :mod:`sk_sign`'s; how git splits an object into payload and signature is
:mod:`gitfixtures`'s oracle.

Each :class:`Mutation` carries human-readable ``steps`` and machine-readable
``traits`` (``"hash:sha1"``, ``"armor:crc-bad"``, ``"flip:value"`` …) that the
differential test's table of deliberate differences matches on.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import random
import signal
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature

import sk_sign
from gitfixtures import (
    ARMORS,
    GpgHome,
    Repo,
    SshKey,
    allowed_signers_line,
    git_answer,
    git_split_commit,
    git_split_tag,
    parse_verify_output,
    run,
    run_audit,
    tool_env,
    write_allowed_signers,
)
from sigwire import (
    ArmorSpec,
    armor_pgp,
    armor_ssh,
    mpi,
    packet,
    split_packets,
    subpacket,
)
from sk_sign import ssh_mpint, ssh_string

# --------------------------------------------------------------------------- times

DAY = 86400
KEY_TIME = 1704067200  # 2024-01-01: every key but the expired one is created then
SIG_TIME = 1735689600  # 2025-01-01: signatures and commits are made around then
OLD_KEY_TIME = 1577836800  # 2020-01-01: the expired key's creation, with a 1-year life
BEFORE_EXPIRY = 1590969600  # 2020-06-01: while the expired key was alive
AFTER_EXPIRY = 1622505600  # 2021-06-01: after it expired

# --------------------------------------------------------------------------- OpenPGP keys


# Hash algorithm id -> (hashlib name, PKCS#1 DigestInfo prefix, label).
PGP_HASHES: dict[int, tuple[str, bytes, str]] = {
    1: ("md5", bytes.fromhex("3020300c06082a864886f70d020505000410"), "md5"),
    2: ("sha1", bytes.fromhex("3021300906052b0e03021a05000414"), "sha1"),
    3: ("ripemd160", bytes.fromhex("3021300906052b2403020105000414"), "ripemd160"),
    8: ("sha256", bytes.fromhex("3031300d060960864801650304020105000420"), "sha256"),
    9: ("sha384", bytes.fromhex("3041300d060960864801650304020205000430"), "sha384"),
    10: ("sha512", bytes.fromhex("3051300d060960864801650304020305000440"), "sha512"),
    11: ("sha224", bytes.fromhex("302d300d06096086480165030402040500041c"), "sha224"),
    12: ("sha3_256", bytes.fromhex("3031300d060960864801650304020805000420"), "sha3-256"),
    14: ("sha3_512", bytes.fromhex("3051300d060960864801650304020a05000440"), "sha3-512"),
}

PK_RSA, PK_RSA_SIGN, PK_ECDSA, PK_EDDSA = 1, 3, 19, 22


def _read_mpi(data: bytes, pos: int) -> tuple[bytes, int]:
    bits = int.from_bytes(data[pos : pos + 2], "big")
    size = (bits + 7) // 8
    return data[pos + 2 : pos + 2 + size], pos + 2 + size


@dataclass
class PgpKey:
    """A throwaway OpenPGP signing key: its public facts and a signing function
    ``sign(digest, hash_algo) -> signature MPIs``. ``trust`` says how git sees it."""

    name: str
    algo: int
    fpr: bytes
    created: int
    primary_fpr: str
    trust: str  # trusted | untrusted | unknown | expired | revoked | weak
    home: GpgHome
    sign: Callable[[bytes, int], bytes]

    @property
    def keyid(self) -> bytes:
        return self.fpr[-8:]


_PREHASHED: dict[int, hashes.HashAlgorithm] = {
    2: hashes.SHA1(),  # noqa: S303 - the weak hash is what is tested
    8: hashes.SHA256(),
    9: hashes.SHA384(),
    10: hashes.SHA512(),
    11: hashes.SHA224(),
    12: hashes.SHA3_256(),
    14: hashes.SHA3_512(),
}


def _rsa_signer(n: int, e: int, d: int, p: int, q: int) -> Callable[[bytes, int], bytes]:
    """PKCS#1 v1.5: through OpenSSL where it knows the hash, else by hand (MD5,
    RIPEMD-160, unassigned ids: any DigestInfo)."""
    k = (n.bit_length() + 7) // 8
    dp, dq, qinv = rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q)
    public = rsa.RSAPublicNumbers(e, n)
    private = rsa.RSAPrivateNumbers(p, q, d, dp, dq, qinv, public).private_key()

    def sign(digest: bytes, hash_algo: int) -> bytes:
        known = _PREHASHED.get(hash_algo)
        if known is not None and known.digest_size == len(digest):
            return mpi(private.sign(digest, padding.PKCS1v15(), Prehashed(known)))
        prefix = PGP_HASHES.get(hash_algo, PGP_HASHES[8])[1]
        t = prefix + digest
        em = int.from_bytes(b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t, "big")
        m1, m2 = pow(em, dp, p), pow(em, dq, q)
        return mpi(m2 + (qinv * (m1 - m2) % p) * q)

    return sign


def _ecdsa_signer(private: ec.EllipticCurvePrivateKey) -> Callable[[bytes, int], bytes]:
    algorithm = ec.ECDSA(Prehashed(hashes.SHA256()), deterministic_signing=True)

    def sign(digest: bytes, hash_algo: int) -> bytes:
        # ECDSA uses the digest's leftmost 256 bits (a shorter digest as it is).
        e = digest[:32] if len(digest) >= 32 else digest.rjust(32, b"\0")
        r, s = decode_dss_signature(private.sign(e, algorithm))
        return mpi(r) + mpi(s)

    return sign


def _eddsa_signer(private: ed25519.Ed25519PrivateKey) -> Callable[[bytes, int], bytes]:
    def sign(digest: bytes, hash_algo: int) -> bytes:
        sig = private.sign(digest)
        return mpi(sig[:32]) + mpi(sig[32:])

    return sign


def _secret_keys(
    secret_export: bytes,
) -> list[tuple[bytes, int, int, Callable[[bytes, int], bytes]]]:
    """``(fingerprint, algo, created, sign)`` for every unprotected secret (sub)key in
    a ``gpg --export-secret-keys`` output."""
    found = []
    for tag, body in split_packets(secret_export):
        if tag not in (5, 7):
            continue
        assert body[0] == 4, "v4 keys only"
        created = int.from_bytes(body[1:5], "big")
        algo = body[5]
        pos = 6
        if algo in (PK_RSA, PK_RSA_SIGN):
            n_raw, pos = _read_mpi(body, pos)
            e_raw, pos = _read_mpi(body, pos)
        else:
            oid_len = body[pos]
            oid = body[pos + 1 : pos + 1 + oid_len]
            _point, pos = _read_mpi(body, pos + 1 + oid_len)
        public = body[:pos]
        fpr = hashlib.sha1(b"\x99" + len(public).to_bytes(2, "big") + public).digest()  # noqa: S324 - v4 fingerprint
        assert body[pos] == 0, "the secret key must be unprotected"
        pos += 1
        sign: Callable[[bytes, int], bytes]
        if algo in (PK_RSA, PK_RSA_SIGN):
            d_raw, pos = _read_mpi(body, pos)
            p_raw, pos = _read_mpi(body, pos)
            q_raw, pos = _read_mpi(body, pos)
            n, e, d, p, q = (int.from_bytes(v, "big") for v in (n_raw, e_raw, d_raw, p_raw, q_raw))
            sign = _rsa_signer(n, e, d, p, q)
        elif algo == PK_EDDSA:
            seed, pos = _read_mpi(body, pos)
            sign = _eddsa_signer(
                ed25519.Ed25519PrivateKey.from_private_bytes(seed.rjust(32, b"\0"))
            )
        elif algo == PK_ECDSA:
            assert oid == bytes.fromhex("2A8648CE3D030107"), "P-256 only"
            d_raw, pos = _read_mpi(body, pos)
            sign = _ecdsa_signer(
                ec.derive_private_key(int.from_bytes(d_raw, "big"), ec.SECP256R1())
            )
        else:
            continue
        found.append((fpr, algo, created, sign))
    return found


# --------------------------------------------------------------------------- SSH keys


@dataclass
class SshSigner:
    """A throwaway SSH key: public blob, ``sign(data, sigalg, flags, counter)`` and
    what git thinks of it (``trust``)."""

    name: str
    key_type: str
    blob: bytes
    path: Path
    trust: str  # trusted | unknown | expired | file-only | weak
    sign: Callable[[bytes, str, int, int], bytes]
    sigalgs: tuple[str, ...]
    program: Path | None = None  # a gpg.ssh.program-compatible signer (sk keys)


def _ssh_signer_for(path: Path) -> Callable[[bytes, str, int, int], bytes]:
    private = serialization.load_ssh_private_key(path.read_bytes(), password=None)
    if isinstance(private, ed25519.Ed25519PrivateKey):
        ed = private

        def sign_ed(data: bytes, sigalg: str, flags: int, counter: int) -> bytes:
            return ssh_string(b"ssh-ed25519") + ssh_string(ed.sign(data))

        return sign_ed
    if isinstance(private, ec.EllipticCurvePrivateKey):
        key = private

        def sign_ec(data: bytes, sigalg: str, flags: int, counter: int) -> bytes:
            r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256(), True)))
            return ssh_string(b"ecdsa-sha2-nistp256") + ssh_string(ssh_mpint(r) + ssh_mpint(s))

        return sign_ec
    assert isinstance(private, rsa.RSAPrivateKey)
    rsa_key = private
    algs: dict[str, hashes.HashAlgorithm] = {
        "rsa-sha2-512": hashes.SHA512(),
        "rsa-sha2-256": hashes.SHA256(),
        "ssh-rsa": hashes.SHA1(),  # noqa: S303 - the weak algorithm is what is tested
    }

    def sign_rsa(data: bytes, sigalg: str, flags: int, counter: int) -> bytes:
        name, _, actual = sigalg.partition("/")  # "name/actual" signs with another hash
        raw = rsa_key.sign(data, padding.PKCS1v15(), algs[actual or name])
        return ssh_string(name.encode()) + ssh_string(raw)

    return sign_rsa


def _sk_signer_for(path: Path) -> Callable[[bytes, str, int, int], bytes]:
    key = sk_sign.load_sk_key(path)

    def sign(data: bytes, sigalg: str, flags: int, counter: int) -> bytes:
        return key.sign_raw(data, flags=flags, counter=counter)

    return sign


# --------------------------------------------------------------------------- the world


@dataclass
class FuzzWorld:
    """Keys, trust and one (SHA-1) repository, made with the real tools."""

    base: Path
    env: dict[str, str]
    repo: Repo
    trusted: GpgHome
    other: GpgHome
    pgp: dict[str, PgpKey]
    ssh: dict[str, SshSigner]
    base_commit: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    def close(self) -> None:
        self.trusted.close()
        self.other.close()


_ED25519 = "Key-Type: eddsa\nKey-Curve: ed25519\nKey-Usage: sign\n"
# name -> (gpg --gen-key parameters, how git sees the key)
_PGP_KEYS: dict[str, tuple[str, str]] = {
    "pgp-rsa2048": ("Key-Type: RSA\nKey-Length: 2048\nKey-Usage: sign\n", "trusted"),
    "pgp-rsa3072": ("Key-Type: RSA\nKey-Length: 3072\nKey-Usage: sign\n", "trusted"),
    "pgp-ed25519": (_ED25519, "trusted"),
    "pgp-p256": ("Key-Type: ecdsa\nKey-Curve: nistp256\nKey-Usage: sign\n", "trusted"),
    "pgp-subkey": (
        "Key-Type: eddsa\nKey-Curve: ed25519\nKey-Usage: cert\n"
        "Subkey-Type: RSA\nSubkey-Length: 2048\nSubkey-Usage: sign\n",
        "trusted",
    ),
    "pgp-rsa1024": ("Key-Type: RSA\nKey-Length: 1024\nKey-Usage: sign\n", "weak"),
    "pgp-revoked": (_ED25519, "revoked"),
}


def _gen_keys(home: GpgHome, params: dict[str, str], at: int, expire: str) -> dict[str, str]:
    """Generate keys (name -> parameters) in one gpg run, created at ``at``; return
    name -> primary fingerprint."""
    text = "".join(
        f"%no-protection\n{p}Name-Real: {n}\nName-Email: {n}@example.com\n"
        f"Expire-Date: {expire}\n%commit\n"
        for n, p in params.items()
    )
    out = home.gpg("--status-fd", "1", "--gen-key", input=text.encode(), faked_time=f"{at}!")
    fprs = [
        line.split()[3]
        for line in out.decode().splitlines()
        if line.startswith("[GNUPG:] KEY_CREATED")
    ]
    assert len(fprs) == len(params), out
    return dict(zip(params, fprs, strict=True))


def _pgp_key(home: GpgHome, name: str, primary: str, trust: str) -> PgpKey:
    secrets = _secret_keys(home.gpg("--export-secret-keys", primary))
    # The signing key: the subkey if there is one (pgp-subkey), else the primary.
    fpr, algo, created, sign = secrets[-1]
    return PgpKey(name, algo, fpr, created, primary, trust, home, sign)


_SSH_KEYS: list[tuple[str, list[str], str]] = [
    ("ssh-ed25519", ["-t", "ed25519"], "trusted"),
    ("ssh-ecdsa", ["-t", "ecdsa", "-b", "256"], "trusted"),
    ("ssh-rsa", ["-t", "rsa", "-b", "3072"], "trusted"),
    ("ssh-rsa1024", ["-t", "rsa", "-b", "1024"], "weak"),
    ("ssh-unknown", ["-t", "ed25519"], "unknown"),
    ("ssh-expired", ["-t", "ed25519"], "expired"),
    ("ssh-file-only", ["-t", "ed25519"], "file-only"),
]


def build_world(base: Path) -> FuzzWorld:
    """Generate every key with gpg / ssh-keygen (FIDO keys with :mod:`sk_sign`), the
    trust git reads (a GnuPG keyring with ultimate ownertrust for the trusted keys;
    ``gpg.ssh.allowedSignersFile``) and the repository."""
    t0 = time.monotonic()
    env = tool_env(base / "home", gnupghome=base / "gnupg-trusted")
    trusted = GpgHome.create(base / "gnupg-trusted", env)
    other = GpgHome.create(base / "gnupg-other", env)
    pgp: dict[str, PgpKey] = {}
    try:
        fprs = _gen_keys(trusted, {n: p for n, (p, _) in _PGP_KEYS.items()}, KEY_TIME, "0")
        fprs.update(_gen_keys(trusted, {"pgp-expired": _ED25519}, OLD_KEY_TIME, "1y"))
        strangers = _gen_keys(
            other, {"pgp-untrusted": _ED25519, "pgp-unknown": _ED25519}, KEY_TIME, "0"
        )
        # Known to the keyring, but without ownertrust: git's U.
        trusted.import_keys(other.gpg("--export", strangers["pgp-untrusted"]))
        rev = (trusted.path / "openpgp-revocs.d" / f"{fprs['pgp-revoked']}.rev").read_bytes()
        trusted.import_keys(rev.replace(b":-----BEGIN PGP PUBLIC", b"-----BEGIN PGP PUBLIC"))
        for name, primary in fprs.items():
            trust = _PGP_KEYS[name][1] if name in _PGP_KEYS else "expired"
            pgp[name] = _pgp_key(trusted, name, primary, trust)
        pgp["pgp-untrusted"] = _pgp_key(
            other, "pgp-untrusted", strangers["pgp-untrusted"], "untrusted"
        )
        pgp["pgp-unknown"] = _pgp_key(other, "pgp-unknown", strangers["pgp-unknown"], "unknown")
    except BaseException:
        trusted.close()
        other.close()
        raise
    t1 = time.monotonic()

    sdir = base / "ssh"
    sdir.mkdir()
    ssh: dict[str, SshSigner] = {}
    for name, args, trust in _SSH_KEYS:
        path = sdir / name
        run(["ssh-keygen", "-q", *args, "-N", "", "-C", name, "-f", path], env=env)
        key_type, b64 = Path(f"{path}.pub").read_text().split()[:2]
        algs = ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa") if key_type == "ssh-rsa" else ()
        signer = _ssh_signer_for(path)
        ssh[name] = SshSigner(name, key_type, base64.b64decode(b64), path, trust, signer, algs)
    shim = sdir / "sk-ssh-keygen"
    shim.write_text(f"#!/bin/sh\nexec '{sys.executable}' '{Path(sk_sign.__file__)}' \"$@\"\n")
    shim.chmod(0o755)
    kinds: dict[str, sk_sign.Kind] = {"ssh-sk-ed25519": "ed25519", "ssh-sk-ecdsa": "ecdsa"}
    for name, kind in kinds.items():
        path = sdir / name
        key_type, b64 = sk_sign.make_sk_key(kind, path).split()[:2]
        sk_signer = _sk_signer_for(path)
        ssh[name] = SshSigner(
            name, key_type, base64.b64decode(b64), path, "trusted", sk_signer, (), shim
        )
    lines = []
    for name, s in ssh.items():
        key = SshKey(s.path, s.key_type, f"{s.key_type} {base64.b64encode(s.blob).decode()}", "")
        principal = f"{name}@example.com"
        if s.trust in ("trusted", "weak"):
            lines.append(allowed_signers_line(principal, key))
        elif s.trust == "expired":
            lines.append(allowed_signers_line(principal, key, valid_before="20200101"))
        elif s.trust == "file-only":
            lines.append(allowed_signers_line(principal, key, namespaces="file"))
    allowed = write_allowed_signers(base / "allowed_signers", lines)
    t2 = time.monotonic()

    repo = Repo.init(base / "repo", env)
    repo.git("config", "gpg.ssh.allowedSignersFile", str(allowed))
    world = FuzzWorld(base, env, repo, trusted, other, pgp, ssh)
    empty_tree = repo.write_object("tree", b"")
    base_commit = (
        b"tree %s\nauthor Fuzz <author@example.com> %d +0000\n"
        b"committer Fuzz <committer@example.com> %d +0000\n\nbase\n"
        % (empty_tree.encode(), SIG_TIME, SIG_TIME)
    )
    world.base_commit = write_objects(repo, "commit", [base_commit])[0]
    world.timings = {"openpgp keys": t1 - t0, "ssh keys": t2 - t1}
    return world


def write_objects(repo: Repo, kind: str, raws: Sequence[bytes]) -> list[str]:
    """Write objects as loose objects directly (like ``hash-object --literally``,
    without a process per object); return their ids."""
    assert repo.object_format == "sha1"
    objects = repo.path / ".git" / "objects"
    oids = []
    for raw in raws:
        data = b"%s %d\0" % (kind.encode(), len(raw)) + raw
        oid = hashlib.sha1(data).hexdigest()  # noqa: S324 - git's object id
        path = objects / oid[:2] / oid[2:]
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            tmp = path.with_name(f"tmp-{oid[2:]}")
            tmp.write_bytes(zlib.compress(data))
            tmp.replace(path)
        oids.append(oid)
    return oids


# --------------------------------------------------------------------------- recipes


@dataclass
class PgpRecipe:
    """What an OpenPGP signature says, before it is signed.

    ``hashed``/``unhashed`` are ``(name, encoded subpacket)`` pairs in order; edits
    find, replace and add them by name. ``key`` is the key the issuer subpackets
    name, ``signer`` the key whose secret makes the value (another one: a forgery).
    ``digest_algo`` computes the digest when ``hash_algo`` is not a real hash."""

    key: PgpKey
    signer: PgpKey
    created: int
    version: int = 4
    sig_type: int = 0x00
    pk_algo: int = 0
    hash_algo: int = 8
    digest_algo: int | None = None
    hashed: list[tuple[str, bytes]] = field(default_factory=list)
    unhashed: list[tuple[str, bytes]] = field(default_factory=list)
    data: str = "payload"  # payload | canonical | empty

    @classmethod
    def default(cls, key: PgpKey, created: int) -> PgpRecipe:
        """What gpg 2.2 writes: issuer fingerprint and creation time hashed, the
        issuer key id unhashed."""
        return cls(
            key,
            key,
            created,
            pk_algo=key.algo,
            hashed=[
                ("fpr", subpacket(33, b"\x04" + key.fpr)),
                ("created", subpacket(2, created.to_bytes(4, "big"))),
            ],
            unhashed=[("keyid", subpacket(16, key.keyid))],
        )

    def drop(self, area: list[tuple[str, bytes]], name: str) -> None:
        area[:] = [(n, v) for n, v in area if n != name]

    def put(self, area: list[tuple[str, bytes]], name: str, value: bytes) -> None:
        """Replace the first ``name`` subpacket in place, or add it at the end."""
        for i, (n, _) in enumerate(area):
            if n == name:
                area[i] = (name, value)
                return
        area.append((name, value))


def pgp_digest(algo: int, parts: Sequence[bytes]) -> bytes:
    h = hashlib.new(PGP_HASHES[algo][0])
    for part in parts:
        h.update(part)
    return h.digest()


def render_pgp(recipe: PgpRecipe, payload: bytes) -> bytes:
    """The signature packet body the recipe describes, signed."""
    if recipe.data == "canonical":
        data = payload.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    elif recipe.data == "empty":
        data = b""
    else:
        data = payload
    digest_algo = recipe.digest_algo or recipe.hash_algo
    if recipe.version in (2, 3):
        stamp = recipe.created.to_bytes(4, "big")
        digest = pgp_digest(digest_algo, (data, bytes([recipe.sig_type]), stamp))
        value = recipe.signer.sign(digest, digest_algo)
        return (
            bytes([recipe.version, 5, recipe.sig_type])
            + stamp
            + recipe.key.keyid
            + bytes([recipe.pk_algo, recipe.hash_algo])
            + digest[:2]
            + value
        )
    hashed = b"".join(v for _, v in recipe.hashed)
    unhashed = b"".join(v for _, v in recipe.unhashed)
    head = bytes([recipe.version, recipe.sig_type, recipe.pk_algo, recipe.hash_algo])
    head += len(hashed).to_bytes(2, "big") + hashed
    trailer = bytes([recipe.version, 0xFF]) + len(head).to_bytes(4, "big")
    digest = pgp_digest(digest_algo, (data, head, trailer))
    value = recipe.signer.sign(digest, digest_algo)
    return head + len(unhashed).to_bytes(2, "big") + unhashed + digest[:2] + value


def pgp_regions(body: bytes) -> list[tuple[int, int, str]]:
    """Named byte ranges of a v4 (or v3) signature packet body; ``unknown`` when it
    does not parse."""
    try:
        if body[0] in (2, 3):
            regions = [(0, 2, "v3-frame"), (2, 7, "hashed"), (7, 15, "issuer"), (15, 17, "algos")]
            pos = 19
            regions.append((17, 19, "left16"))
        else:
            hashed_end = 6 + int.from_bytes(body[4:6], "big")
            unhashed_end = hashed_end + 2 + int.from_bytes(body[hashed_end : hashed_end + 2], "big")
            regions = [
                (0, hashed_end, "hashed"),
                (hashed_end, unhashed_end, "unhashed"),
                (unhashed_end, unhashed_end + 2, "left16"),
            ]
            pos = unhashed_end + 2
        if body[2 if body[0] == 4 else 15] not in (PK_RSA, PK_RSA_SIGN, PK_ECDSA, PK_EDDSA):
            return [*regions, (pos, len(body), "value")]
        while pos < len(body):
            size = (int.from_bytes(body[pos : pos + 2], "big") + 7) // 8
            regions += [(pos, pos + 2, "mpi-bits"), (pos + 2, pos + 2 + size, "value")]
            pos += 2 + size
    except IndexError:
        return [(0, len(body), "unknown")]
    if regions[-1][1] > len(body) or pos > len(body):
        return [(0, len(body), "unknown")]
    return regions


def region_at(regions: Sequence[tuple[int, int, str]], offset: int) -> str:
    for start, end, name in regions:
        if start <= offset < end:
            return name
    return "beyond"


@dataclass
class SshRecipe:
    """What an SSHSIG blob says, before it is signed. ``signed_*`` is what the
    signature actually covers where it differs from what the blob says."""

    key: SshSigner  # whose public key the blob carries
    signer: SshSigner  # whose private key signs
    namespace: bytes = b"git"
    reserved: bytes = b""
    hashalg: bytes = b"sha512"
    version: int = 1
    magic: bytes = b"SSHSIG"
    sigalg: str = ""
    flags: int = 0x01
    counter: int = 1
    signed_namespace: bytes | None = None
    signed_reserved: bytes = b""
    digest_with: str | None = None


def render_ssh(recipe: SshRecipe, payload: bytes) -> bytes:
    name = recipe.digest_with or recipe.hashalg.decode("ascii", "replace")
    if name not in ("sha1", "sha256", "sha384", "sha512"):
        name = "sha512"
    digest = hashlib.new(name, payload).digest()
    namespace = recipe.namespace if recipe.signed_namespace is None else recipe.signed_namespace
    signed = (
        b"SSHSIG"
        + ssh_string(namespace)
        + ssh_string(recipe.signed_reserved)
        + ssh_string(recipe.hashalg)
        + ssh_string(digest)
    )
    sigalg = recipe.sigalg or (recipe.signer.sigalgs[0] if recipe.signer.sigalgs else "")
    signature = recipe.signer.sign(signed, sigalg, recipe.flags, recipe.counter)
    return (
        recipe.magic
        + struct.pack(">I", recipe.version)
        + ssh_string(recipe.key.blob)
        + ssh_string(recipe.namespace)
        + ssh_string(recipe.reserved)
        + ssh_string(recipe.hashalg)
        + ssh_string(signature)
    )


def ssh_fields(blob: bytes) -> list[tuple[int, int, str]]:
    """Named byte ranges of an SSHSIG blob (``unknown`` where it does not parse)."""
    regions = [(0, 6, "magic"), (6, 10, "version")]
    pos = 10
    try:
        for name in ("pubkey", "namespace", "reserved", "hashalg", "signature"):
            n = struct.unpack(">I", blob[pos : pos + 4])[0]
            if pos + 4 + n > len(blob):
                break
            regions.append((pos, pos + 4, f"{name}-len"))
            if name == "signature":
                inner = blob[pos + 4 : pos + 4 + n]
                t = struct.unpack(">I", inner[:4])[0]
                v = struct.unpack(">I", inner[4 + t : 8 + t])[0]
                base = pos + 4
                regions += [
                    (base, base + 4 + t, "sigtype"),
                    (base + 4 + t, base + 8 + t, "sigvalue-len"),
                    (base + 8 + t, base + 8 + t + v, "sigvalue"),
                    (base + 8 + t + v, base + n, "sk-flags-counter"),
                ]
            else:
                regions.append((pos + 4, pos + 4 + n, name))
            pos += 4 + n
    except struct.error:
        pass
    if pos < len(blob):
        regions.append((pos, len(blob), "unknown"))
    return regions


# --------------------------------------------------------------------------- armor


def text_region(text: bytes, offset: int) -> str:
    """Which armor line an offset of an armored signature falls on (``after-end``:
    anything after the first END line)."""
    first_end = text.find(b"\n-----END")
    if first_end >= 0:
        close = text.find(b"\n", first_end + 1)
        if close >= 0 and offset > close:
            return "after-end"
    start = text.rfind(b"\n", 0, offset) + 1
    end = text.find(b"\n", offset)
    line = text[start : end if end >= 0 else len(text)].strip()
    if offset == end:
        return "line-end"
    if line.startswith(b"-----BEGIN"):
        return "begin-line"
    if line.startswith(b"-----END"):
        return "end-line"
    if line.startswith(b"=") and len(line) <= 6:
        return "crc"
    if b": " in line:
        return "armor-header"
    if not line:
        return "blank"
    return "body"


# --------------------------------------------------------------------------- mutations


@dataclass(frozen=True)
class Mutation:
    """One mutated signed object. ``steps`` say what was done, ``traits`` name it for
    the table of deliberate differences; ``raw`` is the object's bytes."""

    seed: int
    index: int
    fmt: str  # openpgp | ssh
    kind: str  # commit | tag
    key: str
    steps: tuple[str, ...]
    traits: frozenset[str]
    raw: bytes

    def describe(self) -> str:
        return f"[seed {self.seed} #{self.index}] {self.kind}, {self.key}: " + "; ".join(self.steps)

    def has(self, *prefixes: str) -> bool:
        """Whether some trait starts with one of ``prefixes``."""
        return any(t.startswith(prefixes) for t in self.traits)


@dataclass
class Ctx:
    """The object being built; edits change it layer by layer."""

    rng: random.Random
    world: FuzzWorld
    fmt: str
    kind: str
    key: str
    payload: bytes = b""
    created: int = SIG_TIME
    steps: list[str] = field(default_factory=list)
    traits: set[str] = field(default_factory=set)
    pgp: PgpRecipe | None = None
    ssh: SshRecipe | None = None
    tool: bool = False
    body: bytes = b""
    style: str = "new"
    before: list[bytes] = field(default_factory=list)
    after: list[bytes] = field(default_factory=list)
    binary: bytes = b""
    armor: ArmorSpec = field(default_factory=ArmorSpec)
    text: bytes = b""
    header: bytes = b"gpgsig"
    placement: str = "end"
    duplicate: bytes | None = None
    extra_headers: list[bytes] = field(default_factory=list)

    def note(self, step: str, *traits: str) -> None:
        self.steps.append(step)
        self.traits.update(traits)

    @property
    def pgp_key(self) -> PgpKey:
        return self.world.pgp[self.key]

    @property
    def ssh_key(self) -> SshSigner:
        return self.world.ssh[self.key]

    def recipe(self) -> PgpRecipe:
        assert self.pgp is not None
        return self.pgp

    def sshrecipe(self) -> SshRecipe:
        assert self.ssh is not None
        return self.ssh

    def other_pgp(self, same_algo: bool = False) -> PgpKey:
        """Another trusted OpenPGP key (of the same algorithm when asked and there is one)."""
        keys = [k for k in self.world.pgp.values() if k.trust == "trusted" and k.name != self.key]
        same = [k for k in keys if k.algo == self.pgp_key.algo]
        return self.rng.choice(same if same_algo and same else keys)

    def other_ssh(self) -> SshSigner:
        keys = [k for k in self.world.ssh.values() if k.trust == "trusted" and k.name != self.key]
        return self.rng.choice(keys)

    def clean_signature(self, key_name: str, payload: bytes) -> bytes:
        """A valid, unmutated armored signature by ``key_name`` over ``payload``."""
        if key_name in self.world.pgp:
            key = self.world.pgp[key_name]
            body = render_pgp(PgpRecipe.default(key, self.created), payload)
            return armor_pgp(packet(2, body), ArmorSpec())
        signer = self.world.ssh[key_name]
        return armor_ssh(render_ssh(SshRecipe(signer, signer), payload), _ssh_armor())


def _ssh_armor() -> ArmorSpec:
    return ArmorSpec(label="SSH SIGNATURE", blank=False, line_len=70, crc="none")


Apply = Callable[[Ctx], None]


@dataclass(frozen=True)
class Edit:
    name: str
    fmt: str  # openpgp | ssh | any
    layer: str  # see LAYERS
    apply: Apply
    when: Callable[[Ctx], bool] | None = None
    v4only: bool = False  # edits subpackets: meaningless for a v3 packet
    makes_v3: bool = False
    tool: bool = False  # the signature is made by gpg / ssh-keygen

    def fits(self, ctx: Ctx) -> bool:
        if self.fmt not in ("any", ctx.fmt):
            return False
        return self.when is None or self.when(ctx)


LAYERS = ("payload", "recipe", "body", "frame", "binary", "armor", "text", "object")

EDITS: list[Edit] = []


def edit(
    name: str,
    fmt: str,
    layer: str,
    *,
    when: Callable[[Ctx], bool] | None = None,
    v4only: bool = False,
    makes_v3: bool = False,
    tool: bool = False,
) -> Callable[[Apply], Apply]:
    def register(fn: Apply) -> Apply:
        EDITS.append(Edit(name, fmt, layer, fn, when, v4only, makes_v3, tool))
        return fn

    return register


def _is_commit(ctx: Ctx) -> bool:
    return ctx.kind == "commit"


def _is_tag(ctx: Ctx) -> bool:
    return ctx.kind == "tag"


# --- OpenPGP: re-signed ----------------------------------------------------------


@edit("pgp.baseline", "openpgp", "recipe")
def _pgp_baseline(ctx: Ctx) -> None:
    ctx.note("unmutated signature made here", "baseline")


@edit("pgp.gpg-made", "openpgp", "recipe", tool=True, when=lambda c: c.key != "pgp-revoked")
def _pgp_tool(ctx: Ctx) -> None:
    ctx.tool = True
    ctx.note("signature made by gpg -bsau", "base:gpg")


@edit("pgp.hash", "openpgp", "recipe")
def _pgp_hash(ctx: Ctx) -> None:
    r = ctx.recipe()
    algo = ctx.rng.choice([2, 1, 3, 11, 9, 10, 12, 14, 110])
    if algo == 110:
        r.hash_algo, r.digest_algo = 110, 8
        ctx.note("hash algorithm id 110 (unassigned), value made over SHA-256", "hash:unknown")
        return
    r.hash_algo = algo
    label = PGP_HASHES[algo][2]
    ctx.note(f"re-signed with {label}", f"hash:{label}")


def _notation(name: bytes, value: bytes, human: bool = True) -> bytes:
    flags = b"\x80\0\0\0" if human else b"\0\0\0\0"
    return flags + len(name).to_bytes(2, "big") + len(value).to_bytes(2, "big") + name + value


# name -> (type, value)
def _subpackets(ctx: Ctx) -> list[tuple[str, int, bytes]]:
    key = ctx.pgp_key
    return [
        ("notation", 20, _notation(b"review@example.com", b"yes")),
        ("notation-binary", 20, _notation(b"bin@example.com", b"\x00\x01", human=False)),
        ("policy-uri", 26, b"https://example.com/policy"),
        ("signer-uid", 28, f"{key.name}@example.com".encode()),
        ("exportable-0", 4, b"\x00"),
        ("exportable-1", 4, b"\x01"),
        ("revocable-0", 7, b"\x00"),
        ("trust", 5, b"\x01\x78"),
        ("regex", 6, b"<[^>]+[@.]example\\.com>$\x00"),
        ("key-expiry", 9, (365 * DAY).to_bytes(4, "big")),
        ("pref-sym", 11, b"\x09\x08"),
        ("revocation-key", 12, b"\x80" + bytes([key.algo]) + key.fpr),
        ("pref-hash", 21, b"\x0a\x09\x08"),
        ("pref-compr", 22, b"\x02\x01"),
        ("keyserver-prefs", 23, b"\x80"),
        ("pref-keyserver", 24, b"hkps://keys.example.com"),
        ("primary-uid", 25, b"\x01"),
        ("key-flags", 27, b"\x02"),
        ("reason", 29, b"\x00no reason"),
        ("features", 30, b"\x01"),
        ("sig-target", 31, bytes([key.algo, 8]) + bytes(32)),
        ("embedded-garbage", 32, b"\x04\x00garbage"),
        ("pref-aead-34", 34, b"\x09\x02"),
        ("intended-recipient", 35, b"\x04" + key.fpr),
        ("attested", 37, bytes(32)),
        ("key-block", 38, b"\x00\x99"),
        ("pref-aead-39", 39, b"\x09\x02"),
        ("unknown-40", 40, b"x"),
        ("unknown-100", 100, b"x"),
        ("private-110", 110, b"x"),
        ("reserved-0", 0, b"x"),
        ("reserved-1", 1, b"x"),
    ]


def _add_hashed(ctx: Ctx, critical: bool) -> None:
    r = ctx.recipe()
    name, kind, value = ctx.rng.choice(_subpackets(ctx))
    sp = subpacket(kind, value, critical=critical)
    at = ctx.rng.choice(["end", "start"])
    if at == "start":
        r.hashed.insert(0, (name, sp))
    else:
        r.hashed.append((name, sp))
    crit = " critical" if critical else ""
    ctx.note(
        f"re-signed with{crit} hashed subpacket {kind} ({name}) at the {at}",
        f"sub:{name}{':crit' if critical else ''}",
    )


@edit("pgp.hashed-sub", "openpgp", "recipe", v4only=True)
def _pgp_sub(ctx: Ctx) -> None:
    _add_hashed(ctx, critical=False)


@edit("pgp.hashed-sub-critical", "openpgp", "recipe", v4only=True)
def _pgp_sub_crit(ctx: Ctx) -> None:
    _add_hashed(ctx, critical=True)


@edit("pgp.duplicate-sub", "openpgp", "recipe", v4only=True)
def _pgp_dup(ctx: Ctx) -> None:
    r = ctx.recipe()
    key = ctx.pgp_key
    what = ctx.rng.choice(
        ["created-same", "created-other", "fpr-same", "fpr-other", "keyid-same",
         "keyid-other", "notation", "sig-expiry"]
    )  # fmt: skip
    other = ctx.other_pgp()
    stamp = r.created.to_bytes(4, "big")
    earlier = r.created - 3600 if r.created >= 3600 else r.created + 3600
    extra = {
        "created-same": [subpacket(2, stamp)],
        "created-other": [subpacket(2, earlier.to_bytes(4, "big"))],
        "fpr-same": [subpacket(33, b"\x04" + key.fpr)],
        "fpr-other": [subpacket(33, b"\x04" + other.fpr)],
        "keyid-same": [subpacket(16, key.keyid)] * 2,
        "keyid-other": [subpacket(16, key.keyid), subpacket(16, other.keyid)],
        "notation": [subpacket(20, _notation(b"n@example.com", b"v"))] * 2,
        "sig-expiry": [subpacket(3, (20 * 365 * DAY).to_bytes(4, "big")),
                       subpacket(3, (1).to_bytes(4, "big"))],
    }[what]  # fmt: skip
    r.hashed += [(f"dup-{i}", sp) for i, sp in enumerate(extra)]
    ctx.note(f"re-signed with duplicated hashed subpackets ({what})", f"dup:{what}")


@edit("pgp.critical-standard", "openpgp", "recipe", v4only=True)
def _pgp_crit_std(ctx: Ctx) -> None:
    r = ctx.recipe()
    key = ctx.pgp_key
    what = ctx.rng.choice(["created", "fpr", "keyid-hashed", "sig-expiry"])
    if what == "created":
        r.put(r.hashed, "created", subpacket(2, r.created.to_bytes(4, "big"), critical=True))
    elif what == "fpr":
        r.put(r.hashed, "fpr", subpacket(33, b"\x04" + key.fpr, critical=True))
    elif what == "keyid-hashed":
        r.hashed.append(("keyid-h", subpacket(16, key.keyid, critical=True)))
    else:
        r.hashed.append(
            ("expiry", subpacket(3, (20 * 365 * DAY).to_bytes(4, "big"), critical=True))
        )
    ctx.note(f"re-signed with the {what} subpacket marked critical", f"crit:{what}")


@edit("pgp.sig-expiry", "openpgp", "recipe", v4only=True)
def _pgp_sigexp(ctx: Ctx) -> None:
    r = ctx.recipe()
    what, value = ctx.rng.choice([("expired", DAY), ("later", 20 * 365 * DAY), ("zero", 0)])
    r.hashed.append(("expiry", subpacket(3, value.to_bytes(4, "big"))))
    ctx.note(f"re-signed with a signature expiration ({what})", f"sigexp:{what}")


@edit("pgp.created", "openpgp", "recipe")
def _pgp_created(ctx: Ctx) -> None:
    r = ctx.recipe()
    key = ctx.pgp_key
    now = int(time.time())
    what = ctx.rng.choice(
        ["predates-key", "future", "near-future", "zero", "max", "missing", "key-creation"]
    )
    if what == "missing":
        if r.version == 4:
            r.drop(r.hashed, "created")
            ctx.note("re-signed without a creation time", "time:missing")
            return
        what = "zero"
    value = {
        # Times vary by mutation (as real ones do), so that two signatures in one
        # validity interval never share a creation time.
        "predates-key": key.created - DAY - ctx.rng.randrange(DAY),
        "future": now + 7200,
        "near-future": now + 60,
        "zero": 0,
        "max": 0xFFFFFFFF,
        "key-creation": key.created,
    }[what]
    r.created = value
    if r.version == 4:
        r.put(r.hashed, "created", subpacket(2, value.to_bytes(4, "big")))
    ctx.note(f"re-signed with creation time {what}", f"time:{what}")


@edit("pgp.issuer", "openpgp", "recipe", v4only=True)
def _pgp_issuer(ctx: Ctx) -> None:
    r = ctx.recipe()
    key = ctx.pgp_key
    what = ctx.rng.choice(
        ["fpr-unhashed", "fpr-unhashed-no-keyid", "keyid-unhashed-only", "keyid-hashed-only",
         "none", "fpr-v5", "keyid-mismatch", "other-key", "unknown-fpr", "unhashed-fpr-other"]
    )  # fmt: skip
    fpr_sp = subpacket(33, b"\x04" + key.fpr)
    if what == "fpr-unhashed":
        r.drop(r.hashed, "fpr")
        r.unhashed.append(("fpr", fpr_sp))
    elif what == "fpr-unhashed-no-keyid":
        r.drop(r.hashed, "fpr")
        r.unhashed = [("fpr", fpr_sp)]
    elif what == "keyid-unhashed-only":
        r.drop(r.hashed, "fpr")
    elif what == "keyid-hashed-only":
        r.drop(r.hashed, "fpr")
        r.unhashed = []
        r.hashed.append(("keyid-h", subpacket(16, key.keyid)))
    elif what == "none":
        r.drop(r.hashed, "fpr")
        r.unhashed = []
    elif what == "fpr-v5":
        r.put(r.hashed, "fpr", subpacket(33, b"\x05" + hashlib.sha256(key.fpr).digest()))
    elif what == "keyid-mismatch":
        r.unhashed = [("keyid", subpacket(16, ctx.other_pgp().keyid))]
    elif what == "other-key":
        other = ctx.other_pgp()
        r.put(r.hashed, "fpr", subpacket(33, b"\x04" + other.fpr))
        r.unhashed = [("keyid", subpacket(16, other.keyid))]
    elif what == "unknown-fpr":
        fake = hashlib.sha1(key.fpr).digest()  # noqa: S324 - a made-up fingerprint
        r.put(r.hashed, "fpr", subpacket(33, b"\x04" + fake))
        r.unhashed = [("keyid", subpacket(16, fake[-8:]))]
    else:
        r.unhashed.append(("fpr-u", subpacket(33, b"\x04" + ctx.other_pgp().fpr)))
    ctx.note(f"re-signed with issuer variant {what}", f"issuer:{what}")


@edit("pgp.sig-type", "openpgp", "recipe")
def _pgp_type(ctx: Ctx) -> None:
    r = ctx.recipe()
    name, sig_type, data = ctx.rng.choice(
        [("0x01-canonical", 0x01, "canonical"), ("0x01-raw", 0x01, "payload"),
         ("0x02", 0x02, "empty"), ("0x13", 0x13, "payload"), ("0x18", 0x18, "payload"),
         ("0x1f", 0x1F, "payload"), ("0x30", 0x30, "payload"), ("0x40", 0x40, "payload")]
    )  # fmt: skip
    r.sig_type, r.data = sig_type, data
    ctx.note(f"re-signed as signature type {name}", f"type:{name}")


@edit("pgp.v3", "openpgp", "recipe", makes_v3=True)
def _pgp_v3(ctx: Ctx) -> None:
    r = ctx.recipe()
    r.version = 3
    algo = ctx.rng.choice([8, 8, 8, 10, 2])
    r.hash_algo = algo
    label = PGP_HASHES[algo][2]
    ctx.note(f"re-signed as a version 3 packet ({label})", "v3", f"hash:{label}")


@edit("pgp.version-byte", "openpgp", "recipe", makes_v3=True)
def _pgp_version(ctx: Ctx) -> None:
    r = ctx.recipe()
    r.version = ctx.rng.choice([2, 5, 6])
    ctx.note(f"re-signed with packet version byte {r.version}", f"version:{r.version}")


@edit("pgp.sublen-5", "openpgp", "recipe", v4only=True)
def _pgp_sublen(ctx: Ctx) -> None:
    r = ctx.recipe()
    key = ctx.pgp_key
    what = ctx.rng.choice(["created", "fpr"])
    if what == "created":
        r.put(r.hashed, "created", subpacket(2, r.created.to_bytes(4, "big"), five=True))
    else:
        r.put(r.hashed, "fpr", subpacket(33, b"\x04" + key.fpr, five=True))
    ctx.note(f"re-signed with the {what} subpacket in a 5-octet length", "enc:sublen5")


@edit("pgp.pk-algo", "openpgp", "recipe")
def _pgp_pkalgo(ctx: Ctx) -> None:
    r = ctx.recipe()
    options = {PK_RSA: [3, 17], PK_EDDSA: [27, 19], PK_ECDSA: [22, 17]}[ctx.pgp_key.algo]
    r.pk_algo = ctx.rng.choice(options)
    ctx.note(f"re-signed claiming public-key algorithm {r.pk_algo}", f"pkalgo:{r.pk_algo}")


@edit("pgp.order", "openpgp", "recipe", v4only=True)
def _pgp_order(ctx: Ctx) -> None:
    r = ctx.recipe()
    r.hashed.reverse()
    ctx.note("re-signed with the hashed subpackets in reverse order", "order:reversed")


@edit("pgp.big-notation", "openpgp", "recipe", v4only=True)
def _pgp_bignote(ctx: Ctx) -> None:
    r = ctx.recipe()
    r.hashed.append(("notation", subpacket(20, _notation(b"big@example.com", b"v" * 300))))
    ctx.note("re-signed with a 300-octet notation (2-octet subpacket length)", "sub:big-notation")


@edit("pgp.forged", "openpgp", "recipe")
def _pgp_forged(ctx: Ctx) -> None:
    r = ctx.recipe()
    r.signer = ctx.other_pgp(same_algo=True)
    ctx.note(f"value made by {r.signer.name}, issuer still {ctx.key}", "forged")


@edit("pgp.after-key-expiry", "openpgp", "recipe", when=lambda c: c.key == "pgp-expired")
def _pgp_after_expiry(ctx: Ctx) -> None:
    r = ctx.recipe()
    r.created = AFTER_EXPIRY + ctx.rng.randrange(30 * DAY)
    if r.version == 4:
        r.put(r.hashed, "created", subpacket(2, r.created.to_bytes(4, "big")))
    ctx.note("made after the key expired")


# --- OpenPGP: what is not signed -------------------------------------------------


def _mpis(ctx: Ctx) -> list[tuple[int, int]]:
    """``(offset of the bit count, value length)`` of each MPI in the body."""
    regions = pgp_regions(ctx.body)
    return [(s, regions[i + 1][1] - regions[i + 1][0]) for i, (s, _, n) in enumerate(regions)
            if n == "mpi-bits" and i + 1 < len(regions)]  # fmt: skip


@edit("pgp.mpi-widen", "openpgp", "body")
def _pgp_mpi_widen(ctx: Ctx) -> None:
    mpis = _mpis(ctx)
    if not mpis:
        ctx.note("(no MPI to widen)")
        return
    body = ctx.body
    out = body[: mpis[0][0]]
    for pos, size in mpis:
        bits = int.from_bytes(body[pos : pos + 2], "big")
        out += (bits + 8).to_bytes(2, "big") + b"\0" + body[pos + 2 : pos + 2 + size]
    ctx.body = out + body[mpis[-1][0] + 2 + mpis[-1][1] :]
    ctx.note("every MPI one zero octet wider (bit counts raised to match)", "enc:mpi-widened")


@edit("pgp.mpi-bits", "openpgp", "body")
def _pgp_mpi_bits(ctx: Ctx) -> None:
    mpis = _mpis(ctx)
    if not mpis:
        ctx.note("(no MPI to re-count)")
        return
    pos, size = ctx.rng.choice(mpis)
    bits = int.from_bytes(ctx.body[pos : pos + 2], "big")
    how = ctx.rng.choice(["rounded-up", "short"])
    new = 8 * size if how == "rounded-up" else max(0, bits - 8)
    if new == bits:
        ctx.note("(MPI bit count already a multiple of 8)")
        return
    ctx.body = ctx.body[:pos] + new.to_bytes(2, "big") + ctx.body[pos + 2 :]
    ctx.note(f"MPI bit count {bits} -> {new}", f"enc:mpi-bits-{how}")


@edit("pgp.quick-check", "openpgp", "body")
def _pgp_quick(ctx: Ctx) -> None:
    for start, end, name in pgp_regions(ctx.body):
        if name == "left16":
            flipped = bytes(b ^ 0xFF for b in ctx.body[start:end])
            ctx.body = ctx.body[:start] + flipped + ctx.body[end:]
            ctx.note("quick-check octets inverted", "enc:quick-check")
            return
    ctx.note("(no quick-check octets found)")


def _unhashed_edit(ctx: Ctx, new: Callable[[bytes], bytes]) -> bool:
    body = ctx.body
    if len(body) < 6 or body[0] != 4:
        return False
    hashed_end = 6 + int.from_bytes(body[4:6], "big")
    n = int.from_bytes(body[hashed_end : hashed_end + 2], "big")
    area = new(body[hashed_end + 2 : hashed_end + 2 + n])
    ctx.body = body[:hashed_end] + len(area).to_bytes(2, "big") + area + body[hashed_end + 2 + n :]
    return True


@edit("pgp.unhashed-sub", "openpgp", "body", v4only=True)
def _pgp_unhashed(ctx: Ctx) -> None:
    key = ctx.pgp_key
    other = ctx.other_pgp()
    name, sp = ctx.rng.choice(
        [("unknown-100", subpacket(100, b"x")),
         ("unknown-100:crit", subpacket(100, b"x", critical=True)),
         ("notation", subpacket(20, _notation(b"u@example.com", b"v"))),
         ("notation:crit", subpacket(20, _notation(b"u@example.com", b"v"), critical=True)),
         ("fpr-other", subpacket(33, b"\x04" + other.fpr)),
         ("keyid-other", subpacket(16, other.keyid)),
         ("created", subpacket(2, (SIG_TIME - 5 * DAY).to_bytes(4, "big"))),
         ("sig-expired", subpacket(3, (1).to_bytes(4, "big"))),
         ("embedded-garbage", subpacket(32, b"\x04\x00garbage")),
         ("signer-uid:crit", subpacket(28, b"x@example.com", critical=True)),
         ("key-flags:crit", subpacket(27, b"\x02", critical=True)),
         ("issuer:crit", subpacket(16, key.keyid, critical=True)),
         ("reason:crit", subpacket(29, b"\x00", critical=True))]
    )  # fmt: skip
    if _unhashed_edit(ctx, lambda area: area + sp):
        ctx.note(f"unhashed subpacket added: {name}", f"usub:{name}")
    else:
        ctx.note("(unhashed area not found)")


@edit("pgp.unhashed-clear", "openpgp", "body", v4only=True)
def _pgp_unhashed_clear(ctx: Ctx) -> None:
    if _unhashed_edit(ctx, lambda area: b""):
        ctx.note("unhashed area emptied", "usub:cleared")
    else:
        ctx.note("(unhashed area not found)")


Regions = Callable[[bytes], list[tuple[int, int, str]]]


def _bit_flips(regions: Regions) -> Apply:
    """An edit flipping one to three bits of the body (OpenPGP packet, SSHSIG blob),
    each named by the region of ``regions`` it hits."""

    def apply(ctx: Ctx) -> None:
        data = bytearray(ctx.body)
        named = regions(ctx.body)
        for _ in range(ctx.rng.choice([1, 1, 1, 2, 3])):
            at = ctx.rng.randrange(len(data))
            bit = ctx.rng.randrange(8)
            data[at] ^= 1 << bit
            where = region_at(named, at)
            ctx.note(f"bit {bit} of byte {at} flipped ({where})", f"flip:{where}")
        ctx.body = bytes(data)

    return apply


def _truncation(regions: Regions, step: str) -> Apply:
    """An edit cutting the body short; ``step`` describes it (``{cut}``, ``{where}``)."""

    def apply(ctx: Ctx) -> None:
        cut = ctx.rng.randrange(1, len(ctx.body))
        where = region_at(regions(ctx.body), cut)
        ctx.body = ctx.body[:cut]
        ctx.note(step.format(cut=cut, where=where), f"trunc:{where}")

    return apply


edit("pgp.bit-flip", "openpgp", "body")(_bit_flips(pgp_regions))
edit("pgp.truncate", "openpgp", "body")(
    _truncation(pgp_regions, "packet body cut to {cut} bytes (in {where}), length adjusted")
)


@edit("pgp.trailing-bytes", "openpgp", "body")
def _pgp_trailing(ctx: Ctx) -> None:
    extra = bytes(ctx.rng.randrange(256) for _ in range(ctx.rng.randrange(1, 5)))
    ctx.body += extra
    ctx.note(f"{len(extra)} bytes appended inside the packet", "enc:trailing-bytes")


@edit("pgp.insert-delete", "openpgp", "body")
def _pgp_indel(ctx: Ctx) -> None:
    at = ctx.rng.randrange(len(ctx.body))
    where = region_at(pgp_regions(ctx.body), at)
    if ctx.rng.random() < 0.5:
        ctx.body = ctx.body[:at] + bytes([ctx.rng.randrange(256)]) + ctx.body[at:]
        ctx.note(f"a byte inserted at {at} ({where})", f"insert:{where}")
    else:
        ctx.body = ctx.body[:at] + ctx.body[at + 1 :]
        ctx.note(f"byte {at} deleted ({where})", f"delete:{where}")


@edit("pgp.hashed-length", "openpgp", "body", v4only=True)
def _pgp_hashed_len(ctx: Ctx) -> None:
    n = int.from_bytes(ctx.body[4:6], "big") + ctx.rng.choice([-2, -1, 1, 2])
    ctx.body = ctx.body[:4] + max(0, n).to_bytes(2, "big") + ctx.body[6:]
    ctx.note("hashed area length field changed", "enc:hashed-len")


@edit("pgp.header-style", "openpgp", "frame")
def _pgp_style(ctx: Ctx) -> None:
    ctx.style = ctx.rng.choice(["new-5", "old-1", "old-2", "old-4", "old-indeterminate", "partial"])
    ctx.note(f"packet header: {ctx.style}", f"pkt:{ctx.style}")


@edit("pgp.extra-packet", "openpgp", "frame")
def _pgp_extra(ctx: Ctx) -> None:
    key = ctx.pgp_key
    name = ctx.rng.choice(
        ["marker-after", "marker-before", "copy-after", "other-sig-after", "trust-after",
         "padding-after", "literal-after", "userid-after", "onepass-before", "garbage-after",
         "experimental-after"]
    )  # fmt: skip
    if name == "marker-after":
        ctx.after.append(packet(10, b"PGP"))
    elif name == "marker-before":
        ctx.before.append(packet(10, b"PGP"))
    elif name == "copy-after":
        ctx.after.append(packet(2, ctx.body))
    elif name == "other-sig-after":
        other = ctx.other_pgp()
        ctx.after.append(packet(2, render_pgp(PgpRecipe.default(other, ctx.created), ctx.payload)))
    elif name == "trust-after":
        ctx.after.append(packet(12, b"\x00\x00"))
    elif name == "padding-after":
        ctx.after.append(packet(21, bytes(ctx.rng.randrange(256) for _ in range(16))))
    elif name == "literal-after":
        ctx.after.append(packet(11, b"b\x00" + SIG_TIME.to_bytes(4, "big") + ctx.payload))
    elif name == "userid-after":
        ctx.after.append(packet(13, b"x <x@example.com>"))
    elif name == "onepass-before":
        ops = b"\x03\x00" + bytes([8, key.algo]) + key.keyid + b"\x01"
        ctx.before.append(packet(4, ops))
    elif name == "garbage-after":
        ctx.after.append(bytes(ctx.rng.randrange(256) for _ in range(ctx.rng.randrange(1, 9))))
    else:
        ctx.after.append(packet(61, b"experimental"))
    ctx.note(f"extra packet: {name}", f"extra-pkt:{name}")


@edit("pgp.compressed", "openpgp", "binary")
def _pgp_compressed(ctx: Ctx) -> None:
    algo = ctx.rng.choice([0, 1, 2])
    if algo == 0:
        data = ctx.binary
    elif algo == 1:
        c = zlib.compressobj(wbits=-15)
        data = c.compress(ctx.binary) + c.flush()
    else:
        data = zlib.compress(ctx.binary)
    ctx.binary = packet(8, bytes([algo]) + data)
    ctx.note(f"wrapped in a compressed data packet (algorithm {algo})", f"pkt:compressed-{algo}")


@edit("pgp.truncate-binary", "openpgp", "binary")
def _pgp_trunc_binary(ctx: Ctx) -> None:
    cut = ctx.rng.randrange(1, len(ctx.binary))
    ctx.binary = ctx.binary[:cut]
    ctx.note(f"binary cut to {cut} of its bytes (packet length now wrong)", "trunc:binary")


@edit("pgp.header-flip", "openpgp", "binary")
def _pgp_header_flip(ctx: Ctx) -> None:
    data = bytearray(ctx.binary)
    at = ctx.rng.randrange(min(len(data), 2))
    bit = ctx.rng.randrange(8)
    data[at] ^= 1 << bit
    ctx.binary = bytes(data)
    ctx.note(f"bit {bit} of packet header byte {at} flipped", "flip:pkt-header")


# --- OpenPGP: armor ----------------------------------------------------------------


@edit("pgp.armor-header", "openpgp", "armor")
def _a_header(ctx: Ctx) -> None:
    header = ctx.rng.choice(
        ["Version: GnuPG v2", "Comment: fuzz", "Hash: SHA256", "Charset: UTF-8", "Foo: bar",
         "Comment: " + "x" * 200, "MessageID: 0123456789abcdef"]
    )  # fmt: skip
    ctx.armor.headers.append(header)
    ctx.note(
        f"armor header {header[:24]!r}", "armor:header", f"armor:header-{header.split(':')[0]}"
    )


@edit("pgp.armor-no-blank", "openpgp", "armor")
def _a_no_blank(ctx: Ctx) -> None:
    ctx.armor.blank = False
    if ctx.rng.random() < 0.5:
        ctx.armor.headers.append("Comment: no blank line follows")
        ctx.note("armor header without the blank line after it", "armor:header-no-blank")
    else:
        ctx.note("no blank line after the BEGIN line", "armor:no-blank")


@edit("pgp.armor-crc", "openpgp", "armor")
def _a_crc(ctx: Ctx) -> None:
    ctx.armor.crc = ctx.rng.choice(["none", "bad", "garbage", "short", "twice"])
    ctx.note(f"armor checksum: {ctx.armor.crc}", f"armor:crc-{ctx.armor.crc}")


def _labels(choices: dict[str, tuple[str, str]]) -> Apply:
    """An edit giving the armor another BEGIN (``label``) or END (``end_label``)
    label: ``choices`` maps each variant's name to the field and the label."""

    def apply(ctx: Ctx) -> None:
        what = ctx.rng.choice(list(choices))
        field_name, label = choices[what]
        setattr(ctx.armor, field_name, label)
        ctx.note(f"armor label: {what}", f"armor:label-{what}")

    return apply


edit("pgp.armor-label", "openpgp", "armor")(
    _labels(
        {
            "message": ("label", "PGP MESSAGE"),
            "end-mismatch": ("end_label", "PGP MESSAGE"),
            "lowercase": ("label", "pgp signature"),
            "armored-file": ("label", "PGP ARMORED FILE"),
        }
    )
)


def _armor_layout(ctx: Ctx) -> None:
    what = ctx.rng.choice(
        ["crlf", "trailing-ws", "indent", "line-76", "line-16", "one-line", "blank-in-body",
         "no-padding", "end-glued"]
    )  # fmt: skip
    a = ctx.armor
    if what == "crlf":
        a.eol = b"\r\n"
    elif what == "trailing-ws":
        a.line_suffix = ctx.rng.choice([b" ", b"\t", b"  "])
    elif what == "indent":
        a.line_prefix = ctx.rng.choice([b" ", b"\t"])
    elif what.startswith("line-"):
        a.line_len = int(what[5:])
    elif what == "one-line":
        a.line_len = 0
    elif what == "blank-in-body":
        a.blank_in_body = True
    elif what == "no-padding":
        a.strip_pad = True
    else:
        a.end_on_last_line = True
    ctx.note(f"armor layout: {what}", f"armor:{what}")


edit("pgp.armor-layout", "openpgp", "armor")(_armor_layout)
edit("ssh.armor-layout", "ssh", "armor")(_armor_layout)


edit("ssh.armor-label", "ssh", "armor")(
    _labels(
        {
            "typo": ("label", "SSH SIGNATUR"),
            "lowercase": ("label", "ssh signature"),
            "end-mismatch": ("end_label", "SSH SIGNATUR"),
        }
    )
)


# --- text and object edits (both formats) ------------------------------------------


@edit("text.whitespace", "any", "text")
def _t_ws(ctx: Ctx) -> None:
    where = ctx.rng.choice(["lead", "tail"])
    if where == "lead":
        ws = ctx.rng.choice([b"\n", b" ", b"\t", b"\r\n"])
        ctx.text = ws + ctx.text
        ctx.note(f"{ws!r} before the BEGIN line", "text:lead-ws")
    else:
        ws = ctx.rng.choice([b"\n", b"\n\n", b"  \n", b"\t\n"])
        ctx.text += ws
        ctx.note(f"{ws!r} after the END line", "text:tail-ws")


@edit("text.after-end", "any", "text")
def _t_after(ctx: Ctx) -> None:
    what = ctx.rng.choice(["words", "second-block"])
    if what == "words":
        ctx.text += b"trailing text\n"
        ctx.note("text after the END line", "text:after-end")
    else:
        ctx.text += ctx.text
        ctx.note("the armored block twice", "text:second-block")


@edit("text.preamble", "any", "text")
def _t_preamble(ctx: Ctx) -> None:
    ctx.text = b"preamble\n" + ctx.text
    ctx.note("a line of text before the BEGIN line", "text:preamble")


def _armored_binary(text: bytes) -> bytes | None:
    """The bytes an armored signature's base64 lines decode to (leniently: what a
    tolerant reader sees), or ``None``."""
    lines = text.replace(b"\r", b"").split(b"\n")[1:]
    ends = [i for i, line in enumerate(lines) if line.startswith(b"-----END")]
    if ends:
        lines = lines[: ends[0]]
    body = [
        line.strip()
        for line in lines
        if line.strip() and not line.startswith((b"-----", b"=")) and b": " not in line
    ]
    try:
        return binascii.a2b_base64(b"".join(body))
    except (binascii.Error, ValueError):
        return None


def _binary_regions(fmt: str, binary: bytes) -> list[tuple[int, int, str]]:
    """Named ranges of a whole (framed) signature binary."""
    if fmt == "ssh":
        return ssh_fields(binary)
    try:
        body = split_packets(binary)[0][1]
    except IndexError:
        return [(0, len(binary), "unknown")]
    at = binary.find(body) if body else -1
    if at < 0:
        return [(0, len(binary), "unknown")]
    shifted = [(s + at, e + at, n) for s, e, n in pgp_regions(body)]
    return [(0, at, "pkt-header"), *shifted, (at + len(body), len(binary), "after-packet")]


@edit("text.bit-flip", "any", "text")
def _t_flip(ctx: Ctx) -> None:
    """Flip bits of the armored text; for a flip inside the base64, also name the
    region of the binary signature whose bytes changed (``tbin:``)."""
    before = _armored_binary(ctx.text)
    data = bytearray(ctx.text)
    for _ in range(ctx.rng.choice([1, 1, 2])):
        at = ctx.rng.randrange(len(data))
        bit = ctx.rng.randrange(7)  # stays ASCII
        where = text_region(bytes(data), at)
        data[at] ^= 1 << bit
        ctx.note(f"bit {bit} of armor byte {at} flipped ({where})", f"tflip:{where}")
    ctx.text = bytes(data)
    after = _armored_binary(ctx.text)
    if before is None:
        return
    if after is None:
        ctx.traits.add("tbin:undecodable")
        return
    changed = [i for i in range(min(len(before), len(after))) if before[i] != after[i]]
    if len(before) != len(after):
        ctx.traits.add("tbin:length")
    regions = _binary_regions(ctx.fmt, before)
    for i in changed:
        ctx.traits.add(f"tbin:{region_at(regions, i)}")
    if not changed and len(before) == len(after):
        ctx.traits.add("tbin:none")


@edit("text.truncate", "any", "text")
def _t_trunc(ctx: Ctx) -> None:
    cut = ctx.rng.randrange(1, len(ctx.text))
    where = text_region(ctx.text, cut)
    ctx.text = ctx.text[:cut] + b"\n"
    ctx.note(f"armored text cut at byte {cut} ({where})", f"ttrunc:{where}")


@edit("text.no-final-newline", "any", "text", when=_is_tag)
def _t_no_nl(ctx: Ctx) -> None:
    ctx.text = ctx.text.rstrip(b"\r\n")
    ctx.note("no newline after the END line", "text:no-final-newline")


@edit("object.placement", "any", "object", when=_is_commit)
def _o_place(ctx: Ctx) -> None:
    ctx.placement = ctx.rng.choice(["after-tree", "after-author"])
    ctx.note(f"signature header placed {ctx.placement}", f"obj:place-{ctx.placement}")


@edit("object.duplicate", "any", "object")
def _o_dup(ctx: Ctx) -> None:
    what = ctx.rng.choice(["same", "other"])
    if what == "same":
        ctx.duplicate = ctx.text
    else:
        other = ctx.other_pgp() if ctx.fmt == "openpgp" else ctx.other_ssh()
        ctx.duplicate = ctx.clean_signature(other.name, ctx.payload)
    where = "header" if ctx.kind == "commit" else "signature appended"
    ctx.note(f"a second {where}: {what}", f"obj:dup-{what}")


@edit("object.foreign-header", "any", "object", when=_is_commit)
def _o_foreign(ctx: Ctx) -> None:
    name = ctx.rng.choice([b"gpgsig-sha256", b"gpgsigx", b"gpgsig-foo"])
    value = ctx.rng.choice([b"garbage\n", ctx.text])
    ctx.extra_headers.append(fold(name, value))
    ctx.note(f"an extra {name.decode()} header", "obj:foreign-header")


@edit("object.renamed-header", "any", "object", when=_is_commit)
def _o_renamed(ctx: Ctx) -> None:
    ctx.header = ctx.rng.choice([b"Gpgsig", b"gpgSig"])
    ctx.note(f"signature header named {ctx.header.decode()}", "obj:renamed-header")


@edit("object.tag-signature-before", "any", "payload", when=_is_tag)
def _p_sig_before(ctx: Ctx) -> None:
    other = ctx.other_pgp() if ctx.fmt == "openpgp" else ctx.other_ssh()
    ctx.payload += ctx.clean_signature(other.name, ctx.payload)
    ctx.note("another signature in the tag message before the signature", "obj:tag-sig-before")


@edit("object.message", "any", "payload")
def _p_message(ctx: Ctx) -> None:
    what = ctx.rng.choice(["crlf", "no-final-newline"])
    head, _, message = ctx.payload.partition(b"\n\n")
    message = message.replace(b"\n", b"\r\n") if what == "crlf" else message.rstrip(b"\n")
    ctx.payload = head + b"\n\n" + message
    ctx.note(f"message: {what}", f"obj:message-{what}")


@edit("object.person-headers", "any", "payload")
def _p_person(ctx: Ctx) -> None:
    """Repeated or missing author / committer / tagger headers (signed: the signature
    covers them)."""
    options = ["dup-author", "dup-committer", "no-committer"]
    if ctx.kind == "tag":
        options = ["dup-tagger", "no-tagger"]
    what = ctx.rng.choice(options)
    head, _, message = ctx.payload.partition(b"\n\n")
    lines = head.split(b"\n")
    name = what.split("-", 1)[1].encode()
    at = next(i for i, line in enumerate(lines) if line.startswith(name + b" "))
    if what.startswith("dup-"):
        lines.insert(at + 1, lines[at].replace(b"Fuzz", b"Other Fuzz", 1))
    else:
        del lines[at]
    ctx.payload = b"\n".join(lines) + b"\n\n" + message
    ctx.note(f"headers: {what}", f"obj:{what}")


# --- SSH: re-signed ----------------------------------------------------------------


@edit("ssh.baseline", "ssh", "recipe")
def _ssh_baseline(ctx: Ctx) -> None:
    ctx.note("unmutated signature made here", "baseline")


@edit("ssh.keygen-made", "ssh", "recipe", tool=True)
def _ssh_tool(ctx: Ctx) -> None:
    ctx.tool = True
    ctx.note("signature made by ssh-keygen -Y sign", "base:ssh-keygen")


@edit("ssh.namespace", "ssh", "recipe")
def _s_ns(ctx: Ctx) -> None:
    ns = ctx.rng.choice([b"file", b"", b"Git", b"git\0", b"gitx", b"git "])
    ctx.sshrecipe().namespace = ns
    ctx.note(f"re-signed in namespace {ns!r}", "ns:other")


@edit("ssh.hash", "ssh", "recipe")
def _s_hash(ctx: Ctx) -> None:
    alg = ctx.rng.choice([b"sha256", b"sha384", b"SHA512", b"sha1"])
    ctx.sshrecipe().hashalg = alg
    ctx.note(f"re-signed with hash algorithm {alg.decode()}", f"sshhash:{alg.decode()}")


@edit("ssh.reserved", "ssh", "recipe")
def _s_reserved(ctx: Ctx) -> None:
    r = ctx.sshrecipe()
    r.reserved = b"fuzz"
    if ctx.rng.random() < 0.5:
        r.signed_reserved = b"fuzz"
        ctx.note("reserved field 'fuzz', also in the signed data", "reserved:signed-too")
    else:
        ctx.note("reserved field 'fuzz' in the blob only", "reserved:blob-only")


@edit("ssh.version", "ssh", "recipe")
def _s_version(ctx: Ctx) -> None:
    r = ctx.sshrecipe()
    r.version = ctx.rng.choice([0, 2, 0xFFFFFFFF])
    ctx.note(f"SSHSIG version {r.version}", f"sshver:{r.version}")


@edit("ssh.magic", "ssh", "recipe")
def _s_magic(ctx: Ctx) -> None:
    r = ctx.sshrecipe()
    r.magic = ctx.rng.choice([b"SSHSIH", b"sshsig"])
    ctx.note(f"blob magic {r.magic.decode()}", "sshmagic")


@edit("ssh.sigalg", "ssh", "recipe", when=lambda c: c.ssh_key.key_type == "ssh-rsa")
def _s_sigalg(ctx: Ctx) -> None:
    alg = ctx.rng.choice(
        ["rsa-sha2-256", "ssh-rsa", "rsa-sha2-256/rsa-sha2-512", "ssh-rsa/rsa-sha2-512"]
    )
    ctx.sshrecipe().sigalg = alg
    ctx.note(f"RSA signature algorithm {alg}", f"sigalg:{alg}")


@edit("ssh.sk", "ssh", "recipe", when=lambda c: c.ssh_key.key_type.startswith("sk-"))
def _s_sk(ctx: Ctx) -> None:
    r = ctx.sshrecipe()
    what, value = ctx.rng.choice(
        [("flags", 0), ("flags", 4), ("flags", 5), ("flags", 0xFF), ("counter", 0),
         ("counter", 0xFFFFFFFF)]
    )  # fmt: skip
    if what == "flags":
        r.flags = value
        trait = "sk:no-user-presence" if not value & 1 else "sk:flags"
    else:
        r.counter = value
        trait = "sk:counter"
    ctx.note(f"security key {what} 0x{value:x}", trait)


def _same_type_other(c: Ctx) -> list[SshSigner]:
    return [k for k in c.world.ssh.values() if k.key_type == c.ssh_key.key_type and k.name != c.key]


@edit("ssh.forged", "ssh", "recipe", when=lambda c: bool(_same_type_other(c)))
def _s_forged(ctx: Ctx) -> None:
    r = ctx.sshrecipe()
    r.signer = ctx.rng.choice(_same_type_other(ctx))
    ctx.note(f"signed by {r.signer.name}, blob names {ctx.key}", "forged")


@edit("ssh.signed-differs", "ssh", "recipe")
def _s_differs(ctx: Ctx) -> None:
    r = ctx.sshrecipe()
    if ctx.rng.random() < 0.5:
        r.signed_namespace = b"file"
        ctx.note("blob says namespace git, signature covers namespace file", "ns:signed-differs")
    else:
        r.digest_with = "sha256"
        ctx.note("blob says sha512, signature covers a SHA-256 digest", "sshhash:digest-differs")


@edit("ssh.other-pubkey", "ssh", "recipe")
def _s_other_pub(ctx: Ctx) -> None:
    r = ctx.sshrecipe()
    r.key = ctx.other_ssh()
    ctx.note(f"blob names {r.key.name}'s public key", "pubkey:other-key")


# --- SSH: blob edits, not re-signed ------------------------------------------------


def _blob_fields(blob: bytes) -> list[bytes] | None:
    """``[magic+version, pubkey, namespace, reserved, hashalg, signature]`` or None."""
    try:
        out = [blob[:10]]
        pos = 10
        for _ in range(5):
            n = struct.unpack(">I", blob[pos : pos + 4])[0]
            if pos + 4 + n > len(blob):
                return None
            out.append(blob[pos + 4 : pos + 4 + n])
            pos += 4 + n
    except struct.error:
        return None
    return out if pos == len(blob) else None


def _blob_join(fields: Sequence[bytes]) -> bytes:
    return fields[0] + b"".join(ssh_string(f) for f in fields[1:])


def _sig_parts(sig: bytes) -> tuple[bytes, bytes, bytes] | None:
    """``(type, value, tail)`` of an SSH signature."""
    try:
        t = struct.unpack(">I", sig[:4])[0]
        v = struct.unpack(">I", sig[4 + t : 8 + t])[0]
    except struct.error:
        return None
    if 8 + t + v > len(sig):
        return None
    return sig[4 : 4 + t], sig[8 + t : 8 + t + v], sig[8 + t + v :]


def _edit_sig(ctx: Ctx, change: Callable[[bytes, bytes, bytes], bytes | None]) -> bool:
    fields = _blob_fields(ctx.body)
    parts = _sig_parts(fields[5]) if fields else None
    if fields is None or parts is None:
        return False
    new = change(*parts)
    if new is None:
        return False
    fields[5] = new
    ctx.body = _blob_join(fields)
    return True


edit("ssh.bit-flip", "ssh", "body")(_bit_flips(ssh_fields))
edit("ssh.truncate", "ssh", "body")(_truncation(ssh_fields, "blob cut to {cut} bytes (in {where})"))


@edit("ssh.trailing", "ssh", "body")
def _sb_trailing(ctx: Ctx) -> None:
    where = ctx.rng.choice(["blob", "pubkey", "signature"])
    fields = _blob_fields(ctx.body)
    if where == "blob" or fields is None:
        ctx.body += b"\x00\x00\x00\x00"
        ctx.note("four zero bytes after the blob", "blob:trailing")
        return
    i = 1 if where == "pubkey" else 5
    fields[i] += b"\x00"
    ctx.body = _blob_join(fields)
    ctx.note(f"a zero byte at the end of the {where} field", f"blob:{where}-trailing")


@edit("ssh.sig-value", "ssh", "body")
def _sb_value(ctx: Ctx) -> None:
    key_type = ctx.ssh_key.key_type

    def change(t: bytes, v: bytes, tail: bytes) -> bytes | None:
        if t in {b"ssh-ed25519", b"sk-ssh-ed25519@openssh.com"}:
            v = v[:-1] if ctx.rng.random() < 0.5 else v + b"\x00"
            ctx.note(f"Ed25519 signature value {len(v)} bytes", "blob:ed25519-len")
        elif t.startswith((b"rsa-", b"ssh-rsa")):
            if v[0] == 0 and ctx.rng.random() < 0.5:
                v = v[1:]
                ctx.note("RSA signature value shorter than the modulus", "blob:rsa-shorter")
            else:
                v = b"\x00" + v
                ctx.note("RSA signature value with a leading zero octet", "blob:rsa-longer")
        elif b"ecdsa" in t:
            try:
                r_len = struct.unpack(">I", v[:4])[0]
                r, s = v[4 : 4 + r_len], v[8 + r_len :]
            except struct.error:
                return None
            which = ctx.rng.choice(["nonminimal", "negative"])
            if which == "negative" and r[:1] == b"\x00":
                r = r[1:]
                ctx.note("ECDSA r without its sign octet (negative)", "blob:ec-negative")
            elif which == "negative" and s[:1] == b"\x00":
                s = s[1:]
                ctx.note("ECDSA s without its sign octet (negative)", "blob:ec-negative")
            else:
                r = b"\x00" + r
                ctx.note("ECDSA r with a superfluous zero octet", "blob:ec-nonminimal")
            v = ssh_string(r) + ssh_string(s)
        else:
            return None
        return ssh_string(t) + ssh_string(v) + tail

    if not _edit_sig(ctx, change):
        ctx.note(f"(signature value of {key_type} not editable)")


@edit("ssh.sig-type", "ssh", "body")
def _sb_type(ctx: Ctx) -> None:
    new = ctx.rng.choice([b"ssh-ed448", b"rsa-sha2-384", b"ecdsa-sha2-nistp384", b"ssh-dss"])

    def change(t: bytes, v: bytes, tail: bytes) -> bytes:
        return ssh_string(new) + ssh_string(v) + tail

    if _edit_sig(ctx, change):
        ctx.note(f"signature type renamed {new.decode()}", "blob:sigtype")
    else:
        ctx.note("(signature not parsable)")


@edit("ssh.sk-tail", "ssh", "body", when=lambda c: c.ssh_key.key_type.startswith("sk-"))
def _sb_sk(ctx: Ctx) -> None:
    what = ctx.rng.choice(["flags", "counter"])

    def change(t: bytes, v: bytes, tail: bytes) -> bytes | None:
        if len(tail) != 5:
            return None
        if what == "flags":
            tail = bytes([tail[0] ^ 0x04]) + tail[1:]
        else:
            tail = tail[:1] + struct.pack(">I", (struct.unpack(">I", tail[1:])[0] + 1) & 0xFFFFFFFF)
        return ssh_string(t) + ssh_string(v) + tail

    if _edit_sig(ctx, change):
        ctx.note(f"security key {what} changed after signing", f"blob:sk-{what}-changed")
    else:
        ctx.note("(signature not parsable)")


# --- assembling ----------------------------------------------------------------------


def fold(name: bytes, value: bytes) -> bytes:
    """A header as git writes it: continuation lines start with one space. Only the
    final newline of ``value`` is dropped, so blank lines after it are kept."""
    if value.endswith(b"\n"):
        value = value[:-1]
    first, *rest = value.split(b"\n")
    return name + b" " + first + b"\n" + b"".join(b" " + line + b"\n" for line in rest)


def _tool_signature(ctx: Ctx) -> bytes:
    scratch = ctx.world.base / "scratch"
    scratch.mkdir(exist_ok=True)
    if ctx.fmt == "openpgp":
        key = ctx.pgp_key
        return key.home.gpg(
            "-bsau", key.fpr.hex().upper() + "!", input=ctx.payload, faked_time=f"{ctx.created}!"
        )
    signer = ctx.ssh_key
    buf = scratch / "buffer"
    buf.write_bytes(ctx.payload)
    sig = Path(f"{buf}.sig")
    sig.unlink(missing_ok=True)
    program: str | Path = signer.program or "ssh-keygen"
    run([program, "-Y", "sign", "-n", "git", "-f", signer.path, buf], env=ctx.world.env)
    return sig.read_bytes()


def _unarmor(text: bytes) -> bytes:
    lines = text.strip().split(b"\n")[1:-1]
    if b"" in lines:  # OpenPGP: after the blank line, without the checksum
        lines = lines[lines.index(b"") + 1 :]
    return base64.b64decode(b"".join(line for line in lines if not line.startswith(b"=")))


def _payload(ctx: Ctx, seed: int, index: int) -> bytes:
    t = ctx.created
    message = b"fuzz seed %d mutation %d\n" % (seed, index)
    if ctx.kind == "commit":
        return (
            b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
            b"author Fuzz Author <author@example.com> %d +0000\n"
            b"committer Fuzz Committer <committer@example.com> %d +0000\n\n" % (t, t)
        ) + message
    return (
        b"object %s\ntype commit\ntag fuzz-%d\n"
        b"tagger Fuzz Tagger <tagger@example.com> %d +0000\n\n"
        % (ctx.world.base_commit.encode(), index, t)
    ) + message


def _assemble(ctx: Ctx) -> bytes:
    if ctx.kind == "tag":
        return ctx.payload + ctx.text + (ctx.duplicate or b"")
    headers = fold(ctx.header, ctx.text)
    if ctx.duplicate is not None:
        headers += fold(ctx.header, ctx.duplicate)
    headers += b"".join(ctx.extra_headers)
    head, _, message = ctx.payload.partition(b"\n\n")
    lines = [line + b"\n" for line in head.split(b"\n")]
    at = {"end": len(lines), "after-tree": 1, "after-author": 2}[ctx.placement]
    return b"".join(lines[:at]) + headers + b"".join(lines[at:]) + b"\n" + message


_PGP_WEIGHTS = {
    "pgp-rsa2048": 6, "pgp-rsa3072": 6, "pgp-ed25519": 6, "pgp-p256": 6, "pgp-subkey": 5,
    "pgp-rsa1024": 1, "pgp-expired": 2, "pgp-revoked": 1, "pgp-untrusted": 1, "pgp-unknown": 1,
}  # fmt: skip
_SSH_WEIGHTS = {
    "ssh-ed25519": 6, "ssh-ecdsa": 5, "ssh-rsa": 6, "ssh-sk-ed25519": 4, "ssh-sk-ecdsa": 4,
    "ssh-rsa1024": 1, "ssh-unknown": 1, "ssh-expired": 1, "ssh-file-only": 1,
}  # fmt: skip
TAG_SHARE = 0.12


def _names_signer(ctx: Ctx) -> bool:
    """Whether the key that signs is the one the signature names (after edits that
    change either)."""
    if ctx.ssh is not None:
        return ctx.ssh.key is ctx.ssh.signer
    r = ctx.recipe()
    named = b"".join(v for _, v in r.hashed + r.unhashed)
    return r.signer.fpr in named or (r.version != 4 and r.key is r.signer)


def _plan(seed: int) -> list[Edit]:
    """The order in which a seed walks the catalogue: every edit leads in turn."""
    order = list(EDITS)
    random.Random(f"gitguard-fuzz-plan:{seed}").shuffle(order)  # noqa: S311 - not crypto
    return order


def generate(world: FuzzWorld, seed: int, index: int) -> Mutation:
    """Mutation ``index`` of ``seed``: a function of the two alone (and of the key
    material). The leading edit walks the catalogue; 0-2 more are drawn at random."""
    plan = _plan(seed)
    primary = plan[index % len(plan)]
    rng = random.Random(f"gitguard-fuzz:{seed}:{index}")  # noqa: S311 - not crypto
    fmt = primary.fmt if primary.fmt != "any" else rng.choice(["openpgp", "ssh"])
    kind = "tag" if rng.random() < TAG_SHARE else "commit"
    weights = _PGP_WEIGHTS if fmt == "openpgp" else _SSH_WEIGHTS
    candidates: list[str] = []
    for k in (kind, "commit" if kind == "tag" else "tag"):
        candidates = [n for n in weights if primary.fits(Ctx(rng, world, fmt, k, n))]
        if candidates:
            kind = k
            break
    assert candidates, primary.name
    key = rng.choices(candidates, [weights[n] for n in candidates])[0]
    ctx = Ctx(rng, world, fmt, kind, key)
    chosen = [primary]
    for _ in range(rng.choices([0, 1, 2], [55, 33, 12])[0]):
        pool = [
            e
            for e in EDITS
            if e.fits(ctx)
            and not e.tool
            and e.name not in ("pgp.baseline", "ssh.baseline")
            and e not in chosen
            and not (e.layer in ("recipe", "payload") and any(c.tool for c in chosen))
            and not (e.v4only and any(c.makes_v3 for c in chosen))
            and not (e.makes_v3 and any(c.v4only or c.makes_v3 for c in chosen))
        ]
        if pool:
            chosen.append(rng.choice(pool))
    layer_of = {name: i for i, name in enumerate(LAYERS)}
    chosen.sort(key=lambda e: layer_of[e.layer])  # stable: the draw order within a layer

    ctx.created = BEFORE_EXPIRY if key == "pgp-expired" else SIG_TIME + index
    ctx.payload = _payload(ctx, seed, index)
    ctx.traits.update({f"fmt:{fmt}", f"kind:{kind}", f"key:{key}"})
    ctx.traits.update(f"edit:{e.name}" for e in chosen)
    if fmt == "openpgp":
        ctx.traits.add(f"trust:{ctx.pgp_key.trust}")
        algo = {PK_RSA: "rsa", PK_RSA_SIGN: "rsa", PK_ECDSA: "ecdsa", PK_EDDSA: "eddsa"}
        ctx.traits.add(f"keyalgo:{algo[ctx.pgp_key.algo]}")
        ctx.armor = ArmorSpec()
    else:
        ctx.traits.add(f"trust:{ctx.ssh_key.trust}")
        ctx.armor = _ssh_armor()
    by_layer = {layer: [e for e in chosen if e.layer == layer] for layer in LAYERS}
    later = any(by_layer[layer] for layer in ("body", "frame", "binary", "armor"))

    for e in by_layer["payload"]:
        e.apply(ctx)
    if fmt == "openpgp":
        ctx.pgp = PgpRecipe.default(ctx.pgp_key, ctx.created)
    else:
        ctx.ssh = SshRecipe(ctx.ssh_key, ctx.ssh_key)
    for e in by_layer["recipe"]:
        e.apply(ctx)
    if "forged" in ctx.traits and _names_signer(ctx):
        ctx.traits.discard("forged")
        ctx.note("(the signature names its signer after all: not a forgery)")
    if key == "pgp-expired":  # alive from its creation for one year (gpg's "1y")
        created = ctx.pgp.created if ctx.pgp is not None and not ctx.tool else ctx.created
        if OLD_KEY_TIME <= created < OLD_KEY_TIME + 365 * DAY:
            ctx.traits.add("time:before-key-expiry")
        elif created >= OLD_KEY_TIME + 365 * DAY:
            ctx.traits.add("time:after-key-expiry")
    verbatim = False
    if ctx.tool:
        ctx.text = _tool_signature(ctx)
        if later:
            raw = _unarmor(ctx.text)
            ctx.body = split_packets(raw)[0][1] if fmt == "openpgp" else raw
        else:
            verbatim = True
    elif ctx.pgp is not None:
        ctx.body = render_pgp(ctx.pgp, ctx.payload)
    else:
        ctx.body = render_ssh(ctx.sshrecipe(), ctx.payload)
    if not verbatim:
        for e in by_layer["body"]:
            e.apply(ctx)
        for e in by_layer["frame"]:
            e.apply(ctx)
        if fmt == "openpgp":
            ctx.binary = b"".join(ctx.before) + packet(2, ctx.body, ctx.style) + b"".join(ctx.after)
        else:
            ctx.binary = ctx.body
        for e in by_layer["binary"]:
            e.apply(ctx)
        for e in by_layer["armor"]:
            e.apply(ctx)
        armor = armor_pgp if fmt == "openpgp" else armor_ssh
        ctx.text = armor(ctx.binary, ctx.armor)
    for e in by_layer["text"]:
        e.apply(ctx)
    for e in by_layer["object"]:
        e.apply(ctx)
    raw = _assemble(ctx)
    return Mutation(seed, index, fmt, kind, key, tuple(ctx.steps), frozenset(ctx.traits), raw)


def mutations(world: FuzzWorld, seed: int, count: int, start: int = 0) -> Iterator[Mutation]:
    for index in range(start, start + count):
        yield generate(world, seed, index)


# --------------------------------------------------------------------------- the oracles

ABORT = "abort"  # git died on the object ("bad/incompatible signature")
NO_ANSWER = "?"  # git kept dying of SIGPIPE (its own race), no verdict


def _git(
    repo: Repo, args: Sequence[str], stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """A git command in ``repo``, run again while git dies of SIGPIPE (its race;
    see :func:`gitfixtures.git_answer`)."""
    argv = ["git", "-C", str(repo.path), *args]
    return git_answer(argv, input=stdin, env=repo.env, timeout=600)


def _log_codes(repo: Repo, oids: Sequence[str]) -> dict[str, str]:
    """``git log --no-walk --format='%H %G?'`` over ``oids`` (on stdin); a batch git
    cannot finish is split until the object it dies on is alone."""
    if not oids:
        return {}
    proc = _git(
        repo,
        ["log", "--no-walk=unsorted", "--stdin", "--format=%H %G?"],
        "\n".join(oids).encode() + b"\n",
    )
    if proc.returncode == 0:
        codes = dict(line.split(" ", 1) for line in proc.stdout.decode().splitlines() if line)
        assert set(codes) == set(oids), "git log answered for other objects"
        return codes
    if len(oids) == 1:
        err = proc.stderr.decode("utf-8", "replace")
        if proc.returncode == -signal.SIGPIPE:
            return {oids[0]: NO_ANSWER}
        assert "bad/incompatible signature" in err, f"git log failed: {err}"
        return {oids[0]: ABORT}
    half = len(oids) // 2
    return {**_log_codes(repo, oids[:half]), **_log_codes(repo, oids[half:])}


def _tag_code(repo: Repo, oid: str, raw: bytes) -> str:
    _, sig = git_split_tag(raw)
    proc = _git(repo, ["verify-tag", "--raw", oid])
    if proc.returncode == -signal.SIGPIPE:
        return NO_ANSWER
    text = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    if not sig:
        assert "no signature found" in text, text
        return "N"
    return parse_verify_output(text, sig).code


def git_codes(repo: Repo, objects: Sequence[tuple[str, str, bytes]]) -> dict[str, str]:
    """git's ``%G?`` letter for each ``(oid, kind, raw)``: commits in batches through
    ``git log``, those git will die on one by one (:data:`ABORT`), tags through
    ``git verify-tag --raw`` each."""
    codes: dict[str, str] = {}
    batch: list[str] = []
    for oid, kind, raw in objects:
        if kind == "tag":
            codes[oid] = _tag_code(repo, oid, raw)
            continue
        _, sig, _ = git_split_commit(raw, b"gpgsig")
        if sig and not sig.startswith(tuple(ARMORS)):
            codes.update(_log_codes(repo, [oid]))
        else:
            batch.append(oid)
    for i in range(0, len(batch), 500):
        codes.update(_log_codes(repo, batch[i : i + 500]))
    return codes


STATUSES = frozenset(
    {"good", "unsigned", "bad-signature", "unknown-key", "not-allowed", "expired-key",
     "revoked-key", "not-yet-valid", "identity-mismatch", "weak-algorithm", "unproven-time",
     "malformed"}
)  # fmt: skip
GIT_LETTERS = frozenset("GBUXYREN")


def contract_problems(doc: Any) -> list[str]:
    """What is wrong with a ``guard audit --format json`` document (README: a stable
    contract)."""
    problems: list[str] = []
    if not isinstance(doc, dict) or doc.get("version") != 1:
        return [f"not a version 1 document: {str(doc)[:200]}"]
    results = doc.get("results")
    if not isinstance(results, list):
        return ["no results list"]
    for r in results:
        if not isinstance(r, dict):
            problems.append(f"result is not an object: {r!r}")
            continue
        where = r.get("object", "?")
        if not isinstance(r.get("object"), str) or len(r["object"]) != 40:
            problems.append(f"{where}: bad object id {r.get('object')!r}")
        if r.get("kind") not in ("commit", "tag", "mergetag"):
            problems.append(f"{where}: bad kind {r.get('kind')!r}")
        if r.get("status") not in STATUSES:
            problems.append(f"{where}: bad status {r.get('status')!r}")
        if r.get("git_code") not in GIT_LETTERS:
            problems.append(f"{where}: bad git_code {r.get('git_code')!r}")
        if r.get("format") not in ("openpgp", "ssh", "x509", None):
            problems.append(f"{where}: bad format {r.get('format')!r}")
        if not isinstance(r.get("reason"), str) or not r["reason"]:
            problems.append(f"{where}: no reason")
        for name in ("key", "signer"):
            if r.get(name) is not None and not isinstance(r[name], str):
                problems.append(f"{where}: {name} is not a string")
        if r.get("status") != "good" and not r.get("hint"):
            problems.append(f"{where}: not good and no hint")
    summary = doc.get("summary")
    if not isinstance(summary, dict) or summary.get("total") != len(results):
        problems.append(f"summary total does not match: {summary!r:.200}")
    return problems


@dataclass
class Outcome:
    """One mutation, what git said and what gitguard said."""

    mutation: Mutation
    oid: str
    git: str
    ours: dict[str, Any]

    @property
    def code(self) -> str:
        return str(self.ours.get("git_code"))

    @property
    def status(self) -> str:
        return str(self.ours.get("status"))

    @property
    def agrees(self) -> bool:
        return self.code == self.git


@dataclass
class Campaign:
    seed: int
    outcomes: list[Outcome]
    audit_rc: int
    contract: list[str]
    missing: list[str]
    timings: dict[str, float]


def audit(world: FuzzWorld, revisions: Sequence[str], out: Path) -> tuple[int, dict[str, Any], str]:
    """``guard audit REVISIONS --jobs 1 --format json`` in-process: one run, one
    Verifier for every object. Returns (exit status, document, stderr)."""
    result = run_audit(world.repo, *revisions, "--jobs", "1", out=out)
    try:
        doc = json.loads(result.output)
    except json.JSONDecodeError:
        doc = {}
    return result.rc, doc, result.stderr


def run_campaign(world: FuzzWorld, seed: int, count: int, *, start: int = 0, out: Path) -> Campaign:
    """Generate ``count`` mutations, write them into the repository, ask git and
    ``guard audit`` (one run) about all of them."""
    t0 = time.monotonic()
    muts = list(mutations(world, seed, count, start))
    t1 = time.monotonic()
    objects: list[tuple[str, str, bytes]] = []
    for m in muts:
        (oid,) = write_objects(world.repo, m.kind, [m.raw])
        objects.append((oid, m.kind, m.raw))
    git = git_codes(world.repo, objects)
    t2 = time.monotonic()
    rc, doc, _stderr = audit(world, [oid for oid, _, _ in objects], out)
    t3 = time.monotonic()
    contract = contract_problems(doc)
    ours: dict[tuple[str, str], dict[str, Any]] = {}
    for r in doc.get("results", []) if isinstance(doc, dict) else []:
        ours[(str(r.get("kind")), str(r.get("object")))] = r
    outcomes, missing = [], []
    for m, (oid, kind, _raw) in zip(muts, objects, strict=True):
        result = ours.get((kind, oid))
        if result is None:
            missing.append(f"{m.describe()}: {kind} {oid} has no result")
            continue
        outcomes.append(Outcome(m, oid, git[oid], result))
    timings = {"generate": t1 - t0, "git": t2 - t1, "guard audit": t3 - t2}
    return Campaign(seed, outcomes, rc, contract, missing, timings)


def verify_alone(world: FuzzWorld, outcome: Outcome, out: Path) -> dict[str, Any] | None:
    """The verdict ``guard audit`` gives the object when it is the only one (a fresh
    process state: new trust store, new Verifier)."""
    _rc, doc, _ = audit(world, [outcome.oid], out)
    for r in doc.get("results", []):
        if r.get("object") == outcome.oid and r.get("kind") == outcome.mutation.kind:
            return dict(r)
    return None
