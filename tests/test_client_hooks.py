"""Client hooks as plain git hooks: the shims ``guard hooks install`` writes and the
committed ``hooks/`` scripts, driven by real ``git commit`` / ``git push`` into a local
bare repository, with real SSH and GnuPG keys in a temporary HOME.

Both installers must pass the same scenarios. The pre-commit framework path is in
``test_precommit_framework.py``; ``guard setup`` itself in ``test_setup.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitfixtures import GpgHome, make_ssh_key, run, tool_env
from gitguard.client.outgoing import PushLine, parse_pre_push
from gitguard.client.ssh_keys import openssh_private_public_blob
from gitguard.errors import GuardError
from gitguard.git import GitConfig
from gitguard.trust.gittrust import parse_gpg_colons

ROOT = Path(__file__).resolve().parent.parent
HOOK_SCRIPTS = ROOT / "hooks"
CLIENT_HOOKS = ("pre-commit", "commit-msg", "post-commit", "pre-push")
INSTALLERS = ("guard-hooks-install", "hooks-dir-scripts")


@dataclass
class Dev:
    """A developer: a HOME, a clone with a bare ``origin``, hooks installed."""

    home: Path
    env: dict[str, str]
    repo: Path
    bare: Path

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return run(["git", *args], env=self.env, cwd=self.repo, check=check)

    def out(self, *args: str) -> str:
        return self.git(*args).stdout.decode().strip()

    def guard(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return run(
            [sys.executable, "-m", "gitguard", *args], env=self.env, cwd=self.repo, check=check
        )

    def commit(self, message: str, *extra: str) -> subprocess.CompletedProcess[bytes]:
        return self.git("commit", "-q", "--allow-empty", "-m", message, *extra, check=False)

    def push(self, *refspecs: str) -> subprocess.CompletedProcess[bytes]:
        return self.git("push", "-q", "origin", *refspecs, check=False)

    def code(self, rev: str = "HEAD") -> str:
        return self.out("log", "-1", "--format=%G?", rev)

    def remote_ref(self, ref: str) -> str:
        proc = run(
            ["git", "-C", self.bare, "rev-parse", "--verify", "-q", ref], env=self.env, check=False
        )
        return proc.stdout.decode().strip()


def text(proc: subprocess.CompletedProcess[bytes]) -> str:
    return (proc.stdout + proc.stderr).decode("utf-8", "replace")


def dev_env(home: Path) -> dict[str, str]:
    env = tool_env(home)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return env


def make_dev(tmp: Path, installer: str | None, *, object_format: str = "sha1") -> Dev:
    home = tmp / "home"
    env = dev_env(home)
    run(["git", "config", "--global", "user.name", "Test Committer"], env=env)
    run(["git", "config", "--global", "user.email", "committer@example.com"], env=env)
    repo, bare = tmp / "work", tmp / "remote.git"
    fmt = f"--object-format={object_format}"
    run(["git", "init", "-q", "--bare", fmt, bare], env=env)
    run(["git", "init", "-q", "-b", "main", fmt, repo], env=env)
    dev = Dev(home, env, repo, bare)
    dev.git("remote", "add", "origin", str(bare))
    if installer == "guard-hooks-install":
        dev.guard("hooks", "install")
    elif installer == "hooks-dir-scripts":
        hooks = repo / ".git" / "hooks"
        hooks.mkdir(exist_ok=True)
        for name in CLIENT_HOOKS:
            shutil.copy2(HOOK_SCRIPTS / name, hooks / name)
    return dev


@pytest.fixture(params=INSTALLERS)
def dev(request: pytest.FixtureRequest, tmp_path: Path) -> Dev:
    return make_dev(tmp_path, str(request.param))


@pytest.fixture
def gpg_dev(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Dev, GpgHome]]:
    installer = getattr(request, "param", INSTALLERS[0])
    d = make_dev(tmp_path, installer)
    home = GpgHome.create(d.home / ".gnupg", d.env)
    try:
        yield d, home
    finally:
        home.close()


def policy_for(*keys: str, extra: str = "") -> str:
    quoted = ", ".join(f'"{k}"' for k in keys)
    return (
        'version = 1\n\n[[signer]]\nname = "dev"\nemails = ["committer@example.com"]\n'
        f'keys = [{quoted}]\n\n[[rule]]\nrefs = ["refs/heads/main"]\nrequire = "signed"\n'
        f'signers = ["dev"]\n{extra}'
    )


# --------------------------------------------------------------------------- scenarios


def test_unconfigured_commit_is_blocked_then_setup_makes_it_signed(dev: Dev) -> None:
    blocked = dev.commit("first")
    assert blocked.returncode != 0
    out = text(blocked)
    assert "commit signing is not configured" in out
    assert "why:" in out
    assert "guard setup" in out
    assert "git config --global commit.gpgsign true" in out
    assert "git config --global gpg.format ssh" in out
    assert dev.git("rev-parse", "-q", "--verify", "HEAD", check=False).returncode != 0

    dev.guard("setup", "--generate")
    made = dev.commit("first")
    assert made.returncode == 0, text(made)
    assert dev.code() == "G"
    assert dev.push("main").returncode == 0
    assert dev.remote_ref("refs/heads/main") == dev.out("rev-parse", "HEAD")


def test_unsigned_commit_made_with_no_verify_is_stopped_at_push(dev: Dev) -> None:
    dev.guard("setup", "--generate")
    assert dev.commit("signed").returncode == 0
    assert dev.push("main").returncode == 0
    good = dev.out("rev-parse", "HEAD")

    sneaky = dev.commit("unsigned", "--no-verify", "--no-gpg-sign")
    assert sneaky.returncode == 0  # git ignores post-commit's status …
    warned = text(sneaky)  # … but the warning is there
    bad = dev.out("rev-parse", "HEAD")
    assert f"{bad[:12]} 'unsigned', is unsigned" in warned
    assert "git commit --amend --no-edit -S" in warned
    assert dev.code() == "N"

    pushed = dev.push("main")
    assert pushed.returncode != 0
    out = text(pushed)
    assert "guard: push to origin blocked" in out
    assert bad[:12] in out
    assert "status  unsigned" in out
    assert "git rebase --exec 'git commit --amend --no-edit" in out
    assert f"-S' {good[:12]}" in out  # re-sign from the last commit the remote has
    assert dev.remote_ref("refs/heads/main") == good

    assert dev.git("commit", "-q", "--amend", "--allow-empty", "--no-edit", "-S").returncode == 0
    assert dev.push("main").returncode == 0


def test_key_the_policy_does_not_trust_is_blocked(dev: Dev, tmp_path: Path) -> None:
    alice = make_ssh_key(tmp_path / "keys", "alice", "ed25519", dev.env)
    dev.guard("setup", "--generate")
    (dev.repo / ".gitguard.toml").write_text(policy_for(alice.public_line))
    blocked = dev.commit("by an untrusted key")
    assert blocked.returncode != 0
    out = text(blocked)
    assert "is not in the policy's trust store" in out
    assert "allows only dev to sign commits on refs/heads/main" in out
    own = (dev.home / ".ssh" / "id_ed25519_signing.pub").read_text().split()
    assert f'keys = ["{own[0]} {own[1]}"]' in out  # the line to hand to the admin

    assert dev.commit("signed anyway", "--no-verify").returncode == 0
    assert dev.code() in ("G", "U")  # git trusts it (our allowed_signers), the policy does not
    pushed = dev.push("main")
    assert pushed.returncode != 0
    assert "unknown-key" in text(pushed)
    assert dev.remote_ref("refs/heads/main") == ""

    # Once the admin adds the key, the same work goes through.
    (dev.repo / ".gitguard.toml").write_text(policy_for(alice.public_line, f"{own[0]} {own[1]}"))
    assert dev.commit("trusted now").returncode == 0
    assert dev.push("main").returncode == 0


@pytest.mark.parametrize("gpg_dev", INSTALLERS, indirect=True)
def test_openpgp_signing_path(gpg_dev: tuple[Dev, GpgHome]) -> None:
    dev, gnupg = gpg_dev
    key = gnupg.gen_key("Test Committer <committer@example.com>", "ed25519")
    setup = dev.guard("setup")
    assert f"GnuPG key {key.fingerprint}" in text(setup)
    assert "-----BEGIN PGP PUBLIC KEY BLOCK-----" in text(setup)
    made = dev.commit("signed with gpg")
    assert made.returncode == 0, text(made)
    assert dev.code() == "G"
    assert dev.push("main").returncode == 0

    assert dev.commit("unsigned", "--no-verify", "--no-gpg-sign").returncode == 0
    pushed = dev.push("main")
    assert pushed.returncode != 0
    assert "status  unsigned" in text(pushed)

    # A policy that trusts this certificate, and a rule for main.
    (dev.repo / "keys").mkdir()
    (dev.repo / "keys" / "dev.asc").write_bytes(gnupg.export(key))
    policy = policy_for(f"openpgp:{key.fingerprint}").replace(
        "version = 1\n", 'version = 1\n\n[trust]\nopenpgp = ["keys/*.asc"]\n'
    )
    (dev.repo / ".gitguard.toml").write_text(policy)
    assert dev.git("commit", "-q", "--amend", "--allow-empty", "--no-edit", "-S").returncode == 0
    assert dev.push("main").returncode == 0


def test_expired_openpgp_key_is_blocked_with_the_renewal_command(
    gpg_dev: tuple[Dev, GpgHome],
) -> None:
    dev, gnupg = gpg_dev
    key = gnupg.gen_key(
        "Test Committer <committer@example.com>",
        "ed25519",
        expire="1y",
        faked_time="20200101T000000",
    )
    dev.git("config", "--global", "user.signingkey", key.fingerprint)
    dev.git("config", "--global", "commit.gpgsign", "true")
    blocked = dev.commit("with an expired key")
    assert blocked.returncode != 0
    out = text(blocked)
    assert f"the OpenPGP key {key.fingerprint}" in out
    assert "has expired" in out
    assert f"gpg --quick-set-expire {key.fingerprint} 1y" in out


def test_missing_gnupg_secret_key_is_blocked(dev: Dev) -> None:
    dev.git("config", "--global", "user.signingkey", "0123456789ABCDEF0123456789ABCDEF01234567")
    dev.git("config", "--global", "commit.gpgsign", "true")
    blocked = dev.commit("no key")
    assert blocked.returncode != 0
    assert "GnuPG has no secret key for user.signingkey" in text(blocked)
    assert "git config --global user.signingkey <FINGERPRINT>" in text(blocked)


def test_signoff_is_required_when_configured(dev: Dev) -> None:
    dev.guard("setup", "--generate")
    dev.git("config", "guard.requireSignoff", "true")
    blocked = dev.commit("no sign-off")
    assert blocked.returncode != 0
    assert "Signed-off-by: Test Committer <committer@example.com>" in text(blocked)
    assert "git commit -s" in text(blocked)
    assert dev.commit("signed off", "-s").returncode == 0


def test_ssh_key_in_agent_only(tmp_path: Path) -> None:
    dev = make_dev(tmp_path, "guard-hooks-install")
    key = make_ssh_key(tmp_path / "keys", "agentkey", "ed25519", dev.env)
    dev.git("config", "--global", "gpg.format", "ssh")
    dev.git("config", "--global", "user.signingkey", f"key::{key.public_line}")
    dev.git("config", "--global", "commit.gpgsign", "true")
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"committer@example.com {key.public_line}\n")
    dev.git("config", "--global", "gpg.ssh.allowedSignersFile", str(allowed))

    blocked = dev.commit("no agent")
    assert blocked.returncode != 0
    assert "no SSH agent identity for it" in text(blocked)

    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(sock)], env=dev.env, stdout=subprocess.DEVNULL
    )
    try:
        for _ in range(100):
            if sock.exists():
                break
            time.sleep(0.05)
        dev.env["SSH_AUTH_SOCK"] = str(sock)
        run(["ssh-add", "-q", key.path], env=dev.env)
        made = dev.commit("agent signs")
        assert made.returncode == 0, text(made)
        assert dev.code() == "G"
    finally:
        agent.terminate()
        agent.wait(timeout=10)


def test_sha256_repository_push_and_deletion(tmp_path: Path) -> None:
    dev = make_dev(tmp_path, "guard-hooks-install", object_format="sha256")
    dev.guard("setup", "--generate")
    own = (dev.home / ".ssh" / "id_ed25519_signing.pub").read_text().split()
    (dev.repo / ".gitguard.toml").write_text(policy_for(f"{own[0]} {own[1]}"))
    assert dev.commit("signed").returncode == 0
    assert len(dev.out("rev-parse", "HEAD")) == 64
    assert dev.push("main", "main:refs/heads/topic").returncode == 0
    assert dev.commit("unsigned", "--no-verify", "--no-gpg-sign").returncode == 0
    pushed = dev.push("main")
    assert pushed.returncode != 0
    assert "status  unsigned" in text(pushed)
    # Deleting main: no rule allows it. Deleting topic: no rule covers it.
    deleted = dev.push(":refs/heads/main")
    assert deleted.returncode != 0
    assert "deleting refs/heads/main is not allowed" in text(deleted)
    assert dev.push(":refs/heads/topic").returncode == 0


def test_tags_under_a_signed_tag_rule(tmp_path: Path) -> None:
    dev = make_dev(tmp_path, "hooks-dir-scripts")
    dev.guard("setup", "--generate")
    own = (dev.home / ".ssh" / "id_ed25519_signing.pub").read_text().split()
    extra = '\n[[rule]]\nrefs = ["refs/tags/v*"]\nrequire = "signed-tag"\nsigners = ["dev"]\n'
    (dev.repo / ".gitguard.toml").write_text(policy_for(f"{own[0]} {own[1]}", extra=extra))
    assert dev.commit("signed").returncode == 0
    assert dev.push("main").returncode == 0
    dev.git("-c", "tag.gpgSign=false", "tag", "v1.0-light")
    pushed = dev.push("refs/tags/v1.0-light")
    assert pushed.returncode != 0
    assert "is a lightweight tag" in text(pushed)
    dev.git("tag", "-s", "-m", "release", "v1.0")
    assert dev.push("refs/tags/v1.0").returncode == 0


def test_hooks_install_respects_core_hooks_path_and_foreign_hooks(tmp_path: Path) -> None:
    dev = make_dev(tmp_path, None)
    shared = tmp_path / "shared-hooks"
    shared.mkdir()
    dev.git("config", "core.hooksPath", str(shared))
    foreign = shared / "pre-push"
    foreign.write_text("#!/bin/sh\necho mine\n")
    refused = dev.guard("hooks", "install", check=False)
    assert refused.returncode == 1
    assert str(foreign) in text(refused)
    assert "not overwriting" in text(refused)
    assert foreign.read_text() == "#!/bin/sh\necho mine\n"
    assert not (shared / "pre-commit").exists()

    dev.guard("hooks", "install", "--force")
    assert (shared / "pre-push.gitguard-backup").read_text() == "#!/bin/sh\necho mine\n"
    for name in CLIENT_HOOKS:
        assert f"{sys.executable} -m gitguard.client.hooks." in (shared / name).read_text()
        assert not (dev.repo / ".git" / "hooks" / name).exists()
    dev.guard("hooks", "install")  # our own hooks are updated in place


# --------------------------------------------------------------------------- units


def test_parse_pre_push_lines_and_zero_ids() -> None:
    z1, z2 = "0" * 40, "0" * 64
    a = "a" * 40
    lines = parse_pre_push(f"refs/heads/x {a} refs/heads/y {z1}\n\n", z1)
    assert lines == [PushLine("refs/heads/x", a, "refs/heads/y", z1)]
    assert parse_pre_push(f"(delete) {z2} refs/heads/y {'b' * 64}\n", z2)[0].local_oid == z2
    with pytest.raises(GuardError, match="is not an object id"):
        parse_pre_push(f"refs/heads/x {a} refs/heads/y {z1}\n", z2)
    with pytest.raises(GuardError, match="is not '<ref> <oid> <ref> <oid>'"):
        parse_pre_push("garbage\n", z1)


def test_git_config_keys_and_booleans() -> None:
    cfg = GitConfig(
        {
            "commit.gpgsign": ["false", None],
            "gpg.ssh.allowedsignersfile": ["~/x"],
            "remote.Origin.url": ["u"],
        }
    )
    assert cfg.bool("commit.gpgSign") is True  # a key without value is true; last wins
    assert cfg.path("gpg.ssh.allowedSignersFile") == os.path.expanduser("~/x")
    assert cfg.get("REMOTE.Origin.URL") == "u"
    assert cfg.get("remote.origin.url") is None  # subsections are case-sensitive


def test_git_config_read_keeps_every_value_in_git_order(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    run(["git", "init", "-q", str(repo)], env=dict(os.environ))
    with (repo / ".git" / "config").open("a") as f:
        f.write('[gitguard]\n\tpushee = a\n\tflag\n\tPushee = b\n[Remote "Up"]\n\tURL = x=y\n')
    run(["git", "-C", str(repo), "config", "--add", "gitguard.pushee", "c"], env=dict(os.environ))

    cfg = GitConfig.read(repo)
    assert cfg.get_all("gitguard.pushee") == ("a", "b", "c")
    assert cfg.get("gitguard.pushee") == "c"
    assert cfg.bool("gitguard.flag") is True  # no value: true, and "" as a string
    assert cfg.get("gitguard.flag") == ""
    assert cfg.get("remote.Up.url") == "x=y"
    assert cfg.get_all("gitguard.missing") == ()
    only = GitConfig.read(repo, pattern=r"^gitguard\.")
    assert only.get_all("gitguard.pushee") == ("a", "b", "c")
    assert only.get("remote.Up.url") is None
    assert GitConfig.read(repo, pattern=r"^nothing\.").get("gitguard.flag") is None
    with pytest.raises(GuardError, match=r"`git config --global -z --list` failed \(exit 128\)"):
        GitConfig.read(
            repo, scope="global", env={**os.environ, "GIT_CONFIG_GLOBAL": str(tmp_path / "none")}
        )


def test_parse_gpg_colons_secret_keys() -> None:
    out = (
        "sec:u:255:22:3B3EDBBCA45BB68C:1700000000:1800000000::u:::scSC:::+::ed25519:::0:\n"
        "fpr:::::::::9F388EBEBB14BA76D220113D3B3EDBBCA45BB68C:\n"
        "uid:u::::1700000000::X::Me <me@example.com>::::::::::0:\n"
        "ssb:e:255:18:1111111111111111:1600000000:1650000000:::::s:::#::ed25519::\n"
        "fpr:::::::::AAAABBBBCCCCDDDDEEEEFFFF1111111111111111:\n"
    )
    (cert,) = parse_gpg_colons(out)
    assert cert.primary.fingerprint == "9F388EBEBB14BA76D220113D3B3EDBBCA45BB68C"
    assert cert.primary.secret
    assert cert.primary.expires == 1800000000
    assert cert.primary.ownertrust == "u"
    assert cert.uids == ("Me <me@example.com>",)
    (sub,) = cert.subkeys
    assert sub.validity == "e"
    assert not sub.secret


def test_public_blob_from_openssh_private_key(tmp_path: Path) -> None:
    import base64

    env = tool_env(tmp_path / "h")
    key = make_ssh_key(tmp_path, "k", "ed25519", env)
    blob = openssh_private_public_blob(key.path.read_bytes())
    assert blob == base64.b64decode(key.public_line.split()[1])
    assert openssh_private_public_blob(b"not a key") is None
