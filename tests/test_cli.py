"""The command line: exit codes, messages, output files, the demo, `git guard`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gitguard.cli.main import main


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


def test_certificate_bound_with_sha1_loads_and_warns(tmp_path: Path) -> None:
    """Old GnuPG keys carry SHA-1 self-signatures. They must load (from the keyring
    and from a key file) and their signatures be judged, never crash the audit."""
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
        doc = json.loads(out.read_text())
        # A SHA-256 data signature by a key bound with SHA-1: accepted, with a warning
        # naming the certificate (sha1_self_signatures = "warn", the default).
        assert [r["status"] for r in doc["results"]] == ["good", "unsigned"]
        assert [w["key"] for w in doc["warnings"]] == [fpr]


# --------------------------------------------------------------------------- --no-walk


def _audit_json(repo: Path, tmp: Path, *args: str) -> tuple[int, list[dict[str, str]]]:
    out = tmp / "out.json"
    out.unlink(missing_ok=True)
    rc = main(["-C", str(repo), "audit", "--format", "json", "-o", str(out), *args])
    results = json.loads(out.read_text())["results"] if out.exists() else []
    return rc, [{k: r[k] for k in ("object", "kind", "status")} for r in results]


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    return (
        subprocess.run(
            ("git", "-C", str(repo), *args), input=stdin, capture_output=True, check=True
        )
        .stdout.decode()
        .strip()
    )


def test_no_walk_audits_exactly_the_named_objects(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _git(repo, "commit", "-q", "--allow-empty", "-m", "second")
    _git(repo, "tag", "-a", "-m", "release", "v1", "HEAD~1")
    first, second, v1 = (_git(repo, "rev-parse", r) for r in ("HEAD~1", "HEAD", "v1"))
    trust = ["--allowed-signers", "/dev/null"]
    assert _audit_json(repo, tmp_path, "--no-walk", *trust) == (
        1, [{"object": second, "kind": "commit", "status": "unsigned"}]
    )  # fmt: skip
    # A tag is audited as the tag: its commit only when named too (once each).
    assert _audit_json(repo, tmp_path, "--no-walk", "v1", "main", second, *trust) == (
        1,
        [
            {"object": v1, "kind": "tag", "status": "unsigned"},
            {"object": second, "kind": "commit", "status": "unsigned"},
        ],
    )
    # --all: what every ref points at.
    rc, results = _audit_json(repo, tmp_path, "--no-walk", "--all", *trust)
    assert rc == 1
    assert sorted(r["object"] for r in results) == sorted([second, v1])
    assert first not in {r["object"] for r in results}


def test_no_walk_refuses_what_is_not_an_object_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo(tmp_path)
    rc = main(["-C", str(repo), "audit", "--no-walk", "--allowed-signers", "/dev/null",
               "main..main", "HEAD^{tree}", "nope"])  # fmt: skip
    assert rc == 1
    assert capsys.readouterr().err == (
        "guard: cannot audit: 'main..main' names no object in this repository (--no-walk "
        "takes object names, not ranges); 'HEAD^{tree}' names a tree, not a commit or tag; "
        "'nope' names no object in this repository\n"
    )


# git.git's v0.99 tag (2005): no tagger line, a DSA signature by key 17762C4676E21CBB.
V099 = (
    b"object a3eb250f996bf5e12376ec88622c4ccaabf20ea8\ntype commit\ntag v0.99\n\n"
    b"Test-release for wider distribution.\n\nI'll make the first public RPM's etc, "
    b"thus the tag.\n-----BEGIN PGP SIGNATURE-----\nVersion: GnuPG v1.4.1 (GNU/Linux)\n\n"
    b"iD8DBQBC0b9oF3YsRnbiHLsRAlUUAKCJEyvw8tewGFKd/A3aCd82Wi/zAgCgl7z4\n"
    b"GYPjO+Xio0IvuEYsrhFc2KI=\n=TVVN\n-----END PGP SIGNATURE-----\n"
)


def test_no_walk_over_loose_sample_objects(tmp_path: Path) -> None:
    """A repository holding only sample objects written with `git hash-object -w
    --literally`, none of their parents or targets: --no-walk judges each one."""
    source = _repo(tmp_path)
    key = tmp_path / "key"
    subprocess.run(("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)), check=True)
    signing = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={key}.pub"]
    _git(source, "checkout", "-q", "-b", "side")
    _git(source, "commit", "-q", "--allow-empty", "-m", "side")
    _git(source, *signing, "tag", "-s", "-m", "side", "side-tag")
    _git(source, "checkout", "-q", "main")
    _git(source, *signing, "merge", "-q", "--no-ff", "-S", "-m", "merge side", "side-tag")
    merge = _git(source, "rev-parse", "HEAD")
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"committer@example.com {(tmp_path / 'key.pub').read_text()}")

    samples = tmp_path / "samples"
    subprocess.run(("git", "init", "-q", str(samples)), check=True)
    write = ("hash-object", "-w", "--literally", "--stdin")
    v099 = _git(samples, *write, "-t", "tag", stdin=V099)
    assert v099 == "d6602ec5194c87b0fc87103ca4d67251c76f233a"
    raw_merge = subprocess.run(("git", "-C", str(source), "cat-file", "commit", merge),
                               capture_output=True, check=True).stdout  # fmt: skip
    assert _git(samples, *write, "-t", "commit", stdin=raw_merge) == merge
    side_tag = _git(source, "rev-parse", "side-tag")

    rc, results = _audit_json(
        samples, tmp_path, "--no-walk", "--allowed-signers", str(allowed), v099, merge
    )
    assert rc == 1
    assert results == [
        {"object": v099, "kind": "tag", "status": "unknown-key"},
        {"object": merge, "kind": "commit", "status": "good"},
        {"object": side_tag, "kind": "mergetag", "status": "good"},
    ]
    # Without --no-walk, git cannot walk to the absent parents: said, and exit 1.
    rc = main(["-C", str(samples), "audit", "--allowed-signers", str(allowed), "-o",
               str(tmp_path / "walk.txt"), merge])  # fmt: skip
    assert rc == 1


def test_no_walk_is_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["audit", "--help"])
    assert "--no-walk" in capsys.readouterr().out
