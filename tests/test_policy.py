"""Policy loading: good files with real SSH keys and GnuPG-made certificates, and the
exact text of every error a malformed file produces."""

from __future__ import annotations

import pickle
import re
import subprocess
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pysequoia
import pytest

from gitguard.errors import PolicyError
from gitguard.model import TrustStore
from gitguard.trust._toml_lines import Locator, show_path
from gitguard.trust.certificates import cert_signer_name, read_certificates
from gitguard.trust.ownership import Ownership
from gitguard.trust.policy import (
    FrozenMap,
    Policy,
    Release,
    Rule,
    Signer,
    load_policy,
    load_policy_file,
)
from gitguard.trust.sshkeys import fingerprint, parse_public_key_line

GPG = ("gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "")


@dataclass(frozen=True)
class Material:
    ssh: tuple[str, ...]  # four "ssh-ed25519 AAAA… comment" lines
    alice: str  # primary fingerprint (Alice <alice@example.com>, + alice@work.example)
    alice_sub: str  # her signing subkey
    bob: str  # Bob <bob@example.com>
    files: Mapping[str, bytes] = field(default_factory=dict)  # name -> armored export

    def ssh_fpr(self, i: int) -> str:
        return fingerprint(parse_public_key_line(self.ssh[i])[1])

    def fill(self, text: str) -> str:
        for i, line in enumerate(self.ssh, 1):
            text = text.replace(f"<SSH{i}>", line)
        return (
            text.replace("<ALICE_SUB>", self.alice_sub)
            .replace("<ALICE>", self.alice)
            .replace("<BOB>", self.bob)
        )


def _fingerprints(home: Path, who: str) -> list[str]:
    out = subprocess.run(
        [*GPG, "--homedir", str(home), "--with-colons", "--list-keys", who],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return [line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:")]


@pytest.fixture(scope="session")
def material(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Material]:
    d = tmp_path_factory.mktemp("policy-keys")
    ssh = []
    for i in range(4):
        key = d / f"ssh{i}"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"key{i}", "-f", str(key)],
            check=True,
            timeout=30,
        )
        ssh.append(key.with_suffix(".pub").read_text().strip())
    home = d / "gnupg"
    home.mkdir(mode=0o700)

    def gpg(*args: str) -> bytes:
        return subprocess.run(
            [*GPG, "--homedir", str(home), *args], check=True, capture_output=True, timeout=60
        ).stdout

    try:
        for uid in ("Alice <alice@example.com>", "Bob <bob@example.com>"):
            gpg("--quick-gen-key", uid, "ed25519", "sign", "never")
        alice, *_ = _fingerprints(home, "alice@example.com")
        gpg("--quick-add-key", alice, "ed25519", "sign", "never")
        gpg("--quick-add-uid", alice, "Alice Work <alice@work.example>")
        alice, alice_sub = _fingerprints(home, "alice@example.com")
        (bob,) = _fingerprints(home, "bob@example.com")
        files = {
            "alice.asc": gpg("--export", "--armor", alice),
            "bob.asc": gpg("--export", "--armor", bob),
            "both.asc": gpg("--export", "--armor", alice, bob),
            "alice.gpg": gpg("--export", alice),
            "alice-secret.asc": gpg("--export-secret-keys", "--armor", alice),
        }
        yield Material(tuple(ssh), alice, alice_sub, bob, files)
    finally:
        subprocess.run(
            ["gpgconf", "--homedir", str(home), "--kill", "all"], check=False, timeout=30
        )


def load(
    tmp_path: Path, m: Material, text: str, files: Mapping[str, str | bytes] | None = None
) -> Policy:
    for name, content in (files or {}).items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(m.fill(content))
        else:
            path.write_bytes(content)
    data = m.fill(textwrap.dedent(text).lstrip("\n")).encode()
    return load_policy(data, "policy.toml", base_dir=tmp_path)


def problems(
    tmp_path: Path, m: Material, text: str, files: Mapping[str, str | bytes] | None = None
) -> str:
    with pytest.raises(PolicyError) as exc:
        load(tmp_path, m, text, files)
    return str(exc.value)


# -- good policies -----------------------------------------------------------------

FULL = """
version = 1
default = "deny"

[trust]
allowed_signers = "keys/allowed_signers"
openpgp = ["keys/*.asc"]

[[signer]]
name = "alice"
emails = ["alice@example.com"]
keys = [
  "<SSH1>", "<SSH2>",
  "openpgp:<ALICE_SUB>",
]
valid_after = 2024-01-01
retired_after = 2025-06-30

[[signer]]
name = "github"
keys = ["<SSH3>"]
valid_after = 2024-03-01T12:00:00+02:00
retired_after = 2024-12-31T23:00:00
compromised = true
only_when_committer = ["GitHub <noreply@github.com>"]

[groups]
maintainers = ["alice", "carol@example.com"]
everyone = ["maintainers", "bob@example.com", "alice"]

[[rule]]
refs = ["refs/heads/main", "refs/heads/release/*"]
require = "signed"
signers = ["everyone", "github"]
committer_must_match = true
allow_force_push = false
allow_delete = false

[[rule]]   # tags
refs = ["refs/tags/v*"]
require = "signed-tag"
signers = ["maintainers"]
merges = "first-parent"
exempt_before = "0123456789ABCDEF0123456789abcdef01234567"
require_signed_push = true

[[rule]]
refs = ["refs/heads/scratch/**"]
require = "none"

[release]
tags = ["refs/tags/v*"]
images = ["registry.example.com/app:{tag}", "registry.example.com/app:sha-{commit}"]
key = "cosign.key"
annotations = { team = "platform", "dotted.key" = "x" }
"""

ALLOWED = """\
# a key [[signer]] alice lists, named by her e-mail (as git's allowed_signers needs it)
alice@example.com namespaces="git" <SSH2>
# no [[signer]] has these: a signer named after the first principal
carol@example.com,carol@old.example valid-after="20240101Z" <SSH4>
"""


def test_full_policy(tmp_path: Path, material: Material) -> None:
    m = material
    files: dict[str, str | bytes] = {
        "keys/allowed_signers": ALLOWED,
        "keys/alice.asc": m.files["alice.asc"],
        "keys/bob.asc": m.files["bob.asc"],
    }
    policy = load(tmp_path, m, FULL, files)

    assert policy.source == "policy.toml"
    assert policy.version == 1
    assert policy.default == "deny"
    carol_fpr = m.ssh_fpr(3)
    assert policy.signers == (
        Signer(
            name="alice",
            emails=("alice@example.com",),
            keys=(m.ssh_fpr(0), m.ssh_fpr(1), m.alice),
            valid_after=1704067200,  # 2024-01-01T00:00:00Z
            retired_after=1751327999,  # 2025-06-30T23:59:59Z: the whole day
        ),
        Signer(
            name="github",
            keys=(m.ssh_fpr(2),),
            valid_after=1709287200,  # 2024-03-01T10:00:00Z
            retired_after=1735686000,  # no offset: UTC
            compromised=True,
            only_when_committer=("GitHub <noreply@github.com>",),
        ),
        Signer(
            name="carol@example.com",
            emails=("carol@example.com", "carol@old.example"),
            keys=(carol_fpr,),
        ),
        Signer(name="bob@example.com", emails=("bob@example.com",), keys=(m.bob,)),
    )
    assert policy.signer("github") is policy.signers[1]
    assert policy.signer("nobody") is None
    assert dict(policy.groups) == {
        "maintainers": ("alice", "carol@example.com"),
        "everyone": ("alice", "carol@example.com", "bob@example.com"),
    }
    assert policy.rules == (
        Rule(
            refs=("refs/heads/main", "refs/heads/release/*"),
            require="signed",
            signers=("alice", "carol@example.com", "bob@example.com", "github"),
            committer_must_match=True,
            line=30,
        ),
        Rule(
            refs=("refs/tags/v*",),
            require="signed-tag",
            signers=("alice", "carol@example.com"),
            merges="first-parent",
            exempt_before="0123456789abcdef0123456789abcdef01234567",
            require_signed_push=True,
            line=38,
        ),
        Rule(refs=("refs/heads/scratch/**",), require="none", line=46),
    )
    assert policy.release == Release(
        tags=("refs/tags/v*",),
        images=("registry.example.com/app:{tag}", "registry.example.com/app:sha-{commit}"),
        key=str(tmp_path / "cosign.key"),
        annotations=FrozenMap({"team": "platform", "dotted.key": "x"}),
    )

    assert [(k.signer, k.source, k.key_blob) for k in policy.trust.ssh] == [
        ("alice", "policy.toml:12", parse_public_key_line(m.ssh[0])[1]),
        ("alice", "policy.toml:12", parse_public_key_line(m.ssh[1])[1]),
        ("github", "policy.toml:20", parse_public_key_line(m.ssh[2])[1]),
        ("alice", f"{tmp_path}/keys/allowed_signers:2", parse_public_key_line(m.ssh[1])[1]),
        (
            "carol@example.com",
            f"{tmp_path}/keys/allowed_signers:4",
            parse_public_key_line(m.ssh[3])[1],
        ),
    ]
    ssh = {(k.signer, k.source): k for k in policy.trust.ssh}
    first = policy.trust.ssh[0]
    assert (first.principals, first.key_type, first.namespaces) == (
        ("alice@example.com",),
        "ssh-ed25519",
        None,
    )
    assert first.key_blob == parse_public_key_line(m.ssh[0])[1]
    from_file = ssh["alice", f"{tmp_path}/keys/allowed_signers:2"]
    assert (from_file.principals, from_file.namespaces) == (("alice@example.com",), ("git",))
    carol = ssh["carol@example.com", f"{tmp_path}/keys/allowed_signers:4"]
    assert carol.valid_after == 1704067200

    # The certificates, as pysequoia reads them from the files; the subkey fingerprint
    # claimed the whole certificate for alice; bob's is nobody's: named by its e-mail.
    certs = [(c.signer, c.source, c.trusted) for c in policy.trust.openpgp]
    assert certs == [
        ("alice", str(tmp_path / "keys/alice.asc"), True),
        ("bob@example.com", str(tmp_path / "keys/bob.asc"), True),
    ]
    for cert, name in zip(policy.trust.openpgp, ("alice.asc", "bob.asc"), strict=True):
        (expected,) = pysequoia.Cert.split_bytes(m.files[name])
        assert cert.cert == bytes(expected)

    # Rules match refs by glob; the first match applies.
    assert policy.rule_for("refs/heads/main") is policy.rules[0]
    assert policy.rule_for("refs/heads/release/1.0") is policy.rules[0]
    assert policy.rule_for("refs/tags/v1.0") is policy.rules[1]
    assert policy.rule_for("refs/heads/scratch/a/b") is policy.rules[2]
    assert policy.rule_for("refs/heads/mainline") is None

    # Immutable, hashable and picklable (audits ship it to worker processes).
    copy = pickle.loads(pickle.dumps(policy))  # noqa: S301 - our own bytes
    assert copy == policy
    assert hash(copy) == hash(policy)
    with pytest.raises(AttributeError):
        policy.default = "allow"  # type: ignore[misc]


def test_trust_file_lines_for_a_signers_own_keys(tmp_path: Path, material: Material) -> None:
    """A ``[[signer]]`` that lists a key may also have it in the allowed_signers file
    (git needs it there to verify), named by its name or an e-mail (any case): the
    line's key stays that signer's, with the line's options and principals."""
    m = material
    text = """
    version = 1
    [trust]
    allowed_signers = "as"
    [[signer]]
    name = "alice"
    emails = ["alice@example.com"]
    keys = ["<SSH1>", "<SSH2>"]
    """
    lines = 'alice <SSH1>\nAlice@Example.COM,alice@old.example valid-after="20240101Z" <SSH2>\n'
    policy = load(tmp_path, m, text, {"as": lines})
    assert [(k.signer, k.source, k.principals) for k in policy.trust.ssh] == [
        ("alice", "policy.toml:7", ("alice@example.com",)),
        ("alice", "policy.toml:7", ("alice@example.com",)),
        ("alice", f"{tmp_path}/as:1", ("alice",)),
        ("alice", f"{tmp_path}/as:2", ("Alice@Example.COM", "alice@old.example")),
    ]
    assert policy.trust.ssh[3].valid_after == 1704067200
    assert policy.signers == (
        Signer(name="alice", emails=("alice@example.com",), keys=(m.ssh_fpr(0), m.ssh_fpr(1))),
    )


def test_minimal_policy_trusts_no_one(tmp_path: Path, material: Material) -> None:
    policy = load(tmp_path, material, "version = 1\n")
    assert policy == Policy(source="policy.toml", version=1, trust=TrustStore())
    assert policy.trust.ssh == ()
    assert policy.trust.openpgp == ()
    assert policy.default == "allow"
    assert policy.rule_for("refs/heads/main") is None


def test_sha1_self_signatures_setting(tmp_path: Path, material: Material) -> None:
    assert load(tmp_path, material, "version = 1\n").trust.sha1_self_signatures == "warn"
    strict = load(tmp_path, material, 'version = 1\n[trust]\nsha1_self_signatures = "refuse"\n')
    assert strict.trust.sha1_self_signatures == "refuse"
    assert problems(tmp_path, material, 'version = 1\ntrust.sha1_self_signatures = "no"\n') == (
        'policy.toml:2: trust.sha1_self_signatures: expected "warn" or "refuse", not "no"'
    )


def test_policy_file_resolves_against_its_directory(tmp_path: Path, material: Material) -> None:
    (tmp_path / "conf" / "keys").mkdir(parents=True)
    (tmp_path / "conf" / "keys" / "as").write_text(f"dev@example.com {material.ssh[0]}\n")
    path = tmp_path / "conf" / "policy.toml"
    path.write_text('version = 1\n[trust]\nallowed_signers = "keys/as"\n')
    policy = load_policy_file(path)
    assert policy.source == str(path)
    assert [k.source for k in policy.trust.ssh] == [f"{tmp_path}/conf/keys/as:1"]
    assert [s.name for s in policy.signers] == ["dev@example.com"]


def test_same_certificate_in_two_files_is_merged(tmp_path: Path, material: Material) -> None:
    m = material
    files = {"k/both.asc": m.files["both.asc"], "k/alice.gpg": m.files["alice.gpg"]}
    policy = load(
        tmp_path,
        m,
        """
        version = 1
        [trust]
        openpgp = ["k/*.asc", "k/*.gpg", "k/both.asc"]
        [[signer]]
        name = "alice"
        keys = ["openpgp:<ALICE>"]
        """,
        files,
    )
    assert [(c.signer, c.source) for c in policy.trust.openpgp] == [
        ("alice", f"{tmp_path}/k/both.asc, {tmp_path}/k/alice.gpg"),
        ("bob@example.com", f"{tmp_path}/k/both.asc"),
    ]
    assert pysequoia.Cert.from_bytes(policy.trust.openpgp[0].cert).fingerprint.upper() == m.alice


def test_times(tmp_path: Path, material: Material) -> None:
    policy = load(
        tmp_path,
        material,
        """
        version = 1
        [[signer]]
        name = "a"
        valid_after = 2024-01-31
        retired_after = 2024-01-31
        [[signer]]
        name = "b"
        valid_after = 2024-01-31T10:00:00.75-01:00
        retired_after = 2024-01-31 12:30:00
        """,
    )
    a, b = policy.signers
    assert (a.valid_after, a.retired_after) == (1706659200, 1706745599)
    assert (b.valid_after, b.retired_after) == (1706698800, 1706704200)


def test_certificate_helpers(material: Material) -> None:
    (alice,) = read_certificates(material.files["alice.asc"])
    assert alice.fingerprint == material.alice
    assert alice.subkeys == (material.alice_sub,)
    assert alice.emails == ("alice@example.com", "alice@work.example")
    assert cert_signer_name(alice) == "alice@example.com"
    bot = read_certificates(
        bytes(pysequoia.Tsk.generate(user_id="Build Bot").extract_certificate())
    )[0]
    assert cert_signer_name(bot) == "Build Bot"
    anonymous = read_certificates(bytes(pysequoia.Tsk.generate(user_ids=[]).extract_certificate()))[
        0
    ]
    assert cert_signer_name(anonymous) == f"openpgp:{anonymous.fingerprint}"


# -- malformed policies: the exact messages ------------------------------------------

KEYS_FIELD = (
    "name, emails, keys, valid_after, retired_after, compromised, only_when_committer, "
    "sigstore, x509"
)
RULE_FIELDS = (
    "refs, require, signers, committer_must_match, allow_force_push, allow_delete, merges, "
    "exempt_before, require_signed_push"
)


@dataclass(frozen=True)
class Bad:
    id: str
    policy: str
    expected: str
    files: Mapping[str, str | bytes] = field(default_factory=dict)


BAD = [
    Bad(
        "unknown top-level key",
        """
        version = 1
        colour = "blue"
        """,
        "policy.toml:2: colour: unknown key (expected one of: version, trust, signer, groups, "
        "rule, default, release)",
    ),
    Bad(
        "unknown key in signer",
        """
        version = 1

        [[signer]]
        name = "alice"
        emial = ["alice@example.com"]
        """,
        f"policy.toml:5: signer[1].emial: unknown key (expected one of: {KEYS_FIELD})",
    ),
    Bad(
        "unknown key in rule",
        """
        version = 1
        [[signer]]
        name = "alice"
        [[rule]]
        refs = ["refs/heads/main"]
        signers = ["alice"]
        allow_forcepush = true
        """,
        f"policy.toml:7: rule[1].allow_forcepush: unknown key (expected one of: {RULE_FIELDS})",
    ),
    Bad(
        "unknown key in trust, dotted",
        """
        version = 1
        trust.allowed_signer = "keys"
        """,
        "policy.toml:2: trust.allowed_signer: unknown key (expected one of: allowed_signers, "
        "openpgp, x509, sha1_self_signatures)",
    ),
    Bad(
        "unknown key in an inline table",
        """
        version = 1
        release = { tags = ["refs/tags/v*"], images = ["r/a:{tag}"], key = "k", sign = true }
        """,
        "policy.toml:2: release.sign: unknown key (expected one of: tags, images, key, "
        "annotations)",
    ),
    Bad(
        "missing version",
        "[groups]\n",
        "policy.toml: version: missing required key (add: version = 1)",
    ),
    Bad(
        "version type",
        'version = "1"\n',
        "policy.toml:1: version: expected an integer, not a string",
    ),
    Bad(
        "version 2",
        "version = 2\n",
        "policy.toml:1: version: unsupported version 2 (this gitguard reads version 1)",
    ),
    Bad(
        "signer as a table",
        """
        version = 1
        [signer]
        name = "alice"
        """,
        "policy.toml:2: signer: expected an array of tables ([[signer]])",
    ),
    Bad(
        "bad types in signer",
        """
        version = 1
        [[signer]]
        name = "alice"

        [[signer]]
        name = 7
        emails = "bob@example.com"
        keys = ["<SSH1>", 42]
        compromised = "yes"
        only_when_committer = [""]
        """,
        "\n".join(
            [
                "policy.toml:6: signer[2].name: expected a string, not an integer",
                "policy.toml:7: signer[2].emails: expected a list of strings, not a string",
                "policy.toml:8: signer[2].keys[2]: expected a string, not an integer",
                "policy.toml:9: signer[2].compromised: expected true or false, not a string",
                "policy.toml:10: signer[2].only_when_committer[1]: must not be empty",
            ]
        ),
    ),
    Bad(
        "bad dates",
        """
        version = 1
        [[signer]]
        name = "alice"
        valid_after = "2024-01-01"
        retired_after = 12:00:00
        [[signer]]
        name = "bob"
        valid_after = 2024-06-01
        retired_after = 2024-05-31
        [[signer]]
        name = "carol"
        valid_after = 1704067200
        """,
        "\n".join(
            [
                "policy.toml:4: signer[1].valid_after: expected a TOML date or date-time (e.g. "
                "2024-01-31 or 2024-01-31T12:00:00Z), not a string",
                "policy.toml:5: signer[1].retired_after: expected a TOML date or date-time (e.g. "
                "2024-01-31 or 2024-01-31T12:00:00Z), not a time of day",
                "policy.toml:9: signer[2].retired_after: is before valid_after",
                "policy.toml:12: signer[3].valid_after: expected a TOML date or date-time (e.g. "
                "2024-01-31 or 2024-01-31T12:00:00Z), not an integer",
            ]
        ),
    ),
    Bad(
        "impossible date is a TOML error",
        """
        version = 1
        [[signer]]
        name = "alice"
        valid_after = 2024-02-30
        """,
        "policy.toml: Invalid date or datetime (at line 4, column 15)",
    ),
    Bad(
        "TOML syntax error",
        """
        version = 1

        [[signer]]
        name = "alice
        """,
        "policy.toml: Illegal character '\\n' (at line 4, column 14)",
    ),
    Bad(
        "duplicate names and e-mails",
        """
        version = 1
        [[signer]]
        name = "alice"
        emails = ["alice@example.com"]
        [[signer]]
        name = "bob"
        emails = ["Alice@Example.com", "Alice <alice@example.com>", "bob"]
        [[signer]]
        name = "alice"
        """,
        "\n".join(
            [
                'policy.toml:7: signer[2].emails[1]: e-mail "Alice@Example.com" is also listed by '
                'signer "alice"',
                'policy.toml:7: signer[2].emails[2]: "Alice <alice@example.com>" is not an e-mail '
                "address (write it bare: name@example.com)",
                'policy.toml:7: signer[2].emails[3]: "bob" is not an e-mail address (write it '
                "bare: name@example.com)",
                'policy.toml:9: signer[3].name: duplicate signer name "alice" (first at line 3)',
            ]
        ),
    ),
    Bad(
        "missing signer name",
        """
        version = 1
        [[signer]]
        emails = ["alice@example.com"]
        """,
        "policy.toml:2: signer[1].name: missing required key",
    ),
    Bad(
        "group cycles and unknown members",
        """
        version = 1
        [[signer]]
        name = "alice"
        [groups]
        a = ["b", "alice"]
        b = ["c"]
        c = ["a"]
        self = ["self"]
        d = ["alice", "carol"]
        alice = ["a"]
        """,
        "\n".join(
            [
                "policy.toml:5: groups.a: groups form a cycle: a -> b -> c -> a",
                "policy.toml:8: groups.self: groups form a cycle: self -> self",
                'policy.toml:9: groups.d[2]: unknown signer or group "carol"',
                'policy.toml:10: groups.alice: "alice" is both a group and a signer name',
            ]
        ),
    ),
    Bad(
        "unknown rule signer",
        """
        version = 1
        [[signer]]
        name = "alice"
        [groups]
        maintainers = ["alice"]
        [[rule]]
        refs = ["refs/heads/main"]
        signers = [
          "maintainers",
          "bobb",
        ]
        """,
        'policy.toml:10: rule[1].signers[2]: unknown signer or group "bobb"',
    ),
    Bad(
        "bad rules",
        """
        version = 1
        [[rule]]
        require = "sigend"

        [[rule]]
        refs = []
        signers = []

        [[rule]]
        refs = ["main", "refs/heads/x[", "refs/heads/a b", "refs/heads/ok/", "refs/heads/.x",
                "refs/heads/a..b", "refs/heads/*"]
        require = "none"
        merges = "first"
        exempt_before = "abc123"
        default = "deny"
        """,
        "\n".join(
            [
                "policy.toml:2: rule[1].refs: missing required key",
                "policy.toml:2: rule[1].signers: missing required key (the signers or groups this "
                "rule allows)",
                'policy.toml:3: rule[1].require: expected "signed", "signed-tag" or "none", not '
                '"sigend"',
                "policy.toml:6: rule[2].refs: must list at least one ref pattern",
                "policy.toml:7: rule[2].signers: must name at least one signer or group",
                'policy.toml:10: rule[3].refs[1]: bad ref pattern "main": must start with "refs/" '
                '(e.g. "refs/heads/main")',
                'policy.toml:10: rule[3].refs[2]: bad ref pattern "refs/heads/x[": has a "[" '
                'without a closing "]"',
                'policy.toml:10: rule[3].refs[3]: bad ref pattern "refs/heads/a b": contains '
                "' ', not allowed in ref names",
                'policy.toml:10: rule[3].refs[4]: bad ref pattern "refs/heads/ok/": must not end '
                'with "/", "." or ".lock"',
                'policy.toml:10: rule[3].refs[5]: bad ref pattern "refs/heads/.x": no path '
                'component may start with "."',
                'policy.toml:11: rule[3].refs[6]: bad ref pattern "refs/heads/a..b": contains '
                '"..", not allowed in ref names',
                'policy.toml:13: rule[3].merges: expected "all" or "first-parent", not "first"',
                'policy.toml:14: rule[3].exempt_before: "abc123" is not a full commit id (40 or 64 '
                "hex digits)",
                f"policy.toml:15: rule[3].default: unknown key (expected one of: {RULE_FIELDS})",
            ]
        ),
    ),
    Bad(
        "bad default and release",
        """
        version = 1
        default = "block"

        [release]
        tags = ["refs/heads/main", 7]
        images = ["r/app:{version}", "r/app {tag}", "r/app:{tag"]
        annotations = { team = 1 }
        """,
        "\n".join(
            [
                'policy.toml:2: default: expected "allow" or "deny", not "block"',
                "policy.toml:4: release.key: missing required key",
                'policy.toml:5: release.tags[1]: bad ref pattern "refs/heads/main": must start '
                'with "refs/tags/"',
                "policy.toml:5: release.tags[2]: expected a string, not an integer",
                'policy.toml:6: release.images[1]: bad image reference "r/app:{version}": unknown '
                "placeholder {version} (known: {tag}, {commit})",
                'policy.toml:6: release.images[2]: bad image reference "r/app {tag}": contains '
                "white space",
                'policy.toml:6: release.images[3]: bad image reference "r/app:{tag": expected '
                "'}' before end of string",
                "policy.toml:7: release.annotations.team: expected a string, not an integer",
            ]
        ),
    ),
    Bad(
        "missing allowed_signers file",
        """
        version = 1

        [trust]
        allowed_signers = "keys/allowed_signers"
        """,
        "policy.toml:4: trust.allowed_signers: cannot read {base}/keys/allowed_signers: No such "
        "file or directory",
    ),
    Bad(
        "malformed allowed_signers lines",
        """
        version = 1
        [trust]
        allowed_signers = "as"
        [[signer]]
        name = "x"
        emails = ["x@example.com"]
        [[signer]]
        name = "y"
        emails = ["y@example.com"]
        """,
        "\n".join(
            [
                "{base}/as:1: cert-authority (SSH certificates) is not supported yet",
                '{base}/as:3: principal "x@example.com" is an e-mail of [[signer]] "x" '
                "(policy.toml:5), whose keys do not include this line's key <SSH3_FPR>: a "
                "trust file cannot give a key to a [[signer]]; if the key is x's, add "
                '"<SSH3_KEY>" to that signer\'s keys, else change the principal',
                '{base}/as:3: principal "y@example.com" is an e-mail of [[signer]] "y" '
                "(policy.toml:8), whose keys do not include this line's key <SSH3_FPR>: a "
                "trust file cannot give a key to a [[signer]]; if the key is y's, add "
                '"<SSH3_KEY>" to that signer\'s keys, else change the principal',
            ]
        ),
        {
            "as": "*@example.com cert-authority <SSH1>\nok@example.com <SSH2>\n"
            "x@example.com,y@example.com <SSH3>\n"
        },
    ),
    Bad(
        "allowed_signers key of a [[signer]]",
        """
        version = 1
        [trust]
        allowed_signers = "as"
        [[signer]]
        name = "alice"
        keys = ["<SSH1>"]
        """,
        '{base}/as:2: key <SSH1_FPR> already belongs to signer "alice" (policy.toml:6); a '
        'key has one owner: name that signer on this line ("alice" or one of its e-mails), '
        "or remove the line",
        {"as": "bob@example.com <SSH2>\nbob@example.com <SSH1>\n"},
    ),
    Bad(
        "allowed_signers lines that borrow a [[signer]]'s name or e-mail",
        """
        version = 1
        [trust]
        allowed_signers = "as"
        [[signer]]
        name = "alice"
        emails = ["alice@example.com"]
        keys = ["<SSH1>"]
        [[signer]]
        name = "bob"
        emails = ["bob@example.com", "bob@old.example"]
        [[rule]]
        refs = ["refs/heads/main"]
        signers = ["alice", "carol@example.com"]
        """,
        "\n".join(
            [
                '{base}/as:2: principal "alice" is the name of [[signer]] "alice" '
                "(policy.toml:5), whose keys do not include this line's key <SSH2_FPR>: a "
                "trust file cannot give a key to a [[signer]]; if the key is alice's, add "
                '"<SSH2_KEY>" to that signer\'s keys, else change the principal',
                '{base}/as:3: principal "BOB@old.example" is an e-mail of [[signer]] "bob" '
                "(policy.toml:9), whose keys do not include this line's key <SSH3_FPR>: a "
                "trust file cannot give a key to a [[signer]]; if the key is bob's, add "
                '"<SSH3_KEY>" to that signer\'s keys, else change the principal',
                '{base}/as:4: principal "bob" is the name of [[signer]] "bob" (policy.toml:9), '
                'but this line\'s key <SSH1_FPR> belongs to signer "alice" (policy.toml:7): a '
                'key has one owner; name that signer on this line ("alice" or one of its '
                "e-mails) instead",
                '{base}/as:7: key <SSH4_FPR> already belongs to signer "carol@example.com" '
                '({base}/as:6); a key has one owner: make "carol@example.com" the line\'s '
                "first principal, or remove the line",
            ]
        ),
        {
            "as": "# alice's name for a key she does not list\n"
            "alice <SSH2>\n"
            "mallory@example.com,BOB@old.example <SSH3>\n"
            "alice@example.com,bob <SSH1>\n"
            "# fine: an implicit signer, used by the rule\n"
            "carol@example.com <SSH4>\n"
            "dave@example.com <SSH4>\n"
        },
    ),
    Bad(
        "allowed_signers line naming a [[signer]] named like its e-mail",
        """
        version = 1
        trust.allowed_signers = "as"
        [[signer]]
        name = "bob@example.com"
        emails = ["bob@example.com"]
        """,
        '{base}/as:1: principal "bob@example.com" is the name of [[signer]] '
        '"bob@example.com" (policy.toml:4), whose keys do not include this line\'s key '
        "<SSH2_FPR>: a trust file cannot give a key to a [[signer]]; if the key is "
        "bob@example.com's, add \"<SSH2_KEY>\" to that signer's keys, else change the "
        "principal",
        {"as": "bob@example.com <SSH2>\n"},
    ),
    Bad(
        "openpgp glob matching nothing",
        """
        version = 1
        [trust]
        openpgp = [
          "keys/*.asc",
          "nothing/*.asc",
        ]
        [[signer]]
        name = "alice"
        keys = ["openpgp:<BOB>"]
        """,
        'policy.toml:5: trust.openpgp[2]: "nothing/*.asc" matches no files (relative to {base})',
        {"keys/alice.asc": b"<alice.asc>"},
    ),
    Bad(
        "openpgp files that are not certificates",
        """
        version = 1
        trust.openpgp = ["k/*"]
        """,
        "\n".join(
            [
                "policy.toml:2: trust.openpgp[1]: {base}/k/alice-secret.asc: contains secret key "
                "material; export the public certificate (gpg --export --armor) and use that",
                "policy.toml:2: trust.openpgp[1]: {base}/k/notes.txt: not OpenPGP data: "
                "unexpected EOF",
            ]
        ),
        {"k/notes.txt": "not a key\n", "k/alice-secret.asc": b"<alice-secret.asc>"},
    ),
    Bad(
        "certificate claims",
        """
        version = 1
        [trust]
        openpgp = ["keys/*.asc"]
        [[signer]]
        name = "alice"
        keys = ["openpgp:<ALICE>", "openpgp:1234",
                "openpgp:0000000000000000000000000000000000000000"]
        [[signer]]
        name = "mallory"
        keys = ["openpgp:<ALICE_SUB>"]
        """,
        "\n".join(
            [
                'policy.toml:6: signer[1].keys[2]: "openpgp:1234": expected a 40 or 64 hex digit '
                "fingerprint",
                "policy.toml:7: signer[1].keys[3]: no certificate with fingerprint "
                "0000000000000000000000000000000000000000 in [trust] openpgp files",
                "policy.toml:10: signer[2].keys[1]: certificate <ALICE> already belongs to signer "
                '"alice"',
            ]
        ),
        {"keys/alice.asc": b"<alice.asc>"},
    ),
    Bad(
        "unclaimed certificates that look like a signer's",
        """
        version = 1
        [trust]
        openpgp = ["keys/*.asc"]
        [[signer]]
        name = "bob@example.com"
        [[signer]]
        name = "al"
        emails = ["alice@work.example"]
        """,
        "\n".join(
            [
                "policy.toml:3: trust.openpgp[1]: certificate <ALICE> ({base}/keys/both.asc) is in "
                'no signer\'s keys but has the e-mail address of signer "al"; add '
                '"openpgp:<ALICE>" to that signer\'s keys',
                "policy.toml:3: trust.openpgp[1]: certificate <BOB> ({base}/keys/both.asc) is in "
                'no signer\'s keys but is named "bob@example.com" like a [[signer]]; add '
                '"openpgp:<BOB>" to that signer\'s keys',
            ]
        ),
        {"keys/both.asc": b"<both.asc>"},
    ),
    Bad(
        "bad and shared ssh keys",
        """
        version = 1
        [[signer]]
        name = "alice"
        keys = ["<SSH1>", "ssh-ed25519 AAAA", "SHA256:abc",
                "ssh-ed25519-cert-v01@openssh.com AAAA"]
        [[signer]]
        name = "bob"
        keys = ["<SSH1>"]
        """,
        "\n".join(
            [
                'policy.toml:4: signer[1].keys[2]: expected an SSH public key ("ssh-ed25519 '
                'AAAA…") or "openpgp:<fingerprint>": key blob is truncated',
                'policy.toml:4: signer[1].keys[3]: expected an SSH public key ("ssh-ed25519 '
                'AAAA…") or "openpgp:<fingerprint>": expected \'<key-type> <base64-key> '
                "[comment]'",
                'policy.toml:5: signer[1].keys[4]: expected an SSH public key ("ssh-ed25519 '
                'AAAA…") or "openpgp:<fingerprint>": SSH certificates '
                "(ssh-ed25519-cert-v01@openssh.com) are not supported yet",
                "policy.toml:8: signer[2].keys[1]: key <SSH1_FPR> already belongs to signer "
                '"alice" (policy.toml:4)',
            ]
        ),
    ),
    Bad(
        "not UTF-8",
        "version = 1\n# caf\xe9\n",
        "policy.toml: not UTF-8 text (byte 17)",
    ),
]


@pytest.mark.parametrize("case", BAD, ids=[c.id for c in BAD])
def test_malformed_policy(tmp_path: Path, material: Material, case: Bad) -> None:
    m = material
    files: dict[str, str | bytes] = {}
    for name, content in case.files.items():
        if isinstance(content, bytes) and content.startswith(b"<"):  # one of m.files
            files[name] = m.files[content.decode().strip("<>")]
        else:
            files[name] = content
    expected = m.fill(case.expected).replace("{base}", str(tmp_path))
    for i, line in enumerate(m.ssh):
        key_text = " ".join(line.split()[:2])
        expected = expected.replace(f"<SSH{i + 1}_FPR>", m.ssh_fpr(i))
        expected = expected.replace(f"<SSH{i + 1}_KEY>", key_text)
    if case.id == "not UTF-8":
        with pytest.raises(PolicyError) as exc:
            load_policy(case.policy.encode("latin-1"), "policy.toml", base_dir=tmp_path)
        assert str(exc.value) == expected
        return
    assert problems(tmp_path, m, case.policy, files) == expected


def test_several_errors_all_reported_with_lines(tmp_path: Path, material: Material) -> None:
    text = """
    version = 1
    color = "red"

    [trust]
    allowed_signers = "keys/missing"

    [[signer]]
    name = "alice"
    emails = ["alice@example.com"]
    keys = ["<SSH1>"]

    [[signer]]   # bob
    name = "bob"
    emails = "bob@example.com"
    valid_after = "last year"

    [groups]
    "core team" = ["alice", "bob", "eve"]

    [[rule]]
    refs = ["refs/heads/main"]
    signers = ["core team", "mallory"]
    require = "signed-commit"
    """
    assert problems(tmp_path, material, text) == "\n".join(
        [
            "policy.toml:2: color: unknown key (expected one of: version, trust, signer, groups, "
            "rule, default, release)",
            f"policy.toml:5: trust.allowed_signers: cannot read {tmp_path}/keys/missing: No such "
            "file or directory",
            "policy.toml:14: signer[2].emails: expected a list of strings, not a string",
            "policy.toml:15: signer[2].valid_after: expected a TOML date or date-time (e.g. "
            "2024-01-31 or 2024-01-31T12:00:00Z), not a string",
            'policy.toml:18: groups."core team"[3]: unknown signer or group "eve"',
            'policy.toml:22: rule[1].signers[2]: unknown signer or group "mallory"',
            'policy.toml:23: rule[1].require: expected "signed", "signed-tag" or "none", not '
            '"signed-commit"',
        ]
    )


def test_unreadable_policy_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as exc:
        load_policy_file(tmp_path / "policy.toml")
    assert str(exc.value) == f"{tmp_path}/policy.toml: cannot read: No such file or directory"


# -- the line locator ---------------------------------------------------------------


def test_locator() -> None:
    text = textwrap.dedent(
        '''\
        version = 1  # [[signer]] in a comment
        note = """
        [[signer]]
        name = "not a header"
        """
        [ trust ]
        openpgp = ['a', "b",
          "c"]
        "quoted.key" . sub = 1
        [[signer]]
        name = "a"
        inline = { x = 1, y = { z = [1, 2] } }
        [[signer]]
        keys = [
          "k1",  # comment, with [brackets]
          'k2',
        ]
        [groups.nested]
        [[rule]]
        '''
    )
    loc = Locator(text)
    expect = {
        ("version",): 1,
        ("note",): 2,
        ("trust",): 6,
        ("trust", "openpgp", 0): 7,
        ("trust", "openpgp", 2): 8,
        ("trust", "quoted.key", "sub"): 9,
        ("signer",): 10,
        ("signer", 0): 10,
        ("signer", 0, "name"): 11,
        ("signer", 0, "inline", "y", "z", 1): 12,
        ("signer", 1): 13,
        ("signer", 1, "keys"): 14,
        ("signer", 1, "keys", 0): 15,
        ("signer", 1, "keys", 1): 16,
        ("signer", 1, "missing"): 13,
        ("groups", "nested", "x"): 18,
        ("rule", 0): 19,
    }
    assert {path: loc.line_of(path) for path in expect} == expect
    assert loc.line_of(("nowhere",)) is None


def test_show_path() -> None:
    assert show_path(("signer", 1, "emails")) == "signer[2].emails"
    assert show_path(("groups", "core team", 0)) == 'groups."core team"[1]'
    assert show_path(("a", 'q"uote')) == 'a."q\\"uote"'


# --- who owns which key, without TOML (gitguard.trust.ownership) ---------------------


def _owners() -> Ownership:
    owners = Ownership()
    owners.add_signer("alice", "p.toml:3")
    owners.claim_email("alice@example.com", "alice")
    assert owners.claim_ssh_key(b"alice-key", "alice", "p.toml:5")
    return owners


def test_ownership_explicit_signers_own_names_emails_and_keys() -> None:
    owners = _owners()
    assert owners.is_signer("alice")
    assert not owners.claim_ssh_key(b"alice-key", "bob", "p.toml:9")
    assert owners.ssh_holder(b"alice-key") == ("alice", "p.toml:5")
    with pytest.raises(
        ValueError, match=re.escape('e-mail "ALICE@example.com" is also listed by signer')
    ):
        owners.claim_email("ALICE@example.com", "bob")
    assert owners.named_by("alice") == [("alice", "the name")]
    assert owners.named_by("Alice@Example.com") == [("alice", "an e-mail")]
    assert owners.named_by("carol@example.com") == []


@pytest.mark.parametrize(
    ("blob", "principals", "owner", "problem"),
    [
        (b"carol-key", ["carol@example.com"], "carol@example.com", None),
        (b"alice-key", ["alice"], "alice", None),  # her own key, under her name
        (b"alice-key", ["alice@example.com", "x"], "alice", None),
        (b"mallory-key", ["alice"], None, 'principal "alice" is the name of [[signer]] "alice"'),
        (b"mallory-key", ["x", "ALICE@example.com"], None, "is an e-mail of [[signer]]"),
        (b"alice-key", ["zed@example.com"], None, 'already belongs to signer "alice"'),
    ],
)
def test_ownership_of_allowed_signers_lines(
    blob: bytes, principals: list[str], owner: str | None, problem: str | None
) -> None:
    owners = _owners()
    if problem is None:
        got = owners.owner_of_line(
            "ssh-ed25519",
            blob,
            principals=principals,
            implicit=principals[0],
            fingerprint="SHA256:x",
            where="allowed_signers:1",
        )
        assert got == owner
    else:
        with pytest.raises(ValueError, match=re.escape(problem)):
            owners.owner_of_line(
                "ssh-ed25519",
                blob,
                principals=principals,
                implicit=principals[0],
                fingerprint="SHA256:x",
                where="allowed_signers:1",
            )


def test_ownership_of_unclaimed_certificates() -> None:
    owners = _owners()
    assert owners.owner_of_certificate("dave@example.com", ["dave@example.com"], "F", "d.asc") == (
        "dave@example.com"
    )
    with pytest.raises(ValueError, match='is named "alice" like a \\[\\[signer\\]\\]'):
        owners.owner_of_certificate("alice", [], "F", "a.asc")
    with pytest.raises(ValueError, match='has the e-mail address of signer "alice"'):
        owners.owner_of_certificate("someone", ["alice@EXAMPLE.com"], "F", "a.asc")
