"""``guard server install`` / ``guard server check``, the installed shims, chaining of
existing hooks, the Gitea/GitLab ``pre-receive.d`` layout, and the hand-installable
shims shipped in ``hooks/`` — each proven by a real push."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import cryptography
import pytest

import gitguard
from gitfixtures import Repo, ssh_signer, tool_env
from gitguard.cli.main import main
from gitguard.errors import GuardError, PolicyError
from gitguard.server.install import CHAINED_SUFFIX, SHIM_MARKER, check, install
from receivefixtures import Keys, Server, policy_text, push

ROOT = Path(__file__).resolve().parent.parent

RULES = """
[[rule]]
refs = ["refs/heads/*"]
require = "signed"
signers = ["maintainers"]
"""


class World:
    def __init__(self, tmp: Path, keys: Keys) -> None:
        self.tmp = tmp
        self.keys = keys
        self.env = tool_env(tmp / "home")
        self.policy = tmp / "policy.toml"
        self.policy.write_text(policy_text(keys, RULES))
        self.server = Server.create(tmp / "srv.git", self.env)
        self.hooks = self.server.path / "hooks"
        self.alice = ssh_signer(keys.alice)
        self.client = Repo.init(tmp / "client", self.env)

    def push_signed(self) -> bool:
        self.client.commit("signed", signer=self.alice)
        return push(self.client, self.server, "HEAD:refs/heads/main").returncode == 0

    def push_unsigned(self) -> bool:
        self.client.commit("unsigned")
        return push(self.client, self.server, "HEAD:refs/heads/main").returncode == 0


@pytest.fixture
def world(tmp_path: Path, keys: Keys) -> World:
    return World(tmp_path, keys)


def _foreign_hook(path: Path, log: Path, *, exit_code: int = 0) -> None:
    path.write_text(
        f"#!/bin/sh\ncat >> '{log}'\necho 'foreign hook says hello' >&2\nexit {exit_code}\n"
    )
    path.chmod(0o755)


def test_install_writes_shims_that_name_the_interpreter(world: World) -> None:
    result = world.server.install(world.policy)
    assert result.lines == [
        f"policy: {world.policy} (git config gitguard.policy)",
        f"installed {world.hooks / 'pre-receive'}",
        f"installed {world.hooks / 'post-receive'}",
        f"interpreter: {sys.executable}",
    ]
    for name in ("pre-receive", "post-receive"):
        shim = world.hooks / name
        text = shim.read_text()
        assert text.startswith(f"#!/bin/sh\n{SHIM_MARKER}: the {name} hook")
        # Without site (-S), with the paths site would add (an editable install's
        # source directory included): pushes do not pay for site and .pth files.
        assert f"exec {sys.executable} -I -S -c " in text
        assert json.dumps(str(Path(gitguard.__file__).parent.parent)) in text
        assert "/usr/bin/env" not in text
        assert shim.stat().st_mode & stat.S_IXUSR
    assert not (world.hooks / "update").exists()
    assert world.server.git("config", "gitguard.policy").strip() == str(world.policy)
    assert world.push_signed()
    assert not world.push_unsigned()

    # Installing again over our own shims is fine.
    again = world.server.install(world.policy, update_hook=True, timeout=20)
    assert f"installed {world.hooks / 'update'}" in again.lines
    assert world.server.git("config", "gitguard.timeout").strip() == "20"


def test_a_shim_that_cannot_load_gitguard_refuses_with_a_reason(world: World) -> None:
    """The interpreter moved or gitguard's paths changed: the push is refused, and the
    pusher reads why (not a traceback)."""
    world.server.install(world.policy)
    shim = world.hooks / "pre-receive"
    src = json.dumps(str(Path(gitguard.__file__).parent.parent))
    site_packages = json.dumps(str(Path(cryptography.__file__).parent.parent))
    text = shim.read_text()
    assert src in text
    assert site_packages in text
    shim.write_text(text.replace(src, '"/nonexistent"').replace(site_packages, '"/nonexistent"'))
    world.client.commit("signed", signer=world.alice)
    result = push(world.client, world.server, "HEAD:refs/heads/main")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert (
        "gitguard: push rejected: cannot start gitguard (ModuleNotFoundError: No module "
        "named 'gitguard'); the administrator must install the hooks again" in output
    )
    assert "Traceback" not in output


def test_shims_written_before_the_layout_change_still_decide(world: World) -> None:
    """Shims installed by earlier versions import ``gitguard.cli_server``: they keep
    working (accept the good push, refuse the bad one) until installed again."""
    world.server.install(world.policy)
    shim = world.hooks / "pre-receive"
    text = shim.read_text()
    assert "from gitguard.server.hook import hook_main" in text
    shim.write_text(text.replace("gitguard.server.hook", "gitguard.cli_server"))
    assert world.push_signed()
    assert not world.push_unsigned()


def test_shims_keep_site_when_the_interpreter_needs_it(world: World) -> None:
    """An interpreter that cannot load the hook's modules without site (here: one that
    does not exist while the shim is written) gets a plain -I shim."""
    from gitguard.server.install import site_paths

    assert site_paths(str(world.tmp / "no-such-python")) is None
    install(world.server.path, policy=world.policy, python=str(world.tmp / "no-such-python"))
    text = (world.hooks / "pre-receive").read_text()
    assert f"exec {world.tmp / 'no-such-python'} -I -c " in text
    assert "sys.path +=" not in text


def test_install_refuses_what_is_not_a_bare_repository(world: World) -> None:
    with pytest.raises(GuardError, match="not a bare repository"):
        install(world.client.path, policy=world.policy)
    with pytest.raises(GuardError, match="no such directory"):
        install(world.tmp / "nope.git", policy=world.policy)
    (world.tmp / "empty").mkdir()
    with pytest.raises(GuardError, match="not a git repository"):
        install(world.tmp / "empty", policy=world.policy)


def test_invalid_policy_changes_nothing(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    bad = world.tmp / "bad.toml"
    bad.write_text('version = 1\n[[rule]]\nrefs = ["refs/heads/main"]\nrequre = "signed"\n')
    with pytest.raises(PolicyError):
        install(world.server.path, policy=bad)
    assert not (world.hooks / "pre-receive").exists()
    assert world.server.git("config", "gitguard.policy", check=False) == ""

    assert main(["server", "install", str(world.server.path), "--policy", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "guard: invalid trust configuration (2 problems):" in err
    assert f"{bad}:4: rule[1].requre: unknown key" in err


def test_foreign_hook_is_kept_only_when_asked(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    log = world.tmp / "foreign.log"
    _foreign_hook(world.hooks / "pre-receive", log)
    before = (world.hooks / "pre-receive").read_text()

    with pytest.raises(GuardError, match=r"existing hooks that are not gitguard's: .*--chain"):
        world.server.install(world.policy)
    assert (world.hooks / "pre-receive").read_text() == before
    assert not (world.hooks / "post-receive").exists()
    assert main(["server", "install", str(world.server.path), "--policy", str(world.policy)]) == 1
    assert "Nothing was changed" in capsys.readouterr().err

    result = world.server.install(world.policy, chain=True)
    chained = world.hooks / f"pre-receive{CHAINED_SUFFIX}"
    assert f"kept the existing pre-receive hook as {chained} (runs first)" in result.lines
    assert chained.read_text() == before
    assert f"--chained {chained}" in (world.hooks / "pre-receive").read_text()

    # Both run: the foreign hook first (it saw the ref updates), then the guard.
    head = world.client.commit("signed", signer=world.alice)
    p = push(world.client, world.server, "HEAD:refs/heads/main")
    assert p.returncode == 0, p.stderr
    assert p.remote == [
        "foreign hook says hello",
        "gitguard: refs/heads/main: accepted: 1 new commit signed by allowed signers",
    ]
    assert log.read_text() == f"{'0' * 40} {head} refs/heads/main\n"
    assert not world.push_unsigned()

    # Re-installing keeps the chain; a failing chained hook refuses the push.
    world.server.install(world.policy)
    _foreign_hook(chained, log, exit_code=3)
    world.client.commit("signed again", signer=world.alice)
    p = push(world.client, world.server, "HEAD:refs/heads/main")
    assert p.returncode != 0
    assert p.remote == [
        "foreign hook says hello",
        "gitguard: push rejected: the chained hook pre-receive.gitguard-chained refused the "
        "push (exit 3)",
    ]


def test_chain_refuses_when_a_chained_hook_already_exists(world: World) -> None:
    log = world.tmp / "log"
    _foreign_hook(world.hooks / "pre-receive", log)
    _foreign_hook(world.hooks / f"pre-receive{CHAINED_SUFFIX}", log)
    with pytest.raises(GuardError, match="already exists next to it: merge them by hand"):
        world.server.install(world.policy, chain=True)


def test_signed_push_rule_configures_nonces_without_replacing_a_seed(world: World) -> None:
    world.policy.write_text(policy_text(world.keys, RULES + "require_signed_push = true\n"))
    world.server.git("config", "receive.certNonceSeed", "the-admins-own-seed")
    result = world.server.install(world.policy)
    assert world.server.git("config", "receive.certNonceSeed").strip() == "the-admins-own-seed"
    assert world.server.git("config", "receive.certNonceSlop").strip() == "30"
    assert "signed pushes: set receive.certNonceSlop = 30" in result.lines


def test_check(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.server.install(world.policy)
    assert world.push_signed()
    assert main(["server", "check", str(world.server.path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"repository  {world.server.path} (bare, sha1)"
    assert out[1] == (
        f"policy      {world.policy}: valid; 3 signers, 1 rule, default allow; keys: 3 SSH, "
        "0 OpenPGP certificates"
    )
    assert f"  pre-receive   gitguard shim ({sys.executable})" in out
    assert "  update        not installed" in out
    line = world.policy.read_text().splitlines().index("[[rule]]") + 1
    label = f"policy.toml:{line}"
    assert f"  {label:<18} refs/heads/*" in out
    assert (
        "                     every new commit signed by alice, bob; force push refused; "
        "delete refused"
    ) in out
    assert "  (default)          every other ref: allow" in out
    assert f"  refs/heads/main  {label}" in out

    (world.hooks / "pre-receive").unlink()
    assert main(["server", "check", str(world.server.path)]) == 1
    assert "run `guard server install`" in capsys.readouterr().err

    world.policy.unlink()
    assert main(["server", "check", str(world.server.path)]) == 2
    assert "cannot read: No such file or directory" in capsys.readouterr().err


def test_check_without_policy(world: World) -> None:
    world.server.install(None)
    result = check(world.server.path)
    assert result.problems[0].startswith("no policy configured (git config gitguard.policy)")
    assert not result.policy_problems


def test_pre_receive_d_layout_as_gitea_runs_it(world: World) -> None:
    """Gitea/Forgejo (and GitLab's custom_hooks) own hooks/pre-receive and run every
    executable in pre-receive.d with the same input."""
    dispatcher = world.hooks / "pre-receive"
    dispatcher.write_text(
        "#!/bin/sh\n"
        'data=$(cat)\nfor h in "$(dirname "$0")"/pre-receive.d/*; do\n'
        '  test -x "$h" || continue\n'
        '  printf "%s\\n" "$data" | "$h" || exit 1\ndone\n'
    )
    dispatcher.chmod(0o755)
    result = world.server.install(world.policy, dot_d=True)
    assert f"installed {world.hooks / 'pre-receive.d' / 'gitguard'}" in result.lines
    assert dispatcher.read_text().startswith("#!/bin/sh\ndata=")  # untouched
    assert world.push_signed()
    assert not world.push_unsigned()
    assert check(world.server.path).problems == []


def test_hooks_shipped_in_the_repository(world: World) -> None:
    """``hooks/pre-receive`` and ``hooks/update`` from this repository, copied by hand,
    run ``guard hook …`` from PATH."""
    for name in ("pre-receive", "post-receive"):
        shutil.copy2(ROOT / "hooks" / name, world.hooks / name)
    world.server.git("config", "gitguard.policy", str(world.policy))
    bindir = os.path.dirname(sys.executable)
    env = {**world.env, "PATH": f"{bindir}{os.pathsep}{world.env['PATH']}"}
    world.client.commit("signed", signer=world.alice)
    assert push(world.client, world.server, "HEAD:refs/heads/main", env=env).returncode == 0
    bad = world.client.commit("unsigned")
    p = push(world.client, world.server, "HEAD:refs/heads/main", env=env)
    assert p.returncode != 0
    assert f"  {bad[:12]}  unsigned" in p.remote

    # The update hook alone decides per ref.
    (world.hooks / "pre-receive").unlink()
    shutil.copy2(ROOT / "hooks" / "update", world.hooks / "update")
    p = push(world.client, world.server, "HEAD:refs/heads/main", env=env)
    assert p.returncode != 0
    assert f"  {bad[:12]}  unsigned" in p.remote
    assert "[remote rejected] (hook declined)" in p.stdout

    # Without `guard` on PATH the shell fails: the push is refused.
    p = push(world.client, world.server, "HEAD:refs/heads/main")
    assert p.returncode != 0


def test_printed_shim_carries_its_policy(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """GitLab global hooks, GHES pre-receive environments: a shim file that names the
    policy itself, in a repository with no gitguard configuration."""
    argv = ["server", "shim", "pre-receive", "--policy", str(world.policy), "--timeout", "4.5"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert f"pre-receive --policy {world.policy} --timeout 4.5 " in text
    hook = world.hooks / "pre-receive"
    hook.write_text(text)
    hook.chmod(0o755)
    assert world.push_signed()
    assert not world.push_unsigned()

    assert main(["server", "shim", "pre-receive", "--policy", "relative.toml"]) == 2
    assert "--policy must be an absolute path" in capsys.readouterr().err


def test_configured_time_limit(world: World) -> None:
    world.server.install(world.policy, timeout=0.001)
    world.client.commit("signed", signer=world.alice)
    p = push(world.client, world.server, "HEAD:refs/heads/main")
    assert p.returncode != 0
    assert p.remote == [
        "gitguard: push rejected: the signature check did not finish within 0.001 s; the "
        "limit is GUARD_HOOK_TIMEOUT or `git config gitguard.timeout` (seconds)"
    ]


def test_post_receive_shim_starts_python_only_for_pushed_tags(tmp_path: Path) -> None:
    """Release signing only ever concerns tags: a push without one must not pay for
    an interpreter start. A missing interpreter shows whether it was started."""
    from gitguard.server.install import shim_command, shim_text

    shim = tmp_path / "post-receive"
    shim.write_text(shim_text("post-receive", str(tmp_path / "no-such-python"), None))
    shim.chmod(0o755)
    zero, new = "0" * 40, "1" * 40
    branch = subprocess.run(
        [str(shim)], input=f"{zero} {new} refs/heads/main\n", text=True,
        capture_output=True, check=False,
    )  # fmt: skip
    assert branch.returncode == 0, branch.stderr
    tag = subprocess.run(
        [str(shim)], input=f"{zero} {new} refs/heads/main\n{zero} {new} refs/tags/v1\n",
        text=True, capture_output=True, check=False,
    )  # fmt: skip
    # The shim got as far as starting the interpreter, and says it cannot.
    assert tag.returncode == 0  # post-receive cannot refuse anything
    assert f"gitguard: cannot start: {tmp_path / 'no-such-python'} is missing" in tag.stderr
    assert "release signing did not run for this push" in tag.stderr
    command = shim_command(shim)
    assert command is not None
    assert command[0] == str(tmp_path / "no-such-python")
    assert command[-1] == "post-receive"
