""" "Trust what git trusts": a real GnuPG home and git config, with git's own ``%G?``
as the oracle for which keys count as trusted."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pysequoia
import pytest

from gitguard.errors import PolicyError
from gitguard.tools import ToolMissing
from gitguard.trust.gittrust import collect_git_trust, list_gpg_keys, trust_from_git
from gitguard.trust.sshkeys import fingerprint

GPG = ("gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "")


@dataclass(frozen=True)
class Keys:
    src: Path  # a GnuPG home holding both secret keys
    alice: str  # fingerprints
    bob: str
    alice_secret: bytes
    bob_public: bytes


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc.stdout


def _fpr(home: Path, who: str) -> str:
    out = run(*GPG, "--homedir", str(home), "--with-colons", "--list-keys", who)
    return next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keys]:
    src = tmp_path_factory.mktemp("gnupg-src")
    src.chmod(0o700)
    try:
        for uid in ("Alice <alice@example.com>", "Bob <bob@example.com>"):
            run(*GPG, "--homedir", str(src), "--quick-gen-key", uid, "ed25519", "sign", "never")
        alice, bob = _fpr(src, "alice@example.com"), _fpr(src, "bob@example.com")
        secret = subprocess.run(
            [*GPG, "--homedir", str(src), "--export-secret-keys", alice],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
        public = subprocess.run(
            [*GPG, "--homedir", str(src), "--export", bob],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
        yield Keys(src, alice, bob, secret, public)
    finally:
        subprocess.run(["gpgconf", "--homedir", str(src), "--kill", "all"], check=False)


@pytest.fixture
def gnupghome(keys: Keys) -> Iterator[Path]:
    """The test's $GNUPGHOME: alice's own key (ultimate trust), bob's only imported."""
    home = Path(os.environ["GNUPGHOME"])
    run(*GPG, "--import", input_file(home.parent / "alice.gpg", keys.alice_secret))
    run(*GPG, "--import", input_file(home.parent / "bob.gpg", keys.bob_public))
    ownertrust = home.parent / "ownertrust"
    ownertrust.write_text(f"{keys.alice}:6:\n")
    run(*GPG, "--import-ownertrust", str(ownertrust))
    try:
        yield home
    finally:
        subprocess.run(["gpgconf", "--kill", "all"], check=False, timeout=30)


def input_file(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    run("git", "init", "-q", str(path))
    return path


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return run("git", *args, cwd=repo, env=env)


def make_ssh_key(path: Path) -> str:
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dev", "-f", str(path))
    return path.with_suffix(".pub").read_text().strip()


def test_trusts_what_git_trusts(tmp_path: Path, repo: Path, keys: Keys, gnupghome: Path) -> None:
    # SSH: an allowed signers file named in the repository's config.
    ssh_pub = make_ssh_key(tmp_path / "id_ed25519")
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f'# team\ncommitter@example.com namespaces="git" {ssh_pub}\n')
    git(repo, "config", "gpg.ssh.allowedSignersFile", str(allowed))

    store, notes = collect_git_trust(repo)
    assert notes == []
    (ssh,) = store.ssh
    assert (ssh.signer, ssh.principals, ssh.namespaces, ssh.source) == (
        "committer@example.com",
        ("committer@example.com",),
        ("git",),
        f"{allowed}:2",
    )
    by_fpr = {pysequoia.Cert.from_bytes(c.cert).fingerprint.upper(): c for c in store.openpgp}
    assert set(by_fpr) == {keys.alice, keys.bob}
    assert {c.signer for c in store.openpgp} == {"alice@example.com", "bob@example.com"}
    assert {c.source for c in store.openpgp} == {f"GnuPG keyring {gnupghome}"}
    assert by_fpr[keys.alice].trusted is True  # ultimate
    assert by_fpr[keys.bob].trusted is False  # imported, validity unknown

    # git's own verdicts agree: alice's signature is G, bob's U; the SSH key is G.
    git(repo, "commit", "-q", "--allow-empty", "-m", "alice", f"-S{keys.alice}")
    env = {**os.environ, "GNUPGHOME": str(keys.src)}
    git(repo, "commit", "-q", "--allow-empty", "-m", "bob", f"-S{keys.bob}", env=env)
    git(
        repo,
        "-c",
        "gpg.format=ssh",
        "-c",
        f"user.signingkey={tmp_path / 'id_ed25519'}",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "ssh",
        "-S",
    )
    log = git(repo, "log", "--format=%s %G? %GF")
    verdicts = {line.split()[0]: line.split()[1:] for line in log.splitlines()}
    assert verdicts["alice"] == ["G", keys.alice]
    assert verdicts["bob"] == ["U", keys.bob]
    assert verdicts["ssh"] == ["G", fingerprint(ssh.key_blob)]


def test_the_gnupg_key_lister_reads_what_gpg_lists(
    tmp_path: Path, keys: Keys, gnupghome: Path
) -> None:
    """One lister for the keyring (public keys, validity, ownertrust) and for the
    client's secret keys; gpg's own listing is the oracle."""
    public = list_gpg_keys("gpg")
    assert public.returncode == 0
    by_fpr = {c.primary.fingerprint: c for c in public.certs}
    assert set(by_fpr) == {keys.alice, keys.bob}
    alice, bob = by_fpr[keys.alice], by_fpr[keys.bob]
    assert (alice.primary.validity, alice.primary.ownertrust) == ("u", "u")
    assert bob.primary.validity not in ("f", "u")
    assert alice.uids == ("Alice <alice@example.com>",)
    assert "s" in alice.primary.capabilities
    assert not alice.primary.secret  # a public listing knows no secret parts

    none = list_gpg_keys("gpg", "bob@example.com", secret=True)  # only bob's public key
    assert none.certs == []
    assert "No secret key" in none.stderr
    (mine,) = list_gpg_keys("gpg", "alice@example.com", secret=True).certs
    assert mine.primary.fingerprint == keys.alice
    assert mine.primary.secret

    with pytest.raises(ToolMissing, match="is not installed or not on PATH"):
        list_gpg_keys(str(tmp_path / "no-such-gpg"))


def test_no_gnupg_home_is_an_empty_openpgp_part(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("GNUPGHOME", str(tmp_path / "absent"))
    with caplog.at_level(logging.INFO, logger="gitguard.trust.gittrust"):
        store = trust_from_git(repo)
    assert store.openpgp == ()
    assert store.ssh == ()
    assert [r.getMessage() for r in caplog.records if r.name == "gitguard.trust.gittrust"] == [
        "git config gpg.ssh.allowedSignersFile is not set: no SSH key is trusted",
        f"no GnuPG home at {tmp_path / 'absent'}: no OpenPGP key is trusted",
    ]


def test_empty_keyring(repo: Path) -> None:
    store, notes = collect_git_trust(repo)
    assert store.openpgp == ()
    assert notes[1] == f"the GnuPG keyring in {os.environ['GNUPGHOME']} has no public keys"


def test_gpg_not_installed(repo: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-gpg"
    git(repo, "config", "gpg.program", str(missing))
    store, notes = collect_git_trust(repo)
    assert store.openpgp == ()
    assert notes[1].startswith(f"cannot run {missing} (")
    assert notes[1].endswith("): no OpenPGP key is trusted")


def test_openpgp_program_wins_over_gpg_program(
    repo: Path, tmp_path: Path, keys: Keys, gnupghome: Path
) -> None:
    """git uses gpg.openpgp.program before gpg.program; so do we."""
    git(repo, "config", "gpg.program", str(tmp_path / "no-such-gpg"))
    git(repo, "config", "gpg.openpgp.program", "gpg")
    store, _ = collect_git_trust(repo)
    assert len(store.openpgp) == 2


def test_missing_allowed_signers_file(repo: Path, tmp_path: Path) -> None:
    git(repo, "config", "gpg.ssh.allowedSignersFile", str(tmp_path / "nope"))
    with pytest.raises(PolicyError) as exc:
        trust_from_git(repo)
    assert str(exc.value) == (
        f"git config gpg.ssh.allowedSignersFile: cannot read {tmp_path / 'nope'}: "
        "No such file or directory"
    )


def test_malformed_allowed_signers_file(repo: Path, tmp_path: Path) -> None:
    ssh_pub = make_ssh_key(tmp_path / "k")
    allowed = tmp_path / "as"
    allowed.write_text(f"ca@example.com cert-authority {ssh_pub}\n")
    git(repo, "config", "gpg.ssh.allowedSignersFile", str(allowed))
    with pytest.raises(PolicyError) as exc:
        trust_from_git(repo)
    assert str(exc.value) == f"{allowed}:1: cert-authority (SSH certificates) is not supported yet"


def test_relative_and_home_paths(repo: Path, tmp_path: Path) -> None:
    ssh_pub = make_ssh_key(tmp_path / "k")
    (repo / ".gitsigners").write_text(f"dev@example.com {ssh_pub}\n")
    (repo / "sub").mkdir()
    git(repo, "config", "gpg.ssh.allowedSignersFile", ".gitsigners")
    store, _ = collect_git_trust(repo / "sub")  # relative to the top of the work tree
    assert [k.source for k in store.ssh] == [f"{repo / '.gitsigners'}:1"]

    home = Path(os.environ["HOME"])
    (home / "signers").write_text(f"dev@example.com {ssh_pub}\n")
    git(repo, "config", "gpg.ssh.allowedSignersFile", "~/signers")
    store, _ = collect_git_trust(repo)
    assert [k.source for k in store.ssh] == [f"{home / 'signers'}:1"]
