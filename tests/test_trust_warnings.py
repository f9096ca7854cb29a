"""Trust warnings in ``guard audit``'s reports: a certificate the trust store accepts
but whose owner should fix it (keys bound by SHA-1 self-signatures, as GnuPG made
them before 2.1, and as git.git's release key still is) is named once per report,
with the fix, in every format; its signatures stay good unless the policy refuses
them. The receive guard's side is in test_receive.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitfixtures import GpgHome, Repo, openpgp_signer, run_audit, tool_env


@dataclass(frozen=True)
class World:
    repo: Repo
    cert: Path
    fpr: str
    tmp: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("warnings")
    env = tool_env(tmp / "home")
    home = GpgHome.create(tmp / "gnupg", env)
    try:
        key = home.gen_key("Old Key <old@example.com>", "ed25519", cert_digest="SHA1")
        cert = tmp / "old.asc"
        cert.write_bytes(home.export(key))
        repo = Repo.init(tmp / "repo", env)
        repo.commit("signed", signer=openpgp_signer(key))
        yield World(repo, cert, key.fingerprint, tmp)
    finally:
        home.close()


def test_json_names_the_certificate_once(world: World) -> None:
    run = run_audit(world.repo, "--openpgp-key", str(world.cert), out=world.tmp / "a.json")
    assert run.rc == 0, run.stderr
    doc = json.loads(run.output)
    assert [r["status"] for r in doc["results"]] == ["good"]
    (warning,) = doc["warnings"]
    assert warning["key"] == world.fpr
    assert warning["message"].startswith(f"OpenPGP certificate {world.fpr} ")
    assert "SHA-1 self-signatures" in warning["message"]
    assert f"gpg --cert-digest-algo SHA256 --quick-set-expire {world.fpr}" in warning["message"]


def test_text_and_sarif_show_it(world: World) -> None:
    text = run_audit(
        world.repo, "--openpgp-key", str(world.cert), out=world.tmp / "a.txt", fmt="text"
    )
    assert f"warning: OpenPGP certificate {world.fpr} " in text.output
    sarif = run_audit(
        world.repo, "--openpgp-key", str(world.cert), out=world.tmp / "a.sarif", fmt="sarif"
    )
    (invocation,) = json.loads(sarif.output)["runs"][0]["invocations"]
    (note,) = invocation["toolConfigurationNotifications"]
    assert note["level"] == "warning"
    assert note["properties"]["key"] == world.fpr


def test_policy_can_refuse_sha1_bound_keys(world: World) -> None:
    policy = world.tmp / "policy.toml"
    policy.write_text(
        f'version = 1\n[trust]\nopenpgp = ["{world.cert.name}"]\nsha1_self_signatures = "refuse"\n'
    )
    run = run_audit(world.repo, "--policy", str(policy), out=world.tmp / "b.json")
    doc = json.loads(run.output)
    assert run.rc == 1, doc
    (result,) = doc["results"]
    assert (result["status"], result["git_code"]) == ("weak-algorithm", "B")
    assert "refused" in doc["warnings"][0]["message"]


def test_no_warning_for_modern_certificates(world: World, tmp_path: Path) -> None:
    env = tool_env(tmp_path / "home")
    home = GpgHome.create(tmp_path / "gnupg", env)
    try:
        key = home.gen_key("New <new@example.com>", "ed25519")
        cert = tmp_path / "new.asc"
        cert.write_bytes(home.export(key))
        repo = Repo.init(tmp_path / "repo", env)
        repo.commit("signed", signer=openpgp_signer(key))
        run = run_audit(repo, "--openpgp-key", str(cert), out=tmp_path / "c.json")
    finally:
        home.close()
    assert run.rc == 0
    assert json.loads(run.output)["warnings"] == []
