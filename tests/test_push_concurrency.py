"""Twenty pushes at once into one guarded bare repository, over each transport.

Each push comes from its own clone and updates its own branch; half are good (every
new commit signed by the trusted key), half are bad (an unsigned commit, a commit by
an untrusted key, or a good commit followed by an unsigned one). All twenty start
together (a barrier releases twenty threads, each running ``git push``). Afterwards:
every good branch points at its commit, no bad branch exists and none of the bad
pushes' objects reached the repository, each bad push's report names its offending
commit, ``git fsck --strict`` finds nothing (not even dangling objects), and no push
quarantine (``objects/tmp_objdir-incoming-*``) or lock file is left.

Over git:// a push whose connection the kernel reset before the daemon accepted it
(git daemon's listen backlog is 5) is retried: it never reached receive-pack.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from gitfixtures import Repo, SshKey, make_ssh_key, ssh_signer, tool_env, write_allowed_signers
from servers import (
    FileRemote,
    Push,
    Remote,
    git_daemon,
    git_push,
    has_object,
    http_server,
    init_bare,
    install_guard,
    quarantine_leftovers,
    ref_value,
    write_ssh_policy,
)

PUSHES = 20
SIGNER_EMAIL = "alice@example.com"
Kind = Literal["good", "unsigned", "unknown-key", "good-then-unsigned"]
BAD_KINDS: tuple[Kind, ...] = ("unsigned", "unknown-key", "good-then-unsigned")


@dataclass(frozen=True)
class Keys:
    trusted: SshKey
    stranger: SshKey
    policy: Path
    allowed_signers: Path


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    tmp = tmp_path_factory.mktemp("keys")
    env = tool_env(tmp / "home")
    trusted = make_ssh_key(tmp, "alice", "ed25519", env)
    stranger = make_ssh_key(tmp, "mallory", "ed25519", env)
    policy = write_ssh_policy(
        tmp / "policy.toml", name="alice", email=SIGNER_EMAIL, key_line=trusted.public_line
    )
    allowed = write_allowed_signers(
        tmp / "allowed_signers", [f"{SIGNER_EMAIL} {trusted.public_line}"]
    )
    return Keys(trusted, stranger, policy, allowed)


@pytest.fixture(params=["file", "git", "http"])
def remote(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Remote]:
    root = tmp_path / "repos"
    root.mkdir()
    server_env = tool_env(tmp_path / "server-home")
    if request.param == "file":
        yield FileRemote(root)
    elif request.param == "git":
        with git_daemon(root, tmp_path / "git-daemon", server_env) as daemon:
            yield daemon
    else:
        with http_server(root, tmp_path / "lighttpd", server_env) as http:
            yield http


@dataclass
class Pusher:
    """One clone, the branch it pushes and what it expects."""

    index: int
    kind: Kind
    clone: Repo
    ref: str
    head: str
    new_commits: list[str]
    offending: str | None  # the commit the report must name
    push: Push | None = None
    seconds: float = 0.0


def _prepare(index: int, kind: Kind, clone: Repo, keys: Keys) -> Pusher:
    good, stranger = ssh_signer(keys.trusted), ssh_signer(keys.stranger)
    commits: list[str] = []
    offending = None
    if kind == "good":
        commits.append(clone.commit(f"pusher {index}: change 1", signer=good))
        commits.append(clone.commit(f"pusher {index}: change 2", signer=good))
    elif kind == "unsigned":
        commits.append(clone.commit(f"pusher {index}: change"))
        offending = commits[-1]
    elif kind == "unknown-key":
        commits.append(clone.commit(f"pusher {index}: change by mallory", signer=stranger))
        offending = commits[-1]
    else:
        commits.append(clone.commit(f"pusher {index}: first change", signer=good))
        commits.append(clone.commit(f"pusher {index}: second change"))
        offending = commits[-1]
    return Pusher(
        index, kind, clone, f"refs/heads/topic-{index:02d}", commits[-1], commits, offending
    )


def test_twenty_parallel_pushes(tmp_path: Path, keys: Keys, remote: Remote) -> None:
    server_env = tool_env(tmp_path / "server-home")
    client_env = tool_env(tmp_path / "client-home")
    bare = init_bare(remote.root / "shared.git", server_env)
    install_guard(bare, keys.policy, server_env)
    url = remote.url(bare)

    seed = Repo.init(tmp_path / "seed", client_env)
    base = seed.commit("signed base", signer=ssh_signer(keys.trusted))
    seeded = git_push(seed.path, url, "HEAD:refs/heads/main", env=client_env)
    assert seeded.returncode == 0, seeded.stderr

    pushers: list[Pusher] = []
    for i in range(PUSHES):
        path = tmp_path / "clones" / f"clone-{i:02d}"
        subprocess.run(
            ["git", "clone", "-q", str(bare), str(path)],
            env=client_env,
            capture_output=True,
            check=True,
            timeout=60,
        )
        kind: Kind = "good" if i % 2 == 0 else BAD_KINDS[(i // 2) % len(BAD_KINDS)]
        pushers.append(_prepare(i, kind, Repo(path, dict(client_env)), keys))

    start = threading.Barrier(PUSHES)
    # git daemon's listen backlog is 5: in a burst of 20 connections the kernel may
    # reset a few before the daemon accepts them (plain `git ls-remote` bursts show
    # the same). Those pushes never reached receive-pack and are retried.
    retries = 3 if remote.kind == "git" else 0

    def run(p: Pusher) -> None:
        start.wait()
        t0 = time.perf_counter()
        p.push = git_push(p.clone.path, url, f"HEAD:{p.ref}", env=client_env, retry_resets=retries)
        p.seconds = time.perf_counter() - t0

    with ThreadPoolExecutor(max_workers=PUSHES) as pool:
        for future in [pool.submit(run, p) for p in pushers]:
            future.result()

    remote.wait_idle()  # every server-side receive-pack has exited
    for p in pushers:
        assert p.push is not None
        where = (
            f"pusher {p.index} ({p.kind}, {p.seconds:.1f} s, attempts {p.push.attempts}):\n"
            f"{p.push.stderr}"
        )
        actual = ref_value(bare, p.ref, server_env)
        if p.kind == "good":
            assert p.push.returncode == 0, where
            assert actual == p.head, where
        else:
            assert p.push.returncode != 0, where
            assert actual is None, where
            assert p.offending is not None
            assert any(p.offending[:7] in line for line in p.push.remote_lines), where
            status = "unknown-key" if p.kind == "unknown-key" else "unsigned"
            assert re.search(rf"\b{status}\b", "\n".join(p.push.remote_lines)), where
            for oid in p.new_commits:
                assert not has_object(bare, oid, server_env), f"{oid} leaked; {where}"

    assert ref_value(bare, "refs/heads/main", server_env) == base
    fsck = subprocess.run(
        ["git", "-C", str(bare), "fsck", "--strict", "--no-progress"],
        env=server_env,
        capture_output=True,
        check=False,
        timeout=120,
    )
    report = (fsck.stdout + fsck.stderr).decode("utf-8", "replace")
    assert fsck.returncode == 0, report
    assert report.strip() == "", report  # no errors, warnings or dangling objects
    assert quarantine_leftovers(bare) == []

    # The independent oracle: git itself says every commit on a good branch is G.
    good_refs = [p.ref for p in pushers if p.kind == "good"]
    codes = subprocess.run(
        [
            *("git", "-C", str(bare), "-c", f"gpg.ssh.allowedSignersFile={keys.allowed_signers}"),
            *("log", "--format=%G?", *good_refs),
        ],
        env=server_env,
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout.decode()
    assert set(codes.split()) == {"G"}, codes
