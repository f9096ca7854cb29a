"""The command line: exit codes, messages, output files, the demo, `git guard`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gitguard.cli import main


def _repo(tmp: Path) -> Path:
    repo = tmp / "repo"
    subprocess.run(("git", "init", "-q", "-b", "main", str(repo)), check=True)
    subprocess.run(
        ("git", "-C", str(repo), "commit", "-q", "--allow-empty", "-m", "first"), check=True
    )
    return repo


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: guard" in capsys.readouterr().err


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--bogus"]) == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_bad_jobs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(_repo(tmp_path)), "audit", "--jobs", "0"]) == 2
    assert capsys.readouterr().err == "guard: --jobs must be at least 1\n"


def test_not_a_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(tmp_path), "audit", "--allowed-signers", "/dev/null"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"guard: {tmp_path}: not a git repository")
    assert "Traceback" not in err


def test_bad_revision(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _repo(tmp_path)
    empty = tmp_path / "allowed"
    empty.write_text("")
    assert main(["-C", str(repo), "audit", "--allowed-signers", str(empty), "nope"]) == 1
    err = capsys.readouterr().err
    assert "nope" in err
    assert "Traceback" not in err


def test_unsigned_history_fails_with_json(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    empty = tmp_path / "allowed"
    empty.write_text("")
    out = tmp_path / "out.json"
    rc = main(
        [
            "-C",
            str(repo),
            "audit",
            "--allowed-signers",
            str(empty),
            "--format",
            "json",
            "--output",
            str(out),
        ]
    )
    assert rc == 1
    doc = json.loads(out.read_text())
    assert doc["version"] == 1
    (result,) = doc["results"]
    assert result["status"] == "unsigned"
    assert result["git_code"] == "N"
    assert result["format"] is None
    assert "git commit --amend --no-edit -S" in result["hint"]
    assert doc["summary"]["by_status"] == {"unsigned": 1}
    assert doc["summary"]["ok"] is False


def test_unwritable_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _repo(tmp_path)
    rc = main(
        [
            "-C",
            str(repo),
            "audit",
            "--allowed-signers",
            "/dev/null",
            "--output",
            str(tmp_path / "no" / "such" / "dir" / "x.json"),
        ]
    )
    assert rc == 1
    assert "cannot write" in capsys.readouterr().err


def test_missing_key_file_is_a_policy_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo(tmp_path)
    missing = tmp_path / "nope.asc"
    rc = main(
        [
            "-C",
            str(repo),
            "audit",
            "--openpgp-key",
            str(missing),
            "--allowed-signers",
            str(tmp_path / "nope"),
        ]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert "2 problems" in err
    assert f"{missing}: cannot read OpenPGP key file" in err


def test_demo_runs_and_finds_every_planted_problem(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    for word in (
        "unsigned",
        "bad-signature",
        "unknown-key",
        "FAIL: 3 of 6 objects",
        "rejected: 3 of 4 new commits not acceptable",
        "refs/tags/v0.1: accepted: signed tag",
        "Verified 1 signature",
    ):
        assert word in out


def test_git_guard_subcommand(tmp_path: Path) -> None:
    """`git guard audit` works through git's external-command lookup."""
    bindir = Path(sys.executable).parent
    if not (bindir / "git-guard").exists():
        pytest.fail("the git-guard console script is not installed next to the interpreter")
    repo = _repo(tmp_path)
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(
        ("git", "guard", "audit", "--allowed-signers", "/dev/null", "--format", "json"),
        cwd=repo,
        env=env,
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["results"][0]["status"] == "unsigned"
    assert shutil.which("git")


def test_certificate_bound_with_sha1_loads_and_reports_weak_algorithm(tmp_path: Path) -> None:
    """Old GnuPG keys carry SHA-1 self-signatures. They must load (from the keyring
    and from a key file) and their signatures be reported, never crash the audit."""
    gpg = ("gpg", "--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase", "")
    subprocess.run(
        (*gpg, "--cert-digest-algo", "SHA1", "--quick-gen-key", "Old <old@example.com>",
         "rsa2048", "sign", "never"),
        check=True, capture_output=True,
    )  # fmt: skip
    colons = subprocess.run(
        ("gpg", "--with-colons", "--list-keys"), check=True, capture_output=True, text=True
    ).stdout
    fpr = next(line.split(":")[9] for line in colons.splitlines() if line.startswith("fpr"))
    subprocess.run(("gpg", "--import-ownertrust"), input=f"{fpr}:6:\n", text=True,
                   check=True, capture_output=True)  # fmt: skip
    repo = _repo(tmp_path)
    subprocess.run(
        ("git", "-C", str(repo), "-c", f"user.signingkey={fpr}", "commit", "-q",
         "--allow-empty", "-S", "-m", "old key"),
        check=True,
    )  # fmt: skip
    key_file = tmp_path / "old.asc"
    key_file.write_bytes(
        subprocess.run(("gpg", "--export", "--armor", fpr), check=True, capture_output=True).stdout
    )
    for extra in ([], ["--openpgp-key", str(key_file)]):
        out = tmp_path / "out.json"
        rc = main(["-C", str(repo), "audit", "--format", "json", "-o", str(out), *extra])
        assert rc == 1
        statuses = [r["status"] for r in json.loads(out.read_text())["results"]]
        assert statuses == ["weak-algorithm", "unsigned"]
