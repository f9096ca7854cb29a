"""The receive hook's import budget, measured from a real push.

A one-commit SSH-signed push into a guarded repository, with the shim's interpreter
wrapped to run ``python -X importtime``: the modules the hook imports reach the
pusher as ``remote:`` lines. The second push is measured (the policy cache is warm,
as on a busy server). The gitguard modules are pinned exactly and heavy modules
(other formats' libraries, subprocess, tomllib, json, argparse…) are forbidden, so
that latency work (lazy imports, ``_spawn``, ``_digest``, the policy cache) cannot
silently regress: a change that adds an import to the hook path changes this test.
"""

from __future__ import annotations

import sys
from pathlib import Path

from gitfixtures import Repo, make_ssh_key, ssh_signer, tool_env
from receivefixtures import Server, push

# What deciding a one-commit SSH push needs, and nothing else.
EXPECTED_GITGUARD = {
    "gitguard",
    "gitguard._digest",
    "gitguard._spawn",
    "gitguard._text",
    "gitguard.errors",
    "gitguard.evaluate",
    "gitguard.git",
    "gitguard.gitobjects",
    "gitguard.model",
    "gitguard.server",
    "gitguard.server.hook",
    "gitguard.server.receive",
    "gitguard.signatures",
    "gitguard.signatures._ssh_keys",
    "gitguard.signatures.ssh",
    "gitguard.trust",
    "gitguard.trust._toml_lines",
    "gitguard.trust.ownership",
    "gitguard.trust.policy",
    "gitguard.trust.policycache",
    "gitguard.trust.sshkeys",
}
THIRD_PARTY_ALLOWED = {"cryptography", "nacl", "_cffi_backend"}
FORBIDDEN = {
    "argparse",
    "asn1crypto",
    "gnupg",
    "json",
    "logging",
    "multiprocessing",
    "pathlib",
    "pysequoia",
    "subprocess",
    "tomllib",
}


def test_one_commit_push_imports_only_what_it_needs(tmp_path: Path) -> None:
    env = tool_env(tmp_path / "home")
    key = make_ssh_key(tmp_path, "alice", "ed25519", env)
    policy = tmp_path / "policy.toml"
    policy.write_text(
        f'version = 1\n[[signer]]\nname = "alice"\nkeys = ["{key.public_line}"]\n'
        '[[rule]]\nrefs = ["refs/heads/main"]\nrequire = "signed"\nsigners = ["alice"]\n'
    )
    wrapper = tmp_path / "python-importtime"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -X importtime "$@"\n')
    wrapper.chmod(0o755)
    server = Server.create(tmp_path / "srv.git", env)
    server.install(policy, python=str(wrapper))
    client = Repo.init(tmp_path / "client", env)
    for n in range(2):
        client.commit(f"signed {n}", signer=ssh_signer(key))
        p = push(client, server, "HEAD:refs/heads/main")
        assert p.returncode == 0, p.stderr
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in p.stderr.splitlines()
        if "import time:" in line and "|" in line and "imported package" not in line
    }
    assert "gitguard.server.receive" in imported, p.stderr  # the measurement works
    assert {m for m in imported if m.startswith("gitguard")} == EXPECTED_GITGUARD
    top = {m.split(".")[0] for m in imported}
    stdlib = set(sys.stdlib_module_names)
    assert {m for m in top if m not in stdlib and m != "gitguard"} <= THIRD_PARTY_ALLOWED
    assert not top & FORBIDDEN, sorted(top & FORBIDDEN)
