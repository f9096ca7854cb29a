"""``guard setup`` on a fresh HOME (from conftest's isolation): no keys, an SSH key, a
GnuPG key, ``--generate``, ``--dry-run`` and ``--repo``; the result is checked by git
itself signing and verifying a commit."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitfixtures import GpgHome, make_ssh_key, run
from gitguard.cli.main import main


@pytest.fixture
def home(isolated_env: Path) -> Path:
    run(["git", "config", "--global", "user.email", "committer@example.com"], env=os.environ)
    run(["git", "config", "--global", "user.name", "Test Committer"], env=os.environ)
    return isolated_env


@pytest.fixture
def gnupg(home: Path) -> Iterator[GpgHome]:
    g = GpgHome.create(Path(os.environ["GNUPGHOME"]), dict(os.environ))
    try:
        yield g
    finally:
        g.close()


def global_config(key: str) -> str:
    proc = run(["git", "config", "--global", "--get", key], env=os.environ, check=False)
    return proc.stdout.decode().strip()


def signed_commit_code(tmp_path: Path) -> str:
    repo = tmp_path / "repo"
    run(["git", "init", "-q", repo], env=os.environ)
    run(["git", "-C", repo, "commit", "-q", "--allow-empty", "-m", "x"], env=os.environ)
    return (
        run(["git", "-C", repo, "log", "-1", "--format=%G?"], env=os.environ)
        .stdout.decode()
        .strip()
    )


def test_fresh_home_without_keys(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = (home / ".gitconfig").read_text()
    assert main(["setup"]) == 1
    err = capsys.readouterr().err
    assert "no SSH key" in err
    assert "guard setup --generate" in err
    assert (home / ".gitconfig").read_text() == before


def test_generate_dry_run_changes_nothing(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = (home / ".gitconfig").read_text()
    assert main(["setup", "--generate", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert (
        f"ssh-keygen -t ed25519 -N '' -C committer@example.com -f {home}/.ssh/id_ed25519_signing"
        in out
    )
    assert "git config --global commit.gpgsign true" in out
    assert "has no passphrase" in out
    assert not (home / ".ssh").exists()
    assert (home / ".gitconfig").read_text() == before


def test_generate(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["setup", "--generate"]) == 0
    out = capsys.readouterr().out
    pub = (home / ".ssh" / "id_ed25519_signing.pub").read_text().split()
    assert global_config("user.signingkey") == f"{home}/.ssh/id_ed25519_signing.pub"
    assert f'committer@example.com namespaces="git" {pub[0]} {pub[1]}' in out
    assert signed_commit_code(tmp_path) == "G"


def test_existing_ssh_key_preferring_ed25519(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = dict(os.environ)
    make_ssh_key(home / ".ssh", "id_rsa", "rsa", env, bits=2048)
    key = make_ssh_key(home / ".ssh", "id_ed25519", "ed25519", env)

    assert main(["setup", "--dry-run"]) == 0
    dry = capsys.readouterr().out
    assert f"git config --global user.signingkey {key.path}.pub" in dry
    assert f'committer@example.com namespaces="git" {key.public_line}' in dry
    assert global_config("user.signingkey") == ""

    assert main(["setup"]) == 0
    out = capsys.readouterr().out
    assert f"signing with SSH key {key.path}.pub" in out
    assert global_config("gpg.format") == "ssh"
    assert global_config("user.signingkey") == f"{key.path}.pub"
    assert global_config("commit.gpgsign") == "true"
    assert global_config("tag.gpgsign") == "true"
    allowed = Path(global_config("gpg.ssh.allowedSignersFile"))
    assert allowed == home / ".config" / "git" / "allowed_signers"
    assert allowed.read_text() == f'committer@example.com namespaces="git" {key.public_line}\n'
    assert f'keys = ["{key.public_line}"]' in out
    assert signed_commit_code(tmp_path) == "G"

    # Running it again changes nothing and adds no second line.
    assert main(["setup"]) == 0
    again = capsys.readouterr().out
    assert "already set: commit.gpgsign = true" in again
    assert "done:" not in again
    assert len(allowed.read_text().splitlines()) == 1


def test_existing_gnupg_key(
    home: Path, gnupg: GpgHome, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = gnupg.gen_key("Test Committer <committer@example.com>", "ed25519")
    assert main(["setup"]) == 0
    out = capsys.readouterr().out
    assert f"fingerprint {key.fingerprint}" in out
    assert f'keys = ["openpgp:{key.fingerprint}"]' in out
    assert "-----BEGIN PGP PUBLIC KEY BLOCK-----" in out
    assert global_config("gpg.format") == "openpgp"
    assert global_config("user.signingkey") == key.fingerprint
    assert global_config("gpg.ssh.allowedSignersFile") == ""
    assert signed_commit_code(tmp_path) == "G"


def test_repo_scope_leaves_global_config_alone(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_ssh_key(home / ".ssh", "id_ed25519", "ed25519", dict(os.environ))
    repo = tmp_path / "one"
    run(["git", "init", "-q", repo], env=os.environ)
    assert main(["setup", "--repo", str(repo)]) == 0
    assert f"git -C {repo} config --local gpg.format ssh" in capsys.readouterr().out
    local = run(["git", "-C", repo, "config", "--local", "--get", "gpg.format"], env=os.environ)
    assert local.stdout.decode().strip() == "ssh"
    assert global_config("gpg.format") == ""


def test_without_user_email(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["setup", "--generate"]) == 1
    assert "git config --global user.email" in capsys.readouterr().err
