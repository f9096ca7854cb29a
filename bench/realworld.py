#!/usr/bin/env python3
"""Audit whole real histories with gitguard and with git in the same run; compare.

    .venv/bin/python bench/realworld.py /work/.mirror/pre-commit+pre-commit/repo
    .venv/bin/python bench/realworld.py --openpgp-key keys/a.asc --allowed-signers as REPO…
    .venv/bin/python bench/realworld.py --json out.json REPO…

For each repository (a clone or bare git directory, read only): every ref — commits,
annotated tags (tags of tags followed) and mergetags — judged by

- gitguard: ``guard -C REPO audit --all --format json`` with the trusted keys given
  (``--openpgp-key``, default: the corpus keys in ``tests/data/realworld/keys/``;
  ``--allowed-signers``, default: an empty file);
- git, configured with the same keys (imported into a throwaway GnuPG home with
  ultimate owner trust; ``gpg.ssh.allowedSignersFile``): ``git log --no-walk=unsorted
  --stdin --format='%H %G?'`` over ``git rev-list --all`` (when git aborts on a commit
  — ``fatal: bad/incompatible signature`` — that commit's answer is ``fatal`` and the
  log resumes after it), ``git verify-tag --raw`` per tag, and per mergetag (the
  embedded tag written as a tag object into a scratch repository that borrows the
  history's objects) ``git verify-tag --raw``; gpg's status lines are read as git
  reads them.

It prints per repository the number of judgements (and of signed ones), how many
agree (git code equal), each difference class — gitguard status x git code, named
after the deliberate difference of ``tests/test_realworld.py`` that explains it, else
``UNEXPLAINED`` — with a count and one example object id, and the speed ratio, git
seconds / gitguard seconds (gitguard with its default workers, one per core; git as
it runs, one gpg / ssh-keygen / gpgsm process per signature). Not run in CI (minutes
for git.git). Exit status 0 when every difference is explained, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GUARD = ROOT / ".venv" / "bin" / "guard"
CORPUS_KEYS = ROOT / "tests" / "data" / "realworld" / "keys"

# The deliberate-difference table and the object readers are the corpus test's.
sys.path.insert(0, str(ROOT / "tests"))
from gitfixtures import parse_verify_output, tool_env  # noqa: E402
from realworld_corpus import (  # noqa: E402
    DIFFERENCES,
    Case,
    CorpusObject,
    GitAnswer,
    KeyInfo,
    Unit,
    gpg_keys,
    trust_ultimately,
    units_of,
)


class BenchError(Exception):
    pass


def run(
    argv: Sequence[str], env: dict[str, str], *, input: bytes | None = None, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(list(argv), env=env, input=input, capture_output=True, check=False)
    if check and proc.returncode:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise BenchError(f"{' '.join(argv[:6])}… exited {proc.returncode}: {err[-500:]}")
    return proc


def make_env(home: Path, keys: Sequence[Path]) -> dict[str, str]:
    """An isolated environment (the tests' ``tool_env``) whose GnuPG home trusts
    ``keys`` ultimately."""
    env = tool_env(home, gnupghome=home / "gnupg")
    trust_ultimately(env, keys)
    return env


# --------------------------------------------------------------------------- gitguard


def gitguard(
    repo: Path, env: dict[str, str], trust: list[str], out: Path, jobs: int | None
) -> tuple[list[dict[str, Any]], float]:
    argv = [str(GUARD), "-C", str(repo), "audit", "--all", "--format", "json"]
    argv += ["--output", str(out), *trust]
    if jobs:
        argv += ["--jobs", str(jobs)]
    t0 = time.monotonic()
    proc = run(argv, env, check=False)
    elapsed = time.monotonic() - t0
    if proc.returncode not in (0, 1):
        raise BenchError(f"guard audit exited {proc.returncode}: {proc.stderr.decode()[-2000:]}")
    results = json.loads(out.read_text("utf-8"))["results"]
    assert isinstance(results, list)
    return results, elapsed


# --------------------------------------------------------------------------- git


def git_commit_codes(repo: Path, env: dict[str, str], cfg: list[str]) -> dict[str, str]:
    """``%G?`` of every commit of every ref; ``fatal`` where git aborts on one."""
    commits = run(["git", "-C", str(repo), "rev-list", "--all"], env).stdout.decode().split()
    codes: dict[str, str] = {}
    start = 0
    while start < len(commits):
        todo = commits[start:]
        proc = run(
            [
                "git",
                "-C",
                str(repo),
                *cfg,
                "log",
                "--no-walk=unsorted",
                "--stdin",
                "--format=%H %G?",
            ],
            env,
            input="".join(f"{c}\n" for c in todo).encode(),
            check=False,
        )
        lines = proc.stdout.decode().splitlines()
        for line in lines:
            oid, _, code = line.partition(" ")
            codes[oid] = code
        if proc.returncode == 0:
            break
        # --no-walk=unsorted keeps the input order: git died on the next one.
        if len(lines) >= len(todo) or (lines and lines[-1].split()[0] != todo[len(lines) - 1]):
            raise BenchError(f"git log failed: {proc.stderr.decode()[-500:]}")
        codes[todo[len(lines)]] = "fatal"
        start += len(lines) + 1
    return codes


def read_objects(repo: Path, env: dict[str, str], oids: Sequence[str]) -> dict[str, bytes]:
    """Raw commit/tag objects via one ``git cat-file --batch``."""
    out = run(
        ["git", "-C", str(repo), "cat-file", "--batch"],
        env,
        input="".join(f"{o}\n" for o in oids).encode(),
    ).stdout
    objects: dict[str, bytes] = {}
    pos = 0
    while pos < len(out):
        nl = out.index(b"\n", pos)
        head = out[pos:nl].split()
        if len(head) != 3:
            pos = nl + 1
            continue
        size = int(head[2])
        objects[head[0].decode()] = out[nl + 1 : nl + 1 + size]
        pos = nl + 1 + size + 1
    return objects


def verify_tag(repo: Path, env: dict[str, str], cfg: list[str], oid: str, sig: bytes | None) -> str:
    if sig is None:
        return "N"
    proc = run(["git", "-C", str(repo), *cfg, "verify-tag", "--raw", oid], env, check=False)
    return parse_verify_output((proc.stdout + proc.stderr).decode("utf-8", "replace"), sig).code


@dataclass
class GitSide:
    codes: dict[tuple[str, str], str] = field(default_factory=dict)
    units: dict[tuple[str, str], Unit] = field(default_factory=dict)
    seconds: float = 0.0


def git_side(repo: Path, env: dict[str, str], cfg: list[str], scratch: Path) -> GitSide:
    side = GitSide()
    t0 = time.monotonic()
    for oid, code in git_commit_codes(repo, env, cfg).items():
        side.codes[("commit", oid)] = code
    refs = run(
        ["git", "-C", str(repo), "for-each-ref", "--format=%(objecttype) %(objectname)"],
        env,
    ).stdout.decode()
    todo = sorted({line.split()[1] for line in refs.splitlines() if line.startswith("tag ")})
    seen: set[str] = set()
    while todo:
        tags = [t for t in todo if t not in seen]
        seen.update(tags)
        todo = []
        for oid, raw in read_objects(repo, env, tags).items():
            (unit,) = units_of(CorpusObject(oid, "tag", repo.name, str(repo), (), raw))
            side.units[unit.key] = unit
            side.codes[unit.key] = verify_tag(repo, env, cfg, oid, unit.signature)
            head = raw.split(b"\n\n", 1)[0].split(b"\n")
            if b"type tag" in head:
                todo += [h[7:].decode() for h in head if h.startswith(b"object ")]
    # Mergetags: git has no verdict letter for them; write each embedded tag as a tag
    # object into a scratch repository borrowing the history's objects, verify-tag it.
    run(["git", "init", "-q", "--bare", str(scratch)], env)
    objects = run(["git", "-C", str(repo), "rev-parse", "--git-path", "objects"], env)
    alt = (repo / objects.stdout.decode().strip()).resolve()
    (scratch / "objects" / "info" / "alternates").write_text(f"{alt}\n")
    commits = [oid for kind, oid in side.codes if kind == "commit"]
    chunk = 4096
    for i in range(0, len(commits), chunk):
        for oid, raw in read_objects(repo, env, commits[i : i + chunk]).items():
            if b"\nmergetag " not in raw.split(b"\n\n", 1)[0]:
                continue
            for unit in units_of(CorpusObject(oid, "commit", repo.name, str(repo), (), raw))[1:]:
                write = ["hash-object", "-t", "tag", "-w", "--literally", "--stdin"]
                run(["git", "-C", str(scratch), *write], env, input=unit.raw)
                side.units[unit.key] = unit
                side.codes[unit.key] = verify_tag(scratch, env, cfg, unit.oid, unit.signature)
    side.seconds = time.monotonic() - t0
    return side


# --------------------------------------------------------------------------- compare


@dataclass
class RepoReport:
    repo: str
    judgements: int = 0
    signed: int = 0
    agree: int = 0
    agree_signed: int = 0
    classes: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    examples: dict[tuple[str, str, str], str] = field(default_factory=dict)
    missing: int = 0
    git_seconds: float = 0.0
    guard_seconds: float = 0.0

    @property
    def unexplained(self) -> int:
        return sum(n for (_, _, name), n in self.classes.items() if name == "UNEXPLAINED")

    def to_json(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "judgements": self.judgements,
            "signed": self.signed,
            "agree": self.agree,
            "agree_signed": self.agree_signed,
            "differences": [
                {
                    "gitguard": s,
                    "git": g,
                    "name": n,
                    "count": c,
                    "example": self.examples[(s, g, n)],
                }
                for (s, g, n), c in self.classes.most_common()
            ],
            "missing_in_git": self.missing,
            "git_seconds": round(self.git_seconds, 2),
            "gitguard_seconds": round(self.guard_seconds, 2),
        }


def compare(
    repo: Path,
    env: dict[str, str],
    results: list[dict[str, Any]],
    git: GitSide,
    keys: dict[str, KeyInfo],
) -> RepoReport:
    report = RepoReport(str(repo))
    differing: list[dict[str, Any]] = []
    for r in results:
        key = (str(r["kind"]), str(r["object"]))
        code = git.codes.get(key)
        report.judgements += 1
        if code is None:
            report.missing += 1
            continue
        signed = r["status"] != "unsigned" or code != "N"
        report.signed += signed
        if code == r["git_code"]:
            report.agree += 1
            report.agree_signed += signed
        else:
            differing.append(r)
    # Commits that differ: read them to apply the table's predicates.
    need = [str(r["object"]) for r in differing if r["kind"] == "commit"]
    raws = read_objects(repo, env, need)
    for r in differing:
        key = (str(r["kind"]), str(r["object"]))
        unit = git.units.get(key)
        if unit is None and r["kind"] == "commit":
            obj = CorpusObject(key[1], "commit", repo.name, str(repo), (), raws[key[1]])
            unit = units_of(obj)[0]
        name = "UNEXPLAINED"
        if unit is not None:
            case = Case(unit, GitAnswer(git.codes[key]), r, None, keys)
            names = [d.name for d in DIFFERENCES if d.applies(case)]
            if len(names) == 1:
                name = names[0]
            elif names:
                name = "AMBIGUOUS: " + "+".join(names)
        cls = (f"{r['status']}/{r['git_code']}", git.codes[key], name)
        report.classes[cls] += 1
        report.examples.setdefault(cls, f"{r['kind']} {r['object']}")
    return report


def print_report(rep: RepoReport) -> None:
    pct = 100.0 * rep.agree / max(rep.judgements - rep.missing, 1)
    pct_signed = 100.0 * rep.agree_signed / max(rep.signed, 1)
    print(f"== {rep.repo}")
    print(
        f"   judgements {rep.judgements} ({rep.signed} signed); agree {rep.agree} ({pct:.2f} %),"
        f" signed {rep.agree_signed}/{rep.signed} ({pct_signed:.2f} %)"
    )
    if rep.missing:
        print(f"   {rep.missing} gitguard results have no git counterpart")
    for (ours, code, name), n in rep.classes.most_common():
        ex = rep.examples[(ours, code, name)]
        print(f"   {n:6d}  gitguard {ours:22s} git {code:6s} {name:24s} e.g. {ex}")
    ratio = rep.git_seconds / rep.guard_seconds if rep.guard_seconds else float("inf")
    print(
        f"   git {rep.git_seconds:.1f} s, gitguard {rep.guard_seconds:.1f} s: "
        f"speed ratio {ratio:.1f}x"
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    p.add_argument("repos", nargs="+", type=Path, metavar="REPO")
    p.add_argument("--openpgp-key", action="append", type=Path, default=[], metavar="FILE")
    p.add_argument("--allowed-signers", type=Path, metavar="FILE")
    p.add_argument("--jobs", type=int, help="gitguard's --jobs (default: its own)")
    p.add_argument("--json", type=Path, help="also write the reports as JSON")
    args = p.parse_args(argv)
    keys_files: list[Path] = args.openpgp_key or sorted(CORPUS_KEYS.glob("*.asc"))
    for tool in ("git", "gpg", "gpgsm", "ssh-keygen"):
        if shutil.which(tool) is None:
            p.error(f"{tool} is required")
    reports = []
    with tempfile.TemporaryDirectory(prefix="realworld-") as tmp:
        base = Path(tmp)
        env = make_env(base / "home", keys_files)
        allowed: Path = args.allowed_signers or base / "allowed_signers"
        if args.allowed_signers is None:
            allowed.write_text("")
        cfg = ["-c", f"gpg.ssh.allowedSignersFile={allowed.resolve()}"]
        trust = [a for k in keys_files for a in ("--openpgp-key", str(k))]
        trust += ["--allowed-signers", str(allowed)]
        keys = gpg_keys(env)
        for i, repo in enumerate(args.repos):
            results, guard_s = gitguard(repo, env, trust, base / f"guard-{i}.json", args.jobs)
            git = git_side(repo, env, cfg, base / f"scratch-{i}.git")
            rep = compare(repo, env, results, git, keys)
            rep.guard_seconds, rep.git_seconds = guard_s, git.seconds
            print_report(rep)
            sys.stdout.flush()
            reports.append(rep)
        run(["gpgconf", "--kill", "all"], env, check=False)  # the agent --import started
    if args.json:
        args.json.write_text(json.dumps([r.to_json() for r in reports], indent=1) + "\n")
    return 1 if any(r.unexplained for r in reports) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        sys.exit(f"realworld: {e}")
