"""The receive hook's cache of parsed policy TOML (gitguard.trust.policycache): a cached
parse is exactly what tomllib gives, it is used only for the very bytes it came from,
and a broken cache file is ignored, never trusted and never fatal."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import pytest

from gitfixtures import Repo, ssh_signer, tool_env
from gitguard.errors import PolicyError
from gitguard.server.install import install
from gitguard.trust import policycache
from gitguard.trust.policy import load_policy
from receivefixtures import Keys, Server, policy_text, push

POLICY = """\
version = 1

[[signer]]
name = "alice"
emails = ["alice@example.com"]
keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIqXgXoemhaxUirOYZPCOakdiSg2n7rwSebE51Wg+LfG"]
valid_after = 2024-01-01
retired_after = 2025-06-30T12:30:00.250000+02:00

[[rule]]
refs = ["refs/heads/*"]
require = "signed"
signers = ["alice"]
"""


def test_a_cached_parse_equals_tomllib_dates_and_times_included(tmp_path: Path) -> None:
    source = (
        b"a = 1979-05-27T07:32:00Z\nb = 1979-05-27T00:32:00.999999-07:00\n"
        b"c = 1979-05-27T07:32:00\nd = 1979-05-27\ne = 07:32:00.5\n"
        b'f = [1, 2.5, "x", true, {g = inf}]\n[h.i]\nj = "k"\n'
    )
    expected = tomllib.loads(source.decode())
    path = str(tmp_path / "cache")
    assert policycache.load(path, source) is None  # nothing cached yet
    policycache.store(path, source, expected)
    cached = policycache.load(path, source)
    assert cached == expected
    assert cached is not None
    assert type(cached["d"]) is dt.date
    assert type(cached["e"]) is dt.time
    assert cached["b"].utcoffset() == dt.timedelta(hours=-7)
    assert cached["c"].tzinfo is None


def test_a_cache_serves_only_the_bytes_it_was_made_from(tmp_path: Path) -> None:
    path = str(tmp_path / "cache")
    source = b"a = 1\n"
    policycache.store(path, source, {"a": 1})
    assert policycache.load(path, b"a = 2\n") is None
    assert policycache.load(path, b"a = 1\n ") is None
    assert policycache.load(path, source) == {"a": 1}


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b"not a cache",
        policycache._MAGIC,
        policycache._MAGIC + b"\x00\x01garbage",
    ],
)
def test_a_damaged_cache_is_ignored(tmp_path: Path, damage: bytes) -> None:
    path = tmp_path / "cache"
    path.write_bytes(damage)
    assert policycache.load(str(path), b"a = 1\n") is None


def test_a_truncated_cache_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "cache"
    policycache.store(str(path), b"a = 1\n", {"a": 1})
    whole = path.read_bytes()
    for cut in range(len(policycache._MAGIC), len(whole)):
        path.write_bytes(whole[:cut])
        assert policycache.load(str(path), b"a = 1\n") is None


def test_a_cache_that_cannot_be_written_is_skipped(tmp_path: Path) -> None:
    path = str(tmp_path / "no-such-dir" / "cache")
    policycache.store(path, b"a = 1\n", {"a": 1})
    assert policycache.load(path, b"a = 1\n") is None
    assert list(tmp_path.iterdir()) == []


def test_load_policy_through_the_cache_gives_the_same_policy(tmp_path: Path) -> None:
    cache = str(tmp_path / policycache.CACHE_NAME)
    fresh = load_policy(POLICY.encode(), "policy.toml", base_dir=tmp_path)
    first = load_policy(POLICY.encode(), "policy.toml", base_dir=tmp_path, cache=cache)
    assert Path(cache).exists()
    second = load_policy(POLICY.encode(), "policy.toml", base_dir=tmp_path, cache=cache)
    assert first == fresh
    assert second == fresh
    assert [s.name for s in second.signers] == ["alice"]


def test_a_changed_policy_is_parsed_again(tmp_path: Path) -> None:
    cache = str(tmp_path / policycache.CACHE_NAME)
    load_policy(POLICY.encode(), "policy.toml", base_dir=tmp_path, cache=cache)
    changed = POLICY.replace('signers = ["alice"]', 'signers = ["nobody"]')
    with pytest.raises(PolicyError, match="nobody"):
        load_policy(changed.encode(), "policy.toml", base_dir=tmp_path, cache=cache)
    # A syntax error is reported as such even though a cache exists.
    with pytest.raises(PolicyError, match=r"policy\.toml: Invalid value"):
        load_policy(b"version = = 1\n", "policy.toml", base_dir=tmp_path, cache=cache)


def test_the_hook_caches_and_a_policy_change_takes_effect_at_once(
    tmp_path: Path, keys: Keys
) -> None:
    """A real push leaves the cache in the repository; after the policy changes, the
    very next push is judged by the new policy."""
    env = tool_env(tmp_path / "home")
    policy = tmp_path / "policy.toml"
    rules = '[[rule]]\nrefs = ["refs/heads/*"]\nrequire = "signed"\nsigners = ["alice"]\n'
    policy.write_text(policy_text(keys, rules))
    server = Server.create(tmp_path / "srv.git", env)
    install(server.path, policy=policy)
    client = Repo.init(tmp_path / "client", env)
    alice = ssh_signer(keys.alice)

    client.commit("one", signer=alice)
    assert push(client, server, "HEAD:refs/heads/main").returncode == 0
    cache = server.path / policycache.CACHE_NAME
    assert policycache.load(str(cache), policy.read_bytes()) is not None

    policy.write_text(policy_text(keys, rules.replace('["alice"]', '["bob"]')))
    client.commit("two", signer=alice)
    refused = push(client, server, "HEAD:refs/heads/main")
    assert refused.returncode != 0
    assert "signer alice is not allowed on refs/heads/main" in refused.stderr
    assert policycache.load(str(cache), policy.read_bytes()) is not None
