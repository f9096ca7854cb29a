"""Locating a key path in TOML source text: tomllib keeps no positions, and every
policy problem is reported as ``file:line: key``. Pure text scanning, no policy
knowledge."""

from __future__ import annotations

import contextlib

KeyPath = tuple[str | int, ...]
_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}


def show_path(path: KeyPath) -> str:
    """``signer[2].emails``: keys joined by dots, array positions counted from 1."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part + 1}]"
            continue
        text = part
        if not part or any(c not in _BARE for c in part):
            text = '"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"'
        out += f".{text}" if out else text
    return out


class Locator:
    """Maps key paths to the line that defines them, by scanning the (already valid)
    TOML text: table headers with ``[[x]]`` occurrence counts, ``key =`` lines, dotted
    and quoted keys, elements of multi-line arrays and keys of inline tables. A path
    it cannot place falls back to its closest located parent (e.g. the table header).
    """

    def __init__(self, text: str) -> None:
        self._t = text
        self._i = 0
        self._line = 1
        self._aot: dict[KeyPath, int] = {}
        self.lines: dict[KeyPath, int] = {}
        with contextlib.suppress(IndexError, ValueError):  # best effort: keep what we have
            self._scan()

    def line_of(self, path: KeyPath) -> int | None:
        p = path
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return None

    # -- scanner --------------------------------------------------------------

    def _peek(self, k: int = 0) -> str:
        j = self._i + k
        return self._t[j] if j < len(self._t) else ""

    def _skip(self, *, newlines: bool) -> None:
        while True:
            c = self._peek()
            if c in (" ", "\t"):
                self._i += 1
            elif c == "#":
                end = self._t.find("\n", self._i)
                self._i = len(self._t) if end < 0 else end
            elif newlines and c in ("\r", "\n"):
                if c == "\n":
                    self._line += 1
                self._i += 1
            else:
                return

    def _record(self, path: KeyPath, line: int) -> None:
        for k in range(1, len(path) + 1):
            self.lines.setdefault(path[:k], line)

    def _scan(self) -> None:
        current: KeyPath = ()
        while True:
            self._skip(newlines=True)
            if not self._peek():
                return
            start = self._i
            line = self._line
            if self._peek() == "[":
                aot = self._peek(1) == "["
                self._i += 2 if aot else 1
                parts = self._key()
                self._skip(newlines=False)
                self._i += 2 if aot else 1
                current = self._resolve(parts, aot=aot, line=line)
            else:
                parts = self._key()
                self._skip(newlines=False)
                self._i += 1  # '='
                path = current + tuple(parts)
                self._record(path, line)
                self._skip(newlines=False)
                self._value(path)
            if self._i <= start:
                return  # no progress: not TOML we understand; stop locating

    def _resolve(self, parts: list[str], *, aot: bool, line: int) -> KeyPath:
        out: KeyPath = ()
        for k, part in enumerate(parts):
            out += (part,)
            if aot and k == len(parts) - 1:
                n = self._aot.get(out, 0)
                self._aot[out] = n + 1
                self.lines.setdefault(out, line)
                out += (n,)
            elif out in self._aot:
                out += (self._aot[out] - 1,)
            self.lines.setdefault(out, line)
        return out

    def _key(self) -> list[str]:
        parts: list[str] = []
        while True:
            self._skip(newlines=False)
            c = self._peek()
            if c == '"':
                parts.append(self._string('"'))
            elif c == "'":
                parts.append(self._string("'"))
            else:
                start = self._i
                while self._peek() and self._peek() in _BARE:
                    self._i += 1
                parts.append(self._t[start : self._i])
            self._skip(newlines=False)
            if self._peek() != ".":
                return parts
            self._i += 1

    def _string(self, quote: str) -> str:
        if self._t.startswith(quote * 3, self._i):
            self._i += 3
            while self._i < len(self._t):
                if self._t.startswith(quote * 3, self._i):
                    self._i += 3
                    while self._peek() == quote:  # up to two quotes end the content
                        self._i += 1
                    return ""
                c = self._t[self._i]
                if c == "\n":
                    self._line += 1
                self._i += 2 if (c == "\\" and quote == '"') else 1
            return ""
        self._i += 1
        out: list[str] = []
        while self._i < len(self._t) and self._t[self._i] != quote:
            c = self._t[self._i]
            if c == "\\" and quote == '"':
                esc = self._peek(1)
                if esc in ("u", "U"):
                    n = 4 if esc == "u" else 8
                    out.append(chr(int(self._t[self._i + 2 : self._i + 2 + n], 16)))
                    self._i += 2 + n
                    continue
                out.append(_ESCAPES.get(esc, esc))
                self._i += 2
                continue
            out.append(c)
            self._i += 1
        self._i += 1
        return "".join(out)

    def _value(self, path: KeyPath) -> None:
        c = self._peek()
        if c in ('"', "'"):
            self._string(c)
        elif c == "[":
            self._i += 1
            index = 0
            while True:
                self._skip(newlines=True)
                if self._peek() in ("]", ""):
                    self._i += 1
                    return
                self._record((*path, index), self._line)
                self._value((*path, index))
                self._skip(newlines=True)
                if self._peek() == ",":
                    self._i += 1
                    index += 1
        elif c == "{":
            self._i += 1
            while True:
                self._skip(newlines=True)
                if self._peek() in ("}", ""):
                    self._i += 1
                    return
                line = self._line
                sub = path + tuple(self._key())
                self._skip(newlines=False)
                self._i += 1  # '='
                self._skip(newlines=False)
                self._record(sub, line)
                self._value(sub)
                self._skip(newlines=True)
                if self._peek() == ",":
                    self._i += 1
        else:
            while self._peek() and self._peek() not in ",]}\r\n#":
                self._i += 1
