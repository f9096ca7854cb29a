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

if TYPE_CHECKING:  # imported where used: a test module that needs no keys needs no gitguard
    from receivefixtures import Keys


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("home")
    gnupg = home / ".gnupg"
    gnupg.mkdir(mode=0o700)
    (home / ".gitconfig").write_text("")
    saved = os.environ.copy()
    for key in list(os.environ):
        if key.startswith(("GIT_", "GNUPG", "SSH_AUTH_SOCK", "GUARD_")):
            del os.environ[key]
    os.environ.update(
        {
            "HOME": str(home),
            "GNUPGHOME": str(gnupg),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
            "GIT_TEMPLATE_DIR": "",
            "GIT_AUTHOR_NAME": "Test Author",
            "GIT_AUTHOR_EMAIL": "author@example.com",
            "GIT_COMMITTER_NAME": "Test Committer",
            "GIT_COMMITTER_EMAIL": "committer@example.com",
            "LC_ALL": "C",
            "TZ": "UTC",
            "NO_COLOR": "1",
        }
    )
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
