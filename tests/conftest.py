"""Test isolation: no test may read or write the developer's git config, GnuPG
keyring or SSH keys. Every test runs with a throwaway HOME and GNUPGHOME, no system
git config, and pinned author/committer identities.

Fixtures several test modules share live here; the helpers they are built from are in
the fixture modules beside the tests (``gitfixtures``: keys, repositories and git as
the oracle; ``receivefixtures``: guarded servers, pushes and policies).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from gitfixtures import tool_env

if TYPE_CHECKING:  # imported where used: a test module that needs no keys needs no gitguard
    from receivefixtures import Keys


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``os.environ`` is :func:`gitfixtures.tool_env` of a fresh home for the test (no
    git, GnuPG, SSH agent or gitguard variable of the caller's survives)."""
    home = tmp_path_factory.mktemp("home")
    saved = os.environ.copy()
    for key in list(os.environ):
        if key.startswith(("GIT_", "GNUPG", "SSH_AUTH_SOCK", "GUARD_")):
            del os.environ[key]
    os.environ.update(tool_env(home))
    try:
        yield home
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    """The receive guard's throwaway SSH keys (alice, bob, forge, mallory), made once
    per test module."""
    from receivefixtures import make_keys

    return make_keys(tmp_path_factory.mktemp("keys"))
