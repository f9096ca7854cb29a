"""The real-world corpus (``tests/data/realworld/``, README there): its objects read
as git reads them, the facts their signatures state, and :data:`DIFFERENCES`, the
table of deliberate differences from git that every verdict gitguard gives on real
histories is judged by.

``tests/test_realworld.py`` judges the corpus with git, Sequoia and gitguard;
``bench/realworld.py`` judges whole histories with the same table and readers;
``bench/realworld_sample.py`` chooses the corpus reading signatures the same way. The
bench scripts import this module by path: it needs no pytest and no tool at import.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitfixtures import git_split_commit, git_split_tag, mergetags, signature_format
from sigwire import PgpFacts, pgp_facts

CORPUS = Path(__file__).resolve().parent / "data" / "realworld"
MANIFEST = CORPUS / "manifest.json"
KEYS = CORPUS / "keys"
HASH_MD5, HASH_SHA1 = 1, 2


# --------------------------------------------------------------------------- the corpus


@dataclass(frozen=True)
class CorpusObject:
    oid: str
    type: str
    source: str
    repository: str
    groups: tuple[str, ...]
    raw: bytes


@dataclass(frozen=True)
class Unit:
    """One judgement: a commit's own signature (or its absence), a tag's, or a
    mergetag's. ``oid`` is the judged object (the embedded tag's id for a mergetag),
    ``carrier`` the corpus object holding it; ``payload``/``signature`` are what git
    hands the verifier."""

    kind: str
    oid: str
    carrier: CorpusObject
    raw: bytes
    payload: bytes
    signature: bytes | None
    signature_headers: int = 0

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.oid

    @property
    def format(self) -> str:
        return signature_format(self.signature)

    @property
    def has_signer_line(self) -> bool:
        """Whether the payload has the header git reads the signer's time from."""
        end = self.payload.find(b"\n\n")
        head = self.payload if end < 0 else self.payload[: end + 1]
        name = b"committer " if self.kind == "commit" else b"tagger "
        return head.startswith(name) or b"\n" + name in head

    @property
    def pgp(self) -> PgpFacts | None:
        if self.format != "openpgp" or self.signature is None:
            return None
        return pgp_facts(self.signature)

    def label(self) -> str:
        where = f" in {self.carrier.oid}" if self.kind == "mergetag" else ""
        return f"{self.kind} {self.oid}{where} [{self.carrier.source}]"


def load_corpus() -> list[CorpusObject]:
    manifest = json.loads(MANIFEST.read_text("utf-8"))
    objects = []
    for entry in manifest["objects"]:
        path = CORPUS / entry["path"]
        objects.append(
            CorpusObject(
                oid=entry["oid"],
                type=entry["type"],
                source=entry["source"],
                repository=entry["repository"],
                groups=tuple(entry["groups"]),
                raw=path.read_bytes(),
            )
        )
    return objects


def units_of(obj: CorpusObject) -> list[Unit]:
    if obj.type == "tag":
        payload, sig = git_split_tag(obj.raw)
        return [Unit("tag", obj.oid, obj, obj.raw, payload, sig)]
    header = b"gpgsig" if len(obj.oid) == 40 else b"gpgsig-sha256"
    payload, sig, count = git_split_commit(obj.raw, header)
    units = [Unit("commit", obj.oid, obj, obj.raw, payload, sig, count)]
    algo = "sha1" if len(obj.oid) == 40 else "sha256"
    for tag in mergetags(obj.raw):
        tag_id = hashlib.new(algo, b"tag %d\x00" % len(tag) + tag).hexdigest()
        tag_payload, tag_sig = git_split_tag(tag)
        units.append(Unit("mergetag", tag_id, obj, tag, tag_payload, tag_sig))
    return units


# --------------------------------------------------------------------------- the oracles' side


@dataclass(frozen=True)
class GitAnswer:
    code: str  # a %G? letter, or "fatal" when git aborts without a verdict
    key: str = ""
    detail: str = ""


@dataclass(frozen=True)
class SqAnswer:
    """``accepted``: sq on the signature as it is. ``value_accepted``: sq on the same
    signature with its MPIs re-encoded minimally (``nonminimal``: they were not) —
    sq refuses a non-minimal MPI encoding outright, where gpg (and gitguard) read the
    value; asking again shows what sq says about everything else (the key, its
    validity at the signature's time, the policy). ``detail``: sq's last line, for
    the report only (it decides nothing)."""

    accepted: bool
    value_accepted: bool
    nonminimal: bool
    detail: str


@dataclass(frozen=True)
class KeyInfo:
    primary: str  # the certificate's primary key id
    expires: int | None  # POSIX seconds


def gpg_keys(env: dict[str, str]) -> dict[str, KeyInfo]:
    """Long key id -> certificate and expiry, for every key and subkey in the home."""
    out = subprocess.run(
        ["gpg", "--batch", "--with-colons", "--fixed-list-mode", "--list-keys"],
        env=env,
        capture_output=True,
        check=True,
    ).stdout.decode()
    keys: dict[str, KeyInfo] = {}
    primary = ""
    for line in out.splitlines():
        f = line.split(":")
        if f[0] == "pub":
            primary = f[4]
        if f[0] in ("pub", "sub"):
            keys[f[4]] = KeyInfo(primary, int(f[6]) if f[6] else None)
    return keys


def trust_ultimately(env: Mapping[str, str], certs: Sequence[Path]) -> None:
    """Import ``certs`` into the GnuPG home of ``env`` with ultimate owner trust, as the
    oracles trust the corpus keys; gpgsm (git's X.509 verifier) never goes online."""
    (Path(env["GNUPGHOME"]) / "gpgsm.conf").write_text("disable-dirmngr\ndisable-crl-checks\n")
    gpg = ["gpg", "--batch", "--no-tty"]

    def run(*args: str, input: bytes | None = None) -> bytes:
        proc = subprocess.run([*gpg, *args], env=env, input=input, capture_output=True, check=True)
        return proc.stdout

    for cert in certs:
        run("--import", str(cert))
    listing = run("--with-colons", "--list-keys").decode().splitlines()
    primaries = [
        line.split(":")[9]
        for prev, line in itertools.pairwise(listing)
        if prev.startswith("pub:") and line.startswith("fpr:")
    ]
    run("--import-ownertrust", input="".join(f"{fpr}:6:\n" for fpr in primaries).encode())
    run("--check-trustdb")


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Case:
    unit: Unit
    git: GitAnswer
    ours: dict[str, Any]
    sq: SqAnswer | None
    keys: dict[str, KeyInfo]

    @property
    def status(self) -> str:
        return str(self.ours["status"])

    @property
    def code(self) -> str:
        return str(self.ours["git_code"])


@dataclass(frozen=True)
class Difference:
    """A deliberate difference from git. ``follows``: for OpenPGP, whose accept/refuse
    gitguard's verdict matches instead of gpg's (``"sq"``, or ``"refuse"``: gitguard
    refuses whatever the oracles say); ``None`` where no OpenPGP oracle applies."""

    name: str
    reason: str
    follows: str | None
    applies: Callable[[Case], bool]


def _weak_digest(c: Case) -> bool:
    pgp = c.unit.pgp
    if pgp is None or c.status != "weak-algorithm" or c.code != "B":
        return False
    return (pgp.hash_algo == HASH_SHA1 and c.git.code == "G") or (
        pgp.hash_algo == HASH_MD5 and c.git.code == "E"
    )


def _valid_when_signed(c: Case) -> bool:
    pgp = c.unit.pgp
    if pgp is None or pgp.created is None or c.status != "good" or c.git.code != "Y":
        return False
    key = c.keys.get(pgp.issuer)
    if key is None:
        return False
    expires = key.expires if key.expires is not None else c.keys[key.primary].expires
    return expires is not None and pgp.created < expires <= time.time()


def _two_signature_headers(c: Case) -> bool:
    return c.unit.kind == "commit" and c.unit.signature_headers >= 2 and c.status == "malformed"


def _x509_without_trust(c: Case) -> bool:
    return (
        c.unit.format == "x509"
        and c.status == "unknown-key"
        and c.code == "E"
        and c.git.code in ("N", "U")
    )


def _git_gives_no_verdict(c: Case) -> bool:
    return c.git.code == "fatal" and c.status in ("malformed", "bad-signature")


def _git_skips_no_signer_line(c: Case) -> bool:
    return (
        not c.unit.has_signer_line
        and c.unit.format in ("openpgp", "ssh", "x509")
        and c.git.code == "N"
        and c.status != "unsigned"
    )


DIFFERENCES: tuple[Difference, ...] = (
    Difference(
        "weak-digest",
        "SHA-1/MD5 data signature: git (gpg 2.2) says G (E for MD5), gitguard refuses it "
        "as weak-algorithm/B (SHAttered, SHA-1 is a Shambles); README 'Statuses'",
        "refuse",
        _weak_digest,
    ),
    Difference(
        "valid-when-signed",
        "made while the key was valid, by a key that has expired since: gpg says "
        "EXPKEYSIG (git Y), gitguard judges the key at the signature's time as Sequoia "
        "does (good/G); README 'Statuses'",
        "sq",
        _valid_when_signed,
    ),
    Difference(
        "two-signature-headers",
        "a commit whose signature headers hold more than one signature: git "
        "concatenates them and checks what its first armor's verifier reads, gitguard "
        "refuses the object as malformed (one armor split over several headers, as in "
        "git.git's 2011 commits, is concatenated and judged, as git does); README "
        "'Statuses'",
        "refuse",
        _two_signature_headers,
    ),
    Difference(
        "x509-without-trust",
        "X.509 (gitsign) signature without X.509 trust configured: git's gpgsm cannot "
        "read it (N, or U), gitguard says unknown-key/E: signed but unchecked, never "
        "unsigned; README 'Statuses'",
        None,
        _x509_without_trust,
    ),
    Difference(
        "git-gives-no-verdict",
        "a signature header no format claims: git aborts ('fatal: bad/incompatible "
        "signature', no %G? letter, the whole git log stops), gitguard refuses the object "
        "(proposed in issue 10's report; nothing to agree with)",
        None,
        _git_gives_no_verdict,
    ),
    Difference(
        "git-skips-no-tagger",
        "a signed tag without a tagger line (commit: committer): git 2.39 never runs gpg "
        "(check_signature -> parse_payload_metadata fails) and leaves N; gitguard "
        "verifies the signature over the exact bytes, which the tagger line is not needed "
        "for, as sq does (proposed in issue 10's report)",
        "sq",
        _git_skips_no_signer_line,
    ),
)
