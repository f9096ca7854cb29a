"""The receive guard over every transport a git server offers: ``file://``, ``git://``
(``git daemon`` with receive-pack enabled) and smart HTTP (``git http-backend`` under
lighttpd), each on 127.0.0.1.

Every repository is guarded by ``guard server install`` with a policy that trusts one
SSH key. A signed push lands; a push containing an unsigned commit is refused, the
client sees the guard's report as ``remote:`` lines naming the commit, the ref does
not move and the refused objects never reach the repository.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitfixtures import Repo, SshKey, make_ssh_key, ssh_signer, tool_env
from servers import (
    FileRemote,
    Remote,
    ServerError,
    find_program,
    git_daemon,
    git_push,
    group_members,
    has_object,
    http_server,
    init_bare,
    install_guard,
    port_open,
    quarantine_leftovers,
    ref_value,
    write_ssh_policy,
)

TRANSPORTS = ("file", "git", "http")
SIGNER_EMAIL = "alice@example.com"


@dataclass(frozen=True)
class World:
    """Keys, a policy and the environments of the server and of the client."""

    tmp: Path
    trusted: SshKey
    stranger: SshKey
    policy: Path
    server_env: dict[str, str]
    client_env: dict[str, str]
    remotes: dict[str, Remote]
    _names: Iterator[int]

    def bare(self, remote: Remote) -> Path:
        """A fresh guarded bare repository under ``remote``'s root."""
        path = remote.root / f"repo-{next(self._names)}.git"
        init_bare(path, self.server_env)
        install_guard(path, self.policy, self.server_env)
        return path

    def client(self) -> Repo:
        return Repo.init(self.tmp / "clients" / f"client-{next(self._names)}", self.client_env)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("transports")
    server_env = tool_env(tmp / "server-home")
    client_env = tool_env(tmp / "client-home")
    keys = tmp / "keys"
    trusted = make_ssh_key(keys, "alice", "ed25519", client_env)
    stranger = make_ssh_key(keys, "mallory", "ed25519", client_env)
    policy = write_ssh_policy(
        tmp / "policy.toml", name="alice", email=SIGNER_EMAIL, key_line=trusted.public_line
    )
    roots = {kind: tmp / f"repos-{kind}" for kind in TRANSPORTS}
    for root in roots.values():
        root.mkdir()
    with (
        git_daemon(roots["git"], tmp / "git-daemon", server_env) as daemon,
        http_server(roots["http"], tmp / "lighttpd", server_env) as http,
    ):
        remotes: dict[str, Remote] = {
            "file": FileRemote(roots["file"]),
            "git": daemon,
            "http": http,
        }
        yield World(
            tmp, trusted, stranger, policy, server_env, client_env, remotes, itertools.count()
        )


@pytest.fixture(params=TRANSPORTS)
def remote(request: pytest.FixtureRequest, world: World) -> Remote:
    kind: str = request.param
    return world.remotes[kind]


def _short_id_pattern(oid: str) -> re.Pattern[str]:
    """The commit named by any abbreviation of at least 7 hex digits (or in full)."""
    return re.compile(rf"\b{oid[:7]}[0-9a-f]{{0,{len(oid) - 7}}}\b")


def test_signed_push_is_accepted(world: World, remote: Remote) -> None:
    bare = world.bare(remote)
    client = world.client()
    signer = ssh_signer(world.trusted)
    client.commit("first signed commit", signer=signer)
    head = client.commit("second signed commit", signer=signer)

    push = git_push(client.path, remote.url(bare), "HEAD:refs/heads/main", env=world.client_env)

    assert push.returncode == 0, push.stderr
    assert ref_value(bare, "refs/heads/main", world.server_env) == head
    remote.wait_idle()
    assert quarantine_leftovers(bare) == []


def test_push_with_unsigned_commit_is_refused_with_a_report(world: World, remote: Remote) -> None:
    bare = world.bare(remote)
    client = world.client()
    signer = ssh_signer(world.trusted)
    base = client.commit("signed base", signer=signer)
    first = git_push(client.path, remote.url(bare), "HEAD:refs/heads/main", env=world.client_env)
    assert first.returncode == 0, first.stderr
    unsigned = client.commit("a plain change")
    client.commit("a later change", signer=signer)

    push = git_push(client.path, remote.url(bare), "HEAD:refs/heads/main", env=world.client_env)

    assert push.returncode != 0
    assert "[remote rejected]" in push.stdout, push.stdout
    report = "\n".join(push.remote_lines)
    assert _short_id_pattern(unsigned).search(report), push.stderr
    # The status word (commit subjects here avoid every status word).
    assert re.search(r"\bunsigned\b", report), push.stderr
    assert ref_value(bare, "refs/heads/main", world.server_env) == base
    assert not has_object(bare, unsigned, world.server_env)
    remote.wait_idle()
    assert quarantine_leftovers(bare) == []


def test_push_signed_by_an_unknown_key_is_refused(world: World, remote: Remote) -> None:
    bare = world.bare(remote)
    client = world.client()
    rogue = client.commit("a change by mallory", signer=ssh_signer(world.stranger))

    push = git_push(client.path, remote.url(bare), "HEAD:refs/heads/main", env=world.client_env)

    assert push.returncode != 0
    report = "\n".join(push.remote_lines)
    assert _short_id_pattern(rogue).search(report), push.stderr
    assert re.search(r"\bunknown-key\b", report), push.stderr
    assert ref_value(bare, "refs/heads/main", world.server_env) is None
    assert not has_object(bare, rogue, world.server_env)
    remote.wait_idle()
    assert quarantine_leftovers(bare) == []


def test_large_push_is_checked(world: World, remote: Remote) -> None:
    """A 3 MiB push: more than git's http.postBuffer (1 MiB), so over HTTP the request
    body is sent chunked. Refused while unsigned, accepted once signed."""
    bare = world.bare(remote)
    client = world.client()
    (client.path / "blob.bin").write_bytes(os.urandom(3 << 20))
    client.git("add", "blob.bin")
    unsigned = client.commit("a large change")

    refused = git_push(client.path, remote.url(bare), "HEAD:refs/heads/main", env=world.client_env)

    assert refused.returncode != 0
    assert _short_id_pattern(unsigned).search("\n".join(refused.remote_lines)), refused.stderr
    assert not has_object(bare, unsigned, world.server_env)

    signer = ssh_signer(world.trusted)
    client.git(*signer.config(), "commit", "-q", "--amend", "--no-edit", "-S")
    signed = client.rev_parse("HEAD")
    accepted = git_push(client.path, remote.url(bare), "HEAD:refs/heads/main", env=world.client_env)

    assert accepted.returncode == 0, accepted.stderr
    assert ref_value(bare, "refs/heads/main", world.server_env) == signed
    remote.wait_idle()
    assert quarantine_leftovers(bare) == []


# --------------------------------------------------------------------------- the harness


@pytest.mark.parametrize("kind", ["git", "http"])
def test_server_stops_without_leftovers(tmp_path: Path, kind: str) -> None:
    """A stopped server leaves no process of its group running and frees its port."""
    env = tool_env(tmp_path / "home")
    root = tmp_path / "repos"
    root.mkdir()
    bare = init_bare(root / "r.git", env)
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(
        '#!/bin/sh\nwhile read old new ref; do\n  case "$ref" in *bad*) '
        'echo "refusing $ref" >&2; exit 1;; esac\ndone\n'
    )
    hook.chmod(0o755)
    client = Repo.init(tmp_path / "client", env)
    client.commit("x")
    start = git_daemon if kind == "git" else http_server
    with start(root, tmp_path / "server", env) as server:
        good = git_push(client.path, server.url(bare), "HEAD:refs/heads/ok", env=env)
        bad = git_push(client.path, server.url(bare), "HEAD:refs/heads/bad", env=env)
        pid, port = server.pid, server.port
    assert good.returncode == 0, good.stderr
    assert bad.returncode != 0
    assert "refusing refs/heads/bad" in bad.remote_lines
    assert group_members(pid) == []
    assert not port_open(port)


def test_missing_server_program_fails_loudly() -> None:
    with pytest.raises(ServerError, match="not installed"):
        find_program("gitguard-no-such-server", {"PATH": "/nonexistent"}, package="nothing")
