"""The receive guard end to end: real ``git push`` over ``file://`` into bare
repositories guarded by ``guard server install``, commits signed with throwaway SSH
keys. Each test asserts what the pusher sees (the ``remote:`` lines) and whether the
refs moved; the pushed objects live in git's quarantine while the hook runs, so every
accepted push also proves the guard reads them there.

The pure parts (input parsing, the report, push-time judgement) are tested at the end.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from gitfixtures import (
    GpgHome,
    Repo,
    openpgp_signer,
    run,
    run_audit,
)
from gitguard.errors import GuardError
from gitguard.evaluate import HINTS, Verdict, evaluate
from gitguard.gitobjects import Repo as GitRepo
from gitguard.model import Format, Kind, SignedObject, Status, TrustStore, Verification
from gitguard.server.receive import (
    ReceiveResult,
    RefProblem,
    RefResult,
    RefUpdate,
    format_report,
    parse_updates,
)
from gitguard.trust.policy import Policy, Signer
from receivefixtures import Keys, Server, World, committer_env, push

MAIN = """
[[rule]]
refs = ["refs/heads/main", "refs/heads/release/*"]
require = "signed"
signers = ["maintainers", "github"]
"""


@pytest.fixture
def world(tmp_path: Path, keys: Keys) -> World:
    """Servers guarded by ``MAIN`` unless a test gives other rules."""
    return World(tmp_path, keys, MAIN)


def _entry(oid: str, subject: str) -> str:
    """How the report lists one offending commit."""
    return f"  {oid[:12]}  {subject}"


def _rebase_fix(base: str) -> str:
    return f"git rebase --exec 'git commit --amend --no-edit --allow-empty -S' {base[:12]}"


# --------------------------------------------------------------------------- branches


def test_new_branch_signed_is_accepted(world: World) -> None:
    server = world.server()
    client = world.client()
    client.commit("one", signer=world.alice)
    head = client.commit("two", signer=world.bob)

    p = push(client, server, "HEAD:refs/heads/main")

    assert p.returncode == 0, p.stderr
    assert server.ref("refs/heads/main") == head
    assert p.remote == [
        "gitguard: refs/heads/main: accepted: 2 new commits signed by allowed signers"
    ]
    assert server.quarantines() == []


def test_new_branch_with_unsigned_commit_is_refused_with_the_fix(world: World) -> None:
    server = world.server()
    client = world.client()
    base = client.commit("signed base", signer=world.alice)
    bad = client.commit("an unsigned change")
    client.commit("signed on top", signer=world.alice)

    p = push(client, server, "HEAD:refs/heads/main")

    assert p.rejected, p.stderr
    assert server.ref("refs/heads/main") is None
    assert not server.has(bad)
    assert server.quarantines() == []
    remote = p.remote
    assert remote[0] == "gitguard: push rejected: 1 offending object on 1 ref (policy-1.toml)"
    assert f"refs/heads/main  (rule {world.rule()})" in remote
    i = remote.index(_entry(bad, "an unsigned change"))
    assert remote[i + 1] == "      author  Test Author <author@example.com>"
    assert remote[i + 2] == "      status  unsigned: commit is not signed"
    assert remote[i + 3] == "      key     -"
    assert remote[i + 4].startswith("      fix     sign it: `git commit --amend --no-edit -S`")
    assert _rebase_fix(base) in remote[i + 4]
    assert remote[-1] == "gitguard: refs/heads/main: rejected: 1 of 3 new commits not acceptable"

    # The fix the report gives works: re-sign from the base, push again.
    client.git(
        *world.alice.config(),
        "rebase",
        "-q",
        "--exec",
        "git commit --amend --no-edit --allow-empty -S",
        base[:12],
        env=world.alice.env(client.env),
    )
    again = push(client, server, "HEAD:refs/heads/main")
    assert again.returncode == 0, again.stderr


def test_fast_forward_checks_only_the_new_commits(world: World) -> None:
    server = world.server()
    client = world.client()
    client.commit("first", signer=world.alice)
    assert push(client, server, "HEAD:refs/heads/main").returncode == 0
    second = client.commit("second", signer=world.bob)

    p = push(client, server, "HEAD:refs/heads/main")

    assert p.returncode == 0, p.stderr
    assert p.remote == [
        "gitguard: refs/heads/main: accepted: 1 new commit signed by allowed signers"
    ]
    assert server.ref("refs/heads/main") == second

    base = second
    client.commit("unsigned follow-up")
    p = push(client, server, "HEAD:refs/heads/main")
    assert p.rejected
    assert _rebase_fix(base) in p.report
    assert server.ref("refs/heads/main") == second


def test_unknown_key_and_not_allowed_signer(world: World) -> None:
    server = world.server(
        MAIN
        + """
[[rule]]
refs = ["refs/heads/alice-only"]
require = "signed"
signers = ["alice"]
"""
    )
    client = world.client()
    rogue = client.commit("by mallory", signer=world.mallory)
    p = push(client, server, "HEAD:refs/heads/main")
    assert p.rejected
    assert _entry(rogue, "by mallory") in p.remote
    assert f"      key     {world.keys.mallory.fingerprint}" in p.remote
    assert any(line.startswith("      status  unknown-key: ") for line in p.remote)

    client2 = world.client()
    by_bob = client2.commit("by bob", signer=world.bob)
    p = push(client2, server, "HEAD:refs/heads/alice-only")
    assert p.rejected
    assert (
        "      status  not-allowed: signer bob is not allowed on refs/heads/alice-only "
        f"(rule {world.rule(2)} allows alice)"
    ) in p.remote, p.report
    assert f"      key     {world.keys.bob.fingerprint} (bob)" in p.remote
    assert any("re-sign with the key of an allowed signer (alice)" in x for x in p.remote)
    assert server.ref("refs/heads/alice-only") is None
    assert by_bob


def test_unprotected_branch_is_not_a_way_around_the_rule(world: World) -> None:
    """An unsigned commit that reached an unprotected branch is still new to a
    protected one (``--not --all`` would let it through)."""
    server = world.server()
    client = world.client()
    client.commit("signed", signer=world.alice)
    assert push(client, server, "HEAD:refs/heads/main").returncode == 0
    bad = client.commit("unsigned, on a scratch branch")
    scratch = push(client, server, "HEAD:refs/heads/scratch")
    assert scratch.returncode == 0, scratch.stderr
    assert scratch.remote == [
        "gitguard: refs/heads/scratch: accepted: no rule applies (default allow)"
    ]

    p = push(client, server, "HEAD:refs/heads/main")

    assert p.rejected
    assert _entry(bad, "unsigned, on a scratch branch") in p.remote
    assert server.ref("refs/heads/main") != bad


def test_branch_from_protected_history_has_no_new_commits(world: World) -> None:
    server = world.server()
    client = world.client()
    head = client.commit("signed", signer=world.alice)
    assert push(client, server, "HEAD:refs/heads/main").returncode == 0

    p = push(client, server, "HEAD:refs/heads/release/1.0")

    assert p.returncode == 0, p.stderr
    assert p.remote == ["gitguard: refs/heads/release/1.0: accepted: no new commits"]
    assert server.ref("refs/heads/release/1.0") == head


def test_several_refs_are_all_or_nothing_and_a_shared_commit_is_listed_once(
    world: World,
) -> None:
    server = world.server()
    client = world.client()
    client.commit("signed", signer=world.alice)
    bad = client.commit("unsigned, on two refs")

    p = push(
        client, server, "HEAD:refs/heads/main", "HEAD:refs/heads/release/2", "HEAD:refs/heads/x"
    )

    assert p.rejected
    assert p.remote.count(_entry(bad, "unsigned, on two refs")) == 1
    assert "  (1 offending commit listed above)" in p.remote
    assert "gitguard: refs/heads/x: not updated: the push is refused as a whole" in p.remote
    assert p.remote[-1] == "gitguard: no ref was updated: a push is accepted or refused as a whole"
    for ref in ("refs/heads/main", "refs/heads/release/2", "refs/heads/x"):
        assert server.ref(ref) is None


# --------------------------------------------------------------------------- rewrites


REWRITES = """
[[rule]]
refs = ["refs/heads/main"]
require = "signed"
signers = ["maintainers"]

[[rule]]
refs = ["refs/heads/wip/*"]
require = "signed"
signers = ["maintainers"]
allow_force_push = true
allow_delete = true
"""


def test_force_push_refused_unless_allowed(world: World) -> None:
    server = world.server(REWRITES)
    client = world.client()
    first = client.commit("first", signer=world.alice)
    old = client.commit("second", signer=world.alice)
    assert push(client, server, "HEAD:refs/heads/main", "HEAD:refs/heads/wip/a").returncode == 0
    client.git("reset", "-q", "--hard", first)
    new = client.commit("rewritten second", signer=world.alice)

    p = push(client, server, "+HEAD:refs/heads/main")
    assert p.rejected
    assert (
        f"  force push: {new[:12]} does not contain the current {old[:12]} of "
        f"refs/heads/main (rule {world.rule()}: allow_force_push = false)"
    ) in p.remote
    assert (
        "      fix     integrate the current refs/heads/main (`git pull --rebase`), then "
        "push without --force"
    ) in p.remote
    assert "gitguard: refs/heads/main: rejected: force push not allowed" in p.report
    assert server.ref("refs/heads/main") == old

    p = push(client, server, "+HEAD:refs/heads/wip/a")
    assert p.returncode == 0, p.stderr
    assert server.ref("refs/heads/wip/a") == new


def test_deletion_refused_unless_allowed(world: World) -> None:
    server = world.server(REWRITES)
    client = world.client()
    head = client.commit("first", signer=world.alice)
    assert push(client, server, "HEAD:refs/heads/main", "HEAD:refs/heads/wip/b").returncode == 0

    p = push(client, server, ":refs/heads/main")
    assert p.rejected
    assert (
        f"  deleting refs/heads/main is not allowed (rule {world.rule()}: allow_delete = false)"
    ) in p.remote
    assert server.ref("refs/heads/main") == head

    p = push(client, server, ":refs/heads/wip/b")
    assert p.returncode == 0, p.stderr
    assert p.remote == ["gitguard: refs/heads/wip/b: accepted: deletion allowed"]
    assert server.ref("refs/heads/wip/b") is None


# --------------------------------------------------------------------------- tags


TAGS = (
    MAIN
    + """
[[rule]]
refs = ["refs/tags/v*"]
require = "signed-tag"
signers = ["alice"]
"""
)


def test_tags_under_signed_tag(world: World) -> None:
    server = world.server(TAGS)
    client = world.client()
    commit = client.commit("released", signer=world.alice)
    assert push(client, server, "HEAD:refs/heads/main").returncode == 0

    good = client.tag("v1.0", "release 1.0", signer=world.alice)
    p = push(client, server, "refs/tags/v1.0")
    assert p.returncode == 0, p.stderr
    assert p.remote == ["gitguard: refs/tags/v1.0: accepted: signed tag (by alice)"]
    assert server.ref("refs/tags/v1.0") == good

    unsigned = client.tag("v1.1", "release 1.1, unsigned")
    p = push(client, server, "refs/tags/v1.1")
    assert p.rejected
    assert "  tag " + unsigned[:12] + "  v1.1: release 1.1, unsigned" in p.remote
    assert "      status  unsigned: tag is not signed" in p.remote
    assert (
        f"      fix     sign the tag: `git tag -s -f v1.1 {commit[:12]}`, then push it again"
        in (p.remote)
    )
    assert "gitguard: refs/tags/v1.1: rejected: the tag is not acceptable (unsigned)" in p.remote

    client.git("tag", "v1.2")  # lightweight
    p = push(client, server, "refs/tags/v1.2")
    assert p.rejected
    assert (
        f"      status  unsigned: refs/tags/v1.2 is a lightweight tag (it points at commit "
        f"{commit[:12]}, not at a signed tag object)"
    ) in p.remote
    assert server.ref("refs/tags/v1.2") is None

    by_bob = client.tag("v1.3", "release 1.3 by bob", signer=world.bob)
    p = push(client, server, "refs/tags/v1.3")
    assert p.rejected
    assert any(x.startswith("      status  not-allowed: signer bob") for x in p.remote)
    assert server.ref("refs/tags/v1.3") is None
    assert by_bob

    # Moving an existing tag is a rewrite.
    newer = client.commit("after the release", signer=world.alice)
    client.git(
        *world.alice.config(),
        "tag",
        "-f",
        "-s",
        "-m",
        "moved",
        "v1.0",
        newer,
        env=world.alice.env(client.env),
    )
    p = push(client, server, "+refs/tags/v1.0")
    assert p.rejected, p.stderr
    assert "tags do not move: create a new tag instead" in p.report
    assert server.ref("refs/tags/v1.0") == good


def test_tag_pointing_at_existing_commit_under_signed_rule(world: World) -> None:
    server = world.server(
        MAIN
        + """
[[rule]]
refs = ["refs/tags/*"]
require = "signed"
signers = ["bob"]
"""
    )
    client = world.client()
    client.commit("by alice", signer=world.alice)
    assert push(client, server, "HEAD:refs/heads/main").returncode == 0
    client.git("tag", "snapshot")

    # main's rule (maintainers, github) does not vouch for this one (bob only): the
    # commit is judged again, so a protected ref is no way around a stricter rule.
    p = push(client, server, "refs/tags/snapshot")
    assert p.rejected
    assert any("status  not-allowed: signer alice is not allowed" in line for line in p.remote)

    # A rule at most as strict as main's: main's history counts as checked.
    server = world.server(
        MAIN
        + """
[[rule]]
refs = ["refs/tags/*"]
require = "signed"
signers = ["maintainers", "github", "carol"]
""",
        extra_signers='\n[[signer]]\nname = "carol"\nemails = ["carol@example.com"]\n',
    )
    assert push(client, server, "HEAD:refs/heads/main").returncode == 0
    p = push(client, server, "refs/tags/snapshot")
    assert p.returncode == 0, p.stderr
    assert p.remote == ["gitguard: refs/tags/snapshot: accepted: no new commits"]


# --------------------------------------------------------------------------- merges


def _merge_of_unsigned_side_branch(world: World, client: Repo) -> str:
    base = client.commit("base", signer=world.alice)
    client.git("checkout", "-q", "-b", "contrib")
    side = client.commit("external contribution, unsigned")
    client.git("checkout", "-q", "main")
    client.merge("contrib", "merge the contribution", signer=world.alice)
    assert base
    return side


def test_merge_of_unsigned_side_branch_under_both_merge_policies(world: World) -> None:
    all_server = world.server()
    first_parent = world.server(
        """
[[rule]]
refs = ["refs/heads/main"]
require = "signed"
signers = ["maintainers"]
merges = "first-parent"
"""
    )
    client = world.client()
    side = _merge_of_unsigned_side_branch(world, client)

    refused = push(client, all_server, "main:refs/heads/main")
    assert refused.rejected
    assert _entry(side, "external contribution, unsigned") in refused.remote
    # Re-signing a series with merges keeps them.
    assert "git rebase --rebase-merges --exec" in refused.report

    accepted = push(client, first_parent, "main:refs/heads/main")
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.remote == [
        "gitguard: refs/heads/main: accepted: 2 new commits signed by allowed signers"
    ]


def test_exempt_before_grandfathers_old_history(world: World) -> None:
    client = world.client()
    client.commit("legacy 1")
    legacy = client.commit("legacy 2")
    client.commit("signed from now on", signer=world.alice)
    rule = """
[[rule]]
refs = ["refs/heads/main"]
require = "signed"
signers = ["maintainers"]
"""
    strict = world.server(rule)
    grandfathered = world.server(rule + f'exempt_before = "{legacy}"\n')

    p = push(client, strict, "HEAD:refs/heads/main")
    assert p.rejected
    assert "gitguard: refs/heads/main: rejected: 2 of 3 new commits not acceptable" in p.remote
    assert " --root" in p.report  # the earliest offending commit is the root

    p = push(client, grandfathered, "HEAD:refs/heads/main")
    assert p.returncode == 0, p.stderr
    assert p.remote == [
        "gitguard: refs/heads/main: accepted: 1 new commit signed by allowed signers"
    ]


# --------------------------------------------------------------------------- identities


def test_forge_key_only_for_its_committer(world: World) -> None:
    server = world.server()
    client = world.client()
    web = dataclasses.replace(client, env=committer_env(client.env, "GitHub", "noreply@github.com"))
    web.commit("merged on the web", signer=world.forge)
    assert push(client, server, "HEAD:refs/heads/main").returncode == 0

    forged = client.commit("forge key, someone else's commit", signer=world.forge)
    p = push(client, server, "HEAD:refs/heads/main")
    assert p.rejected
    i = p.remote.index(_entry(forged, "forge key, someone else's commit"))
    assert p.remote[i + 2] == (
        "      status  not-allowed: signer github may only sign for committer "
        "GitHub <noreply@github.com>, not Test Committer <committer@example.com>"
    )


def test_committer_must_match(world: World) -> None:
    server = world.server(
        """
[[rule]]
refs = ["refs/heads/main"]
require = "signed"
signers = ["maintainers"]
committer_must_match = true
"""
    )
    client = world.client()
    as_alice = dataclasses.replace(
        client, env=committer_env(client.env, "Alice", "Alice@Example.com")
    )
    as_alice.commit("alice signs as alice", signer=world.alice)
    assert push(client, server, "HEAD:refs/heads/main").returncode == 0, "case-insensitive"

    wrong = as_alice.commit("bob signs alice's commit", signer=world.bob)
    p = push(client, server, "HEAD:refs/heads/main")
    assert p.rejected
    i = p.remote.index(_entry(wrong, "bob signs alice's commit"))
    assert p.remote[i + 2] == (
        "      status  identity-mismatch: committer e-mail <Alice@Example.com> is not an "
        "identity of signer bob"
    )


# --------------------------------------------------------------------------- time


def test_retired_key_cannot_sign_newly_pushed_work(world: World, tmp_path: Path) -> None:
    client = world.client()
    old = client.commit("signed in 2023", signer=world.alice, date="2023-06-01T12:00:00Z")
    server = world.server()
    assert push(client, server, "HEAD:refs/heads/main").returncode == 0

    # alice's key is retired at the end of 2023: the server's policy changes.
    retired = world.policy(MAIN, extra_signers="retired_after = 2023-12-31\n")
    server.install(retired)
    backdated = client.commit(
        "backdated to before the retirement", signer=world.alice, date="2023-07-01T12:00:00Z"
    )
    p = push(client, server, "HEAD:refs/heads/main")
    assert p.rejected
    i = p.remote.index(_entry(backdated, "backdated to before the retirement"))
    assert p.remote[i + 2] == (
        "      status  expired-key: signer alice was retired after 2023-12-31 23:59:59 UTC: a "
        "retired key cannot sign newly pushed work, whatever date the commit claims"
    )
    assert server.ref("refs/heads/main") == old

    # The commit pushed before the retirement stays good in an audit…
    audit = run_audit(client, "--policy", str(retired), old, out=tmp_path / "audit.json")
    assert audit.rc == 0, audit.stderr
    assert [r["status"] for r in audit.results()] == ["good"]
    # …and a new ref at it has nothing new to check.
    p = push(client, server, f"{old}:refs/heads/release/2023")
    assert p.returncode == 0, p.stderr


def test_allowed_signers_validity_is_judged_at_push_time_too(world: World) -> None:
    """A key whose allowed_signers entry ended (valid-before) cannot sign new work with
    a commit dated inside its validity."""
    allowed = world.tmp / "allowed_signers"
    allowed.write_text(
        f'carol@example.com valid-before="20240101" {world.keys.mallory.public_line}\n'
    )
    server = world.server(
        """
[[rule]]
refs = ["refs/heads/main"]
require = "signed"
signers = ["carol@example.com"]
""",
        top=f'[trust]\nallowed_signers = "{allowed}"\n',
    )
    client = world.client()
    old = client.commit("dated 2023", signer=world.mallory, date="2023-06-01T12:00:00Z")

    p = push(client, server, "HEAD:refs/heads/main")

    assert p.rejected
    i = p.remote.index(_entry(old, "dated 2023"))
    assert p.remote[i + 2].startswith("      status  expired-key: at push time (")
    assert "is outside the validity its allowed_signers entry gives it" in p.remote[i + 2]


# --------------------------------------------------------------------------- formats


def test_sha256_repository(world: World) -> None:
    server = world.server(object_format="sha256")
    client = world.client(object_format="sha256")
    head = client.commit("signed", signer=world.alice)
    assert len(head) == 64
    p = push(client, server, "HEAD:refs/heads/main")
    assert p.returncode == 0, p.stderr
    assert server.ref("refs/heads/main") == head

    bad = client.commit("unsigned in sha256")
    p = push(client, server, "HEAD:refs/heads/main")
    assert p.rejected
    assert _entry(bad, "unsigned in sha256") in p.remote
    assert _rebase_fix(head) in p.report
    p = push(client, server, ":refs/heads/main")
    assert p.rejected  # deletion, zero id of 64 digits
    assert "deleting refs/heads/main is not allowed" in p.report


def test_default_deny(world: World) -> None:
    server = world.server(MAIN, top='default = "deny"\n')
    client = world.client()
    client.commit("signed", signer=world.alice)
    p = push(client, server, "HEAD:refs/heads/feature")
    assert p.rejected
    assert (
        '  no rule in policy-1.toml matches refs/heads/feature, and the policy\'s default is "deny"'
    ) in p.remote
    assert "gitguard: refs/heads/feature: rejected: no rule matches (default deny)" in p.remote
    assert push(client, server, "HEAD:refs/heads/main").returncode == 0


# --------------------------------------------------------------------------- fail closed


def test_policy_deleted_after_install_rejects(world: World) -> None:
    server = world.server()
    policy = Path(server.git("config", "gitguard.policy").strip())
    policy.unlink()
    client = world.client()
    client.commit("signed", signer=world.alice)
    p = push(client, server, "HEAD:refs/heads/main")
    assert p.rejected
    assert p.remote == [
        "gitguard: push rejected: the policy cannot be loaded:",
        f"  {policy}: cannot read: No such file or directory",
    ]
    assert server.ref("refs/heads/main") is None


def test_missing_key_file_rejects(world: World) -> None:
    keyfile = world.tmp / "allowed_signers"
    keyfile.write_text(f"carol@example.com {world.keys.mallory.public_line}\n")
    server = world.server(MAIN, top=f'[trust]\nallowed_signers = "{keyfile}"\n')
    keyfile.unlink()
    client = world.client()
    client.commit("signed", signer=world.alice)
    p = push(client, server, "HEAD:refs/heads/main")
    assert p.rejected
    assert p.remote[0] == "gitguard: push rejected: the policy cannot be loaded:"
    assert f"cannot read {keyfile}" in p.report


def test_no_policy_configured_rejects(world: World) -> None:
    server = Server.create(world.tmp / "unconfigured.git", world.env)
    result = server.install(None)
    assert any("no policy configured" in w for w in result.warnings)
    client = world.client()
    client.commit("signed", signer=world.alice)
    p = push(client, server, "HEAD:refs/heads/main")
    assert p.rejected
    assert p.remote == [
        "gitguard: push rejected: gitguard is installed on this repository but no policy "
        "is configured",
        "  administrator: guard server install REPO.git --policy FILE (records it as git "
        "config gitguard.policy)",
    ]


def test_broken_git_config_is_an_internal_error(world: World) -> None:
    """A crash while deciding (here: an object format the guard does not know, as a
    corrupted config would give) refuses the push with the error's text."""
    server = world.server()
    client = world.client()
    client.commit("signed", signer=world.alice)
    server.git("config", "gitguard.timeout", "soon")
    p = push(client, server, "HEAD:refs/heads/main")
    assert p.rejected
    assert p.remote == [
        "gitguard: push rejected: gitguard.timeout = 'soon' is not a number of seconds"
    ]


def test_time_limit_rejects(world: World) -> None:
    server = world.server()
    client = world.client()
    client.commit("signed", signer=world.alice)
    p = push(
        client, server, "HEAD:refs/heads/main", env={**client.env, "GUARD_HOOK_TIMEOUT": "0.001"}
    )
    assert p.rejected
    assert p.remote == [
        "gitguard: push rejected: the signature check did not finish within 0.001 s; the limit "
        "is GUARD_HOOK_TIMEOUT or `git config gitguard.timeout` (seconds)"
    ]
    assert server.ref("refs/heads/main") is None


def test_update_hook_decides_per_ref(world: World) -> None:
    """An administrator who can only install ``update``: each ref is decided alone."""
    server = world.server()
    server.install(Path(server.git("config", "gitguard.policy").strip()), update_hook=True)
    (server.path / "hooks" / "pre-receive").unlink()
    client = world.client()
    good = client.commit("signed", signer=world.alice)
    client.git("checkout", "-q", "-b", "other")
    bad = client.commit("unsigned")

    p = push(client, server, "main:refs/heads/main", "other:refs/heads/release/x")

    assert p.returncode != 0
    assert server.ref("refs/heads/main") == good
    assert server.ref("refs/heads/release/x") is None
    assert _entry(bad, "unsigned") in p.remote


# --------------------------------------------------------------------------- pure parts


def test_parse_updates() -> None:
    repo = GitRepo(None, "sha1")
    a, b, z = "a" * 40, "b" * 40, "0" * 40
    assert parse_updates(f"{z} {a} refs/heads/main\n{a} {b} refs/tags/v1\n\n", repo) == [
        RefUpdate(z, a, "refs/heads/main"),
        RefUpdate(a, b, "refs/tags/v1"),
    ]
    with pytest.raises(GuardError, match="is not a sha1 object id"):
        parse_updates(f"{'a' * 64} {a} refs/heads/main\n", repo)
    with pytest.raises(GuardError, match="line 1 is not `<old> <new> <ref>`"):
        parse_updates(f"{a} {b}\n", repo)
    with pytest.raises(GuardError, match="is not a full ref name"):
        parse_updates(f"{a} {b} main\n", repo)
    assert parse_updates(f"{'0' * 64} {'c' * 64} refs/heads/x\n", GitRepo(None, "sha256"))


def _verdict(n: int) -> Verdict:
    return Verdict(
        object=f"{n:040x}",
        kind=Kind.COMMIT,
        status=Status.UNSIGNED,
        git_code="N",
        format=None,
        key=None,
        signer=None,
        reason="commit is not signed",
        hint="sign it",
        subject=f"change {n}",
        author="A <a@example.com>",
        ref="refs/heads/main",
        rule="policy.toml:3",
    )


def test_report_caps_the_listing() -> None:
    update = RefUpdate("0" * 40, "f" * 40, "refs/heads/main")
    ref = RefResult(
        update,
        False,
        "rejected: 60 of 60 new commits not acceptable",
        rule="policy.toml:3",
        checked=60,
        offending=tuple(_verdict(n) for n in range(60)),
        problems=(RefProblem("force push: no", "do not"),),
    )
    text = format_report(ReceiveResult((ref,), "/etc/gitguard/policy.toml"))
    lines = text.splitlines()
    assert lines[0] == "gitguard: push rejected: 60 offending objects on 1 ref (policy.toml)"
    assert lines[2] == "refs/heads/main  (rule policy.toml:3)"
    assert lines[3:5] == ["  force push: no", "      fix     do not"]
    assert sum(1 for x in lines if x.startswith("      status")) == 50
    assert "… and 10 more offending objects not listed (60 in all)" in lines
    assert lines[-1] == "gitguard: refs/heads/main: rejected: 60 of 60 new commits not acceptable"
    assert format_report(ReceiveResult((ref,), "policy.toml")) == text  # pure


def test_report_of_an_accepted_push_is_one_line_per_ref() -> None:
    refs = (
        RefResult(RefUpdate("0" * 40, "f" * 40, "refs/heads/a"), True, "accepted: no new commits"),
        RefResult(
            RefUpdate("f" * 40, "0" * 40, "refs/heads/b"), True, "accepted: deletion allowed"
        ),
    )
    assert format_report(ReceiveResult(refs, "p.toml", push_cert="signed by alice (K)")) == (
        "gitguard: push certificate signed by alice (K)\n"
        "gitguard: refs/heads/a: accepted: no new commits\n"
        "gitguard: refs/heads/b: accepted: deletion allowed\n"
    )


_OBJ = SignedObject(
    oid="a" * 40,
    kind=Kind.COMMIT,
    payload=b"tree x\n",
    signature=b"-----BEGIN SSH SIGNATURE-----\n",
    committer="Alice <alice@example.com>",
    committer_email="alice@example.com",
    time=1_700_000_000,
)
_GOOD = Verification(Format.SSH, Status.GOOD, "good signature", key="SHA256:k", signer="alice")


def _policy(**signer: int) -> Policy:
    return Policy(
        source="policy.toml",
        version=1,
        trust=TrustStore(),
        signers=(Signer("alice", ("alice@example.com",), **signer),),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("signer", "now", "status"),
    [
        ({}, 1_800_000_000, Status.GOOD),
        ({"retired_after": 1_750_000_000}, 1_800_000_000, Status.EXPIRED_KEY),
        ({"retired_after": 1_750_000_000}, 1_750_000_000, Status.GOOD),
        ({"retired_after": 1_750_000_000}, None, Status.GOOD),  # audits: the claim decides
        ({"valid_after": 1_600_000_000}, 1_599_999_999, Status.NOT_YET_VALID),
        ({"valid_after": 1_600_000_000}, 1_800_000_000, Status.GOOD),
    ],
)
def test_push_time_judgement(signer: dict[str, int], now: int | None, status: Status) -> None:
    verdict = evaluate(_OBJ, _GOOD, _policy(**signer), now=now)
    assert verdict.status is status
    if status is not Status.GOOD:
        assert verdict.hint == HINTS[status]


def test_receive_pack_sees_objects_only_in_quarantine(world: World) -> None:
    """The accepted pushes above read their commits from the quarantine; this one
    shows the quarantine is where they were: a refused push leaves nothing behind."""
    server = world.server()
    client = world.client()
    bad = client.commit("unsigned")
    assert push(client, server, "HEAD:refs/heads/main").rejected
    assert not server.has(bad)
    assert server.quarantines() == []
    assert run(["git", "-C", server.path, "fsck"], env=world.env).returncode == 0


def test_a_bug_refuses_the_push_and_says_where() -> None:
    """Anything unexpected while deciding is reported as an internal error (the hook
    then exits 1): the push is refused, never let through."""
    from gitguard.server.hook import _internal_error

    table: dict[str, int] = {}
    try:
        table["missing"]
    except KeyError as e:
        text = _internal_error(e)
    assert text.startswith(
        "gitguard: push rejected: internal error in gitguard (KeyError: 'missing' at "
        "test_receive.py:"
    )
    assert text.endswith("the push is refused until the server administrator fixes it\n")


def test_sha1_bound_openpgp_key_is_accepted_with_a_warning(world: World) -> None:
    """A certificate whose self-signatures use SHA-1 (GnuPG's default before 2.1):
    its signatures are good, and the push shows a warning naming the certificate
    and the fix; with ``sha1_self_signatures = "refuse"`` they are refused."""
    home = GpgHome.create(world.tmp / "gnupg", world.env)
    try:
        key = home.gen_key("Carol <carol@example.com>", "ed25519", cert_digest="SHA1")
        fpr = key.fingerprint
        (world.tmp / "carol.asc").write_bytes(home.export(key))
        carol = f'\n[[signer]]\nname = "carol"\nkeys = ["openpgp:{fpr}"]\n'
        rules = '[[rule]]\nrefs = ["refs/heads/main"]\nrequire = "signed"\nsigners = ["carol"]\n'
        client = world.client()
        client.commit("signed by a SHA-1-bound key", signer=openpgp_signer(key))

        lenient = world.server(rules, top='[trust]\nopenpgp = ["carol.asc"]', extra_signers=carol)
        p = push(client, lenient, "HEAD:refs/heads/main")
        assert p.returncode == 0, p.report
        (warning,) = [line for line in p.remote if line.startswith("gitguard: warning: ")]
        assert f"OpenPGP certificate {fpr}" in warning
        assert "SHA-1 self-signatures" in warning
        assert f"--quick-set-expire {fpr}" in warning

        strict = world.server(
            rules,
            top='[trust]\nopenpgp = ["carol.asc"]\nsha1_self_signatures = "refuse"',
            extra_signers=carol,
        )
        p = push(client, strict, "HEAD:refs/heads/main")
        assert p.rejected
        assert any("status  weak-algorithm: " in line and "uses SHA-1" in line for line in p.remote)
        check = run(
            [sys.executable, "-m", "gitguard", "server", "check", str(lenient.path)], env=world.env
        )
        assert f"OpenPGP certificate {fpr}" in check.stdout.decode()
    finally:
        home.close()
