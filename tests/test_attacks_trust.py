"""Attacks on what the receive guard trusts (issue 11, "Receive guard hardening",
items 6 and 8), each reproduced with real tools against a bare repository guarded by
the real installer (``guard server install``). Every test here failed before the fix
it names and stays as a regression test.

6. **Push certificate replay.** Over smart HTTP git runs ``receive-pack
   --stateless-rpc``, which accepts a certificate's nonce for ``receive.certNonceSlop``
   seconds (30, as installed): a certificate captured from a push can be sent again
   within that time and git reports its nonce ``OK``. The guard remembered used
   certificates by their raw bytes, so the same certificate with one extra newline
   after its signature (which every verifier ignores) counted as new and the push was
   accepted. Now "used" means the same *signed content* (the bytes the signature
   covers), and anything after the signature's armor END line is refused.

   How it is reproduced: the slop exists only for stateless receive-pack, which is
   what ``git http-backend`` runs, so the repository is served by the real lighttpd +
   ``git http-backend`` on 127.0.0.1 and alice pushes with ``git push --signed`` over
   HTTP. ``git push`` cannot send a captured certificate, so the replay is the one
   POST git's HTTP transport would send — the altered certificate as pkt-lines between
   ``push-cert`` and ``push-cert-end``, an empty pack (the objects are on the server)
   — by an authenticated user, within the slop. The hooks' output comes back on
   side-band 2, as a pusher sees it. ``ssh-keygen -Y verify`` / ``gpg --verify`` are
   the oracles that each altered signature still verifies, and git without the
   guard's hooks accepts the replay.
8. **Trust-file names.** An allowed_signers line whose principal is a ``[[signer]]``'s
   name (``alice <mallory's key>``) or e-mail made mallory's key count as alice's. A
   trust-file line may no longer give a key to a ``[[signer]]`` that does not list it
   in its ``keys`` — the policy is refused, with the file, the line and the fix.
"""

from __future__ import annotations

import base64
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitfixtures import (
    GpgHome,
    GpgKey,
    Repo,
    SshKey,
    ToolError,
    gpg_signing_key,
    make_ssh_key,
    openpgp_signer,
    run_audit,
    ssh_signer,
    tool_env,
)
from gitfixtures import Signer as GitSigner
from gitguard.errors import PolicyError
from gitguard.trust.files import load_key_files
from gitguard.trust.policy import load_policy_file
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
from servers import Server as HttpServer
from servers import http_server
from sigwire import armor_pgp, dearmor, packet, split_packets

Z = "0" * 40


@dataclass(frozen=True)
class Identities:
    keys: Keys  # SSH: alice, bob, forge, mallory
    carol: SshKey  # SSH: an implicit signer (allowed_signers only)
    gpg: GpgHome
    dave: GpgKey  # OpenPGP: a [[signer]]
    dave_cert: Path


@pytest.fixture(scope="module")
def ids(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Identities]:
    tmp = tmp_path_factory.mktemp("trust-keys")
    carol = make_ssh_key(tmp / "ssh", "carol", "ed25519", tool_env(tmp / "ssh" / "home"))
    with gpg_signing_key(tmp, "Dave <dave@example.com>", "dave") as (gpg, dave, cert):
        yield Identities(keys, carol, gpg, dave, cert)


# =========================================================================== item 6


@dataclass(frozen=True)
class HttpPush:
    """What receive-pack answered one raw request: the report-status lines (band 1)
    and what the hooks printed (band 2), as lines."""

    status: list[bytes]
    remote: list[str]


def http_receive_pack(server: HttpServer, repo: Path, request: bytes) -> HttpPush:
    """POST ``request`` to ``…/git-receive-pack`` as git's HTTP transport does (one
    stateless request, basic authentication) and demultiplex the side-band answer."""
    url = urllib.parse.urlsplit(server.url(repo) + "/git-receive-pack")
    auth = base64.b64encode(f"{url.username}:{url.password}".encode()).decode()
    bare = url._replace(netloc=f"{url.hostname}:{url.port}").geturl()
    req = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
        bare,
        data=request,
        headers={
            "Content-Type": "application/x-git-receive-pack-request",
            "Accept": "application/x-git-receive-pack-result",
            "Authorization": f"Basic {auth}",
        },
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=120) as response:  # noqa: S310
        body = response.read()
    bands: dict[int, bytes] = {1: b"", 2: b"", 3: b""}
    for pkt in pkt_lines(body):
        if pkt:
            bands[pkt[0]] += pkt[1:]
    assert not bands[3], bands[3]
    status = [p for p in pkt_lines(bands[1]) if p]
    return HttpPush(status, bands[2].decode("utf-8", "replace").splitlines())


class HttpWorld:
    """A guarded repository served over smart HTTP (lighttpd + git http-backend), a
    client that pushes to it with ``git push --signed``."""

    def __init__(self, tmp: Path, ids: Identities, http: HttpServer, env: dict[str, str]):
        self.tmp = tmp
        self.ids = ids
        self.http = http
        self.env = env
        self.alice = ssh_signer(ids.keys.alice)
        self.dave = openpgp_signer(ids.dave)
        name = tmp.name
        self.server = Server.create(http.root / f"{name}.git", env)
        self.policy = tmp / "policy.toml"
        self.policy.write_text(
            f"""version = 1

[trust]
openpgp = ["{ids.dave_cert}"]

[[signer]]
name = "alice"
emails = ["alice@example.com"]
keys = ["{ids.keys.alice.public_line}"]

[[signer]]
name = "dave"
keys = ["openpgp:{ids.dave.fingerprint}"]

[[rule]]
refs = ["refs/heads/*"]
require = "signed"
signers = ["alice", "dave"]
require_signed_push = true
allow_delete = true
"""
        )
        self.server.install(self.policy)
        self.client = Repo.init(tmp / "client", tool_env(tmp / "client-home"))
        self.head = self.client.commit("signed work", signer=self.alice)

    def signed_push(self, signer: GitSigner, *refspecs: str) -> Push:
        url = self.http.url(self.server.path)
        return signed_push(self.client, self.server, signer, *refspecs, url=url)

    def created_then_deleted(self, signer: GitSigner) -> bytes:
        """``signer`` creates refs/heads/topic and deletes it again, both with signed
        pushes; returns the certificate of the creation (what an eavesdropper or a
        logging proxy kept)."""
        p = self.signed_push(signer, "HEAD:refs/heads/topic")
        assert p.returncode == 0, p.stderr
        p = self.signed_push(signer, ":refs/heads/topic")
        assert p.returncode == 0, p.stderr
        assert self.server.ref("refs/heads/topic") is None
        return stored_certificate(self.server, f"{Z} {self.head} refs/heads/topic\n")

    def replay(self, cert: bytes) -> HttpPush:
        request = push_cert_request(cert, b"report-status side-band-64k")
        return http_receive_pack(self.http, self.server.path, request)


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HttpServer, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("trust-http")
    env = tool_env(tmp / "server-home")
    root = tmp / "repos"
    root.mkdir()
    with http_server(root, tmp / "lighttpd", env) as server:
        yield server, env


@pytest.fixture
def hw(tmp_path: Path, ids: Identities, http: tuple[HttpServer, dict[str, str]]) -> HttpWorld:
    return HttpWorld(tmp_path, ids, *http)


REPLAYED = (
    "  signed push required (rule policy.toml:15): this certificate was already used by "
    "an earlier push: a replayed certificate"
)
DECLINED = b"ng refs/heads/topic pre-receive hook declined\n"


def test_replayed_certificate_with_a_trailing_newline_is_refused(hw: HttpWorld) -> None:
    """Item 6 as reported: alice creates and deletes ``topic`` with signed pushes over
    HTTP; within the 30 s nonce slop an attacker sends her creation certificate again
    with one newline appended. git finds nothing wrong (nonce ``OK``, signature
    good), the guard must: the signed content was already used, and nothing may follow
    the signature."""
    cert = hw.created_then_deleted(hw.alice)
    payload, signature = _split(cert, b"-----BEGIN SSH SIGNATURE-----")
    assert ssh_keygen_verifies(hw, payload, signature + b"\n")  # what git would run

    answer = hw.replay(cert + b"\n")

    assert DECLINED in answer.status, answer
    assert REPLAYED in answer.remote, answer.remote
    assert (
        "  signed push required (rule policy.toml:15): the certificate has 1 byte after "
        "the line `-----END SSH SIGNATURE-----` that ends its signature (git ends a "
        "certificate there): it was changed after it was signed"
    ) in answer.remote, answer.remote
    assert not any("nonce status" in line for line in answer.remote)  # git said OK
    assert hw.server.ref("refs/heads/topic") is None


def test_replayed_certificate_with_its_signature_rewrapped_is_refused(hw: HttpWorld) -> None:
    """Nothing after the signature, but its base64 wrapped at 64 columns instead of
    ssh-keygen's 70: other bytes, the same signature. Refused as used: the replay
    record compares the signed content, not the bytes around it."""
    cert = hw.created_then_deleted(hw.alice)
    head, sep, rest = cert.partition(b"-----BEGIN SSH SIGNATURE-----\n")
    body, end, tail = rest.partition(b"\n-----END SSH SIGNATURE-----")
    b64 = b"".join(body.split())
    rewrapped = b"\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
    assert rewrapped != body
    replayed = head + sep + rewrapped + end + tail
    assert ssh_keygen_verifies(hw, *_split(replayed, sep))

    answer = hw.replay(replayed)

    assert DECLINED in answer.status, answer
    assert answer.remote.count(REPLAYED) == 1, answer.remote
    assert hw.server.ref("refs/heads/topic") is None


def _openpgp_add_unhashed_subpacket(armored: bytes) -> bytes:
    """The same OpenPGP signature with one more (non-critical, private-use) subpacket
    in its unhashed area: not covered by the signature, so it still verifies — but its
    value, not only its armor, is now different."""
    sig = split_packets(dearmor(armored))[0][1]
    assert sig[0] == 4, "a v4 signature"
    hashed_end = 6 + int.from_bytes(sig[4:6], "big")
    unhashed_len = int.from_bytes(sig[hashed_end : hashed_end + 2], "big")
    extra = bytes((4, 101)) + b"abc"  # length 4: type 101 (private use) + 3 octets
    new_sig = (
        sig[:hashed_end]
        + (unhashed_len + len(extra)).to_bytes(2, "big")
        + sig[hashed_end + 2 : hashed_end + 2 + unhashed_len]
        + extra
        + sig[hashed_end + 2 + unhashed_len :]
    )
    return armor_pgp(packet(2, new_sig, "new-5"))


def test_replayed_certificate_with_another_signature_value_is_refused(hw: HttpWorld) -> None:
    """OpenPGP signatures are malleable: the unhashed subpacket area is not signed.
    Dave's certificate replayed with an extra unhashed subpacket carries a signature
    that still verifies but whose *value* differs; keying the replay record on the
    signed content plus the signature value would accept it. Keyed on the signed
    content alone, it is refused."""
    cert = hw.created_then_deleted(hw.dave)
    at = cert.index(b"-----BEGIN PGP SIGNATURE-----")
    replayed = cert[:at] + _openpgp_add_unhashed_subpacket(cert[at:])
    assert replayed != cert
    assert gpg_verifies(hw, *_split(replayed, b"-----BEGIN PGP SIGNATURE-----"))

    answer = hw.replay(replayed)

    assert DECLINED in answer.status, answer
    assert answer.remote.count(REPLAYED) == 1, answer.remote
    assert hw.server.ref("refs/heads/topic") is None


def test_git_alone_accepts_the_replay(hw: HttpWorld) -> None:
    """The oracle for the tests above: with the guard's hooks out of the way, git
    itself accepts the replayed certificate (nonce OK) and moves the ref. Whatever
    stops the replays is the guard."""
    cert = hw.created_then_deleted(hw.alice)
    (hw.server.path / "hooks").rename(hw.tmp / "hooks-away")

    answer = hw.replay(cert + b"\n")

    assert answer.status == [b"unpack ok\n", b"ok refs/heads/topic\n"], answer
    assert hw.server.ref("refs/heads/topic") == hw.head


def _split(cert: bytes, armor: bytes) -> tuple[bytes, bytes]:
    at = cert.index(armor)
    return cert[:at], cert[at:]


def ssh_keygen_verifies(hw: HttpWorld, payload: bytes, signature: bytes) -> bool:
    """``ssh-keygen -Y verify`` (what git runs) of ``signature`` over ``payload``,
    alice's key trusted."""
    d = hw.tmp / "ssh-oracle"
    d.mkdir(exist_ok=True)
    (d / "allowed").write_text(f"alice@example.com {hw.ids.keys.alice.public_line}\n")
    (d / "sig").write_bytes(signature)
    proc = subprocess.run(
        [
            "ssh-keygen",
            "-Y",
            "verify",
            "-f",
            str(d / "allowed"),
            "-I",
            "alice@example.com",
            "-n",
            "git",
            "-s",
            str(d / "sig"),
        ],
        input=payload,
        capture_output=True,
        env=hw.env,
        check=False,
        timeout=60,
    )
    return proc.returncode == 0


def gpg_verifies(hw: HttpWorld, payload: bytes, signature: bytes) -> bool:
    """``gpg --verify`` of the detached ``signature`` over ``payload``."""
    d = hw.tmp / "gpg-oracle"
    d.mkdir(exist_ok=True)
    (d / "sig").write_bytes(signature)
    (d / "payload").write_bytes(payload)
    try:
        hw.ids.gpg.gpg("--verify", str(d / "sig"), str(d / "payload"))
    except ToolError:  # gpg said no
        return False
    return True


# =========================================================================== item 8


class TrustWorld:
    """A guarded repository (``file://``) whose policy trusts ``[[signer]]`` alice and
    bob by their keys and, through its allowed_signers file, carol by e-mail (an
    implicit signer). ``main`` allows alice only; ``dev/*`` alice, bob and carol."""

    def __init__(self, tmp: Path, ids: Identities) -> None:
        self.tmp = tmp
        self.ids = ids
        self.env = tool_env(tmp / "home")
        k = ids.keys
        directory = tmp / "policy"
        directory.mkdir()
        self.allowed = directory / "allowed_signers"
        self.allowed.write_text(f'carol@example.com namespaces="git" {ids.carol.public_line}\n')
        self.policy = directory / "policy.toml"
        self.policy.write_text(
            f"""version = 1

[trust]
allowed_signers = "allowed_signers"

[[signer]]
name = "alice"
emails = ["alice@example.com"]
keys = ["{k.alice.public_line}"]

[[signer]]
name = "bob"
emails = ["bob@example.com"]
keys = ["{k.bob.public_line}"]

[[rule]]
refs = ["refs/heads/main"]
require = "signed"
signers = ["alice"]

[[rule]]
refs = ["refs/heads/dev/*"]
require = "signed"
signers = ["alice", "bob", "carol@example.com"]
"""
        )
        self.server = Server.create(tmp / "srv.git", self.env)
        self.server.install(self.policy)  # valid as installed
        self.client = Repo.init(tmp / "client", self.env)

    def add_line(self, line: str) -> int:
        """Append ``line`` to the allowed_signers file; its line number."""
        text = self.allowed.read_text() + line + "\n"
        self.allowed.write_text(text)
        return text.count("\n")

    def audit(self, rev: str) -> tuple[int, str, dict[str, str | None]]:
        """``guard audit --policy`` of ``rev``: exit code, stderr, signer per commit."""
        run = run_audit(self.client, rev, "--policy", str(self.policy), out=self.tmp / "a.json")
        signers = {r["object"]: r["signer"] for r in run.results()} if run.output else {}
        return run.rc, run.stderr, signers


@pytest.fixture
def tw(tmp_path: Path, ids: Identities) -> TrustWorld:
    return TrustWorld(tmp_path, ids)


def _borrowed(tw: TrustWorld, line: int, principal: str, what: str) -> str:
    k = tw.ids.keys.mallory
    return (
        f'{tw.allowed}:{line}: principal "{principal}" is {what} of [[signer]] "alice" '
        f"({tw.policy}:7), whose keys do not include this line's key {k.fingerprint}: a "
        "trust file cannot give a key to a [[signer]]; if the key is alice's, add "
        f'"{k.public_line}" to that signer\'s keys, else change the principal'
    )


@pytest.mark.parametrize(
    ("principal", "what"),
    [("alice", "the name"), ("alice@example.com", "an e-mail"), ("ALICE@example.COM", "an e-mail")],
)
def test_allowed_signers_line_cannot_borrow_a_signer(
    tw: TrustWorld, principal: str, what: str
) -> None:
    """Item 8 as reported: ``alice <mallory's key>`` (or alice's e-mail) added to the
    allowed_signers file made mallory's commits alice's, on the server and in the
    audit. Now the policy is refused — the push fails closed, the audit exits 2 — with
    the same message in both, naming the file, the line and the fix."""
    line = tw.add_line(f"{principal} {tw.ids.keys.mallory.public_line}")
    forged = tw.client.commit("mallory's work", signer=ssh_signer(tw.ids.keys.mallory))

    p = push(tw.client, tw.server, "HEAD:refs/heads/main")

    expected = _borrowed(tw, line, principal, what)
    assert p.returncode != 0, p.report
    assert p.remote == ["gitguard: push rejected: the policy cannot be loaded:", f"  {expected}"]
    assert tw.server.ref("refs/heads/main") is None
    rc, stderr, signers = tw.audit(forged)
    assert (rc, stderr) == (
        2,
        f"guard: invalid trust configuration (1 problem):\n  {expected}\n",
    ), signers


def test_legitimate_trust_file_lines_still_work(tw: TrustWorld) -> None:
    """What ssh-keygen's principals are for keeps working: a principal that is just an
    e-mail names an implicit signer (carol), and a ``[[signer]]`` that lists a key may
    also have it in the allowed_signers file under its own e-mail (for git's sake)."""
    tw.add_line(f'alice@example.com namespaces="git" {tw.ids.keys.alice.public_line}')
    tw.add_line(f"bob {tw.ids.keys.bob.public_line}")
    alices = tw.client.commit("alice's work", signer=ssh_signer(tw.ids.keys.alice))
    p = push(tw.client, tw.server, "HEAD:refs/heads/main")
    assert p.returncode == 0, p.report
    carols = tw.client.commit("carol's work", signer=ssh_signer(tw.ids.carol))
    p = push(tw.client, tw.server, "HEAD:refs/heads/dev/carol")
    assert p.returncode == 0, p.report
    bobs = tw.client.commit("bob's work", signer=ssh_signer(tw.ids.keys.bob))
    p = push(tw.client, tw.server, "HEAD:refs/heads/dev/carol")
    assert p.returncode == 0, p.report
    assert tw.server.ref("refs/heads/dev/carol") == bobs

    rc, stderr, signers = tw.audit(bobs)
    assert (rc, stderr) == (0, "")
    assert signers == {alices: "alice", carols: "carol@example.com", bobs: "bob"}


def test_carol_cannot_push_where_only_alice_may(tw: TrustWorld) -> None:
    """The implicit signer is a signer of its own: carol's key, under her own e-mail,
    never counts for alice."""
    tw.client.commit("carol's work", signer=ssh_signer(tw.ids.carol))
    p = push(tw.client, tw.server, "HEAD:refs/heads/main")
    assert p.returncode != 0
    assert any("not-allowed" in line and "carol@example.com" in line for line in p.remote), p.report


def test_key_files_next_to_a_policy_cannot_borrow_its_signers(tw: TrustWorld) -> None:
    """``guard audit --policy P --allowed-signers F --openpgp-key C``: the extra files
    follow the policy's rule (:func:`gitguard.trust.files.load_key_files` with the
    policy). Every problem at once, with the fix."""
    k = tw.ids.keys
    policy = load_policy_file(tw.policy)
    extra = tw.tmp / "extra_allowed_signers"
    extra.write_text(
        f"alice {k.mallory.public_line}\n"  # alice's name
        f"mallory@example.com,ALICE@example.com {k.forge.public_line}\n"  # her e-mail
        f"zed@example.com {k.alice.public_line}\n"  # alice's key, named otherwise
        f"carol@example.com {tw.ids.carol.public_line}\n"  # the policy's implicit carol: fine
    )
    cert = tw.tmp / "dave.asc"
    cert.write_bytes(tw.ids.dave_cert.read_bytes())
    tw.policy.write_text(tw.policy.read_text().replace('"bob@example.com"', '"dave@example.com"'))
    with_dave = load_policy_file(tw.policy)

    with pytest.raises(PolicyError) as exc:
        load_key_files([extra], [cert], policy=with_dave)

    def borrowed(line: int, principal: str, how: str, key: SshKey) -> str:
        return (
            f'{extra}:{line}: principal "{principal}" is {how} of signer "alice" of the '
            f"policy ({tw.policy}), who does not have this line's key {key.fingerprint}: a "
            f'key file cannot give a key to a policy signer; add "{key.public_line}" to that '
            "signer's keys in the policy if it is theirs, else change the principal"
        )

    assert exc.value.problems == (
        borrowed(1, "alice", "the name", k.mallory),
        borrowed(2, "ALICE@example.com", "an e-mail", k.forge),
        f'{extra}:3: key {k.alice.fingerprint} belongs to signer "alice" of the policy '
        f'({tw.policy}); name that signer on this line ("alice" or one of its e-mails), or '
        "remove the line",
        f"{cert}: certificate {tw.ids.dave.fingerprint} is no policy signer's but its user "
        f'ID "dave@example.com" is an e-mail of signer "bob" of the policy ({tw.policy}); '
        f'add "openpgp:{tw.ids.dave.fingerprint}" to that signer\'s keys in the policy if '
        "it is theirs, else leave the certificate out",
    )

    # Lines that name the policy's signers for keys they have, and keys of no policy
    # signer under names of their own, are fine; without a policy, names are free.
    extra.write_text(
        f"alice@example.com {k.alice.public_line}\n"
        f"carol@example.com {tw.ids.carol.public_line}\n"
        f"mallory@example.com {k.mallory.public_line}\n"
    )
    store = load_key_files([extra], [cert], policy=policy)
    assert [key.signer for key in store.ssh] == [
        "alice",
        "carol@example.com",
        "mallory@example.com",
    ]
    assert [c.signer for c in store.openpgp] == ["dave@example.com"]
    extra.write_text(f"alice {k.mallory.public_line}\n")
    assert [key.signer for key in load_key_files([extra], []).ssh] == ["alice"]


def test_audit_with_extra_key_files_cannot_borrow_a_signer(tw: TrustWorld) -> None:
    """The same through the CLI: ``guard audit --policy P --allowed-signers F`` with
    ``alice <mallory's key>`` in F refuses the trust configuration (exit 2) instead
    of reporting mallory's commit as alice's."""
    extra = tw.tmp / "extra_allowed_signers"
    extra.write_text(f"alice {tw.ids.keys.mallory.public_line}\n")
    forged = tw.client.commit("mallory's work", signer=ssh_signer(tw.ids.keys.mallory))
    run = run_audit(
        tw.client,
        forged,
        "--policy",
        str(tw.policy),
        "--allowed-signers",
        str(extra),
        out=tw.tmp / "b.json",
    )
    assert run.rc == 2, run.output
    assert f'{extra}:1: principal "alice" is the name of' in run.stderr, run.stderr
