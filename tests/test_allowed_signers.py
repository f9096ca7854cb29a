"""allowed_signers parsing, cross-checked against the real ``ssh-keygen -Y``."""

from __future__ import annotations

import base64
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitguard.errors import PolicyError
from gitguard.model import SshTrustedKey
from gitguard.trust.allowed_signers import (
    load_allowed_signers,
    parse_allowed_signers,
    parse_allowed_signers_lines,
    parse_time,
)


@dataclass(frozen=True)
class SshMaterial:
    pub: str  # "ssh-ed25519 AAAA…" without comment
    blob: bytes
    other_pub: str
    sig: Path  # signature (namespace git) over b"hello\n" by ``pub``
    message: Path
    dir: Path


@pytest.fixture(scope="session")
def ssh(tmp_path_factory: pytest.TempPathFactory) -> SshMaterial:
    d = tmp_path_factory.mktemp("sshkeys")
    for name in ("k", "o"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(d / name)],
            check=True,
            timeout=30,
        )
    msg = d / "msg"
    msg.write_bytes(b"hello\n")
    subprocess.run(
        ["ssh-keygen", "-q", "-Y", "sign", "-f", str(d / "k"), "-n", "git", str(msg)],
        check=True,
        timeout=30,
        capture_output=True,
    )
    pub = " ".join((d / "k.pub").read_text().split()[:2])
    other = " ".join((d / "o.pub").read_text().split()[:2])
    return SshMaterial(pub, base64.b64decode(pub.split()[1]), other, d / "msg.sig", msg, d)


def _utc(t: int) -> str:
    return time.strftime("%Y%m%d%H%M%SZ", time.gmtime(t))


def find_principals(
    ssh: SshMaterial, allowed: Path, *, at: int | None = None, tz: str = "UTC"
) -> tuple[bool, str]:
    """ssh-keygen's own answer: (found, stdout+stderr) for our signature."""
    args = ["ssh-keygen", "-Y", "find-principals", "-f", str(allowed), "-s", str(ssh.sig)]
    if at is not None:
        args += ["-O", f"verify-time={_utc(at)}"]
    proc = subprocess.run(
        args,
        capture_output=True,
        text=True,
        env={**os.environ, "TZ": tz},
        timeout=30,
        check=False,
    )
    return proc.returncode == 0, proc.stdout + proc.stderr


def ssh_verify(ssh: SshMaterial, allowed: Path, principal: str, namespace: str) -> bool:
    with ssh.message.open("rb") as stdin:
        proc = subprocess.run(
            [
                *("ssh-keygen", "-Y", "verify", "-f", str(allowed)),
                *("-I", principal, "-n", namespace, "-s", str(ssh.sig)),
            ],
            stdin=stdin,
            check=False,
            capture_output=True,
            timeout=30,
        )
    return proc.returncode == 0


@pytest.fixture
def local_tz() -> Iterator[None]:
    """Restore the process time zone after a test that changes $TZ."""
    saved = os.environ.get("TZ")
    yield
    if saved is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = saved
    time.tzset()


def set_tz(tz: str) -> None:
    os.environ["TZ"] = tz
    time.tzset()


# -- good files ------------------------------------------------------------------


def test_every_field_and_option(ssh: SshMaterial) -> None:
    text = (
        "# a comment\n"
        "\n"
        "   \t\n"
        "  # an indented comment\n"
        f'alice@example.com,*@corp.example NAMESPACES="git,file",Valid-After="20240101Z",'
        f'valid-before="20250101120000Z" {ssh.pub} alice laptop\r\n'
        f"bob@example.com {ssh.other_pub}\n"
        f'  carol@example.com   namespaces="a\\"b"\t{ssh.other_pub}'
    )
    keys = parse_allowed_signers(text, "as")
    other_blob = base64.b64decode(ssh.other_pub.split()[1])
    assert keys == [
        SshTrustedKey(
            signer="alice@example.com",
            principals=("alice@example.com", "*@corp.example"),
            key_type="ssh-ed25519",
            key_blob=ssh.blob,
            valid_after=1704067200,
            valid_before=1735732800,
            namespaces=("git", "file"),
            source="as:5",
        ),
        SshTrustedKey(
            signer="bob@example.com",
            principals=("bob@example.com",),
            key_type="ssh-ed25519",
            key_blob=other_blob,
            source="as:6",
        ),
        SshTrustedKey(
            signer="carol@example.com",
            principals=("carol@example.com",),
            key_type="ssh-ed25519",
            key_blob=other_blob,
            namespaces=('a"b',),
            source="as:7",
        ),
    ]


def test_signer_for_names_the_signer(ssh: SshMaterial) -> None:
    seen: list[SshTrustedKey] = []

    def signer_for(key: SshTrustedKey) -> str:
        seen.append(key)
        return "alice"

    keys = parse_allowed_signers(f",a@x,b@x {ssh.pub}\n", "as", signer_for=signer_for)
    assert [k.signer for k in keys] == ["alice"]
    # The whole parsed line, its default signer (the first non-empty principal) in it.
    assert seen == [
        SshTrustedKey(
            signer="a@x",
            principals=("", "a@x", "b@x"),
            key_type="ssh-ed25519",
            key_blob=ssh.blob,
            source="as:1",
        )
    ]


def test_signer_for_may_refuse_a_line(ssh: SshMaterial) -> None:
    def signer_for(key: SshTrustedKey) -> str:
        raise ValueError("ambiguous")

    with pytest.raises(PolicyError) as exc:
        parse_allowed_signers(f"\na@x {ssh.pub}\n", "as", signer_for=signer_for)
    assert str(exc.value) == "as:2: ambiguous"


def test_signer_for_may_report_several_problems_of_a_line(ssh: SshMaterial) -> None:
    def signer_for(key: SshTrustedKey) -> str:
        if key.principals == ("ok@x",):
            return "ok"
        raise ValueError("first problem\nsecond problem")

    text = f"a@x {ssh.pub}\nok@x {ssh.other_pub}\nb@x cert-authority {ssh.pub}\n"
    with pytest.raises(PolicyError) as exc:
        parse_allowed_signers(text, "as", signer_for=signer_for)
    assert exc.value.problems == (
        "as:1: first problem",
        "as:1: second problem",
        "as:3: cert-authority (SSH certificates) is not supported yet",
    )
    # The lines that were accepted, for callers that report every problem themselves.
    keys, problems = parse_allowed_signers_lines(text, "as", signer_for=signer_for)
    assert [(k.signer, k.source) for k in keys] == [("ok", "as:2")]
    assert problems == list(exc.value.problems)


@pytest.mark.parametrize(
    ("field", "principals"),
    [
        ("alice@example.com", ("alice@example.com",)),
        ('"alice@example.com"', ("alice@example.com",)),
        ('"alice@example.com,bob@example.com"', ("alice@example.com", "bob@example.com")),
        (
            "alice@example.com,,bob@example.com",
            ("alice@example.com", "", "bob@example.com"),
        ),
    ],
)
def test_principals_as_ssh_keygen_reads_them(
    ssh: SshMaterial, tmp_path: Path, field: str, principals: tuple[str, ...]
) -> None:
    allowed = tmp_path / "as"
    allowed.write_text(f"{field} {ssh.pub}\n")
    (key,) = load_allowed_signers(allowed)
    assert key.principals == principals
    assert key.signer == "alice@example.com"
    for principal in principals:  # ssh-keygen accepts each of them as the identity
        assert ssh_verify(ssh, allowed, principal, "git"), principal
    assert not ssh_verify(ssh, allowed, "carol@example.com", "git")


@pytest.mark.parametrize(
    ("option", "namespace", "accepted"),
    [
        ('namespaces="git"', "git", True),
        ('NameSpaces="file,git"', "git", True),
        ('namespaces="file"', "git", False),
        ('namespaces="g*"', "git", True),
    ],
)
def test_namespaces_option_matches_ssh_keygen(
    ssh: SshMaterial, tmp_path: Path, option: str, namespace: str, accepted: bool
) -> None:
    allowed = tmp_path / "as"
    allowed.write_text(f"alice@example.com {option} {ssh.pub}\n")
    (key,) = load_allowed_signers(allowed)
    assert key.namespaces == tuple(option.split('"')[1].split(","))
    assert ssh_verify(ssh, allowed, "alice@example.com", namespace) is accepted


def test_load_reads_a_file(ssh: SshMaterial, tmp_path: Path) -> None:
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"a@x {ssh.pub}\n")
    (key,) = load_allowed_signers(allowed)
    assert key.source == f"{allowed}:1"
    (key,) = load_allowed_signers(allowed, source="shown")
    assert key.source == "shown:1"


def test_empty_file_trusts_no_one() -> None:
    assert parse_allowed_signers("", "as") == []
    assert parse_allowed_signers("# only comments\n\n", "as") == []


# -- errors ----------------------------------------------------------------------

# ssh-keygen takes a line without principals (it can match only an empty identity).
_STRICTER_THAN_SSH_KEYGEN = {'"" {key}', ", {key}"}

_UNSUPPORTED_TIME = (
    "expected YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, optionally followed by Z for UTC"
)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("a@x", "missing key: expected 'principals [options] keytype base64-key'"),
        ("a@x   ", "missing key: expected 'principals [options] keytype base64-key'"),
        ('a@x namespaces="git"', "missing key: expected 'principals [options] keytype base64-key'"),
        ("a@x ssh-ed25519", "missing base64 key data after 'ssh-ed25519'"),
        ("a@x ssh-ed25519 !!!!", "invalid key: ssh-ed25519 key is not valid base64"),
        ("a@x ssh-dss AAAAB3NzaC1kc3M=", "invalid key: unsupported SSH key type 'ssh-dss'"),
        (
            "a@x ssh-ed25519-cert-v01@openssh.com AAAA",
            "invalid key: SSH certificates (ssh-ed25519-cert-v01@openssh.com) are not "
            "supported yet",
        ),
        ("a@x ssh-rsa {b64}", "invalid key: key says it is ssh-rsa but its data is ssh-ed25519"),
        ('"a@x {key}', "unterminated quote in the principals field"),
        ('"" {key}', "no principals before the key"),
        (", {key}", "no principals before the key"),
        ("a@x cert-authority {key}", "cert-authority (SSH certificates) is not supported yet"),
        (
            'a@x Cert-Authority,namespaces="git" {key}',
            "cert-authority (SSH certificates) is not supported yet",
        ),
        (
            "a@x foo=bar {key}",
            'unknown option "foo=bar" (known: cert-authority, namespaces, valid-after, '
            "valid-before)",
        ),
        (
            "a@x cert-authorityx {key}",
            'unknown option "cert-authorityx" (known: cert-authority, namespaces, valid-after, '
            "valid-before)",
        ),
        (
            "a@x namespaces=git {key}",
            'namespaces= needs a double-quoted value, e.g. namespaces="…"',
        ),
        ('a@x namespaces="git {key}', "invalid options: unterminated quote"),
        (
            'a@x namespaces="git"x {key}',
            'unknown option "namespaces="git"x" (known: '
            "cert-authority, namespaces, valid-after, valid-before)",
        ),
        ('a@x namespaces="git", {key}', "invalid options: trailing comma"),
        (
            'a@x namespaces="git",namespaces="file" {key}',
            'more than one "namespaces" option',
        ),
        (
            'a@x valid-after="20240101",VALID-AFTER="20240102" {key}',
            'more than one "valid-after" option',
        ),
        ('a@x valid-after="2024" {key}', f'invalid valid-after time "2024": {_UNSUPPORTED_TIME}'),
        (
            'a@x valid-before="2024-01-01" {key}',
            f'invalid valid-before time "2024-01-01": {_UNSUPPORTED_TIME}',
        ),
        (
            'a@x valid-after="20240102Z",valid-before="20240101Z" {key}',
            "valid-before is not after valid-after",
        ),
        (
            'a@x valid-after="20240101Z",valid-before="20240101Z" {key}',
            "valid-before is not after valid-after",
        ),
    ],
)
def test_malformed_line(ssh: SshMaterial, tmp_path: Path, line: str, message: str) -> None:
    text = line.format(key=ssh.pub, b64=ssh.pub.split()[1]) + "\n"
    with pytest.raises(PolicyError) as exc:
        parse_allowed_signers(text, "as")
    assert str(exc.value) == f"as:1: {message}"
    assert exc.value.problems == (f"as:1: {message}",)
    if line in _STRICTER_THAN_SSH_KEYGEN:
        return
    # ssh-keygen does not accept the line either (it logs it and skips it).
    allowed = tmp_path / "as"
    allowed.write_text(text)
    found, _ = find_principals(ssh, allowed, at=1704153600)  # 2024-01-02
    assert not found


def test_every_error_of_a_file_at_once(ssh: SshMaterial) -> None:
    text = "\n".join(
        [
            "# header",
            f"good@x {ssh.pub}",
            f"bad@x cert-authority {ssh.pub}",
            "",
            "lonely@x",
            f'bad@x valid-after="yesterday" {ssh.pub}',
            f"fine@x {ssh.other_pub} comment",
        ]
    )
    with pytest.raises(PolicyError) as exc:
        parse_allowed_signers(text, "keys/allowed_signers")
    assert str(exc.value) == "\n".join(
        [
            "keys/allowed_signers:3: cert-authority (SSH certificates) is not supported yet",
            "keys/allowed_signers:5: missing key: expected 'principals [options] keytype "
            "base64-key'",
            'keys/allowed_signers:6: invalid valid-after time "yesterday": ' + _UNSUPPORTED_TIME,
        ]
    )


def test_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(PolicyError) as exc:
        load_allowed_signers(missing)
    assert str(exc.value) == f"{missing}: cannot read: No such file or directory"


# -- times -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20240701Z", 1719792000),
        ("20240701z", 1719792000),
        ("20240701UTC", 1719792000),
        ("20240701utc", 1719792000),
        ("202407011230Z", 1719837000),
        ("20240701123045Z", 1719837045),
        ("20240701123045UTC", 1719837045),
        ("20240701", 1719792000),  # local time; the tests run with TZ=UTC
        ("20230230Z", 1677715200),  # strptime does not check the day: 2 March
        ("20231231235960Z", 1704067200),  # %S goes up to 61
        ("2024 701Z", 1719792000),  # strptime skips blanks before a number
        ("19700101000001Z", 1),
        ("19700101Z", None),  # the epoch means "unset" to ssh-keygen
        ("19691231Z", None),
        ("2024070", None),
        ("2024070100", None),
        ("2024-07-01", None),
        ("20241301Z", None),
        ("20240700Z", None),
        ("20240632Z", None),
        ("202407012400Z", None),
        ("20240701126000Z", None),
        ("20240701123062Z", None),
        ("2024070Xz", None),
        ("Z", None),
        ("", None),
    ],
)
def test_parse_time(text: str, expected: int | None) -> None:
    assert parse_time(text) == expected


_ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]
_TIMES = [
    "20240701",
    "20240115",
    "202407011230",
    "20240701123045",
    "20241103013000",  # New York: the repeated hour when DST ends
    "20240310023000",  # New York: the hour skipped when DST starts
    "20240701Z",
    "20240701123045UTC",
    "20230230",
    "2024 701",
    "20240632",
]


@pytest.mark.parametrize("tz", _ZONES)
def test_times_agree_with_ssh_keygen(
    ssh: SshMaterial, tmp_path: Path, local_tz: None, tz: str
) -> None:
    """The bound we compute is exactly where ssh-keygen starts/stops accepting the key."""
    set_tz(tz)
    for text in _TIMES:
        when = parse_time(text)
        after = tmp_path / "after"
        after.write_text(f'a@x valid-after="{text}" {ssh.pub}\n')
        before = tmp_path / "before"
        before.write_text(f'a@x valid-before="{text}" {ssh.pub}\n')
        if when is None:
            assert not find_principals(ssh, after, at=2000000000, tz=tz)[0], text
            with pytest.raises(PolicyError):
                load_allowed_signers(after)
            continue
        (key,) = load_allowed_signers(after)
        assert key.valid_after == when
        assert find_principals(ssh, after, at=when, tz=tz)[0], (tz, text)
        assert not find_principals(ssh, after, at=when - 1, tz=tz)[0], (tz, text)
        (key,) = load_allowed_signers(before)
        assert key.valid_before == when
        assert find_principals(ssh, before, at=when, tz=tz)[0], (tz, text)
        assert not find_principals(ssh, before, at=when + 1, tz=tz)[0], (tz, text)


def test_local_time_is_standard_time_as_in_ssh_keygen(local_tz: None) -> None:
    """ssh-keygen's mktime() runs with tm_isdst = 0: in a Berlin summer, 20240701 is
    00:00 CET = 01:00 CEST, one hour later than a naive local reading."""
    set_tz("Europe/Berlin")
    assert parse_time("20240701") == 1719788400  # 2024-06-30T23:00:00Z
    assert parse_time("20240115") == 1705273200  # 2024-01-14T23:00:00Z
    set_tz("America/New_York")
    assert parse_time("20240701") == 1719810000  # 2024-07-01T05:00:00Z
