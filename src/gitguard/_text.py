"""Small text helpers shared by reports, hooks and messages (stdlib only: this
module is on the receive hook's import path)."""

from __future__ import annotations

import os
import time
from typing import IO


def plural(n: int, word: str) -> str:
    """``1 commit``, ``2 commits``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def utc(t: int) -> str:
    """``2026-12-02 11:18:49 UTC``; ``@T`` for a time no calendar can show."""
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))
    except (OverflowError, OSError, ValueError):
        return f"@{t}"


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def color_enabled(stream: IO[str]) -> bool:
    """Colour only on a terminal, never under ``NO_COLOR`` or ``TERM=dumb``."""
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
