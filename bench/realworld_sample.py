#!/usr/bin/env python3
"""Choose the real-world corpus (``tests/data/realworld/``) from public git histories.

    .venv/bin/python bench/realworld_sample.py                      # default mirrors
    .venv/bin/python bench/realworld_sample.py --mirror git=/path/to/git.git --cap 3
    .venv/bin/python bench/realworld_sample.py --manifest-only      # re-index the files only

The corpus is raw git objects exactly as ``git cat-file <type> <oid>`` prints them
(``<source>/<oid>.commit`` / ``<source>/<oid>.tag``) plus ``manifest.json``; only the
sampled objects are kept, never code from the histories. ``tests/test_realworld.py``
verifies every object with git (gpg, ssh-keygen), with Sequoia's ``sq`` and with
gitguard and compares the verdicts.

**The sampling rule** (stated here and in ``tests/data/realworld/README.md``; the
rule never looks at a verdict, so the sample is not picked to pass):

1. Population, per source repository: every *signature* reachable from any ref
   (``git rev-list --all`` for commits, every ``refs/tags`` tag object): the
   signature of each commit with a ``gpgsig`` header, of each annotated tag object
   whose message carries a signature, and of each tag embedded in a commit's
   ``mergetag`` header (signed or not).
2. Each signature falls into one group ``KIND/FORMAT/VARIANT/YEAR``: ``KIND`` is
   ``commit``, ``tag`` or ``mergetag``; ``FORMAT`` ``openpgp``, ``ssh``, ``x509`` (or
   ``none`` for an unsigned mergetag); ``YEAR`` the UTC year of the committer (tag:
   tagger) time, ``none`` without one; ``VARIANT`` is read from the signature's bytes
   alone: for OpenPGP the issuer (``github-2017`` / ``github-2024`` for GitHub's two
   web-flow keys, ``junio`` for Junio C Hamano's key, ``other`` for any other key),
   suffixed ``-v3`` for a version 3 signature packet; for SSH the public key type
   (``ssh-ed25519``, ``sk-ssh-ed25519@openssh.com``, …); for X.509 ``rekor`` when the
   CMS carries a Rekor entry (unsigned attribute 1.3.6.1.4.1.57264.3.1), else
   ``no-rekor``. A tag (or mergetag) without a ``tagger`` line gets ``-no-tagger``.
3. Within a group, signatures are ordered by object id (the tag's id for a
   mergetag); with ``n`` members and cap ``c`` (default 3) every ``ceil(n / c)``-th is
   taken, starting with the first: at most ``c`` per group, every group represented.
4. The file kept for a signature is the object that carries it: the commit, the tag,
   or for a mergetag the merge commit (its own signature, if any, is judged too).

Files already under ``tests/data/realworld/gitsign/`` that this script did not sample
(another engineer adds gitsign objects there, named the same way) are kept and indexed
in the manifest with ``"sampled": false``; only files this script sampled before are
removed when a new sample no longer contains them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "realworld"

# Signatures are read as the corpus test reads them: git's split, the OpenPGP facts.
sys.path.insert(0, str(ROOT / "tests"))
from gitfixtures import (  # noqa: E402
    git_split_tag,
    header_values,
    mergetags,
    signature_format,
)
from sigwire import dearmor, pgp_facts  # noqa: E402

KEYS = Path("/work/shared/keys")
KEY_FILES = ("github-web-flow.asc", "git-junio-hamano.asc")
DEFAULT_CAP = 3


@dataclass(frozen=True)
class Source:
    name: str
    url: str
    mirror: Path


SOURCES = {
    s.name: s
    for s in (
        Source("git", "https://github.com/git/git", Path("/work/.mirror/git+git/repo")),
        Source(
            "pre-commit",
            "https://github.com/pre-commit/pre-commit",
            Path("/work/.mirror/pre-commit+pre-commit/repo"),
        ),
        Source(
            "gittuf", "https://github.com/gittuf/gittuf", Path("/work/.mirror/gittuf+gittuf/repo")
        ),
        Source(
            "gitsign",
            "https://github.com/sigstore/gitsign",
            Path("/work/.mirror/sigstore+gitsign/repo"),
        ),
    )
}
# Only this source may hold files another engineer added (see the module docstring).
FOREIGN_OK = "gitsign"

# Issuer key ids (the low 64 bits of the fingerprint) of the corpus' certificates,
# signing subkeys included.
KNOWN_ISSUERS = {
    "4AEE18F83AFDEB23": "github-2017",
    "B5690EEEBB952194": "github-2024",
    "20D04E5A713660A7": "junio",
    "86B76D5D833262C4": "junio",
    "B0B5E88696AFE6CB": "junio",
    "7594EEC7B3F7CAC9": "junio",
}

_REKOR_OID = "1.3.6.1.4.1.57264.3.1"


def git_env() -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": os.environ.get("HOME", "/nonexistent"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "LC_ALL": "C",
        "TZ": "UTC",
    }


def git(repo: Path, *args: str, input: bytes | None = None) -> bytes:
    proc = subprocess.run(
        ["git", "--git-dir", str(repo), *args],
        input=input,
        capture_output=True,
        env=git_env(),
        check=False,
    )
    if proc.returncode:
        raise SystemExit(f"git {' '.join(args)} in {repo}: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def cat_batch(repo: Path, oids: Sequence[str]) -> Iterator[tuple[str, str, bytes]]:
    """``(oid, type, raw bytes)`` for each oid, through one ``git cat-file --batch``."""
    out = git(repo, "cat-file", "--batch", input="".join(f"{o}\n" for o in oids).encode())
    pos = 0
    while pos < len(out):
        nl = out.index(b"\n", pos)
        head = out[pos:nl].split()
        if len(head) != 3:
            raise SystemExit(f"git cat-file: {out[pos:nl]!r}")
        size = int(head[2])
        yield head[0].decode(), head[1].decode(), out[nl + 1 : nl + 1 + size]
        pos = nl + 1 + size + 1


# --------------------------------------------------------------------------- reading


def header_block(raw: bytes) -> bytes:
    end = raw.find(b"\n\n")
    return raw if end < 0 else raw[: end + 1]


def person_time(raw: bytes, name: bytes) -> int | None:
    m = re.search(rb"^" + name + rb" [^\n]*> (-?\d+) [-+]\d{4}\n", header_block(raw), re.M)
    return int(m.group(1)) if m else None


def ssh_key_type(sig: bytes) -> str:
    try:
        data = dearmor(sig)
        if not data.startswith(b"SSHSIG"):
            return "unparsable"
        n = int.from_bytes(data[10:14], "big")
        blob = data[14 : 14 + n]
        m = int.from_bytes(blob[:4], "big")
        return blob[4 : 4 + m].decode("ascii", "replace")
    except (IndexError, ValueError):
        return "unparsable"


def x509_has_rekor(sig: bytes) -> bool | None:
    from asn1crypto import cms

    try:
        info = cms.ContentInfo.load(dearmor(sig))
        signer = info["content"]["signer_infos"][0]
        attrs = signer["unsigned_attrs"]
        if attrs.native is None:
            return False
        return any(a["type"].dotted == _REKOR_OID for a in attrs)
    except Exception:  # any damage: "unparsable", still sampled
        return None


def variant(sig: bytes | None, fmt: str) -> str:
    if sig is None:
        return "unsigned"
    if fmt == "openpgp":
        facts = pgp_facts(sig)
        if facts is None or facts.version == 0:
            return "unparsable"
        who = KNOWN_ISSUERS.get(facts.issuer, "other") if facts.issuer else "no-issuer"
        return who if facts.version == 4 else f"{who}-v{facts.version}"
    if fmt == "ssh":
        return ssh_key_type(sig)
    if fmt == "x509":
        rekor = x509_has_rekor(sig)
        return "unparsable" if rekor is None else ("rekor" if rekor else "no-rekor")
    return "other"


def year_of(when: int | None) -> str:
    if when is None:
        return "none"
    return str(dt.datetime.fromtimestamp(when, dt.UTC).year)


# --------------------------------------------------------------------------- population


@dataclass(frozen=True)
class Signature:
    """One sampled unit: a signature and the object whose file carries it."""

    group: str
    key: str  # order within the group: the signed object's id
    carrier: str  # the object stored as a file
    carrier_type: str


def tag_group(raw: bytes, kind: str) -> str:
    _, sig = git_split_tag(raw)
    fmt = signature_format(sig)
    var = variant(sig, fmt)
    when = person_time(raw, b"tagger")
    if not re.search(rb"^tagger ", header_block(raw), re.M):
        var += "-no-tagger"
    return f"{kind}/{fmt}/{var}/{year_of(when)}"


def object_signatures(oid: str, typ: str, raw: bytes, object_format: str) -> list[Signature]:
    """Every signature ``raw`` carries, each with its sampling group."""
    found: list[Signature] = []
    if typ == "tag":
        if git_split_tag(raw)[1] is not None:
            found.append(Signature(tag_group(raw, "tag"), oid, oid, typ))
        return found
    if typ != "commit":
        return found
    header = b"gpgsig" if object_format == "sha1" else b"gpgsig-sha256"
    sigs = header_values(raw, header)
    if sigs:
        fmt = signature_format(sigs[0])
        group = f"commit/{fmt}/{variant(sigs[0], fmt)}/{year_of(person_time(raw, b'committer'))}"
        found.append(Signature(group, oid, oid, typ))
    algo = "sha1" if object_format == "sha1" else "sha256"
    for tag in mergetags(raw):
        tag_id = hashlib.new(algo, b"tag %d\x00" % len(tag) + tag).hexdigest()
        found.append(Signature(tag_group(tag, "mergetag"), tag_id, oid, typ))
    return found


def population(source: Source) -> tuple[list[Signature], dict[str, bytes], str]:
    """Every signature in ``source``'s history and the raw objects carrying them."""
    repo = source.mirror
    fmt = git(repo, "rev-parse", "--show-object-format").decode().strip()
    commits = git(repo, "rev-list", "--all").decode().split()
    refs = git(repo, "for-each-ref", "--format=%(objecttype) %(objectname)", "refs/tags")
    tags = sorted({line.split()[1] for line in refs.decode().splitlines() if line[:4] == "tag "})
    sigs: list[Signature] = []
    raw_of: dict[str, bytes] = {}
    for oid, typ, raw in cat_batch(repo, commits + tags):
        found = object_signatures(oid, typ, raw, fmt)
        if found:
            raw_of[oid] = raw
            sigs.extend(found)
    return sigs, raw_of, fmt


def snapshot(source: Source) -> dict[str, object]:
    """Which state of the history was sampled: its HEAD and how many refs it had."""
    head = git(source.mirror, "rev-parse", "HEAD").decode().strip()
    refs = git(source.mirror, "for-each-ref", "--format=%(refname)").decode().split()
    return {"head": head, "refs": len(refs)}


def sample(sigs: Sequence[Signature], cap: int) -> tuple[dict[str, list[str]], dict[str, int]]:
    """The rule's steps 3 and 4: ``{carrier oid: [groups]}`` and the group sizes."""
    groups: dict[str, list[Signature]] = defaultdict(list)
    for s in sigs:
        groups[s.group].append(s)
    chosen: dict[str, list[str]] = defaultdict(list)
    for name, members in groups.items():
        members.sort(key=lambda s: (s.key, s.carrier))
        step = math.ceil(len(members) / cap)
        for s in members[::step]:
            if name not in chosen[s.carrier]:
                chosen[s.carrier].append(name)
    return dict(chosen), {g: len(m) for g, m in sorted(groups.items())}


# --------------------------------------------------------------------------- output


@dataclass
class Entry:
    oid: str
    type: str
    object_format: str
    source: str
    url: str
    year: str
    groups: list[str]
    sampled: bool
    signatures: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "oid": self.oid,
            "type": self.type,
            "object_format": self.object_format,
            "source": self.source,
            "repository": self.url,
            "year": self.year,
            "groups": self.groups,
            "sampled": self.sampled,
            "path": f"{self.source}/{self.oid}.{self.type}",
        }


def entry_for_file(path: Path, source: Source, groups: list[str] | None) -> Entry:
    """Index one corpus file (ours with its groups, or one another engineer added)."""
    oid, _, typ = path.name.partition(".")
    raw = path.read_bytes()
    object_format = "sha256" if len(oid) == 64 else "sha1"
    got = hashlib.new(object_format, f"{typ} {len(raw)}\x00".encode() + raw).hexdigest()
    if got != oid:
        raise SystemExit(f"{path}: content hashes to {got}, not to its name")
    who = b"tagger" if typ == "tag" else b"committer"
    if groups is None:
        groups = [s.group for s in object_signatures(oid, typ, raw, object_format)]
    return Entry(
        oid=oid,
        type=typ,
        object_format=object_format,
        source=source.name,
        url=source.url,
        year=year_of(person_time(raw, who)),
        groups=groups,
        sampled=False,
    )


def previous_manifest(out: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads((out / "manifest.json").read_text("utf-8"))
    except FileNotFoundError:
        return {}
    return {str(o["path"]): o for o in data.get("objects", [])}


def write_manifest(
    out: Path,
    chosen: dict[str, dict[str, list[str]]],
    info: dict[str, dict[str, object]],
    cap: int,
) -> list[Entry]:
    """Index every corpus file: those sampled now (``chosen``: source -> oid -> groups;
    for ``--manifest-only`` taken from the previous manifest) and foreign files."""
    entries: list[Entry] = []
    for name, source in SOURCES.items():
        folder = out / name
        if not folder.is_dir():
            continue
        mine = chosen.get(name, {})
        for path in sorted(folder.iterdir()):
            if path.suffix not in (".commit", ".tag"):
                continue
            oid = path.name.partition(".")[0]
            e = entry_for_file(path, source, mine.get(oid))
            e.sampled = oid in mine
            if not e.sampled and name != FOREIGN_OK:
                raise SystemExit(f"{path}: not in the sample (only {FOREIGN_OK}/ may hold others)")
            entries.append(e)
    manifest = {
        "version": 1,
        "rule": "see bench/realworld_sample.py (module docstring) and README.md",
        "cap": cap,
        "sources": {
            name: {"repository": s.url, **info.get(name, {"population": {}})}
            for name, s in SOURCES.items()
        },
        "objects": [e.to_json() for e in entries],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", "utf-8")
    return entries


def copy_keys(out: Path, keys: Path) -> None:
    (out / "keys").mkdir(parents=True, exist_ok=True)
    for name in KEY_FILES:
        shutil.copyfile(keys / name, out / "keys" / name)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    p.add_argument(
        "--mirror",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help=f"git directory of a source ({', '.join(SOURCES)}); default: the mirrors",
    )
    p.add_argument("--cap", type=int, default=DEFAULT_CAP, help="signatures per group")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--keys", type=Path, default=KEYS, help="directory of the key files")
    p.add_argument(
        "--manifest-only",
        action="store_true",
        help="re-index the files present (keeps each sampled file's groups); no mirrors",
    )
    args = p.parse_args(argv)
    out: Path = args.out
    for spec in args.mirror:
        name, _, path = spec.partition("=")
        if name not in SOURCES or not path:
            p.error(f"--mirror {spec}: expected NAME=PATH with NAME one of {', '.join(SOURCES)}")
        SOURCES[name] = Source(name, SOURCES[name].url, Path(path))

    old = previous_manifest(out)
    chosen: dict[str, dict[str, list[str]]] = defaultdict(dict)
    info: dict[str, dict[str, object]] = {}
    if args.manifest_only:
        try:
            data = json.loads((out / "manifest.json").read_text("utf-8"))
            info = {
                n: {k: v for k, v in src.items() if k != "repository"}
                for n, src in data["sources"].items()
            }
        except FileNotFoundError:
            pass
        for o in old.values():
            groups = o.get("groups")
            if o.get("sampled") and isinstance(groups, list):
                chosen[str(o["source"])][str(o["oid"])] = [str(g) for g in groups]
        write_manifest(out, chosen, info, args.cap)
        return 0

    for name, source in SOURCES.items():
        sigs, raw_of, _fmt = population(source)
        picked, sizes = sample(sigs, args.cap)
        info[name] = {"snapshot": snapshot(source), "population": sizes}
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        typ_of = {s.carrier: s.carrier_type for s in sigs}
        keep = {f"{oid}.{typ_of[oid]}" for oid in picked}
        for path in folder.iterdir():
            rel = f"{name}/{path.name}"
            ours_before = bool(old.get(rel, {}).get("sampled"))
            if path.name not in keep and (name != FOREIGN_OK or ours_before):
                path.unlink()
        for oid in sorted(picked):
            (folder / f"{oid}.{typ_of[oid]}").write_bytes(raw_of[oid])
        chosen[name] = picked
        print(f"{name}: {len(sigs)} signatures in {len(sizes)} groups, {len(picked)} objects")
    copy_keys(out, args.keys)
    entries = write_manifest(out, chosen, info, args.cap)
    size = sum((out / f"{e.source}/{e.oid}.{e.type}").stat().st_size for e in entries)
    print(f"{len(entries)} objects, {size:,} bytes -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
