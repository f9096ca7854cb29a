"""The release trigger and its durable queue: a signed release tag ⇒ signed images.

Real git (tags signed with throwaway SSH keys), a real policy file, the real queue in
the repository's git directory, images in an OCI layout directory and in a real
registry on 127.0.0.1 (outage = the registry process stopped by PID). The end to end
path through ``git push`` and the post-receive hook is in tests/test_image_interop.py.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitfixtures import Repo, SshKey, make_ssh_key, ssh_signer, tool_env
from gitguard.cli.main import main
from gitguard.gitobjects import open_repo
from gitguard.images.keys import read_public_key
from gitguard.images.oci import LayoutStore, signature_tag
from gitguard.images.reference import parse_reference
from gitguard.images.registry import RegistryStore
from gitguard.images.verify import IdentityRule, verify_image
from gitguard.release.trigger import (
    BACKOFF_BASE,
    MAX_ATTEMPTS,
    ReleaseQueue,
    on_tags_pushed,
    open_queue,
    queue_path,
)
from gitguard.trust.policy import Policy, load_policy_file
from imagefixtures import PASSWORD, make_layout, push_image, write_keys
from registry import Registry, docker_registry, image_tool_env

POLICY = """version = 1

[[signer]]
name = "alice"
emails = ["alice@example.com"]
keys = ["{alice}"]

[[signer]]
name = "bob"
emails = ["bob@example.com"]
keys = ["{bob}"]

[[rule]]
refs = ["refs/tags/v*"]
require = "signed-tag"
signers = ["alice"]

[release]
tags = ["refs/tags/v*"]
images = [{images}]
key = "release.key"
annotations = {{ team = "platform", "gitguard.tag" = "forged" }}
"""


@dataclass
class World:
    tmp: Path
    repo: Repo
    alice: SshKey
    bob: SshKey
    mallory: SshKey
    layout: LayoutStore
    pub: Path
    policy_path: Path

    def policy(self, images: str | None = None) -> Policy:
        if images is not None:
            self.write_policy(images)
        return load_policy_file(self.policy_path)

    def write_policy(self, images: str) -> None:
        self.policy_path.write_text(
            POLICY.format(alice=self.alice.public_line, bob=self.bob.public_line, images=images)
        )

    def tag(self, name: str, signer: SshKey | None) -> str:
        self.repo.commit(f"release {name}")
        return self.repo.tag(name, f"release {name}", signer=ssh_signer(signer) if signer else None)

    def push(self, *updates: tuple[str, str, str], policy: Policy | None = None) -> list[str]:
        return on_tags_pushed(open_repo(self.repo.path), updates, policy or self.policy())

    def released(self, name: str) -> tuple[str, str, str]:
        return ("0" * 40, self.repo.rev_parse(f"refs/tags/{name}"), f"refs/tags/{name}")

    def guard(self, *args: str) -> int:
        return main(["-C", str(self.repo.path), *args])


@pytest.fixture
def world(tmp_path: Path) -> World:
    env = tool_env(tmp_path / "home")
    repo = Repo.init(tmp_path / "repo", env)
    keys = tmp_path / "ssh"
    alice = make_ssh_key(keys, "alice", "ed25519", env)
    bob = make_ssh_key(keys, "bob", "ed25519", env)
    mallory = make_ssh_key(keys, "mallory", "ed25519", env)
    layout, _ = make_layout(tmp_path / "images" / "app", "v1.0")
    policy_dir = tmp_path / "policy"
    policy_dir.mkdir()
    write_keys(policy_dir)
    (policy_dir / "cosign.key").rename(policy_dir / "release.key")
    os.environ["GUARD_COSIGN_PASSWORD"] = PASSWORD
    w = World(
        tmp_path,
        repo,
        alice,
        bob,
        mallory,
        layout,
        policy_dir / "cosign.pub",
        policy_dir / "p.toml",
    )
    w.write_policy(f'"oci:{layout.path}:{{tag}}"')
    return w


def _verify(w: World, reference: str) -> list[dict[str, object]]:
    result = verify_image(
        w.layout,
        reference,
        key=read_public_key(w.pub),
        rule=IdentityRule(),
        intended=parse_reference(f"localhost/app:{reference}"),
    )
    assert result.ok, result.rejected
    return result.to_json()


def test_signed_release_tag_signs_the_image(world: World) -> None:
    tag_oid = world.tag("v1.0", world.alice)
    commit = world.repo.rev_parse("v1.0^{commit}")
    lines = world.push(world.released("v1.0"))
    assert len(lines) == 1
    assert lines[0].startswith(
        f"gitguard release: v1.0: oci:{world.layout.path}:v1.0: signed sha256:"
    )
    (payload,) = _verify(world, "v1.0")
    assert payload["optional"] == {
        "team": "platform",
        "gitguard.repository": "repo",
        "gitguard.tag": "v1.0",  # the policy cannot forge the built-in ones
        "gitguard.tag-object": tag_oid,
        "gitguard.commit": commit,
        "gitguard.tag-signer": "alice",
    }
    assert payload["critical"]["identity"] == {"docker-reference": "localhost/app:v1.0"}  # type: ignore[index]
    # The same push again (or a re-run) adds nothing.
    again = world.push(world.released("v1.0"))
    assert again == [f"gitguard release: v1.0: oci:{world.layout.path}:v1.0: already done (job 1)"]
    assert len(_verify(world, "v1.0")) == 1


def test_queue_lives_in_the_git_dir_with_wal(world: World) -> None:
    world.tag("v1.0", world.alice)
    world.push(world.released("v1.0"))
    path = queue_path(open_repo(world.repo.path))
    assert path == world.repo.path / ".git" / "gitguard" / "release.sqlite3"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


@pytest.mark.parametrize(
    ("who", "reason"),
    [
        ("unsigned", "tag signature is unsigned"),
        ("mallory", "tag signature is unknown-key"),
        ("bob", "tag not-allowed: signer bob is not allowed on refs/tags/v1.0 (rule p.toml:"),
        ("lightweight", "a lightweight tag"),
    ],
)
def test_tags_that_fail_are_never_signed_for(world: World, who: str, reason: str) -> None:
    if who == "lightweight":
        world.repo.commit("x")
        world.repo.git("tag", "v1.0")
    else:
        signer = {"unsigned": None, "mallory": world.mallory, "bob": world.bob}[who]
        world.tag("v1.0", signer)
    lines = world.push(world.released("v1.0"))
    assert len(lines) == 1
    assert lines[0].startswith("gitguard release: v1.0: not signing any image: ")
    assert reason in lines[0]
    assert world.layout.get_manifest(signature_tag(world.layout.default_reference())) is None
    with open_queue(open_repo(world.repo.path)) as queue:
        assert queue.jobs() == []


def test_only_created_or_updated_release_tags_count(world: World) -> None:
    tag = world.tag("x1", world.alice)
    head = world.repo.rev_parse("HEAD")
    zero = "0" * 40
    assert world.push((zero, tag, "refs/tags/x1"), (zero, head, "refs/heads/main")) == []
    assert world.push((tag, zero, "refs/tags/v1.0")) == []  # deletion
    assert on_tags_pushed(open_repo(world.repo.path), [world.released("x1")], None) == []


def test_updates_may_be_objects(world: World) -> None:
    @dataclass
    class Update:
        old: str
        new: str
        ref: str

    world.tag("v1.0", world.alice)
    old, new, ref = world.released("v1.0")
    lines = on_tags_pushed(open_repo(world.repo.path), [Update(old, new, ref)], world.policy())
    assert "signed" in lines[0]


def test_missing_image_stays_pending_until_retry(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.tag("v2.0", world.alice)
    lines = world.push(world.released("v2.0"))
    assert "NOT signed yet, job 1 pending (attempt 1; next try in 30 s" in lines[0]
    assert "no image 'v2.0' (push the image first)" in lines[0]
    assert world.guard("release", "status") == 0
    out = capsys.readouterr().out
    assert "pending" in out
    assert "v2.0" in out
    assert "last error:" in out
    # Not due yet: a cron run leaves it alone.
    assert world.guard("release", "retry", "--due") == 0
    assert capsys.readouterr().out == "no release jobs to run\n"
    push_image(world.layout, "v2.0", content=b"2.0")
    assert world.guard("release", "retry") == 0
    assert ": signed sha256:" in capsys.readouterr().out
    assert len(_verify(world, "v2.0")) == 1
    assert world.guard("release", "status", "--json") == 0
    (job,) = json.loads(capsys.readouterr().out)["jobs"]
    assert job["state"] == "done"
    assert job["attempts"] == 2
    assert job["digest"] == world.layout.get_manifest("v2.0").digest  # type: ignore[union-attr]
    assert world.guard("release", "retry") == 0
    assert capsys.readouterr().out == "no release jobs to run\n"
    assert world.guard("release", "retry", "1") == 0  # a done job re-run: idempotent
    assert "already signed" in capsys.readouterr().out
    assert len(_verify(world, "v2.0")) == 1


def test_wrong_password_fails_the_job_until_fixed(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    os.environ["GUARD_COSIGN_PASSWORD"] = "wrong"
    world.tag("v1.0", world.alice)
    (line,) = world.push(world.released("v1.0"))
    assert "NOT signed (job 1 failed; fix the cause, then `guard release retry 1`)" in line
    assert "release.key: cannot decrypt the private key: wrong password" in line
    assert world.guard("release", "retry", "--due") == 0  # failed jobs are not "due"
    capsys.readouterr()
    os.environ["GUARD_COSIGN_PASSWORD"] = PASSWORD
    assert world.guard("release", "retry", "1") == 0
    assert len(_verify(world, "v1.0")) == 1


def test_password_file_beside_the_key(world: World) -> None:
    del os.environ["GUARD_COSIGN_PASSWORD"]
    key = world.policy_path.parent / "release.key"
    secret = Path(f"{key}.password")
    secret.write_text(PASSWORD + "\n")
    secret.chmod(0o644)
    world.tag("v1.0", world.alice)
    (line,) = world.push(world.released("v1.0"))
    assert f"password file {secret} is readable by others (mode 644); `chmod 600 {secret}`" in line
    secret.chmod(0o600)
    assert world.guard("release", "retry") == 0
    assert len(_verify(world, "v1.0")) == 1


def test_no_password_anywhere_says_where_to_put_it(world: World) -> None:
    del os.environ["GUARD_COSIGN_PASSWORD"]
    world.tag("v1.0", world.alice)
    (line,) = world.push(world.released("v1.0"))
    assert "set GUARD_COSIGN_PASSWORD or GUARD_COSIGN_PASSWORD_FILE" in line


def test_the_digest_is_resolved_once(world: World) -> None:
    world.tag("v1.0", world.alice)
    first = world.layout.get_manifest("v1.0")
    assert first is not None
    with open_queue(open_repo(world.repo.path)) as queue:
        job, created = queue.enqueue(
            ref="refs/tags/v1.0",
            tag_object=world.repo.rev_parse("refs/tags/v1.0"),
            commit=world.repo.rev_parse("HEAD"),
            signer="alice",
            image=f"oci:{world.layout.path}:v1.0",
            identity="localhost/app:v1.0",
            annotations={},
            key_path=str(world.policy_path.parent / "release.key"),
            insecure=False,
        )
        assert created
        queue.set_digest(job.id, first.digest)
    moved = push_image(world.layout, "v1.0", content=b"rebuilt")  # the tag moves
    assert world.guard("release", "retry") == 0
    assert world.layout.get_manifest(signature_tag(first.digest)) is not None
    assert world.layout.get_manifest(signature_tag(moved)) is None


def test_every_image_template_gets_a_job(world: World) -> None:
    other, _ = make_layout(world.tmp / "images" / "worker", "x")
    push_image(other, "v1.0")
    tag = world.tag("v1.0", world.alice)
    commit = world.repo.rev_parse("HEAD")
    push_image(other, commit, content=b"by commit")
    images = [f"oci:{world.layout.path}:{{tag}}", f"oci:{other.path}:{{tag}}"]
    images.append(f"oci:{other.path}:{{commit}}")
    policy = world.policy(", ".join(f'"{i}"' for i in images))
    lines = world.push(world.released("v1.0"), policy=policy)
    assert len(lines) == 3, lines
    assert all(": signed sha256:" in line for line in lines), lines
    assert f"oci:{other.path}:{commit}: signed" in lines[2]
    with open_queue(open_repo(world.repo.path)) as queue:
        assert [j.tag_object for j in queue.jobs()] == [tag, tag, tag]


def test_errors_never_escape(world: World) -> None:
    world.tag("v1.0", world.alice)
    broken = world.repo.path / ".git" / "gitguard"
    broken.mkdir(parents=True)
    (broken / "release.sqlite3").write_text("not a database")
    (line,) = world.push(world.released("v1.0"))
    assert line.startswith("gitguard release: error: ")
    assert "release.sqlite3" in line


# --- the queue ------------------------------------------------------------------------------


def _job(queue: ReleaseQueue, image: str = "r.example/a:v1") -> int:
    job, _ = queue.enqueue(
        ref="refs/tags/v1",
        tag_object="1" * 40,
        commit="2" * 40,
        signer="alice",
        image=image,
        identity=image,
        annotations={},
        key_path="/k",
        insecure=False,
    )
    return job.id


def test_backoff_and_giving_up(tmp_path: Path) -> None:
    with ReleaseQueue(tmp_path / "q" / "release.sqlite3") as queue:
        job_id = _job(queue)
        assert _job(queue) == job_id  # idempotent on (tag object, image)
        delays = []
        for attempt in range(1, MAX_ATTEMPTS + 1):
            assert queue.claim(job_id)
            job = queue.fail(job_id, "registry down", retryable=True)
            assert job.attempts == attempt
            delays.append(round(job.next_attempt - job.updated))
            if attempt < MAX_ATTEMPTS:
                assert job.state == "pending"
        assert job.state == "failed"
        assert delays[:4] == [BACKOFF_BASE, 2 * BACKOFF_BASE, 4 * BACKOFF_BASE, 8 * BACKOFF_BASE]
        assert max(delays) == 3600


def test_a_running_job_is_claimed_once(tmp_path: Path) -> None:
    path = tmp_path / "q" / "release.sqlite3"
    with ReleaseQueue(path) as a, ReleaseQueue(path) as b:
        job_id = _job(a)
        assert a.claim(job_id)
        assert not b.claim(job_id)
        assert b.due() == []
        a.finish(job_id)
        job = b.get(job_id)
        assert job is not None
        assert job.state == "done"


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "q" / "release.sqlite3"
    ReleaseQueue(path).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version=99")
    with pytest.raises(Exception, match="written by a newer gitguard"):
        ReleaseQueue(path)


def test_status_and_retry_without_jobs(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert world.guard("release", "status") == 0
    assert capsys.readouterr().out == "no release signing jobs\n"
    assert world.guard("release", "retry", "7") == 2
    assert "no release job 7" in capsys.readouterr().err


# --- a real registry ------------------------------------------------------------------------------


@pytest.fixture
def registry_world(world: World, tmp_path: Path) -> Iterator[tuple[World, Registry]]:
    env = image_tool_env(tmp_path / "reg-home", tmp_path / "reg-tools")
    with docker_registry(tmp_path / "registry", env) as registry:
        os.environ["GUARD_INSECURE_REGISTRIES"] = f"other.example,{registry.host}"
        world.write_policy(f'"{registry.host}/release/app:{{tag}}"')
        yield world, registry


def test_registry_outage_then_retry_signs_once(
    registry_world: tuple[World, Registry], capsys: pytest.CaptureFixture[str]
) -> None:
    world, registry = registry_world
    store = RegistryStore(registry.host, "release/app", insecure=True, push=True)
    digest = push_image(store, "v3.0")
    world.tag("v3.0", world.alice)
    registry.stop()
    try:
        (line,) = world.push(world.released("v3.0"))
    finally:
        registry.start()
    assert "NOT signed yet, job 1 pending" in line
    assert f"cannot reach registry {registry.host}" in line
    assert world.guard("release", "retry") == 0
    assert f"signed {digest[:19]}" in capsys.readouterr().out
    assert world.guard("release", "retry", "1") == 0
    result = verify_image(
        store,
        "v3.0",
        key=read_public_key(world.pub),
        rule=IdentityRule(),
        intended=parse_reference(f"{registry.host}/release/app:v3.0"),
    )
    assert len(result.verified) == 1
