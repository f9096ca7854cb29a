"""Signed pushes: ``git push --signed`` into repositories whose rule says
``require_signed_push = true``, the certificate verified by our engine (SSH and
OpenPGP), and the certificates git itself would let through — none, one signed by a
key the rule does not allow, one replayed from an earlier push (its nonce is then
``BAD``; over stateless HTTP, ``SLOP`` once it is older than
``receive.certNonceSlop``).

A replay needs a client that sends an old certificate: :func:`replay` speaks git's
push protocol to a real ``git receive-pack`` (as a transport would), sending the
certificate bytes captured from the server's object store after the first push.
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitfixtures import (
    GpgHome,
    GpgKey,
    Repo,
    Signer,
    gpg_signing_key,
    openpgp_signer,
    ssh_signer,
    tool_env,
)
from gitguard.model import TrustStore
from gitguard.server.pushcert import (
    PushCert,
    PushCertError,
    check_certificate,
    parse_certificate,
    remember_certificate,
    replay_key,
    split_signature,
)
from gitguard.signatures import Verifier
from gitguard.trust.policy import Policy
from receivefixtures import (
    Keys,
    Push,
    Server,
    pkt_lines,
    push,
    push_cert_request,
    signed_push,
    stored_certificate,
)

Z = "0" * 40


@dataclass(frozen=True)
class Identities:
    keys: Keys
    gpg: GpgHome
    carol: GpgKey
    carol_cert: Path


@pytest.fixture(scope="module")
def ids(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Identities]:
    tmp = tmp_path_factory.mktemp("pushcert-keys")
    with gpg_signing_key(tmp, "Carol <carol@example.com>", "carol") as (gpg, carol, cert):
        yield Identities(keys, gpg, carol, cert)


def _policy(ids: Identities, path: Path, *, signers: str = '["alice", "carol"]') -> Path:
    k = ids.keys
    path.write_text(
        f"""version = 1

[trust]
openpgp = ["{ids.carol_cert}"]

[[signer]]
name = "alice"
emails = ["alice@example.com"]
keys = ["{k.alice.public_line}"]

[[signer]]
name = "bob"
emails = ["bob@example.com"]
keys = ["{k.bob.public_line}"]

[[signer]]
name = "carol"
keys = ["openpgp:{ids.carol.fingerprint}"]

[[rule]]
refs = ["refs/heads/*"]
require = "signed"
signers = {signers}
require_signed_push = true
allow_delete = true
"""
    )
    return path


class World:
    def __init__(self, tmp: Path, ids: Identities) -> None:
        self.tmp = tmp
        self.ids = ids
        self.env = tool_env(tmp / "home")
        self.alice = ssh_signer(ids.keys.alice)
        self.server = Server.create(tmp / "srv.git", self.env)
        self.policy = _policy(ids, tmp / "policy.toml")
        self.server.install(self.policy)
        self.client = Repo.init(tmp / "client", self.env)
        self.head = self.client.commit("signed work", signer=self.alice)

    def signed_push(self, signer: Signer, *refspecs: str) -> Push:
        return signed_push(self.client, self.server, signer, *refspecs)


@pytest.fixture
def world(tmp_path: Path, ids: Identities) -> World:
    return World(tmp_path, ids)


def test_install_asks_for_push_certificates(world: World) -> None:
    assert len(world.server.git("config", "receive.certNonceSeed").strip()) == 64
    assert world.server.git("config", "receive.certNonceSlop").strip() == "30"


def test_signed_push_ssh(world: World) -> None:
    p = world.signed_push(world.alice, "HEAD:refs/heads/main")
    assert p.returncode == 0, p.stderr
    assert p.remote == [
        f"gitguard: push certificate signed by alice ({world.ids.keys.alice.fingerprint})",
        "gitguard: refs/heads/main: accepted: 1 new commit signed by allowed signers "
        "(push signed by alice)",
    ]
    assert world.server.ref("refs/heads/main") == world.head


def test_signed_push_openpgp(world: World) -> None:
    carol = openpgp_signer(world.ids.carol)
    p = world.signed_push(carol, "HEAD:refs/heads/main")
    assert p.returncode == 0, p.stderr
    assert (
        p.remote[0] == f"gitguard: push certificate signed by carol ({world.ids.carol.fingerprint})"
    )


def test_unsigned_push_is_refused(world: World) -> None:
    p = push(world.client, world.server, "HEAD:refs/heads/main")
    assert p.returncode != 0
    assert (
        "  signed push required (rule policy.toml:20): this push is not signed: "
        "push with `git push --signed`"
    ) in p.remote
    assert (
        "gitguard: refs/heads/main: rejected: signed push required: this push is not signed: "
        "push with `git push --signed`"
    ) in p.remote
    assert world.server.ref("refs/heads/main") is None


def test_push_signed_by_a_signer_the_rule_does_not_allow(world: World) -> None:
    p = world.signed_push(ssh_signer(world.ids.keys.bob), "HEAD:refs/heads/main")
    assert p.returncode != 0
    assert (
        "  the push certificate is signed by bob, who may not push to refs/heads/main "
        "(rule policy.toml:20 allows alice, carol)"
    ) in p.remote
    assert world.server.ref("refs/heads/main") is None


def test_push_signed_by_an_unknown_key(world: World) -> None:
    p = world.signed_push(ssh_signer(world.ids.keys.mallory), "HEAD:refs/heads/main")
    assert p.returncode != 0
    assert any(
        line.startswith(
            "  signed push required (rule policy.toml:20): certificate signature: unknown-key: "
        )
        for line in p.remote
    ), p.report


# --------------------------------------------------------------------------- replays


def replay(server: Server, cert: bytes, *, stateless: bool) -> tuple[list[bytes], str]:
    """Send ``cert`` (its ref updates are the commands) to ``git receive-pack`` with an
    empty pack: the objects are already on the server. Returns the report-status lines
    and receive-pack's stderr (the hooks' output)."""
    request = push_cert_request(cert, b"report-status")
    argv = ["git", "receive-pack", *(["--stateless-rpc"] if stateless else []), str(server.path)]
    proc = subprocess.run(
        argv, input=request, capture_output=True, env=server.env, timeout=60, check=False
    )
    pkts = pkt_lines(proc.stdout)
    if not stateless:
        pkts = pkts[pkts.index(b"") + 1 :]  # skip the ref advertisement
    return [p for p in pkts if p], proc.stderr.decode("utf-8", "replace")


def _first_signed_push_then_ref_removed(world: World) -> bytes:
    p = world.signed_push(world.alice, "HEAD:refs/heads/topic")
    assert p.returncode == 0, p.stderr
    cert = stored_certificate(world.server)
    assert f"{Z} {world.head} refs/heads/topic\n".encode() in cert
    world.server.git("update-ref", "-d", "refs/heads/topic")  # an administrator removes it
    return cert


def _next_second() -> None:
    """Sleep into the next second: git's nonces change once a second."""
    time.sleep(1.02 - time.time() % 1)


REPLAYED = (
    "  signed push required (rule policy.toml:20): this certificate was already used by "
    "an earlier push: a replayed certificate"
)


def test_replayed_certificate_is_refused(world: World) -> None:
    cert = _first_signed_push_then_ref_removed(world)
    _next_second()

    status, stderr = replay(world.server, cert, stateless=False)

    assert b"ng refs/heads/topic pre-receive hook declined\n" in status
    lines = stderr.splitlines()
    assert REPLAYED in lines
    assert (
        "  signed push required (rule policy.toml:20): nonce status BAD: the certificate's "
        "nonce is not the one this server issued for this push: a replayed or forged "
        "certificate"
    ) in lines
    assert world.server.ref("refs/heads/topic") is None

    # git alone accepts the replay: the guard is what stops it.
    hooks = world.server.path / "hooks"
    hooks.rename(world.tmp / "hooks-away")
    status, _ = replay(world.server, cert, stateless=False)
    assert b"ok refs/heads/topic\n" in status
    assert world.server.ref("refs/heads/topic") == world.head


def test_replay_git_accepts_is_refused(world: World) -> None:
    """Over stateless HTTP git accepts a nonce up to receive.certNonceSlop seconds old
    (30, as installed), and within the second it was issued anywhere: git says OK, the
    guard remembers the certificate and refuses it."""
    cert = _first_signed_push_then_ref_removed(world)

    status, stderr = replay(world.server, cert, stateless=True)

    assert b"ng refs/heads/topic pre-receive hook declined\n" in status
    assert REPLAYED in stderr.splitlines()
    assert "nonce status" not in stderr  # git itself found nothing wrong
    assert world.server.ref("refs/heads/topic") is None


def test_stale_nonce_over_stateless_http_is_refused(world: World) -> None:
    world.server.git("config", "receive.certNonceSlop", "1")
    cert = _first_signed_push_then_ref_removed(world)
    _next_second()
    _next_second()  # the nonce is now older than the allowed slop

    status, stderr = replay(world.server, cert, stateless=True)

    assert b"ng refs/heads/topic pre-receive hook declined\n" in status
    assert "nonce status SLOP: the certificate's nonce was issued for an earlier request" in (
        stderr
    )
    assert world.server.ref("refs/heads/topic") is None


# --------------------------------------------------------------------------- pure


CERT = f"""certificate version 0.1
pusher SHA256:abc 1700000000 +0000
pushee file:///srv/app.git
nonce 1700000000-ffff
push-option ci.skip

{Z} {"a" * 40} refs/heads/main
{"b" * 40} {Z} refs/heads/old
""".encode()
SIG = b"-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n"


def test_parse_certificate() -> None:
    cert = parse_certificate(CERT + SIG)
    assert cert.pusher == "SHA256:abc 1700000000 +0000"
    assert cert.pushee == "file:///srv/app.git"
    assert cert.nonce == "1700000000-ffff"
    assert cert.options == ("ci.skip",)
    assert cert.updates == ((Z, "a" * 40, "refs/heads/main"), ("b" * 40, Z, "refs/heads/old"))
    assert cert.payload == CERT
    assert cert.signature == SIG
    assert split_signature(CERT) == (CERT, None)


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"certificate version 0.2\npusher x\n\n", "certificate version '0.2' is not 0.1"),
        (b"hello\n\n", "does not start with `certificate version`"),
        (b"certificate version 0.1\npusher x\n", "no blank line after its headers"),
        (b"certificate version 0.1\npushee x\n\n", "no `pusher` header"),
        (b"certificate version 0.1\npusher x\nnonce 1\nnonce 2\n\n", "more than one `nonce`"),
        (b"certificate version 0.1\npusher x\n\nnot an update\n", "malformed update line"),
        (b"certificate version 0.1\npusher \xff\n\n", "not UTF-8"),
    ],
)
def test_malformed_certificates(blob: bytes, message: str) -> None:
    with pytest.raises(PushCertError, match=message):
        parse_certificate(blob)


def _check(cert: PushCert | None, updates: list[tuple[str, str, str]]) -> tuple[str, ...]:
    policy = Policy(source="p.toml", version=1, trust=TrustStore())
    return check_certificate(
        cert, updates, verifier=Verifier(TrustStore()), policy=policy, now=1_700_000_000
    ).problems


def test_certificate_problems_are_all_reported() -> None:
    updates = [(Z, "a" * 40, "refs/heads/main")]
    assert _check(None, updates) == ("this push is not signed: push with `git push --signed`",)
    problems = _check(PushCert(CERT, "OK", "1700000000-ffff"), updates)
    assert problems == (
        "the certificate's ref updates differ from the push: it lists "
        f"{'b' * 40} {Z} refs/heads/old not pushed",
        "the certificate is not signed",
    )
    problems = _check(PushCert(CERT + SIG, "UNSOLICITED", ""), updates[:0])
    assert problems[0].startswith("nonce status UNSOLICITED: the server did not ask")
    assert (
        problems[1] == "the certificate's nonce is not the nonce this server issued for this push"
    )
    assert "it does not list" not in problems[2]
    assert problems[-1].startswith("certificate signature: malformed")


def test_used_certificates_are_remembered_for_a_day(tmp_path: Path) -> None:
    cert = PushCert(CERT + SIG, "OK", "1700000000-ffff")
    assert not remember_certificate(cert, str(tmp_path), 1_000_000).reused
    assert remember_certificate(cert, str(tmp_path), 1_000_001).reused
    other = PushCert(CERT.replace(b"ci.skip", b"ci.run") + SIG, "OK", "1700000000-ffff")
    assert not remember_certificate(other, str(tmp_path), 1_000_002).reused
    # A day later the first one is forgotten (its nonce is long unacceptable by then).
    assert not remember_certificate(cert, str(tmp_path), 1_000_000 + 86_401).reused
    lines = (tmp_path / "gitguard" / "push-certs").read_text().splitlines()
    assert [int(x.split()[0]) for x in lines] == [1_000_002, 1_086_401]
    assert [x.split()[1] for x in lines] == [replay_key(other.blob), replay_key(cert.blob)]


SIG_WRAPPED = b"-----BEGIN SSH SIGNATURE-----\nAA\nAA\n-----END SSH SIGNATURE-----\n"


@pytest.mark.parametrize(
    "replayed",
    [
        CERT + SIG + b"\n",  # what follows the signature
        CERT + SIG + b"\n\n\n",
        CERT + SIG[:-1],  # the END line's newline
        CERT + SIG_WRAPPED,  # the armor's line wrapping
        CERT + b"-----BEGIN SSH SIGNATURE-----\nBBBB\n-----END SSH SIGNATURE-----\n",  # value
        CERT + b"-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n",
    ],
)
def test_a_replay_is_recognised_by_its_signed_content(tmp_path: Path, replayed: bytes) -> None:
    """Issue 11 item 6: whatever follows or wraps the signature, and whatever the
    signature's value, the same signed content is the same certificate."""
    assert replay_key(replayed) == replay_key(CERT + SIG)
    first = PushCert(CERT + SIG, "OK", "1700000000-ffff")
    assert not remember_certificate(first, str(tmp_path), 1_000_000).reused
    again = PushCert(replayed, "OK", "1700000000-ffff")
    assert remember_certificate(again, str(tmp_path), 1_000_001).reused


def test_records_of_whole_blobs_are_still_recognised(tmp_path: Path) -> None:
    """Records written before the key was the signed content (digests of the whole
    blob) still count for their day."""
    cert = PushCert(CERT + SIG, "OK", "1700000000-ffff")
    (tmp_path / "gitguard").mkdir()
    legacy = hashlib.sha256(cert.blob).hexdigest()
    (tmp_path / "gitguard" / "push-certs").write_text(f"1000000 {legacy}\n")
    assert remember_certificate(cert, str(tmp_path), 1_000_001).reused


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        (
            b"\n",
            "the certificate has 1 byte after the line `-----END SSH SIGNATURE-----` that "
            "ends its signature (git ends a certificate there): it was changed after it was "
            "signed",
        ),
        (
            b"\r\n\n",
            "the certificate has 3 bytes after the line `-----END SSH SIGNATURE-----` that "
            "ends its signature (git ends a certificate there): it was changed after it was "
            "signed",
        ),
        (
            b"pusher mallory\n",
            "the certificate has 15 bytes after the line `-----END SSH SIGNATURE-----` that "
            "ends its signature (git ends a certificate there): it was changed after it was "
            "signed",
        ),
    ],
)
def test_anything_after_the_signature_is_refused(tail: bytes, message: str) -> None:
    with pytest.raises(PushCertError) as exc:
        parse_certificate(CERT + SIG + tail)
    assert str(exc.value) == message
    assert parse_certificate(CERT + SIG[:-1]).signature == SIG[:-1]  # no final newline: fine


def test_the_armor_end_must_be_the_signature_s_end() -> None:
    """ssh-keygen stops at the first END line: what follows it inside the "signature"
    counts as after it."""
    sig = SIG + b"AAAA\n-----END SSH SIGNATURE-----\n"
    with pytest.raises(PushCertError) as exc:
        parse_certificate(CERT + sig)
    assert str(exc.value) == (
        "the certificate has 33 bytes after the line `-----END SSH SIGNATURE-----` that "
        "ends its signature (git ends a certificate there): it was changed after it was "
        "signed"
    )
    pgp = b"-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n\n"
    with pytest.raises(PushCertError) as exc:
        parse_certificate(CERT + pgp)
    assert str(exc.value) == (
        "the certificate has 1 byte after the line `-----END PGP SIGNATURE-----` that "
        "ends its signature (git ends a certificate there): it was changed after it was "
        "signed"
    )
    with pytest.raises(PushCertError) as exc:
        parse_certificate(CERT + b"-----BEGIN SSH SIGNATURE-----\nAAAA\n")
    assert str(exc.value) == (
        "the certificate's signature has no `-----END SSH SIGNATURE-----` line (truncated?)"
    )


def test_trailing_bytes_are_reported_with_the_other_problems() -> None:
    updates = [(Z, "a" * 40, "refs/heads/main"), ("b" * 40, Z, "refs/heads/old")]
    cert = PushCert(CERT + SIG + b"\n", "OK", "1700000000-ffff", reused=True)
    assert _check(cert, updates) == (
        "this certificate was already used by an earlier push: a replayed certificate",
        "the certificate has 1 byte after the line `-----END SSH SIGNATURE-----` that "
        "ends its signature (git ends a certificate there): it was changed after it was "
        "signed",
    )
