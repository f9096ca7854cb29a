"""gitguard._spawn, the process layer under gitguard.git: the parts of Popen gitguard
relies on, each checked against real programs; and gitguard.tools, the one runner for
programs other than git."""

from __future__ import annotations

import os
import signal
import time

import pytest

from gitguard import _spawn, git, tools
from gitguard.errors import GitError, GuardError


def test_large_input_and_output_do_not_deadlock() -> None:
    data = os.urandom(3 * 1024 * 1024)  # far beyond a pipe's 64 KiB, both ways
    child = _spawn.Child(["cat"], stdin=_spawn.PIPE, stdout=_spawn.PIPE, stderr=_spawn.PIPE)
    out, err = child.communicate(data, timeout=60)
    assert out == data
    assert err == b""
    assert child.returncode == 0


def test_stdout_stderr_and_exit_code_are_kept_apart() -> None:
    child = _spawn.Child(
        ["sh", "-c", "echo out; echo err >&2; exit 3"], stdout=_spawn.PIPE, stderr=_spawn.PIPE
    )
    assert child.communicate() == (b"out\n", b"err\n")
    assert child.wait() == 3


def test_devnull_stdin_reads_as_empty() -> None:
    child = _spawn.Child(["cat"], stdin=_spawn.DEVNULL, stdout=_spawn.PIPE)
    assert child.communicate(timeout=30) == (b"", b"")
    assert child.returncode == 0


def test_a_timeout_kills_and_reaps_the_child() -> None:
    child = _spawn.Child(["sleep", "30"], stdout=_spawn.PIPE)
    started = time.monotonic()
    with pytest.raises(_spawn.Timeout):
        child.communicate(timeout=0.2)
    assert time.monotonic() - started < 10
    assert child.returncode == -signal.SIGKILL


def test_children_die_of_sigpipe_as_from_a_shell() -> None:
    """Python ignores SIGPIPE; its children must not inherit that."""
    child = _spawn.Child(["yes"], stdout=_spawn.PIPE)
    assert child.stdout is not None
    assert child.stdout.read(4) == b"y\ny\n"
    child.close()
    assert child.returncode == -signal.SIGPIPE


def test_inheritable_descriptors_are_not_passed_on() -> None:
    r, w = os.pipe()
    os.set_inheritable(w, True)
    try:
        child = _spawn.Child(["ls", "/proc/self/fd"], stdout=_spawn.PIPE)
        out, _ = child.communicate(timeout=30)
    finally:
        os.close(r)
        os.close(w)
    fds = {int(name) for name in out.split()}
    assert w not in fds
    assert fds <= {0, 1, 2, 3}  # 3: the directory ls itself reads


def test_a_missing_program_is_an_error_naming_git() -> None:
    with pytest.raises(GitError, match="git is not installed or not on PATH"):
        git.start(["version"], env={"PATH": "/nonexistent"})


def test_git_runs_in_the_directory_it_is_given(tmp_path: os.PathLike[str]) -> None:
    rc, out, _ = git.run("rev-parse", "--is-inside-work-tree", cwd=tmp_path, check=False)
    assert rc == 128
    with pytest.raises(GitError, match=r"`git rev-parse --show-toplevel` failed \(exit 128\)"):
        git.run("rev-parse", "--show-toplevel", cwd=tmp_path)
    assert out == b""


def test_a_tool_failure_names_the_command_exit_code_and_output() -> None:
    argv = ("sh", "-c", "echo out; echo 'it broke' >&2; exit 3")
    assert tools.run(argv, timeout=30, check=False) == (3, b"out\n", b"it broke\n")
    with pytest.raises(tools.ToolError) as exc:
        tools.run(argv, timeout=30)
    assert isinstance(exc.value, GuardError)
    assert exc.value.returncode == 3
    assert str(exc.value) == (
        "`sh -c 'echo out; echo '\"'\"'it broke'\"'\"' >&2; exit 3'` failed (exit 3): it broke"
    )
    with pytest.raises(tools.ToolError, match=r"failed \(exit 1\): only stdout$"):
        tools.run(("sh", "-c", "echo only stdout; exit 1"), timeout=30)


def test_a_tool_gets_its_input_or_an_empty_stdin(tmp_path: os.PathLike[str]) -> None:
    assert tools.run(("cat",), timeout=30).stdout == b""  # never a terminal to prompt on
    assert tools.run(("cat",), input=b"data", timeout=30).stdout == b"data"
    assert tools.run(("pwd",), cwd=tmp_path, timeout=30).stdout.strip() == os.fsencode(tmp_path)
    env = {"PATH": os.environ["PATH"], "ONLY": "this"}
    assert tools.run(("sh", "-c", "echo $ONLY"), env=env, timeout=30).stdout == b"this\n"


def test_a_missing_tool_and_a_timeout_are_errors_that_say_so(
    tmp_path: os.PathLike[str],
) -> None:
    with pytest.raises(tools.ToolMissing, match=r"^no-such-tool is not installed or not on PATH$"):
        tools.run(("no-such-tool", "--version"), timeout=30)
    missing_dir = os.path.join(tmp_path, "gone")
    with pytest.raises(tools.ToolError, match="no such directory") as exc:
        tools.run(("true",), cwd=missing_dir, timeout=30)
    assert not isinstance(exc.value, tools.ToolMissing)
    started = time.monotonic()
    with pytest.raises(tools.ToolTimeout, match=r"^`sleep 30` did not answer within 0.2 s$"):
        tools.run(("sleep", "30"), timeout=0.2)
    assert time.monotonic() - started < 10
