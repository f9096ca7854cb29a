"""A cache of parsed policy TOML for the receive hook.

Every push loads the policy afresh, and ``tomllib`` alone (its import: regular
expressions, ``datetime``, ``string``) costs ≈6 ms of a hook whose whole budget is a
few tens of milliseconds. The hook therefore keeps the parsed document in the
repository (``$GIT_DIR/gitguard-policy.cache``) as ``marshal`` data, next to the exact
policy bytes it came from:

- an entry is used only when its bytes equal the policy file's bytes *now* and it was
  written by the same Python (``sys.version``): no time stamps, no hashes, nothing to
  go stale. Only the TOML parse is cached; the policy is still validated, and every
  trust file it names read, on every push;
- TOML dates and times, which ``marshal`` cannot hold, are stored as tagged tuples
  (``tomllib`` produces no tuples) and rebuilt with ``fromisoformat``;
- writes are atomic (a temporary file, then ``os.replace``), and a cache that cannot be
  read or written is ignored: the policy is parsed as if there were none.

The file lives with the hooks, and whoever can write there can change the hooks too,
so it adds nothing to trust. Pushes cannot write it: they only add objects and refs.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import sys
from typing import Any

CACHE_NAME = "gitguard-policy.cache"
_MAGIC = b"gitguard policy cache 1\n"
_TAG = "\0gitguard-toml-time"


def cache_path(git_dir: str) -> str:
    return os.path.join(git_dir, CACHE_NAME)


def load(path: str, source: bytes) -> dict[str, Any] | None:
    """The parsed document cached at ``path`` for exactly ``source``, or None."""
    try:
        with open(path, "rb") as f:
            blob = f.read()
        if not blob.startswith(_MAGIC):
            return None
        # The file is as trusted as the hooks beside it (see above).
        version, cached, doc = marshal.loads(blob[len(_MAGIC) :])  # noqa: S302
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if version != sys.version or cached != source or not isinstance(doc, dict):
        return None
    try:
        thawed = _thaw(doc)
    except (ValueError, TypeError):
        return None
    return thawed if isinstance(thawed, dict) else None


def store(path: str, source: bytes, doc: dict[str, Any]) -> None:
    """Cache ``doc``, parsed from ``source``, at ``path`` (best effort)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        blob = _MAGIC + marshal.dumps((sys.version, source, _freeze(doc)))
        with open(tmp, "wb") as f:
            f.write(blob)
        os.replace(tmp, path)
    except (OSError, ValueError):
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _freeze(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_freeze(v) for v in value]
    if isinstance(value, (str, bool, int, float)):
        return value
    import datetime as dt

    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return (_TAG, type(value).__name__, value.isoformat())
    raise ValueError(f"cannot cache a TOML value of type {type(value).__name__}")


def _thaw(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_thaw(v) for v in value]
    if isinstance(value, tuple):
        import datetime as dt

        tag, kind, text = value
        if tag != _TAG or kind not in ("datetime", "date", "time"):
            raise ValueError("unknown tagged value")
        cls: Any = getattr(dt, kind)
        return cls.fromisoformat(text)
    return value
