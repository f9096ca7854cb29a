"""The real pre-commit framework installs gitguard's hooks from this repository.

The hook repository is a snapshot of this work tree committed into a temporary git
repository (so the test does not depend on uncommitted state, and works the same in a
clean CI clone), referenced by path and commit in ``.pre-commit-config.yaml``. The
framework then builds its own virtualenv for it with ``pip install .`` — exactly what
users get — but offline: pip gets ``--no-index`` and a wheelhouse made here from the
distributions already installed in this interpreter (repacked as wheels, plus
setuptools for the build from virtualenv's embedded wheels). When ``unshare -n`` works,
the install runs without any network at all, which proves it needs none.

Scenarios (SSH and OpenPGP): no signing configured → blocked with the fix; after
``guard setup`` the commit passes and is signed; an unsigned ``--no-verify`` commit is
stopped by pre-push (push to a local bare repository); a key the policy does not trust
is blocked; the commit-msg hook requires the DCO sign-off.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from gitfixtures import GpgHome, make_ssh_key, run, tool_env

ROOT = Path(__file__).resolve().parent.parent
# What `pip install .` of the hook repository needs (and what a clone would have).
SNAPSHOT_PATHS = (".pre-commit-hooks.yaml", "pyproject.toml", "README.md", "LICENSE", "src")
HOOK_TYPES = ("pre-commit", "commit-msg", "post-commit", "pre-push")


# --------------------------------------------------------------------------- hook repo


def snapshot_repo(dest: Path, env: dict[str, str]) -> str:
    """Commit the files a clone of this repository has (tracked and new, not ignored)
    under SNAPSHOT_PATHS into a fresh repository at ``dest``; return the commit id."""
    listing = run(
        [
            "git",
            "-C",
            ROOT,
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
            "--",
            *SNAPSHOT_PATHS,
        ],
        env=env,
    ).stdout.decode()
    for rel in filter(None, listing.split("\0")):
        src = ROOT / rel
        if not src.is_file():  # deleted in the work tree
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    run(["git", "init", "-q", dest], env=env)
    run(["git", "-C", dest, "add", "-A"], env=env)
    run(["git", "-C", dest, "commit", "-q", "--no-gpg-sign", "-m", "snapshot"], env=env)
    return run(["git", "-C", dest, "rev-parse", "HEAD"], env=env).stdout.decode().strip()


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip("=")
    return f"sha256={digest}"


def repack_wheel(dist: importlib.metadata.Distribution, out: Path) -> Path:
    """Write the installed distribution ``dist`` back into a wheel (its files as listed
    in RECORD, a fresh RECORD, the WHEEL file's tags in the name)."""
    wheel_meta = dist.read_text("WHEEL") or ""
    tags = [
        line.split(":", 1)[1].strip() for line in wheel_meta.splitlines() if line.startswith("Tag:")
    ]
    parts = [t.split("-") for t in tags] or [["py3", "none", "any"]]
    tag = "-".join(".".join(sorted({p[i] for p in parts})) for i in range(3))
    name = canonicalize_name(dist.metadata["Name"]).replace("-", "_")
    path = out / f"{name}-{dist.version}-{tag}.whl"
    records: list[str] = []
    record_name = ""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for f in dist.files or []:
            rel = f.as_posix()
            if rel.startswith("..") or "__pycache__" in rel or rel.endswith(".pyc"):
                continue
            if ".dist-info/" in rel:
                leaf = rel.rsplit("/", 1)[1]
                if leaf == "RECORD":
                    record_name = rel
                    continue
                if leaf in ("INSTALLER", "REQUESTED", "direct_url.json"):
                    continue
            src = Path(str(f.locate()))
            if not src.is_file():
                continue
            data = src.read_bytes()
            z.writestr(rel, data)
            records.append(f"{rel},{_record_hash(data)},{len(data)}")
        records.append(f"{record_name},,")
        z.writestr(record_name, "\n".join(records) + "\n")
    return path


def build_wheelhouse(hook_repo: Path, out: Path) -> None:
    """Wheels for the hook repository's runtime dependencies (their closure, from the
    installed distributions) and for its build backend."""
    project = tomllib.loads((hook_repo / "pyproject.toml").read_text())["project"]
    marker_env = {k: str(v) for k, v in default_environment().items()}
    todo = [Requirement(r) for r in project["dependencies"]]
    seen: set[str] = set()
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({**marker_env, "extra": ""}):
            continue
        key = canonicalize_name(req.name)
        if key in seen:
            continue
        seen.add(key)
        dist = importlib.metadata.distribution(req.name)  # must be installed here
        repack_wheel(dist, out)
        todo.extend(Requirement(r) for r in dist.requires or [])
    from virtualenv.seed.wheels.embed import get_embed_wheel

    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    setuptools = get_embed_wheel("setuptools", py)
    assert setuptools is not None, "virtualenv ships no setuptools wheel for this Python"
    shutil.copy2(setuptools.path, out)


def _unshare_net() -> list[str]:
    """``["unshare", "-n"]`` when this machine lets us drop the network, else []."""
    if shutil.which("unshare") is None:
        return []
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    return ["unshare", "-n"] if probe.returncode == 0 else []


@dataclass(frozen=True)
class HookRepo:
    path: Path
    rev: str
    env: dict[str, str]  # PRE_COMMIT_HOME and pip's offline settings

    def config(self, hooks: str) -> str:
        return f"repos:\n- repo: {self.path}\n  rev: {self.rev}\n  hooks:\n{hooks}"


STANDARD_HOOKS = "  - id: guard-signing\n  - id: guard-post-commit\n  - id: guard-pre-push\n"


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> HookRepo:
    base = tmp_path_factory.mktemp("framework")
    env = tool_env(base / "builder-home")
    path = base / "gitguard-hooks"
    rev = snapshot_repo(path, env)
    wheels = base / "wheelhouse"
    wheels.mkdir()
    build_wheelhouse(path, wheels)
    offline = {
        "PRE_COMMIT_HOME": str(base / "pre-commit-store"),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheels),
        "PIP_CONFIG_FILE": os.devnull,  # no machine-wide index or find-links
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "VIRTUALENV_NO_PERIODIC_UPDATE": "1",
    }
    repo = HookRepo(path, rev, offline)
    # Build the hook environment once for the module, with no network if we can.
    scratch = base / "scratch"
    env = {**env, **offline, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"}
    run(["git", "init", "-q", scratch], env=env)
    (scratch / ".pre-commit-config.yaml").write_text(
        repo.config(STANDARD_HOOKS + "  - id: guard-commit-msg\n")
    )
    installed = run(
        [*_unshare_net(), sys.executable, "-m", "pre_commit", "install-hooks"],
        env=env,
        cwd=scratch,
        check=False,
    )
    assert installed.returncode == 0, installed.stdout.decode() + installed.stderr.decode()
    return repo


# --------------------------------------------------------------------------- developer


@dataclass
class Dev:
    home: Path
    env: dict[str, str]
    repo: Path
    bare: Path

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return run(["git", *args], env=self.env, cwd=self.repo, check=check)

    def guard(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return run([sys.executable, "-m", "gitguard", *args], env=self.env, cwd=self.repo)

    def commit(self, message: str, *extra: str) -> subprocess.CompletedProcess[bytes]:
        return self.git("commit", "-q", "--allow-empty", "-m", message, *extra, check=False)

    def push(self) -> subprocess.CompletedProcess[bytes]:
        return self.git("push", "-q", "origin", "main", check=False)

    def code(self) -> str:
        return self.git("log", "-1", "--format=%G?").stdout.decode().strip()


def text(proc: subprocess.CompletedProcess[bytes]) -> str:
    return (proc.stdout + proc.stderr).decode("utf-8", "replace")


def make_dev(tmp: Path, hook_repo: HookRepo, hooks: str = STANDARD_HOOKS) -> Dev:
    home = tmp / "home"
    env = tool_env(home)
    env.update(hook_repo.env)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    run(["git", "config", "--global", "user.name", "Test Committer"], env=env)
    run(["git", "config", "--global", "user.email", "committer@example.com"], env=env)
    repo, bare = tmp / "work", tmp / "remote.git"
    run(["git", "init", "-q", "--bare", bare], env=env)
    run(["git", "init", "-q", "-b", "main", repo], env=env)
    dev = Dev(home, env, repo, bare)
    dev.git("remote", "add", "origin", str(bare))
    (repo / ".pre-commit-config.yaml").write_text(hook_repo.config(hooks))
    dev.git("add", ".pre-commit-config.yaml")  # staged: the framework insists
    types = [a for t in HOOK_TYPES for a in ("--hook-type", t)]
    run([sys.executable, "-m", "pre_commit", "install", *types], env=env, cwd=repo)
    return dev


@pytest.fixture
def dev(tmp_path: Path, hook_repo: HookRepo) -> Dev:
    return make_dev(tmp_path, hook_repo)


@pytest.fixture
def gnupg(dev: Dev) -> Iterator[GpgHome]:
    g = GpgHome.create(dev.home / ".gnupg", dev.env)
    try:
        yield g
    finally:
        g.close()


# --------------------------------------------------------------------------- scenarios


def test_ssh_blocked_until_setup_then_signed_and_pre_push_stops_unsigned(dev: Dev) -> None:
    blocked = dev.commit("first")
    assert blocked.returncode != 0
    out = text(blocked)
    assert "commit signing is set up (gitguard)" in out  # the framework ran our hook
    assert "Failed" in out
    assert "commit signing is not configured" in out
    assert "guard setup" in out
    assert "git config --global commit.gpgsign true" in out

    dev.guard("setup", "--generate")
    made = dev.commit("first")
    assert made.returncode == 0, text(made)
    assert dev.code() == "G"
    assert dev.push().returncode == 0

    sneaky = dev.commit("unsigned", "--no-verify", "--no-gpg-sign")
    assert sneaky.returncode == 0
    assert "is unsigned" in text(sneaky)  # post-commit still runs under --no-verify
    bad = dev.git("rev-parse", "HEAD").stdout.decode().strip()
    pushed = dev.push()
    assert pushed.returncode != 0
    out = text(pushed)
    assert "outgoing commits pass the server policy (gitguard)" in out
    assert "guard: push to origin blocked" in out
    assert f"{bad[:12]}  unsigned" in out
    assert "status  unsigned" in out


def test_key_the_policy_does_not_trust(dev: Dev, tmp_path: Path) -> None:
    alice = make_ssh_key(tmp_path / "keys", "alice", "ed25519", dev.env)
    dev.guard("setup", "--generate")
    policy = (
        'version = 1\n[[signer]]\nname = "alice"\n'
        f'keys = ["{alice.public_line}"]\n'
        '[[rule]]\nrefs = ["refs/heads/*"]\nsigners = ["alice"]\n'
    )
    (dev.repo / ".gitguard.toml").write_text(policy)
    dev.git("add", ".gitguard.toml")
    blocked = dev.commit("untrusted")
    assert blocked.returncode != 0
    assert "is not in the policy's trust store" in text(blocked)
    assert "allows only alice to sign commits on refs/heads/main" in text(blocked)

    assert dev.commit("untrusted", "--no-verify").returncode == 0
    pushed = dev.push()
    assert pushed.returncode != 0
    assert "unknown-key" in text(pushed)


def test_openpgp_path(dev: Dev, gnupg: GpgHome) -> None:
    key = gnupg.gen_key("Test Committer <committer@example.com>", "ed25519")
    assert f"GnuPG key {key.fingerprint}" in text(dev.guard("setup"))
    made = dev.commit("gpg-signed")
    assert made.returncode == 0, text(made)
    assert dev.code() == "G"
    assert dev.push().returncode == 0


def test_commit_msg_hook_requires_signoff(tmp_path: Path, hook_repo: HookRepo) -> None:
    hooks = "  - id: guard-commit-msg\n    args: [--require-signoff]\n  - id: guard-pre-push\n"
    dev = make_dev(tmp_path, hook_repo, hooks)
    unsigned = dev.commit("no setup, no sign-off")
    assert unsigned.returncode != 0
    assert "commit signing is not configured" in text(unsigned)  # the signing check too
    dev.guard("setup", "--generate")
    blocked = dev.commit("no sign-off")
    assert blocked.returncode != 0
    assert "Signed-off-by: Test Committer <committer@example.com>" in text(blocked)
    assert dev.commit("signed off", "-s").returncode == 0
    assert dev.code() == "G"
    assert dev.push().returncode == 0


def test_every_hook_is_documented_and_a_console_script() -> None:
    import importlib
    import re

    manifest = (ROOT / ".pre-commit-hooks.yaml").read_text()
    ids = re.findall(r"^- id: (\S+)$", manifest, re.M)
    entries = re.findall(r"^  entry: (\S+)$", manifest, re.M)
    assert ids == ["guard-signing", "guard-commit-msg", "guard-post-commit", "guard-pre-push"]
    assert entries == ids
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    docs = (ROOT / "docs" / "client.md").read_text()
    for hook_id in ids:
        assert f"`{hook_id}`" in docs
        module, _, func = scripts[hook_id].partition(":")
        assert callable(getattr(importlib.import_module(module), func))
