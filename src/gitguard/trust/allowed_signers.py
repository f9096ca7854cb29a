"""git's SSH ``allowed_signers`` file (``gpg.ssh.allowedSignersFile``), read exactly
as ``ssh-keygen(1)`` reads it (section ALLOWED SIGNERS; OpenSSH ``sshsig.c``
``parse_principals_key_and_options`` and ``sshsigopt_parse``)::

    principals [options] keytype base64-key [comment]

- Blank lines and lines whose first non-blank character is ``#`` are ignored.
- ``principals`` is a comma-separated pattern list (``*@example.com``, ``!bad@x``),
  kept exactly as written (an empty element, as in ``a@x,,b@x``, stays: ssh-keygen
  matches it against an empty identity). As in ssh-keygen the field may be
  double-quoted. A line with no non-empty principal is refused.
- ``options`` is one comma-separated field without unquoted blanks; option names are
  case-insensitive: ``namespaces="git,file"`` (a pattern list), ``valid-after="…"``,
  ``valid-before="…"`` and ``cert-authority`` (refused: SSH certificates are not
  supported yet). Values must be double-quoted; ``\\"`` escapes a quote.
- Times are ``YYYYMMDD``, ``YYYYMMDDHHMM`` or ``YYYYMMDDHHMMSS``, optionally followed
  by ``Z`` or ``UTC`` (any case) for UTC. Without the suffix ssh-keygen takes the time
  in the machine's local time zone through ``mktime()`` with ``tm_isdst = 0`` — that
  is, as *standard* time even when daylight saving time is in effect (in Berlin in
  July, ``20240701`` is 2024-07-01T01:00 CEST). :func:`parse_time` reproduces this,
  including the normalisation of out-of-range days (``20230230`` is 2 March).
  Both bounds are inclusive: a key is valid at ``valid_after <= t <= valid_before``.

One deliberate difference: ssh-keygen logs a malformed line and skips it; here every
malformed line is an error, and all errors of a file are raised together as one
:class:`~gitguard.errors.PolicyError` (``path:line: message``), because a trust input
that is silently half-read is worse than one that is refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from gitguard.errors import PolicyError
from gitguard.model import SshTrustedKey
from gitguard.trust.sshkeys import parse_public_key

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "load_allowed_signers",
    "parse_allowed_signers",
    "parse_allowed_signers_lines",
    "parse_time",
]

_BLANKS = " \t"
_WHITESPACE = " \t\r\n"  # ssh's WHITESPACE, used when splitting off the principals
_ASCII_SPACE = b" \t\n\v\f\r"  # glibc isspace() in the C locale
_CERT_AUTHORITY = "cert-authority"


class _LineError(Exception):
    """Problems with one line, one message per argument, each shown after
    ``path:line: ``."""


def parse_time(value: str) -> int | None:
    """An allowed_signers timestamp as POSIX seconds, or None if ssh-keygen rejects it.

    Mirrors OpenSSH ``parse_absolute_time()``: an optional ``Z``/``UTC`` suffix selects
    UTC (``timegm``), otherwise local time through ``mktime`` with ``tm_isdst = 0``;
    the digits are read with glibc ``strptime`` rules; results before the epoch (and
    the epoch itself, which ssh-keygen treats as "unset") are rejected.
    """
    s = value.encode("utf-8", "surrogateescape")
    n = len(s)
    utc = False
    if n > 1 and s[-1:].lower() == b"z":
        utc, n = True, n - 1
    elif n > 3 and s[-3:].lower() == b"utc":
        utc, n = True, n - 3
    widths = {8: (4, 2, 2), 12: (4, 2, 2, 2, 2), 14: (4, 2, 2, 2, 2, 2)}.get(n)
    if widths is None:
        return None
    # ssh-keygen copies fixed-width slices into "%Y-%m-%dT%H:%M:%S" and strptime()s it.
    pieces: list[bytes] = []
    pos = 0
    for w in widths:
        pieces.append(s[pos : pos + w])
        pos += w
    seps = [b"-", b"-", b"T", b":", b":"]
    buf = pieces[0]
    for sep, piece in zip(seps, pieces[1:], strict=False):
        buf += sep + piece
    fields = _strptime(buf, len(widths))
    if fields is None:
        return None
    year, month, day, hour, minute, second = (*fields, 0, 0, 0)[:6]
    import calendar

    try:
        if utc:
            tt = calendar.timegm((year, month, day, hour, minute, second))
        else:
            tt = int(time.mktime((year, month, day, hour, minute, second, 0, 1, 0)))
    except (OverflowError, ValueError):
        return None
    if tt <= 0:
        return None
    return tt


# (low, high, width) per strptime conversion: %Y %m %d %H %M %S as glibc reads them.
_CONVERSIONS = ((0, 9999, 4), (1, 12, 2), (1, 31, 2), (0, 23, 2), (0, 59, 2), (0, 61, 2))


def _strptime(buf: bytes, count: int) -> list[int] | None:
    """glibc ``strptime`` over ``buf`` with the first ``count`` conversions of
    ``%Y-%m-%dT%H:%M:%S``; None where strptime would return NULL or stop early."""
    seps = b"--T::"
    out: list[int] = []
    pos = 0
    for i in range(count):
        if i:
            if pos >= len(buf) or buf[pos] != seps[i - 1]:
                return None
            pos += 1
        low, high, width = _CONVERSIONS[i]
        while pos < len(buf) and buf[pos] in _ASCII_SPACE:
            pos += 1
        if pos >= len(buf) or not 0x30 <= buf[pos] <= 0x39:
            return None
        val = 0
        left = width
        while True:
            val = val * 10 + buf[pos] - 0x30
            pos += 1
            left -= 1
            if not (left > 0 and val * 10 <= high and pos < len(buf)):
                break
            if not 0x30 <= buf[pos] <= 0x39:
                break
        if not low <= val <= high:
            return None
        out.append(val)
    if pos != len(buf):
        return None
    return out


def _looks_like_key_type(token: str) -> bool:
    """Whether ``token`` is meant as a key type rather than an options field."""
    if '"' in token or "=" in token or "," in token:
        return False
    return token.startswith(("ssh-", "ecdsa-", "sk-", "rsa-")) or token.endswith("@openssh.com")


def _split_principals(line: str) -> tuple[str, str]:
    """OpenSSH ``strdelimw``: the first field (a quote starts a quoted part) and the rest."""
    for i, ch in enumerate(line):
        if ch in _WHITESPACE:
            return line[:i], line[i + 1 :].lstrip(_WHITESPACE)
        if ch == '"':
            end = line.find('"', i + 1)
            if end < 0:
                raise _LineError("unterminated quote in the principals field")
            return line[:i] + line[i + 1 : end], line[end + 1 :].lstrip(_WHITESPACE)
    raise _LineError("missing key: expected 'principals [options] keytype base64-key'")


def _split_options(rest: str) -> tuple[str, str]:
    """OpenSSH ``sshkey_advance_past_options``: the options field and what follows."""
    quoted = False
    i = 0
    while i < len(rest) and (quoted or rest[i] not in _BLANKS):
        if rest[i] == "\\" and rest[i + 1 : i + 2] == '"':
            i += 1
        elif rest[i] == '"':
            quoted = not quoted
        i += 1
    if quoted:
        raise _LineError("invalid options: unterminated quote")
    return rest[:i], rest[i:].lstrip(_BLANKS)


def _dequote(opts: str, pos: int, name: str) -> tuple[str, int]:
    """OpenSSH ``opt_dequote``: a double-quoted value at ``pos`` (``\\"`` is a quote)."""
    if opts[pos : pos + 1] != '"':
        raise _LineError(f'{name}= needs a double-quoted value, e.g. {name}="…"')
    pos += 1
    out: list[str] = []
    while pos < len(opts) and opts[pos] != '"':
        if opts[pos] == "\\" and opts[pos + 1 : pos + 2] == '"':
            pos += 1
        out.append(opts[pos])
        pos += 1
    if pos >= len(opts):
        raise _LineError(f"{name}= value has no closing quote")
    return "".join(out), pos + 1


class _Options:
    __slots__ = ("namespaces", "valid_after", "valid_before")

    def __init__(self) -> None:
        self.namespaces: tuple[str, ...] | None = None
        self.valid_after: int | None = None
        self.valid_before: int | None = None


def _parse_options(opts: str) -> _Options:
    """OpenSSH ``sshsigopt_parse`` with messages that name the offending option."""
    res = _Options()
    pos = 0
    while pos < len(opts):
        start = pos
        low = opts[pos:].lower()
        if low.startswith(_CERT_AUTHORITY):
            pos += len(_CERT_AUTHORITY)
            if pos == len(opts) or opts[pos] == ",":
                raise _LineError("cert-authority (SSH certificates) is not supported yet")
        elif low.startswith("namespaces="):
            if res.namespaces is not None:
                raise _LineError('more than one "namespaces" option')
            value, pos = _dequote(opts, pos + len("namespaces="), "namespaces")
            res.namespaces = tuple(value.split(","))
        elif low.startswith(("valid-after=", "valid-before=")):
            name = "valid-after" if low.startswith("valid-after=") else "valid-before"
            if getattr(res, name.replace("-", "_")) is not None:
                raise _LineError(f'more than one "{name}" option')
            value, pos = _dequote(opts, pos + len(name) + 1, name)
            when = parse_time(value)
            if when is None:
                raise _LineError(
                    f'invalid {name} time "{value}": expected YYYYMMDD, YYYYMMDDHHMM or '
                    "YYYYMMDDHHMMSS, optionally followed by Z for UTC"
                )
            setattr(res, name.replace("-", "_"), when)
        if pos == len(opts):
            break
        if opts[pos] != ",":
            end = opts.find(",", start)
            word = opts[start:] if end < 0 else opts[start:end]
            raise _LineError(
                f'unknown option "{word}" (known: cert-authority, namespaces, '
                "valid-after, valid-before)"
            )
        pos += 1
        if pos == len(opts):
            raise _LineError("invalid options: trailing comma")
    if (
        res.valid_after is not None
        and res.valid_before is not None
        and res.valid_before <= res.valid_after
    ):
        raise _LineError("valid-before is not after valid-after")
    return res


def _parse_key(rest: str) -> tuple[str, bytes]:
    fields = rest.split(None, 2)
    if not fields:
        raise _LineError("missing key: expected 'principals [options] keytype base64-key'")
    if len(fields) < 2:
        raise _LineError(f"missing base64 key data after {fields[0]!r}")
    try:
        return fields[0], parse_public_key(fields[0], fields[1])
    except ValueError as e:
        raise _LineError(f"invalid key: {e}") from e


def _parse_line(
    line: str,
    where: str,
    signer_for: Callable[[SshTrustedKey], str] | None,
) -> SshTrustedKey:
    field, rest = _split_principals(line.lstrip(_BLANKS))
    # Kept as written, empty elements too: ssh-keygen matches "" against an empty
    # identity (a committer e-mail of "<>"). A line with no principal at all is
    # accepted by ssh-keygen but can only be a mistake.
    principals = tuple(field.split(","))
    named = [p for p in principals if p]
    if not named:
        raise _LineError("no principals before the key")
    options = _Options()
    first = rest.split(None, 1)[0] if rest.strip() else ""
    if first and not _looks_like_key_type(first):
        opts, rest = _split_options(rest)
        options = _parse_options(opts)
    key_type, blob = _parse_key(rest)
    key = SshTrustedKey(
        signer=named[0],
        principals=principals,
        key_type=key_type,
        key_blob=blob,
        valid_after=options.valid_after,
        valid_before=options.valid_before,
        namespaces=options.namespaces,
        source=where,
    )
    if signer_for is None:
        return key
    try:
        return key._replace(signer=signer_for(key))
    except ValueError as e:
        raise _LineError(*str(e).split("\n")) from e


def parse_allowed_signers(
    text: str,
    source: str,
    *,
    signer_for: Callable[[SshTrustedKey], str] | None = None,
) -> list[SshTrustedKey]:
    """Parse the text of an allowed_signers file named ``source`` (for messages).

    Each line becomes one :class:`SshTrustedKey` whose ``source`` is ``source:line``.
    Its signer name is the first non-empty principal, or, when ``signer_for`` is
    given, what it returns for the parsed line (called once per well-formed line, in
    file order, with that default name in ``signer``). ``signer_for`` may raise
    ValueError to refuse the line: each line of its message is reported as one
    problem, like any other. Raises :class:`PolicyError` listing every problem.
    """
    keys, problems = parse_allowed_signers_lines(text, source, signer_for=signer_for)
    if problems:
        raise PolicyError(problems)
    return keys


def parse_allowed_signers_lines(
    text: str,
    source: str,
    *,
    signer_for: Callable[[SshTrustedKey], str] | None = None,
) -> tuple[list[SshTrustedKey], list[str]]:
    """As :func:`parse_allowed_signers`, but returns the lines that were accepted and
    the problems (``source:line: message``) of the others instead of raising: a caller
    that reports every problem of a larger input (the policy loader) keeps the good
    lines, so that what they define is not reported missing too. Such a caller must
    still refuse the whole input when there is any problem."""
    keys: list[SshTrustedKey] = []
    problems: list[str] = []
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r")
        stripped = line.strip(_WHITESPACE)
        if not stripped or stripped.startswith("#"):
            continue
        where = f"{source}:{number}"
        try:
            keys.append(_parse_line(line, where, signer_for))
        except _LineError as e:
            problems.extend(f"{where}: {message}" for message in e.args)
    return keys, problems


def load_allowed_signers(
    path: str | Path,
    *,
    source: str | None = None,
    signer_for: Callable[[SshTrustedKey], str] | None = None,
) -> list[SshTrustedKey]:
    """Read and parse an allowed_signers file; ``source`` defaults to the path.

    An unreadable file is a :class:`PolicyError` (``path: cannot read: reason``).
    """
    from pathlib import Path

    name = source if source is not None else str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise PolicyError([f"{name}: cannot read: {e.strerror or e}"]) from e
    text = data.decode("utf-8", "surrogateescape")
    return parse_allowed_signers(text, name, signer_for=signer_for)
