"""Attacks on the receive guard by a pusher without a trusted key (or a trusted
signer acting outside their rule), each through a real ``git push`` into a bare
repository guarded by ``guard server install``. Every test here failed before the
fix it names (docs/threat-model.md lists the classes); each stays as a regression
test. The policy: ``main`` allows alice only, ``dev/*`` allows alice and bob.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from gitfixtures import (
    GpgHome,
    add_signature,
    isolated_environ,
    openpgp_signer,
    run,
    run_audit,
    ssh_sign,
)
from gitguard.gitobjects import Repo as GitRepo
from gitguard.server.install import shim_text
from gitguard.server.receive import RefUpdate, check_updates
from gitguard.trust.policy import load_policy_file
from receivefixtures import Keys, Server, World, policy_text, push


def _rules(dev_extra: str = "") -> str:
    """``main`` allows alice only, ``dev/*`` alice and bob (with ``dev_extra``)."""
    return f"""
[[rule]]
refs = ["refs/heads/main"]
require = "signed"
signers = ["alice"]

[[rule]]
refs = ["refs/heads/dev/*"]
require = "signed"
signers = ["alice", "bob"]
{dev_extra}
"""


RULES = _rules()


@pytest.fixture
def world(tmp_path: Path, keys: Keys) -> World:
    return World(tmp_path, keys, RULES)


def _audit(server: Server, *args: str) -> str:
    proc = run(
        [
            sys.executable,
            "-m",
            "gitguard",
            "-C",
            str(server.path),
            "audit",
            "--format",
            "json",
            *args,
        ],
        env=server.env,
        check=False,
    )
    return proc.stdout.decode()


# --- promotion through a weaker protected ref ----------------------------------------


@pytest.mark.parametrize("hooks", ["pre-receive", "update-only"])
def test_commit_accepted_for_a_weaker_rule_is_judged_again_on_promotion(
    world: World, hooks: str
) -> None:
    server = world.server(update_hook=hooks == "update-only")
    if hooks == "update-only":
        (server.path / "hooks" / "pre-receive").unlink()
    client = world.client()
    client.commit("alice's base", signer=world.alice)
    assert push(client, server, "HEAD:refs/heads/main").returncode == 0
    bobs = client.commit("bob's work", signer=world.bob)
    assert push(client, server, "HEAD:refs/heads/dev/x").returncode == 0

    p = push(client, server, "HEAD:refs/heads/main")  # a fast-forward of main to bob's
    assert p.rejected, p.report
    assert f"  {bobs[:12]}  bob's work" in p.remote
    assert any("not-allowed: signer bob is not allowed on refs/heads/main" in x for x in p.remote)
    assert server.ref("refs/heads/main") != bobs


def test_first_parent_rule_does_not_vouch_for_side_branches(world: World) -> None:
    server = world.server(world.policy(_rules(dev_extra='merges = "first-parent"')))
    client = world.client()
    client.commit("base", signer=world.alice)
    assert push(client, server, "HEAD:refs/heads/main").returncode == 0
    client.git("checkout", "-q", "-b", "side")
    side = client.commit("unsigned side commit")
    client.git("checkout", "-q", "main")
    client.merge("side", "merge by alice", signer=world.alice)
    assert push(client, server, "HEAD:refs/heads/dev/x").returncode == 0  # first-parent

    p = push(client, server, "HEAD:refs/heads/main")
    assert p.rejected, p.report
    assert f"  {side[:12]}  unsigned side commit" in p.remote


def test_signer_marked_compromised_is_refused_on_promotion(world: World) -> None:
    rules = RULES.replace('signers = ["alice"]', 'signers = ["alice", "bob"]')
    server = world.server(world.policy(rules))
    client = world.client()
    client.commit("base", signer=world.alice)
    assert push(client, server, "HEAD:refs/heads/main").returncode == 0
    bobs = client.commit("bob's work", signer=world.bob)
    assert push(client, server, "HEAD:refs/heads/dev/x").returncode == 0
    # bob's key is found compromised: the administrator marks him.
    marked = policy_text(world.keys, rules)
    marked = marked.replace('name = "bob"\n', 'name = "bob"\ncompromised = true\n')
    policy = world.tmp / "marked.toml"
    policy.write_text(marked)
    server.install(policy)

    p = push(client, server, "HEAD:refs/heads/main")
    assert p.rejected, p.report
    assert f"  {bobs[:12]}  bob's work" in p.remote
    assert any("revoked-key: signer bob is marked compromised" in x for x in p.remote)


def test_rule_at_most_as_strict_still_counts_as_checked(world: World) -> None:
    """The other direction: alice's commits on main (alice only) need no second look
    when a dev/ branch (alice, bob) is created from them."""
    server = world.server()
    client = world.client()
    for n in range(3):
        client.commit(f"alice {n}", signer=world.alice)
    assert push(client, server, "HEAD:refs/heads/main").returncode == 0
    p = push(client, server, "HEAD:refs/heads/dev/y")
    assert p.returncode == 0, p.report
    assert p.remote == ["gitguard: refs/heads/dev/y: accepted: no new commits"]


# --- symbolic refs ---------------------------------------------------------------------


def test_push_to_a_symbolic_ref_is_judged_by_the_ref_it_moves(world: World) -> None:
    server = world.server()
    client = world.client()
    client.commit("base", signer=world.alice)
    assert push(client, server, "HEAD:refs/heads/main").returncode == 0
    before = server.ref("refs/heads/main")
    server.git("symbolic-ref", "refs/heads/master", "refs/heads/main")
    unsigned = client.commit("unsigned, through master")

    p = push(client, server, "HEAD:refs/heads/master")
    assert p.rejected, p.report
    assert f"  {unsigned[:12]}  unsigned, through master" in p.remote
    assert server.ref("refs/heads/main") == before

    check = run(
        [sys.executable, "-m", "gitguard", "server", "check", str(server.path)], env=world.env
    )
    assert "  refs/heads/master -> refs/heads/main  policy-" in check.stdout.decode()


# --- objects that are not commits ------------------------------------------------------


def test_tree_blob_and_tag_of_a_tree_are_refused_under_signed(world: World) -> None:
    rules = (
        RULES + '\n[[rule]]\nrefs = ["refs/release/*"]\nrequire = "signed"\nsigners = ["alice"]\n'
    )
    server = world.server(world.policy(rules))
    client = world.client()
    client.commit("base", signer=world.alice)
    tree = client.git("rev-parse", "HEAD^{tree}").decode().strip()
    blob = client.git("hash-object", "-w", "--stdin", input=b"data\n").decode().strip()
    client.git("tag", "-a", "-m", "a tag of a tree", "treetag", tree)
    for source, what in ((tree, "a tree"), (blob, "a blob"), ("refs/tags/treetag", "a tree")):
        p = push(client, server, f"{source}:refs/release/x")
        assert p.rejected, p.report
        assert any(f"refs/release/x would point at {what} " in x for x in p.remote), p.report
    assert server.ref("refs/release/x") is None


# --- replace refs ----------------------------------------------------------------------


def test_replace_refs_are_refused_unless_a_rule_names_them(world: World) -> None:
    server = world.server()
    client = world.client()
    client.commit("base", signer=world.alice)
    assert push(client, server, "HEAD:refs/heads/main").returncode == 0
    unsigned = client.commit("unsigned")
    client.git("reset", "-q", "--hard", "HEAD~1")
    signed = client.commit("signed stand-in", signer=world.alice)

    p = push(client, server, f"{signed}:refs/replace/{unsigned}")
    assert p.rejected, p.report
    assert any("refs/replace/" in x and "is a replace ref" in x for x in p.remote)
    p = push(client, server, f"{unsigned}:refs/heads/main")
    assert p.rejected, p.report
    # A replace ref that got onto the server anyway can be deleted by a push.
    server.git("fetch", "-q", str(client.path), f"{unsigned}:refs/heads/parking")
    server.git("fetch", "-q", str(client.path), f"{signed}:refs/heads/parking-too")
    server.git("replace", unsigned, signed)
    assert push(client, server, f":refs/replace/{unsigned}").returncode == 0
    assert server.ref(f"refs/replace/{unsigned}") is None

    allowed = RULES + '\n[[rule]]\nrefs = ["refs/replace/*"]\nrequire = "none"\n'
    server = world.server(world.policy(allowed))
    assert push(client, server, f"{signed}:refs/replace/{unsigned}").returncode == 0


# --- ref names ---------------------------------------------------------------------------


@pytest.mark.parametrize("separator", ["\u0085", "\u2028", "\u2029"])
def test_ref_names_with_line_separators_are_refused_and_break_nothing(
    world: World, separator: str
) -> None:
    server = world.server()
    client = world.client()
    client.commit("base", signer=world.alice)
    assert push(client, server, "HEAD:refs/heads/main").returncode == 0
    name = f"refs/heads/odd{separator}name"
    p = push(client, server, f"HEAD:{name}")
    assert p.rejected, p.report
    assert any("ref names must be printable UTF-8" in x for x in p.remote)
    # Such a ref made on the server by other means must not stop later pushes.
    server.git("update-ref", name, "refs/heads/main")
    client.commit("more", signer=world.alice)
    assert push(client, server, "HEAD:refs/heads/main").returncode == 0
    # Nor an audit of every ref: the odd ref's history is audited like any other.
    doc = json.loads(_audit(server, "--all"))
    assert {r["status"] for r in doc["results"]} == {"unknown-key"}  # no trust given


# --- OpenPGP key lifetimes at push time ------------------------------------------------


def test_expired_openpgp_key_signing_with_a_backdated_time_is_refused(world: World) -> None:
    """Created 2020-01-01, expired 2020-12-31; the commit is signed with gpg's clock
    set to 2020-06-01, so the signature claims a time when the key was valid. The
    audit (judging at the signature's time, as documented) calls it good; the
    server, judging at the push, refuses it."""
    home = GpgHome.create(world.tmp / "gnupg", world.env)
    try:
        key = home.gen_key(
            "Carol <carol@example.com>", "ed25519", expire="1y", faked_time="20200101T000000"
        )
        cert = world.tmp / "carol.asc"
        cert.write_bytes(home.export(key))
        carol = f'\n[[signer]]\nname = "carol"\nkeys = ["openpgp:{key.fingerprint}"]\n'
        rules = RULES.replace('signers = ["alice"]', 'signers = ["alice", "carol"]')
        policy = world.tmp / "carol.toml"
        policy.write_text(
            policy_text(world.keys, rules, extra_signers=carol).replace(
                "version = 1\n", 'version = 1\n[trust]\nopenpgp = ["carol.asc"]\n', 1
            )
        )
        server = world.server(policy)
        client = world.client()
        backdated = home.gpg_program(
            world.tmp, "gpg-2020", "--faked-system-time", "20200601T000000"
        )
        commit = client.commit("backdated", signer=openpgp_signer(key, program=backdated))

        p = push(client, server, "HEAD:refs/heads/main")
        assert p.rejected, p.report
        assert f"  {commit[:12]}  backdated" in p.remote
        assert any(
            "status  expired-key: at push time: the certificate's primary key "
            f"{key.fingerprint} expired at 2020-12-31" in line
            for line in p.remote
        ), p.report
        audit = run_audit(client, "--policy", str(policy), out=world.tmp / "audit.json")
        assert '"status": "good"' in audit.output
    finally:
        home.close()


# --- messages that must say the truth ----------------------------------------------------


def test_deleting_a_ref_that_does_not_exist_says_so(world: World) -> None:
    rules = (
        RULES + '\n[[rule]]\nrefs = ["refs/tags/*"]\nrequire = "signed-tag"\nsigners = ["alice"]\n'
    )
    server = world.server(world.policy(rules))
    policy = load_policy_file(Path(server.git("config", "gitguard.policy").strip()))
    repo = GitRepo(str(server.path), "sha1")
    zero = repo.zero_id
    with isolated_environ(world.env):
        result = check_updates(repo, [RefUpdate(zero, zero, "refs/tags/nope")], policy, now=0)
    (ref,) = result.refs
    assert not ref.accepted
    assert ref.summary == "rejected: no such ref"
    assert ref.problems[0].reason == "refs/tags/nope does not exist: there is nothing to delete"


def test_missing_interpreter_refuses_with_a_message(world: World) -> None:
    server = world.server()
    hook = server.path / "hooks" / "pre-receive"
    hook.write_text(shim_text("pre-receive", str(world.tmp / "gone" / "python3"), None))
    client = world.client()
    client.commit("signed", signer=world.alice)
    p = push(client, server, "HEAD:refs/heads/main")
    assert p.rejected
    assert p.remote[0] == (
        f"gitguard: cannot start: {world.tmp / 'gone' / 'python3'} is missing or not "
        "executable; the push is refused. Administrator: run `guard server install` again "
        "with a working Python."
    )


# --- headers read as git reads them --------------------------------------------------------


def test_a_parent_line_git_ignores_does_not_make_a_fast_forward(world: World) -> None:
    """A commit whose real parent is unrelated to main, with main's tip named again in
    a ``parent`` line after ``committer`` (git ignores it), signed by alice: pushing it
    to main is a rewrite, and force pushes are not allowed."""
    server = world.server()
    client = world.client()
    tip = client.commit("main's history", signer=world.alice)
    assert push(client, server, "HEAD:refs/heads/main").returncode == 0
    client.git("checkout", "-q", "--orphan", "other")
    unrelated = client.commit("unrelated root", signer=world.alice)
    tree = client.git("rev-parse", "HEAD^{tree}").decode().strip()
    payload = (
        f"tree {tree}\nparent {unrelated}\n"
        "author Test Author <author@example.com> 1700000000 +0000\n"
        "committer Test Committer <committer@example.com> 1700000000 +0000\n"
        f"parent {tip}\n\nlooks like a fast-forward\n"
    ).encode()
    signature = ssh_sign(world.keys.alice, payload, world.env, workdir=world.tmp)
    crafted = client.write_object("commit", add_signature(payload, signature), literally=True)
    assert client.git("rev-parse", f"{crafted}^@").decode().split() == [unrelated]

    p = push(client, server, f"{crafted}:refs/heads/main", options=["--force"])
    assert p.rejected, p.report
    assert any("rejected: force push not allowed" in line for line in p.remote), p.report
    assert server.ref("refs/heads/main") == tip


def test_reads_ignore_replace_refs(world: World) -> None:
    """A replace ref already on the server (made by anyone who could write there
    once) must not make the guard, or the audit, check another object than the one
    pushed: an unsigned commit stays unsigned."""
    server = world.server()
    client = world.client()
    base = client.commit("base", signer=world.alice)
    assert push(client, server, "HEAD:refs/heads/main").returncode == 0
    unsigned = client.commit("unsigned")
    client.git("reset", "-q", "--hard", base)
    stand_in = client.commit("signed stand-in", signer=world.alice)
    assert push(client, server, "HEAD:refs/heads/dev/stand-in").returncode == 0
    server.git("fetch", "-q", str(client.path), f"{unsigned}:refs/heads/parking")
    server.git("replace", unsigned, stand_in)
    server.git("update-ref", "-d", "refs/heads/parking")

    p = push(client, server, f"{unsigned}:refs/heads/main")
    assert p.rejected, p.report
    assert f"  {unsigned[:12]}  unsigned" in p.remote
    assert any("status  unsigned: " in line for line in p.remote)
    assert '"status": "unsigned"' in _audit(server, unsigned)


def test_reads_ignore_grafts(world: World) -> None:
    """A graft on the server that skips an unsigned parent (signed S -> unsigned U ->
    main, grafted as S -> main) must not hide U from the new-commit walk."""
    server = world.server()
    client = world.client()
    base = client.commit("base", signer=world.alice)
    assert push(client, server, "HEAD:refs/heads/main").returncode == 0
    unsigned = client.commit("unsigned parent")
    signed = client.commit("signed child", signer=world.alice)
    server.git("fetch", "-q", str(client.path), f"{signed}:refs/heads/parking")
    (server.path / "info").mkdir(exist_ok=True)
    (server.path / "info" / "grafts").write_text(f"{signed} {base}\n")
    server.git("update-ref", "-d", "refs/heads/parking")

    p = push(client, server, f"{signed}:refs/heads/main")
    assert p.rejected, p.report
    assert f"  {unsigned[:12]}  unsigned parent" in p.remote
