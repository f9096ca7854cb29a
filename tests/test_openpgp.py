"""The OpenPGP verifier against real gpg 2.2, with throwaway keys.

Keys are generated once per module in a private GNUPGHOME (``signing``), certificates
are imported into a second one (``oracle``) that mirrors gitguard's trust store, and
every case is judged twice: by :class:`OpenPGPVerifier` and by ``gpg --status-fd``
(never its human text), whose status lines are mapped to git's ``%G?`` letter the way
git's gpg-interface.c does. Where gitguard deliberately differs from gpg, the case
says so and the test asserts both verdicts.

Signatures gpg cannot be made to produce (v3, predating the key, critical unknown
subpackets, …) are crafted here from the throwaway secret keys, with cryptography.
"""

from __future__ import annotations

import hashlib
import random
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pysequoia
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from gitfixtures import GPG_RESULTS
from gitguard.model import Format, OpenPGPTrustedCert, Status, TrustStore, Verification
from gitguard.signatures import Verifier
from gitguard.signatures import _openpgp_crypto as cr
from gitguard.signatures import _openpgp_packets as pk
from gitguard.signatures.openpgp import CertInfo, OpenPGPVerifier, certificate_info

DAY = 86400
NOW = int(time.time())
T0 = NOW - 30 * DAY  # when the throwaway keys are "created"

ED25519 = "Key-Type: eddsa\nKey-Curve: ed25519\nKey-Usage: sign\n"
CERT_ONLY_ED25519 = "Key-Type: eddsa\nKey-Curve: ed25519\nKey-Usage: cert\n"
SIGNING_SUBKEY = "Subkey-Type: eddsa\nSubkey-Curve: ed25519\nSubkey-Usage: sign\n"


def rsa_params(bits: int) -> str:
    return f"Key-Type: RSA\nKey-Length: {bits}\nKey-Usage: sign\n"


def ecdsa_params(curve: str) -> str:
    return f"Key-Type: ecdsa\nKey-Curve: {curve}\nKey-Usage: sign\n"


def payload(n: int) -> bytes:
    """A commit-shaped payload."""
    return (
        b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
        b"author A U Thor <author@example.com> 1700000000 +0000\n"
        b"committer C O Mitter <committer@example.com> 1700000000 +0000\n\n"
        + f"change number {n}\n".encode()
    )


# --- gpg --------------------------------------------------------------------------


class GnuPG:
    """One GNUPGHOME, always named explicitly; never the developer's."""

    def __init__(self, home: Path) -> None:
        home.mkdir(mode=0o700)
        self.home = home

    def run(
        self, *args: str, stdin: bytes = b"", at: int | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        cmd = ["gpg", "--homedir", str(self.home), "--batch", "--no-tty"]
        cmd += ["--pinentry-mode", "loopback", "--passphrase", ""]
        if at is not None:
            cmd += ["--faked-system-time", f"{at}!"]
        return subprocess.run(
            [*cmd, *args], input=stdin, capture_output=True, check=False, timeout=120
        )

    def ok(self, *args: str, stdin: bytes = b"", at: int | None = None) -> bytes:
        result = self.run(*args, stdin=stdin, at=at)
        if result.returncode != 0:
            raise AssertionError(f"gpg {' '.join(args)} failed:\n{result.stderr.decode()}")
        return result.stdout

    def generate(
        self,
        name: str,
        key: str,
        *,
        at: int = T0,
        expire: str = "0",
        extra: str = "",
        options: tuple[str, ...] = (),
    ) -> str:
        params = (
            f"%no-protection\n{key}{extra}Name-Real: {name}\n"
            f"Name-Email: {name}@example.com\nExpire-Date: {expire}\n%commit\n"
        )
        out = self.ok(*options, "--status-fd", "1", "--gen-key", stdin=params.encode(), at=at)
        for line in out.decode().splitlines():
            if line.startswith("[GNUPG:] KEY_CREATED"):
                return line.split()[3]
        raise AssertionError(f"gpg did not report the key it created: {out!r}")

    def sign(self, fpr: str, data: bytes, *, at: int, options: tuple[str, ...] = ()) -> bytes:
        return self.ok("-u", fpr, *options, "--detach-sign", "--armor", stdin=data, at=at)

    def export(self, fpr: str) -> bytes:
        return self.ok("--export", fpr)

    def edit(self, fpr: str, commands: str, *, at: int) -> None:
        self.ok("--command-fd", "0", "--edit-key", fpr, stdin=commands.encode(), at=at)

    def kill_agent(self) -> None:
        subprocess.run(
            ["gpgconf", "--homedir", str(self.home), "--kill", "gpg-agent"],
            capture_output=True,
            check=False,
            timeout=60,
        )


def git_letter(status: str) -> str:
    """git's ``%G?`` for gpg's status output (gpg-interface.c ``parse_gpg_output`` and
    pretty.c): one exclusive status sets the letter, two are an error (``E``), none
    leaves ``N``; a good signature without marginal-or-better trust is ``U``."""
    result, seen, trust = "N", 0, "UNDEFINED"
    for line in status.splitlines():
        words = line.split()
        if len(words) < 2 or words[0] != "[GNUPG:]":
            continue
        if words[1] in GPG_RESULTS:
            seen += 1
            if seen > 1:
                return "E"
            result = GPG_RESULTS[words[1]]
        elif words[1].startswith("TRUST_"):
            trust = words[1][len("TRUST_") :]
    if result == "G" and trust in ("UNDEFINED", "NEVER"):
        return "U"
    return result


# --- crafting signatures gpg will not make -----------------------------------------


def mpi(value: bytes) -> bytes:
    value = value.lstrip(b"\0")
    bits = (len(value) - 1) * 8 + value[0].bit_length() if value else 0
    return bits.to_bytes(2, "big") + value


def subpacket(kind: int, value: bytes) -> bytes:
    return bytes([len(value) + 1, kind]) + value


def packet(tag: int, body: bytes) -> bytes:
    if len(body) < 192:
        return bytes([0xC0 | tag, len(body)]) + body
    return bytes([0xC0 | tag, 0xFF]) + len(body).to_bytes(4, "big") + body


def armor(binary: bytes) -> bytes:
    """Armor with sequoia's encoder (CRC included): independent of the parser tested."""
    return pysequoia.armor(binary, pysequoia.ArmorKind.Signature).encode()


def _read_mpis(data: bytes, count: int) -> list[bytes]:
    values, pos = [], 0
    for _ in range(count):
        size = ((data[pos] << 8 | data[pos + 1]) + 7) // 8
        values.append(data[pos + 2 : pos + 2 + size])
        pos += 2 + size
    return values


@dataclass
class SecretKey:
    """A throwaway secret key taken out of gpg (unprotected), able to sign digests."""

    fpr: bytes
    pk_algo: int
    sign_digest: Callable[[bytes], bytes]  # digest -> signature MPIs

    @classmethod
    def from_gpg(cls, gpg: GnuPG, fpr: str) -> SecretKey:
        public = dict(pk.split_packets(gpg.export(fpr)))[pk.TAG_PUBLIC_KEY]
        secret = dict(pk.split_packets(gpg.ok("--export-secret-keys", fpr)))[5]
        key = pk.parse_public_key(public)
        rest = secret[len(public) :]
        assert secret.startswith(public)
        assert rest[0] == 0, "the secret key must be unprotected"
        if key.pk_algo == pk.PK_EDDSA_LEGACY:
            (seed,) = _read_mpis(rest[1:], 1)
            private = ed25519.Ed25519PrivateKey.from_private_bytes(seed.rjust(32, b"\0"))

            def sign_ed(digest: bytes) -> bytes:
                sig = private.sign(digest)
                return mpi(sig[:32]) + mpi(sig[32:])

            return cls(key.fingerprint, key.pk_algo, sign_ed)
        assert key.pk_algo == pk.PK_RSA
        d, p, q, _u = (int.from_bytes(v, "big") for v in _read_mpis(rest[1:], 4))
        n, e = (int.from_bytes(v, "big") for v in key.material)
        numbers = rsa.RSAPrivateNumbers(
            p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q),
            rsa.RSAPublicNumbers(e, n),
        )  # fmt: skip
        private_rsa = numbers.private_key()

        def sign_rsa(digest: bytes) -> bytes:
            return mpi(private_rsa.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256())))

        return cls(key.fingerprint, key.pk_algo, sign_rsa)

    def v4(
        self,
        data: bytes,
        *,
        created: int,
        sig_type: int = 0x00,
        extra_hashed: bytes = b"",
        issuer: bool = True,
        hash_algo: int = 8,
    ) -> bytes:
        """A v4 signature packet (SHA-256, or ``hash_algo`` for EdDSA keys) with the
        given hashed subpackets."""
        hashed = subpacket(2, created.to_bytes(4, "big")) + extra_hashed
        if issuer:
            hashed += subpacket(33, b"\x04" + self.fpr)
        unhashed = subpacket(16, self.fpr[-8:]) if issuer else b""
        head = bytes([4, sig_type, self.pk_algo, hash_algo]) + len(hashed).to_bytes(2, "big")
        head += hashed
        digest = cr.digest(hash_algo, (data, head, b"\x04\xff" + len(head).to_bytes(4, "big")))
        assert digest is not None
        body = head + len(unhashed).to_bytes(2, "big") + unhashed + digest[:2]
        return packet(pk.TAG_SIGNATURE, body + self.sign_digest(digest))

    def v3(self, data: bytes, *, created: int) -> bytes:
        """A version 3 signature packet (RFC 4880 section 5.2.2), SHA-256."""
        stamp = created.to_bytes(4, "big")
        digest = hashlib.sha256(data + b"\x00" + stamp).digest()
        body = bytes([3, 5, 0x00]) + stamp + self.fpr[-8:] + bytes([self.pk_algo, 8])
        return packet(pk.TAG_SIGNATURE, body + digest[:2] + self.sign_digest(digest))


# --- the world: keys, certificates, cases ------------------------------------------


@dataclass
class Case:
    """One signature over one payload, as handed to both verifiers."""

    data: bytes
    signature: bytes


@dataclass
class World:
    signing: GnuPG
    oracle: GnuPG
    fprs: dict[str, str] = field(default_factory=dict)
    certs: dict[str, bytes] = field(default_factory=dict)  # as exported from the oracle
    untrusted: set[str] = field(default_factory=set)
    cases: dict[str, Case] = field(default_factory=dict)
    verifier: OpenPGPVerifier | None = None
    tmp: Path = Path()

    def gpg_letter(self, case: Case) -> str:
        sig_file = self.tmp / "case.asc"
        sig_file.write_bytes(case.signature)
        result = self.oracle.run(
            "--status-fd", "1", "--verify", str(sig_file), "-", stdin=case.data
        )
        return git_letter(result.stdout.decode(errors="replace"))

    def ours(self, case: Case) -> Verification:
        assert self.verifier is not None
        return self.verifier.verify(case.data, case.signature, when=None)


def _trust(world: World, name: str, fpr: str, *, trusted: bool = True) -> None:
    world.fprs[name] = fpr
    world.oracle.ok("--import", stdin=world.signing.export(fpr))
    if trusted:
        world.oracle.ok("--import-ownertrust", stdin=f"{fpr}:6:\n".encode())
    else:
        world.untrusted.add(name)


def _build_world(tmp: Path) -> World:
    world = World(GnuPG(tmp / "signing"), GnuPG(tmp / "oracle"), tmp=tmp)
    s = world.signing
    cases = world.cases
    data = payload(1)
    at = T0 + DAY

    # Plain good signatures, one per algorithm.
    for name, params in [
        ("rsa2048", rsa_params(2048)),
        ("rsa3072", rsa_params(3072)),
        ("ed25519", ED25519),
        ("p256", ecdsa_params("nistp256")),
        ("p384", ecdsa_params("nistp384")),
        ("rsa1024", rsa_params(1024)),
    ]:
        fpr = s.generate(name, params)
        _trust(world, name, fpr)
        cases[name] = Case(data, s.sign(fpr, data, at=at))

    # A certification-only primary key with a signing subkey.
    fpr = s.generate("subkey", CERT_ONLY_ED25519, extra=SIGNING_SUBKEY)
    _trust(world, "subkey", fpr)
    cases["subkey"] = Case(data, s.sign(fpr, data, at=at))

    # Tampering.
    good = cases["ed25519"]
    flipped = bytearray(data)
    flipped[60] ^= 0x01
    cases["flipped-payload"] = Case(bytes(flipped), good.signature)
    cases["transplanted"] = Case(payload(2), cases["rsa3072"].signature)

    # Weak hash.
    cases["sha1"] = Case(
        data, s.sign(world.fprs["rsa2048"], data, at=at, options=("--digest-algo", "SHA1"))
    )

    # Signature that carries its own expiry (1 day), long past.
    cases["signature-expired"] = Case(
        data,
        s.sign(world.fprs["ed25519"], data, at=at, options=("--default-sig-expire", "1d")),
    )

    # A key created with a 2-day lifetime: signed while alive, expired now.
    fpr = s.generate("shortlived", ED25519, expire="2d")
    _trust(world, "shortlived", fpr)
    cases["signed-before-expiry"] = Case(data, s.sign(fpr, data, at=T0 + DAY // 2))

    # A key that signed on day 5, then got (day 1 self-signature) a lifetime to day 2.
    fpr = s.generate("expiredlater", ED25519)
    cases["signed-after-expiry"] = Case(data, s.sign(fpr, data, at=T0 + 5 * DAY))
    s.ok("--quick-set-expire", fpr, "1d", at=T0 + DAY)
    _trust(world, "expiredlater", fpr)

    # Expiry extended later: gpg *replaces* the self-signature, so the signature now
    # predates the key's only binding (sequoia refuses; gpg and gitguard accept).
    fpr = s.generate("extended", ED25519, expire="20d")
    cases["signed-before-rebinding"] = Case(data, s.sign(fpr, data, at=at))
    s.ok("--quick-set-expire", fpr, "1y", at=T0 + 2 * DAY)
    _trust(world, "extended", fpr)
    fpr = s.generate("extendedsub", CERT_ONLY_ED25519, expire="20d", extra=SIGNING_SUBKEY)
    cases["subkey-signed-before-rebinding"] = Case(data, s.sign(fpr, data, at=at))
    s.ok("--quick-set-expire", fpr, "1y", "*", at=T0 + 2 * DAY)
    s.ok("--quick-set-expire", fpr, "1y", at=T0 + 2 * DAY)
    _trust(world, "extendedsub", fpr)

    # Self-signatures made with SHA-1 (as gpg 1.x made them).
    fpr = s.generate("sha1bound", ED25519, options=("--cert-digest-algo", "SHA1"))
    _trust(world, "sha1bound", fpr)
    cases["sha1-binding"] = Case(data, s.sign(fpr, data, at=at))

    # Hard revocation (gpg's own revocation certificate, reason "no reason").
    fpr = s.generate("revoked", ED25519)
    cases["revoked"] = Case(data, s.sign(fpr, data, at=at))
    _trust(world, "revoked", fpr)
    rev = (s.home / "openpgp-revocs.d" / f"{fpr}.rev").read_bytes().replace(b":-----", b"-----")
    world.oracle.ok("--import", stdin=rev)

    # Soft revocation ("superseded") on day 3: signatures before it stay good.
    fpr = s.generate("superseded", ED25519)
    cases["superseded-before"] = Case(data, s.sign(fpr, data, at=T0 + DAY))
    cases["superseded-after"] = Case(data, s.sign(fpr, data, at=T0 + 5 * DAY))
    s.edit(fpr, "revkey\ny\n2\nsuperseded\n\ny\nsave\n", at=T0 + 3 * DAY)
    _trust(world, "superseded", fpr)

    # A revoked signing subkey.
    fpr = s.generate("revokedsub", CERT_ONLY_ED25519, extra=SIGNING_SUBKEY)
    cases["revoked-subkey"] = Case(data, s.sign(fpr, data, at=at))
    s.edit(fpr, "key 1\nrevkey\ny\n0\n\ny\nsave\n", at=T0 + 2 * DAY)
    _trust(world, "revokedsub", fpr)

    # Known but not trusted; and not known at all.
    fpr = s.generate("untrusted", ED25519)
    _trust(world, "untrusted", fpr, trusted=False)
    cases["untrusted"] = Case(data, s.sign(fpr, data, at=at))
    fpr = s.generate("stranger", ED25519)
    world.fprs["stranger"] = fpr
    cases["unknown-key"] = Case(data, s.sign(fpr, data, at=at))

    # Text-mode signature (type 0x01) over an LF payload.
    cases["text-mode"] = Case(
        data, s.sign(world.fprs["ed25519"], data, at=at, options=("--textmode",))
    )

    # Crafted from the throwaway secret keys.
    ed = SecretKey.from_gpg(s, world.fprs["ed25519"])
    rsa_key = SecretKey.from_gpg(s, world.fprs["rsa2048"])
    cases["crafted-good"] = Case(data, armor(ed.v4(data, created=at)))
    cases["v3"] = Case(data, armor(rsa_key.v3(data, created=at)))
    cases["predates-key"] = Case(data, armor(ed.v4(data, created=T0 - DAY)))
    cases["future"] = Case(data, armor(ed.v4(data, created=NOW + 2 * 3600)))
    cases["clock-skew"] = Case(data, armor(ed.v4(data, created=NOW + 240)))
    cases["critical-unknown"] = Case(
        data, armor(ed.v4(data, created=at, extra_hashed=subpacket(0x80 | 100, b"x")))
    )
    cases["no-issuer"] = Case(data, armor(ed.v4(data, created=at, issuer=False)))
    cases["certification-type"] = Case(data, armor(ed.v4(data, created=at, sig_type=0x13)))
    two = pk.dearmor(cases["ed25519"].signature).data + pk.dearmor(cases["p256"].signature).data
    cases["two-signatures"] = Case(data, armor(two))

    # Armor damage.
    text = good.signature
    lines = text.split(b"\n")
    crc_at = next(i for i, line in enumerate(lines) if line.startswith(b"="))
    bad_crc = lines.copy()
    bad_crc[crc_at] = b"=AAAA" if lines[crc_at] != b"=AAAA" else b"=BBBB"
    cases["bad-crc-only"] = Case(data, b"\n".join(bad_crc))
    damaged = lines.copy()
    body_line = damaged[crc_at - 1]
    # Change one base64 character deep in the signature value; the CRC is now stale.
    swap = b"A" if body_line[10:11] != b"A" else b"B"
    damaged[crc_at - 1] = body_line[:10] + swap + body_line[11:]
    cases["damaged-body"] = Case(data, b"\n".join(damaged))
    cases["truncated-armor"] = Case(data, text[: len(text) // 2])
    cases["garbage-base64"] = Case(
        data, b"-----BEGIN PGP SIGNATURE-----\n\n!!!!not base64!!!!\n-----END PGP SIGNATURE-----\n"
    )
    huge = bytes([0xC0 | pk.TAG_SIGNATURE, 0xFF]) + (2**32 - 1).to_bytes(4, "big") + b"\x04\x00"
    cases["huge-length"] = Case(data, armor(huge))

    trust = []
    for name, fpr in world.fprs.items():
        if name == "stranger":
            continue
        cert = world.oracle.export(fpr)
        world.certs[name] = cert
        trust.append(
            OpenPGPTrustedCert(
                signer=name, cert=cert, source=f"{name}.asc", trusted=name not in world.untrusted
            )
        )
    world.verifier = OpenPGPVerifier(trust)
    return world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("openpgp")
    try:
        yield _build_world(tmp)
    finally:
        for home in (tmp / "signing", tmp / "oracle"):
            if home.exists():
                subprocess.run(
                    ["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"],
                    capture_output=True,
                    check=False,
                    timeout=60,
                )


# --- every case, against gpg ------------------------------------------------------

G, B, E, N, U, X, Y, R = "G", "B", "E", "N", "U", "X", "Y", "R"

# case: (our status, our git code, git's letter from gpg's status lines, why they differ)
EXPECTED: dict[str, tuple[Status, str | None, str, str]] = {
    "rsa2048": (Status.GOOD, G, G, ""),
    "rsa3072": (Status.GOOD, G, G, ""),
    "ed25519": (Status.GOOD, G, G, ""),
    "p256": (Status.GOOD, G, G, ""),
    "p384": (Status.GOOD, G, G, ""),
    "subkey": (Status.GOOD, G, G, ""),
    "crafted-good": (Status.GOOD, G, G, ""),
    "clock-skew": (Status.GOOD, G, G, ""),
    "signed-before-rebinding": (Status.GOOD, G, G, ""),
    "subkey-signed-before-rebinding": (Status.GOOD, G, G, ""),
    "untrusted": (Status.UNKNOWN_KEY, U, U, ""),
    "unknown-key": (Status.UNKNOWN_KEY, E, E, ""),
    "no-issuer": (Status.UNKNOWN_KEY, E, E, ""),
    "flipped-payload": (Status.BAD_SIGNATURE, B, B, ""),
    "transplanted": (Status.BAD_SIGNATURE, B, B, ""),
    "critical-unknown": (Status.BAD_SIGNATURE, B, B, ""),
    "signature-expired": (Status.EXPIRED_KEY, X, X, ""),
    "signed-after-expiry": (Status.EXPIRED_KEY, Y, Y, ""),
    "revoked": (Status.REVOKED_KEY, R, R, ""),
    "revoked-subkey": (Status.REVOKED_KEY, R, R, ""),
    "superseded-after": (Status.REVOKED_KEY, R, R, ""),
    # Documented differences: gitguard is deliberately different from gpg 2.2 here.
    "signed-before-expiry": (
        Status.GOOD, G, Y, "gpg's EXPKEYSIG means expired *now*; the key was alive when it signed",
    ),
    "superseded-before": (
        Status.GOOD, G, R, "a soft revocation only affects later signatures (RFC 9580, sequoia)",
    ),
    "sha1": (Status.WEAK_ALGORITHM, B, G, "SHA-1 signatures are refused"),
    "rsa1024": (Status.WEAK_ALGORITHM, B, G, "RSA below 2048 bits is refused"),
    "sha1-binding": (Status.GOOD, G, G, ""),  # with a warning; "refuse" is tested below
    "text-mode": (Status.BAD_SIGNATURE, B, G, "git signs binary documents (type 0x00) only"),
    "certification-type": (Status.BAD_SIGNATURE, B, E, "a wrong signature type is bad"),
    "v3": (Status.GOOD, G, G, ""),
    "two-signatures": (Status.MALFORMED, None, E, "a git signature is exactly one packet"),
    "predates-key": (Status.NOT_YET_VALID, None, E, "named for what it is"),
    "future": (Status.NOT_YET_VALID, None, G, "gpg 2.2 accepts signatures from the future"),
    "bad-crc-only": (
        Status.GOOD, G, N, "RFC 9580 6.1: MUST NOT reject for a CRC-24 mismatch (gpg 2.2 does)",
    ),
    "damaged-body": (Status.MALFORMED, None, N, "git shows a broken signature as unsigned"),
    "truncated-armor": (Status.MALFORMED, None, N, "git shows a broken signature as unsigned"),
    "garbage-base64": (Status.MALFORMED, None, N, "git shows a broken signature as unsigned"),
    "huge-length": (Status.MALFORMED, None, N, "git shows a broken signature as unsigned"),
}  # fmt: skip


def test_every_case_has_an_expectation(world: World) -> None:
    assert set(world.cases) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case_against_gpg(world: World, name: str) -> None:
    status, code, gpg_code, difference = EXPECTED[name]
    case = world.cases[name]
    ours = world.ours(case)
    theirs = world.gpg_letter(case)
    assert ours.format is Format.OPENPGP
    assert (ours.status, ours.git_code) == (status, code), ours.reason
    assert theirs == gpg_code, f"gpg's verdict changed for {name}"
    if not difference:
        assert ours.git_code == theirs
    assert ours.reason


def _validsig(world: World, case: Case) -> tuple[str, int, str]:
    """(signing key fingerprint, creation time, primary fingerprint) from gpg."""
    sig_file = world.tmp / "validsig.asc"
    sig_file.write_bytes(case.signature)
    out = world.oracle.run("--status-fd", "1", "--verify", str(sig_file), "-", stdin=case.data)
    for line in out.stdout.decode().splitlines():
        words = line.split()
        if words[:2] == ["[GNUPG:]", "VALIDSIG"]:
            return words[2], int(words[4]), words[-1]
    raise AssertionError("gpg printed no VALIDSIG")


@pytest.mark.parametrize(
    ("name", "signer"),
    [("rsa2048", "rsa2048"), ("ed25519", "ed25519"), ("p384", "p384"), ("subkey", "subkey")],
)
def test_good_signature_names_key_primary_signer_and_time(
    world: World, name: str, signer: str
) -> None:
    case = world.cases[name]
    ours = world.ours(case)
    key, created, primary = _validsig(world, case)
    assert ours.status is Status.GOOD
    assert (ours.key, ours.primary_key, ours.signed_at) == (key, primary, created)
    assert ours.signer == signer
    assert ours.identities == (f"{signer}@example.com",)
    assert primary == world.fprs[signer]
    if name == "subkey":
        assert ours.key != ours.primary_key


def test_unknown_key_names_the_issuer(world: World) -> None:
    ours = world.ours(world.cases["unknown-key"])
    assert ours.key == world.fprs["stranger"]
    assert ours.signer is None
    assert ours.primary_key is None


def test_dispatcher_routes_openpgp_signatures(world: World) -> None:
    store = TrustStore(openpgp=(OpenPGPTrustedCert("ed", world.certs["ed25519"], "ed.asc"),))
    case = world.cases["ed25519"]
    result = Verifier(store).verify(case.data, case.signature, when=None)
    assert (result.status, result.signer) == (Status.GOOD, "ed")


# --- validity intervals ------------------------------------------------------------


def test_sequoia_is_asked_once_per_validity_interval(world: World) -> None:
    ed = SecretKey.from_gpg(world.signing, world.fprs["ed25519"])
    verifier = OpenPGPVerifier([OpenPGPTrustedCert("ed", world.certs["ed25519"], "ed.asc")])
    for n in range(5):
        data = payload(100 + n)
        sig = armor(ed.v4(data, created=T0 + DAY + n * 3600))
        assert verifier.verify(data, sig, when=None).status is Status.GOOD
    assert len(verifier._cache) == 1  # one interval, one sequoia check
    early = armor(ed.v4(payload(200), created=T0 - 3 * DAY))
    for _ in range(2):
        result = verifier.verify(payload(200), early, when=None)
        assert result.status is Status.NOT_YET_VALID
    assert len(verifier._cache) == 2  # the refusal is cached for its interval too


def test_verdicts_change_exactly_at_the_certificate_breakpoints(world: World) -> None:
    """``expiredlater``: created T0 without expiry; its only self-signature (T0 + 1 day)
    gives it a lifetime to T0 + 2 days. One verifier, signatures in four intervals."""
    key = SecretKey.from_gpg(world.signing, world.fprs["expiredlater"])
    verifier = OpenPGPVerifier([OpenPGPTrustedCert("x", world.certs["expiredlater"], "x.asc")])
    expected = [
        (T0 - 1, Status.NOT_YET_VALID),  # before the key existed
        (T0 + DAY // 2, Status.GOOD),  # before its (re-)binding: judged as gpg does
        (T0 + DAY + 10, Status.GOOD),  # bound and alive
        (T0 + 2 * DAY - 1, Status.GOOD),  # last second alive
        (T0 + 2 * DAY, Status.EXPIRED_KEY),  # expired
        (T0 + 9 * DAY, Status.EXPIRED_KEY),
    ]
    for created, status in expected * 2:  # the second round is served from the cache
        data = payload(created)
        result = verifier.verify(data, armor(key.v4(data, created=created)), when=None)
        assert result.status is status, (created - T0, result.reason)
    # Intervals: before T0; [T0+1, T0+1d); [T0+1d+1, T0+2d); [T0+2d, T0+2d+1); after.
    assert len(verifier._cache) == 5


# --- certificates ------------------------------------------------------------------


def test_certificate_info_lists_keys_and_emails(world: World) -> None:
    (info,) = certificate_info(world.certs["subkey"], "keys/subkey.asc")
    assert isinstance(info, CertInfo)
    assert info.fingerprint == world.fprs["subkey"]
    assert info.key_fingerprints[0] == info.fingerprint
    assert len(info.key_fingerprints) == 2
    assert info.emails == ("subkey@example.com",)
    assert info.user_ids == ("subkey <subkey@example.com>",)
    assert info.source == "keys/subkey.asc"


def test_certificate_info_reads_armored_bundles(world: World) -> None:
    fprs = [world.fprs["ed25519"], world.fprs["rsa3072"]]
    bundle = world.oracle.ok("--export", "--armor", *fprs)
    assert sorted(i.fingerprint for i in certificate_info(bundle, "team.asc")) == sorted(fprs)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"  \n", "empty"),
        (b"not a certificate at all", "not a valid OpenPGP certificate"),
        (b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n",
         "team.asc"),
    ],
)  # fmt: skip
def test_certificate_info_refuses_bad_input(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        certificate_info(data, "team.asc")
    assert str(info.value).startswith("team.asc: ")


def test_certificate_info_refuses_a_signature(world: World) -> None:
    with pytest.raises(ValueError, match=r"^sig\.asc: "):
        certificate_info(world.cases["ed25519"].signature, "sig.asc")


def test_certificate_info_refuses_secret_keys(world: World) -> None:
    secret = world.signing.ok("--export-secret-keys", "--armor", world.fprs["ed25519"])
    with pytest.raises(ValueError, match="secret key material"):
        certificate_info(secret, "oops.asc")


def test_unreadable_trusted_certificate_is_reported_not_raised(world: World) -> None:
    verifier = OpenPGPVerifier(
        [
            OpenPGPTrustedCert("broken", b"garbage", "broken.asc"),
            OpenPGPTrustedCert("ed", world.certs["ed25519"], "ed.asc"),
        ]
    )
    assert len(verifier.problems) == 1
    assert verifier.problems[0].startswith("broken.asc: ")
    case = world.cases["ed25519"]
    assert verifier.verify(case.data, case.signature, when=None).status is Status.GOOD
    unknown = world.cases["unknown-key"]
    result = verifier.verify(unknown.data, unknown.signature, when=None)
    assert result.status is Status.UNKNOWN_KEY
    assert "broken.asc" in result.reason


def test_dsa_keys_are_refused_by_the_algorithm_policy() -> None:
    # A bare v4 DSA key packet is a certificate to sequoia; its numbers never get used.
    fake = b"".join(mpi(bytes([0x80 | i]) + bytes(31)) for i in range(4))
    body = bytes([4]) + T0.to_bytes(4, "big") + bytes([pk.PK_DSA]) + fake
    key = pk.parse_public_key(body)
    verifier = OpenPGPVerifier([OpenPGPTrustedCert("old", packet(pk.TAG_PUBLIC_KEY, body))])
    hashed = subpacket(2, (T0 + DAY).to_bytes(4, "big")) + subpacket(33, b"\x04" + key.fingerprint)
    head = bytes([4, 0, pk.PK_DSA, 8]) + len(hashed).to_bytes(2, "big") + hashed
    sig = head + b"\x00\x00" + b"\x12\x34" + mpi(b"\x01" * 20) + mpi(b"\x02" * 20)
    result = verifier.verify(b"data", armor(packet(pk.TAG_SIGNATURE, sig)), when=None)
    assert result.status is Status.WEAK_ALGORITHM
    assert "DSA" in result.reason
    assert result.key == key.hex


# --- primitives and armor ----------------------------------------------------------


def test_ed25519_backends_agree(world: World) -> None:
    public = world.certs["ed25519"]
    key = pk.parse_public_key(dict(pk.split_packets(public))[pk.TAG_PUBLIC_KEY])
    raw_public = key.material[1][1:]
    sodium = cr.ed25519_sodium(raw_public)
    assert sodium is not None, "PyNaCl (libsodium) is a dependency: the fast path must exist"
    openssl = cr.ed25519_openssl(raw_public)
    ed = SecretKey.from_gpg(world.signing, world.fprs["ed25519"])
    digest = hashlib.sha256(b"message").digest()
    signature = b"".join(v.rjust(32, b"\0") for v in _read_mpis(ed.sign_digest(digest), 2))
    for sig, msg, good in [
        (signature, digest, True),
        (signature, digest[:-1] + b"\0", False),
        (signature[:63] + bytes([signature[63] ^ 1]), digest, False),
        (signature[:32] + bytes(32), digest, False),
    ]:
        assert sodium(sig, msg) is good
        assert openssl(sig, msg) is good


def test_armor_variants_gpg_and_sequoia_accept(world: World) -> None:
    case = world.cases["ed25519"]
    lines = case.signature.decode().strip().split("\n")
    no_crc = "\n".join(line for line in lines if not line.startswith("="))
    with_headers = "\n".join([lines[0], "Comment: made by a test", "Version: X", *lines[1:]])
    crlf = "\r\n".join(lines) + "\r\n"
    for text in (no_crc, with_headers, crlf, "\n\n  " + "\n".join(lines) + "\n\n"):
        result = world.verifier.verify(case.data, text.encode(), when=None)  # type: ignore[union-attr]
        assert result.status is Status.GOOD, (text, result.reason)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t + b"\ntrailing text\n",
        lambda t: b"preamble\n" + t,
        lambda t: t.replace(b"\n\n", b"\nComment: no blank line follows\n", 1),
        lambda t: t.replace(b"BEGIN PGP SIGNATURE", b"BEGIN PGP MESSAGE"),
        lambda t: t + t,
        lambda t: b"-----BEGIN PGP SIGNATURE-----\n\n-----END PGP SIGNATURE-----\n",
        lambda t: b"",
    ],
)
def test_armor_that_is_not_one_signature_block_is_malformed(
    world: World, mangle: Callable[[bytes], bytes]
) -> None:
    case = world.cases["ed25519"]
    result = world.verifier.verify(case.data, mangle(case.signature), when=None)  # type: ignore[union-attr]
    assert result.status is Status.MALFORMED, result.reason


def test_crc24_matches_sequoia_armor(world: World) -> None:
    raw = pk.dearmor(world.cases["rsa3072"].signature).data
    footer = armor(raw).split(b"\n=")[1][:4]
    assert pk.crc24(raw) == int.from_bytes(__import__("base64").b64decode(footer), "big")


# --- robustness --------------------------------------------------------------------


def _value_octets(body: bytes, offset: int) -> set[int]:
    """Positions (in the packet, ``offset`` = its header length) of the octets that
    hold the signature value of the v4 signature packet ``body``."""
    hashed_end = 6 + int.from_bytes(body[4:6], "big")
    pos = hashed_end + 2 + int.from_bytes(body[hashed_end : hashed_end + 2], "big") + 2
    if body[2] in (pk.PK_ED25519, pk.PK_ED448):
        return set(range(offset + pos, offset + len(body)))
    found: set[int] = set()
    while pos < len(body):
        size = (int.from_bytes(body[pos : pos + 2], "big") + 7) // 8
        found |= set(range(offset + pos + 2, offset + pos + 2 + size))
        pos += 2 + size
    return found


def test_fuzzed_signatures_never_raise_and_never_pass_when_signed_bytes_change(
    world: World,
) -> None:
    """Bit flips and truncations: never an exception; never ``good`` when a hashed or
    signature byte changed; and a warm verifier (interval verdicts cached) always agrees
    with a cold one (cache emptied, so sequoia re-checks every signature)."""
    warm = world.verifier
    assert warm is not None
    cold = OpenPGPVerifier([OpenPGPTrustedCert(n, c, f"{n}.asc") for n, c in world.certs.items()])
    rng = random.Random(4880)  # noqa: S311 - reproducible fuzzing, not cryptography
    for name in ("ed25519", "rsa3072", "p256", "subkey"):
        case = world.cases[name]
        raw = pk.dearmor(case.signature).data
        body = pk.split_packets(raw)[0][1]
        sig = pk.parse_signature(body)
        header = len(raw) - len(body)
        # The hashed area, and the signature value: the MPIs' value octets (their bit
        # counts only frame them, and the left-16 octets are an unsigned quick check).
        protected = set(range(header, header + len(sig.hashed_part)))
        protected |= _value_octets(body, header)
        for _ in range(60):
            mutated = bytearray(raw)
            at = rng.randrange(len(raw))
            mutated[at] ^= 1 << rng.randrange(8)
            signature = armor(bytes(mutated))
            result = warm.verify(case.data, signature, when=None)
            cold._cache.clear()
            assert cold.verify(case.data, signature, when=None).status is result.status
            if at in protected:
                assert result.status is not Status.GOOD, (name, at, result.reason)
        for _ in range(30):
            cut = rng.randrange(len(raw))
            assert warm.verify(case.data, armor(raw[:cut]), when=None).status in (
                Status.MALFORMED,
                Status.UNKNOWN_KEY,
                Status.BAD_SIGNATURE,
            )
            text = case.signature
            where = rng.randrange(len(text))
            garbled = text[:where] + bytes([rng.randrange(256)]) + text[where + 1 :]
            assert isinstance(warm.verify(case.data, garbled, when=None), Verification)
            assert isinstance(warm.verify(case.data, text[:where], when=None), Verification)
        for _ in range(20):
            noise = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
            assert warm.verify(case.data, armor(noise), when=None).status is not Status.GOOD


def _notation(name: bytes, value: bytes, flags: bytes = b"\x80\0\0\0") -> bytes:
    return flags + len(name).to_bytes(2, "big") + len(value).to_bytes(2, "big") + name + value


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        (subpacket(20, _notation(b"review@example.com", b"yes")), Status.GOOD),
        (subpacket(26, b"https://example.com/policy"), Status.GOOD),
        (subpacket(28, b"ed25519@example.com"), Status.GOOD),
        (subpacket(4, b"\0"), Status.GOOD),  # not exportable
        (subpacket(99, b"private use, not critical"), Status.GOOD),
        (subpacket(30, b"\x01"), Status.GOOD),
        (subpacket(3, (10 * 365 * DAY).to_bytes(4, "big")), Status.GOOD),  # expires later
        (subpacket(3, DAY.to_bytes(4, "big")), Status.EXPIRED_KEY),
        (subpacket(0x80 | 20, _notation(b"must@example.com", b"x")), Status.BAD_SIGNATURE),
        (subpacket(0x80 | 2, (T0 + DAY).to_bytes(4, "big")), Status.MALFORMED),  # repeated
        # GnuPG does not honour a critical signer's user ID (can_handle_critical).
        (subpacket(0x80 | 28, b"ed25519@example.com"), Status.BAD_SIGNATURE),
        (subpacket(16, b"\1" * 8), Status.MALFORMED),  # issuer key id disagrees
        (subpacket(2, b"\0\0\0"), Status.MALFORMED),
        (subpacket(20, b"\x80\0\0\0\0\x05\0\x01abc"), Status.MALFORMED),
    ],
)
def test_signed_subpackets_judged_alike_with_and_without_cache(
    world: World, extra: bytes, status: Status
) -> None:
    """Whatever a signer puts in the hashed area, the verdict must not depend on whether
    sequoia is consulted (first signature of an interval) or not (later ones)."""
    key = SecretKey.from_gpg(world.signing, world.fprs["ed25519"])
    data = payload(7)
    signature = armor(key.v4(data, created=T0 + DAY, extra_hashed=extra))
    cert = [OpenPGPTrustedCert("ed", world.certs["ed25519"], "ed.asc")]
    warm = OpenPGPVerifier(cert)
    warm.verify(world.cases["ed25519"].data, world.cases["ed25519"].signature, when=None)
    cold = OpenPGPVerifier(cert)
    ours_warm = warm.verify(data, signature, when=None)
    ours_cold = cold.verify(data, signature, when=None)
    assert ours_warm.status is ours_cold.status is status, (ours_warm.reason, ours_cold.reason)


# --- what the OpenPGP ecosystem writes: judged by value, gpg as the oracle ----------


def _reframe(sig_packet: bytes, edit: Callable[[bytearray, int], None]) -> bytes:
    """``sig_packet`` with ``edit(body, tail)`` applied to its body, where ``tail`` is
    the position of the quick-check octets (the unsigned end of a v4 packet)."""
    (_, body), *_ = pk.split_packets(sig_packet)
    hashed_end = 6 + int.from_bytes(body[4:6], "big")
    tail = hashed_end + 2 + int.from_bytes(body[hashed_end : hashed_end + 2], "big")
    edited = bytearray(body)
    edit(edited, tail)
    return packet(pk.TAG_SIGNATURE, bytes(edited))


def _widen_mpis(body: bytearray, tail: int) -> None:
    """Every MPI one zero octet longer, with its bit count raised to match: a value
    encoded with leading zero bits, as Go's OpenPGP library (GitHub) writes them."""
    values = _read_mpis(bytes(body[tail + 2 :]), 2 if body[2] != pk.PK_RSA else 1)
    body[tail + 2 :] = b"".join((8 * len(v) + 8).to_bytes(2, "big") + b"\0" + v for v in values)


def _flip_quick_check(body: bytearray, tail: int) -> None:
    body[tail] ^= 0xFF


def _unhashed(extra: bytes) -> Callable[[bytearray, int], None]:
    def edit(body: bytearray, tail: int) -> None:
        hashed_end = 6 + int.from_bytes(body[4:6], "big")
        area = bytes(body[hashed_end + 2 : tail]) + extra
        body[hashed_end:tail] = len(area).to_bytes(2, "big") + area

    return edit


@pytest.mark.parametrize("name", ["rsa2048", "ed25519"])
@pytest.mark.parametrize(
    ("edit", "note"),
    [
        (_widen_mpis, None),
        (_flip_quick_check, "quick-check octets"),
        (_unhashed(subpacket(0x80 | 100, b"x")), None),
        (_unhashed(subpacket(0x80 | 28, b"someone@example.com")), None),
    ],
    ids=[
        "non-minimal-mpis",
        "wrong-quick-check",
        "critical-unknown-unhashed",
        "critical-28-unhashed",
    ],
)
def test_encodings_are_judged_as_gpg_judges_them(
    world: World, name: str, edit: Callable[[bytearray, int], None], note: str | None
) -> None:
    """Non-minimal MPI bit counts and a wrong quick check are encoding matters (the
    value decides; gpg and Sequoia verify such signatures); an unknown critical
    subpacket invalidates a signature in either area. The fast path, the sequoia
    path (cold cache) and gpg agree."""
    key = SecretKey.from_gpg(world.signing, world.fprs[name])
    data = payload(31)
    case = Case(data, armor(_reframe(key.v4(data, created=T0 + DAY), edit)))
    expected = "B" if edit not in (_widen_mpis, _flip_quick_check) else "G"
    assert world.gpg_letter(case) == expected
    warm = world.ours(case)
    cold = OpenPGPVerifier([OpenPGPTrustedCert(name, world.certs[name], f"{name}.asc")])
    fresh = cold.verify(data, case.signature, when=None)
    assert (warm.status, warm.git_code) == (fresh.status, fresh.git_code), fresh.reason
    assert warm.git_code == expected, warm.reason
    if note is not None:
        assert note in warm.reason


def test_issuer_fingerprint_only_in_the_unhashed_area_selects_the_key(world: World) -> None:
    """Documented difference: gpg reads the issuer fingerprint from the hashed area only
    and says E without an issuer key id; the issuer merely selects which trusted key
    the signature must verify under, so gitguard (like Sequoia) uses it from either."""
    key = SecretKey.from_gpg(world.signing, world.fprs["ed25519"])
    data = payload(32)
    bare = key.v4(data, created=T0 + DAY, issuer=False)
    sig = _reframe(bare, _unhashed(subpacket(33, b"\x04" + key.fpr)))
    case = Case(data, armor(sig))
    assert world.gpg_letter(case) == "E"
    assert world.ours(case).status is Status.GOOD


def test_v3_signatures_are_verified_never_malformed(world: World) -> None:
    """RFC 4880 v3 packets (git.git's 2005-2008 tags): verified like v4; an unknown
    key stays unknown-key, a SHA-1 one weak-algorithm, a damaged one bad-signature."""
    key = SecretKey.from_gpg(world.signing, world.fprs["rsa2048"])
    data = payload(33)
    good = key.v3(data, created=T0 + DAY)
    assert world.ours(Case(data, armor(good))).status is Status.GOOD
    bad = world.ours(Case(payload(34), armor(good)))
    assert (bad.status, bad.git_code) == (Status.BAD_SIGNATURE, "B")
    at = len(good) - len(pk.split_packets(good)[0][1])  # the packet header's length
    stranger = bytearray(good)
    stranger[at + 7] ^= 0xFF  # the issuer key id
    unknown = world.ours(Case(data, armor(bytes(stranger))))
    assert (unknown.status, unknown.git_code) == (Status.UNKNOWN_KEY, "E")
    sha1 = bytearray(good)
    sha1[at + 16] = 2  # the hash algorithm: not hashed in v3, so the value must fail too
    weak = world.ours(Case(data, armor(bytes(sha1))))
    assert weak.status in (Status.WEAK_ALGORITHM, Status.BAD_SIGNATURE)


def test_sha1_self_signatures_warn_by_default_and_refuse_when_asked(world: World) -> None:
    case = world.cases["sha1-binding"]
    cert = [OpenPGPTrustedCert("old", world.certs["sha1bound"], "old.asc")]
    lenient = OpenPGPVerifier(cert)
    assert lenient.verify(case.data, case.signature, when=None).status is Status.GOOD
    (warning,) = lenient.warnings
    assert warning.key == world.fprs["sha1bound"]
    assert "SHA-1 self-signatures" in warning.message
    assert f"--quick-set-expire {world.fprs['sha1bound']}" in warning.message
    strict = OpenPGPVerifier(cert, sha1_self_signatures="refuse")
    refused = strict.verify(case.data, case.signature, when=None)
    assert (refused.status, refused.git_code) == (Status.WEAK_ALGORITHM, "B")
    assert "uses SHA-1" in refused.reason
    assert "refused" in strict.warnings[0].message
    modern = OpenPGPVerifier([OpenPGPTrustedCert("ed", world.certs["ed25519"], "ed.asc")])
    assert modern.warnings == []


def test_cached_verdict_is_keyed_by_everything_signed(world: World) -> None:
    """A verdict is a function of the signature and the trust alone: two signatures by
    one key in one validity interval that differ in a signed subpacket sequoia judges
    (here a signature expiry already passed) get their own verdicts in either order."""
    key = SecretKey.from_gpg(world.signing, world.fprs["ed25519"])
    plain = Case(payload(35), armor(key.v4(payload(35), created=T0 + DAY)))
    expiring = Case(
        payload(36),
        armor(key.v4(payload(36), created=T0 + DAY + 5, extra_hashed=subpacket(3, b"\0\0\0\x01"))),
    )
    cert = [OpenPGPTrustedCert("ed", world.certs["ed25519"], "ed.asc")]
    for order in ((plain, expiring), (expiring, plain)):
        verifier = OpenPGPVerifier(cert)
        seen = {id(c): verifier.verify(c.data, c.signature, when=None).status for c in order}
        assert seen[id(plain)] is Status.GOOD
        assert seen[id(expiring)] is Status.EXPIRED_KEY


@pytest.mark.parametrize(
    ("hash_algo", "status", "words"),
    [
        (12, Status.BAD_SIGNATURE, "SHA3-256, which gitguard does not accept"),
        (11, Status.BAD_SIGNATURE, "SHA-224, which gitguard does not accept"),
        (2, Status.WEAK_ALGORITHM, "uses SHA-1, which gitguard refuses"),
        (10, Status.GOOD, "good signature"),
    ],
)
def test_data_signature_hashes(world: World, hash_algo: int, status: Status, words: str) -> None:
    key = SecretKey.from_gpg(world.signing, world.fprs["ed25519"])
    data = payload(41)
    result = world.ours(Case(data, armor(key.v4(data, created=T0 + DAY, hash_algo=hash_algo))))
    assert result.status is status, result.reason
    assert words in result.reason


def test_repeated_signature_expiration_is_malformed(world: World) -> None:
    """gpg reads the first, RFC 9580 the last: gitguard refuses to choose."""
    key = SecretKey.from_gpg(world.signing, world.fprs["ed25519"])
    data = payload(42)
    twice = subpacket(3, (10 * DAY).to_bytes(4, "big")) + subpacket(3, b"\0\0\0\x01")
    result = world.ours(Case(data, armor(key.v4(data, created=T0 + DAY, extra_hashed=twice))))
    assert (result.status, result.reason) == (
        Status.MALFORMED,
        "signature has a repeated expiration time",
    )


def test_indeterminate_length_and_v2_packets(world: World) -> None:
    key = SecretKey.from_gpg(world.signing, world.fprs["rsa2048"])
    data = payload(43)
    body = pk.split_packets(key.v3(data, created=T0 + DAY))[0][1]
    indeterminate = bytes([0x80 | (pk.TAG_SIGNATURE << 2) | 3]) + body
    result = world.ours(Case(data, armor(indeterminate)))
    assert result.status is Status.MALFORMED
    assert "indeterminate length" in result.reason
    v2 = packet(pk.TAG_SIGNATURE, b"\x02" + body[1:])
    assert world.ours(Case(data, armor(v2))).status is Status.GOOD
