#!/usr/bin/env python3
"""Benchmark the receive guard: what it adds to a push, and how fast it verifies a
large one.

    .venv/bin/python bench/bench_push.py                       # defaults below
    .venv/bin/python bench/bench_push.py --pushes 31 --large-repeat 5 --json push.json
    .venv/bin/python bench/bench_push.py --kinds ssh-ed25519   # large push for one kind

In one run:

1. **Small pushes.** ``--pushes`` (default 21) one-commit pushes (``git push
   file://…``) into each of three bare repositories: with no hook, with a trivial
   Python pre-receive hook (``#!<this interpreter>``, reads stdin and imports
   ``cryptography``'s Ed25519 hazmat module, nothing else), and guarded by ``guard
   server install`` with a policy trusting the pushed commits' SSH key. The three are
   interleaved (round-robin, the order rotating every round) so that drift on the
   machine hits all of them alike; the first push into each repository (the seed) is
   not timed. Reported: the median push time, the median times of the pre-receive and
   post-receive hooks themselves (the guard installs both; the trivial setup has only
   a pre-receive hook), and the overhead ratio guard / trivial hook of the whole push
   (target <= 1.5x, DESIGN.md) and of the pre-receive hook alone.
2. **Large push.** For each ``--kinds`` kind, a push of ``--commits`` (default 10,000)
   new signed commits into an empty bare repository, without hook and guarded
   (``--large-repeat`` times each, median), and once into a repository whose policy
   trusts another key (every commit must be refused: proof that the guard really
   looked). Target: the guard verifies 10,000 commits in under 5 s (GitHub
   Enterprise's pre-receive budget).

Commits and keys come from ``bench/bench_audit.py`` (``ensure_keys``, ``ensure_repo``):
real keys from ``ssh-keygen``/``gpg``, a linear history of distinct signed commits
written as one pack and checked with ``git fsck`` and the real verifiers, cached
under ``bench/out/``. Each push is made from that cached repository.

Timing: the push time is the wall-clock time of the ``git push`` process. The hook
time comes from git's own trace (``GIT_TRACE2_EVENT`` in the push environment;
receive-pack records every hook it runs, ``child_class`` ``hook``, with its elapsed
time ``t_rel``), so it measures exactly the pre-receive hook. Every push runs with an
isolated environment (throwaway HOME, no system or global git config).

Exit status: 0 when every push did what it should (accepted, or refused for the
untrusted-key run) and every target is met; 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import bench_audit
from bench_audit import KINDS, BenchError, KeyFiles, ensure_keys, ensure_repo, run

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"  # the interpreter gitguard is installed in
SMALL_KIND = "ssh-ed25519"
SMALL_SOURCE_COMMITS = 200  # the cached history the one-commit pushes are taken from
RATIO_TARGET = 1.5
LARGE_TARGET_SECONDS = 5.0

TRIVIAL_HOOK = """\
#!{python}
import sys

import cryptography.hazmat.primitives.asymmetric.ed25519  # noqa: F401

sys.stdin.read()
"""


# --------------------------------------------------------------------------- setup


def push_env(home: Path, trace: Path | None) -> dict[str, str]:
    env = bench_audit.isolated_env_base(home)
    if trace is not None:
        env["GIT_TRACE2_EVENT"] = str(trace)
    return env


def init_bare(path: Path, env: dict[str, str]) -> Path:
    run(["git", "init", "-q", "--bare", "-b", "main", path], env=env)
    (path / "hooks").mkdir(exist_ok=True)
    return path


def write_policy(path: Path, keys: KeyFiles, kind: str, *, trust: str | None = None) -> Path:
    """A policy requiring every new commit on any branch to be signed by the bench key
    of ``kind`` (or, with ``trust``, by the key of that other kind only)."""
    trusted = trust or kind
    email = bench_audit.IDENTITY[trusted][1]
    signer = keys.signer(trusted)
    if trusted.startswith("ssh"):
        assert isinstance(signer, bench_audit.SshSigner)
        trust_table, key = "", signer.public_line
    else:
        trust_table = f'[trust]\nopenpgp = ["{keys.cert(trusted)}"]\n\n'
        key = f"openpgp:{signer.fingerprint}"
    path.write_text(
        f"""version = 1

{trust_table}[[signer]]
name = "bench"
emails = ["{email}"]
keys = ["{key}"]

[[rule]]
refs = ["refs/heads/*"]
require = "signed"
signers = ["bench"]
"""
    )
    return path


def install_guard(bare: Path, policy: Path, env: dict[str, str]) -> None:
    run([PYTHON, "-m", "gitguard", "server", "install", bare, "--policy", policy], env=env)


def install_trivial_hook(bare: Path) -> None:
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(TRIVIAL_HOOK.format(python=PYTHON))
    hook.chmod(0o755)


# --------------------------------------------------------------------------- pushes


@dataclass
class Timed:
    seconds: float
    hooks: dict[str, float]  # hook name -> elapsed seconds
    returncode: int
    stderr: str


def hook_seconds(trace: Path) -> dict[str, float]:
    """The elapsed time of each hook receive-pack ran, from its trace2 events."""
    if not trace.exists():
        return {}
    started: dict[tuple[str, int], str] = {}
    times: dict[str, float] = {}
    for line in trace.read_text().splitlines():
        event = json.loads(line)
        key = (str(event.get("sid")), int(event.get("child_id", -1)))
        if event.get("event") == "child_start" and event.get("child_class") == "hook":
            started[key] = str(event.get("hook_name"))
        elif event.get("event") == "child_exit" and key in started:
            name = started[key]
            times[name] = times.get(name, 0.0) + float(event["t_rel"])
    return times


def timed_push(source: Path, dest: Path, refspec: str, home: Path) -> Timed:
    trace = home / "trace2.json"
    trace.unlink(missing_ok=True)
    env = push_env(home, trace)
    argv = ["git", "push", "-q", dest.as_uri(), refspec]
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=source, env=env, capture_output=True, check=False)
    seconds = time.perf_counter() - t0
    return Timed(
        seconds, hook_seconds(trace), proc.returncode, proc.stderr.decode(errors="replace")
    )


def ref_value(bare: Path, ref: str, env: dict[str, str]) -> str | None:
    proc = run(["git", "rev-parse", "--verify", "--quiet", ref], cwd=bare, env=env, check=False)
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


# --------------------------------------------------------------------------- results


@dataclass
class Row:
    name: str
    commits: int
    runs: list[float] = field(default_factory=list)
    hook_runs: list[float] = field(default_factory=list)  # pre-receive
    post_runs: list[float] = field(default_factory=list)  # post-receive
    expect_accept: bool = True
    error: str | None = None
    target: str = ""
    passed: bool | None = None  # None: no target for this row

    @property
    def median(self) -> float | None:
        return statistics.median(self.runs) if self.runs else None

    @property
    def hook_median(self) -> float | None:
        return statistics.median(self.hook_runs) if self.hook_runs else None

    @property
    def post_median(self) -> float | None:
        return statistics.median(self.post_runs) if self.post_runs else None

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data.update(median=self.median, hook_median=self.hook_median, post_median=self.post_median)
        return data


def record(row: Row, t: Timed, *, accepted: bool) -> None:
    if accepted != row.expect_accept:
        what = "refused" if row.expect_accept else "accepted"
        row.error = f"push {what} unexpectedly (git push exit {t.returncode}): {t.stderr[-400:]}"
        return
    row.runs.append(t.seconds)
    if "pre-receive" in t.hooks:
        row.hook_runs.append(t.hooks["pre-receive"])
    if "post-receive" in t.hooks:
        row.post_runs.append(t.hooks["post-receive"])


# --------------------------------------------------------------------------- benchmarks


def bench_small(keys: KeyFiles, pushes: int, tmp: Path) -> tuple[list[Row], float | None]:
    """One-commit pushes: no hook, trivial Python hook, guard. Returns the rows and
    the ratio guard / trivial of the median push times."""
    source = ensure_repo(
        bench_audit.DEFAULT_OUT,
        keys,
        SMALL_KIND,
        max(SMALL_SOURCE_COMMITS, pushes + 1),
        rebuild=False,
    )
    home = tmp / "small-home"
    home.mkdir()
    env = push_env(home, None)
    commits = run(["git", "rev-list", "--reverse", "main"], cwd=source.path, env=env)
    chain = commits.stdout.decode().split()[: pushes + 1]
    policy = write_policy(tmp / "small-policy.toml", keys, SMALL_KIND)
    rows = {
        "no hook": Row("1-commit push, no hook", 1),
        "trivial": Row("1-commit push, trivial Python hook", 1),
        "guard": Row("1-commit push, guard", 1, target=f"<= {RATIO_TARGET}x trivial"),
    }
    dests: dict[str, Path] = {}
    for name in rows:
        bare = init_bare(tmp / f"small-{name.replace(' ', '-')}.git", env)
        if name == "trivial":
            install_trivial_hook(bare)
        elif name == "guard":
            install_guard(bare, policy, env)
        dests[name] = bare
        seed = timed_push(source.path, bare, f"{chain[0]}:refs/heads/main", home)
        if seed.returncode != 0:
            raise BenchError(f"seed push into {name} repository failed: {seed.stderr}")
    names = list(rows)
    print(f"small pushes: {pushes} rounds x {len(names)} repositories ...", flush=True)
    for i in range(pushes):
        order = names[i % len(names) :] + names[: i % len(names)]
        for name in order:
            row = rows[name]
            if row.error:
                continue
            t = timed_push(source.path, dests[name], f"{chain[i + 1]}:refs/heads/main", home)
            record(row, t, accepted=t.returncode == 0)
    for name, bare in dests.items():
        if not rows[name].error and ref_value(bare, "refs/heads/main", env) != chain[pushes]:
            rows[name].error = "refs/heads/main is not at the last pushed commit"
    guard, trivial = rows["guard"].median, rows["trivial"].median
    ratio = guard / trivial if guard is not None and trivial else None
    rows["guard"].passed = ratio is not None and ratio <= RATIO_TARGET and not rows["guard"].error
    return list(rows.values()), ratio


def bench_large(keys: KeyFiles, kind: str, count: int, repeat: int, tmp: Path) -> list[Row]:
    source = ensure_repo(bench_audit.DEFAULT_OUT, keys, kind, count, rebuild=False)
    home = tmp / f"large-home-{kind}"
    home.mkdir()
    env = push_env(home, None)
    policy = write_policy(tmp / f"large-policy-{kind}.toml", keys, kind)
    other = "openpgp-ed25519" if kind == "ssh-ed25519" else "ssh-ed25519"
    wrong = write_policy(tmp / f"wrong-policy-{kind}.toml", keys, kind, trust=other)
    plain = Row(f"{count:,}-commit push, {kind}, no hook", count)
    guarded = Row(
        f"{count:,}-commit push, {kind}, guard",
        count,
        target=f"hook < {LARGE_TARGET_SECONDS:.0f} s",
    )
    refused = Row(
        f"{count:,}-commit push, {kind}, guard, untrusted key", count, expect_accept=False
    )
    plan = [(plain, None)] * repeat + [(guarded, policy)] * repeat + [(refused, wrong)]
    print(f"large pushes: {count:,} {kind} commits, {len(plan)} pushes ...", flush=True)
    for n, (row, pol) in enumerate(plan):
        if row.error:
            continue
        bare = init_bare(tmp / f"large-{kind}-{n}.git", env)
        if pol is not None:
            install_guard(bare, pol, env)
        t = timed_push(source.path, bare, "main:refs/heads/main", home)
        landed = ref_value(bare, "refs/heads/main", env)
        record(row, t, accepted=t.returncode == 0 and landed == source.tip)
        if not row.expect_accept and not row.error and landed is not None:
            row.error = "the ref moved although the push was refused"
        shutil.rmtree(bare)
    hook = guarded.hook_median
    guarded.passed = hook is not None and hook < LARGE_TARGET_SECONDS and not guarded.error
    return [plain, guarded, refused]


# --------------------------------------------------------------------------- report


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(rows: Sequence[Row], ratio: float | None, hook_ratio: float | None) -> None:
    width = max(len(r.name) for r in rows) if rows else 4
    header = (
        f"{'push':<{width}} {'runs':>4} {'median s':>9} {'pre-rcv s':>9} {'post-rcv s':>10} "
        f"{'commits/s':>10} {'target':>18}  result"
    )
    print()
    print(header)
    print("-" * len(header))
    for r in rows:
        hook = r.hook_median
        rate = r.commits / hook if hook and r.commits > 1 else None
        if r.error:
            result = "ERROR"
        elif r.passed is None:
            result = "ok"
        else:
            result = "PASS" if r.passed else "FAIL"
        print(
            f"{r.name:<{width}} {len(r.runs):>4} {_fmt(r.median, '.3f'):>9} "
            f"{_fmt(hook, '.3f'):>9} {_fmt(r.post_median, '.3f'):>10} "
            f"{_fmt(rate, ',.0f'):>10} {r.target:>18}  {result}"
        )
    print(
        f"\noverhead, guard / trivial Python hook: push {_fmt(ratio, '.2f')}x, "
        f"hook alone {_fmt(hook_ratio, '.2f')}x (target <= {RATIO_TARGET}x on the push)"
    )
    print(
        "median s: the whole `git push`; pre-rcv s / post-rcv s: the pre-receive and "
        "post-receive hooks' elapsed times from receive-pack's trace2 events (medians); "
        "commits/s: commits / pre-receive time"
    )
    for r in rows:
        if r.error:
            print(f"{r.name}: ERROR: {r.error}")


def machine_info(load_before: tuple[float, ...]) -> dict[str, object]:
    guard = run([PYTHON, "-m", "gitguard", "--version"], check=False)
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": str(PYTHON),
        "git": run(["git", "--version"]).stdout.decode().strip(),
        "guard": (guard.stdout or guard.stderr).decode(errors="replace").strip(),
        "load_before": " ".join(f"{x:.2f}" for x in load_before),
        "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument(
        "--pushes",
        type=int,
        default=21,
        help="timed one-commit pushes per repository (default: %(default)s)",
    )
    p.add_argument(
        "--commits",
        type=int,
        default=10_000,
        help="commits in the large push (default: %(default)s)",
    )
    p.add_argument(
        "--kinds",
        default="ssh-ed25519,openpgp-ed25519",
        help=f"signature kinds for the large push, from {','.join(KINDS)} (default: %(default)s)",
    )
    p.add_argument(
        "--large-repeat",
        type=int,
        default=3,
        help="large pushes per configuration; the median is reported (default: %(default)s)",
    )
    p.add_argument("--skip-small", action="store_true", help="only the large pushes")
    p.add_argument("--skip-large", action="store_true", help="only the small pushes")
    p.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    args = p.parse_args(argv)
    args.kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    for kind in args.kinds:
        if kind not in KINDS:
            p.error(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    if args.pushes < 1 or args.large_repeat < 1 or args.commits < 1:
        p.error("--pushes, --large-repeat and --commits must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join([sys.executable, *sys.argv]) if argv is None else shlex.join(argv)
    if not PYTHON.exists():
        print(f"bench_push: {PYTHON} is missing (run scripts/bootstrap.sh)", file=sys.stderr)
        return 1
    rows: list[Row] = []
    ratio: float | None = None
    try:
        keys = ensure_keys(bench_audit.DEFAULT_OUT, rebuild=False)
        # Build (or find cached) every source repository before anything is timed.
        if not args.skip_large:
            for kind in args.kinds:
                ensure_repo(bench_audit.DEFAULT_OUT, keys, kind, args.commits, rebuild=False)
        load_before = os.getloadavg()
        with tempfile.TemporaryDirectory(prefix="bench-push-") as tmp_name:
            tmp = Path(tmp_name)
            if not args.skip_small:
                small, ratio = bench_small(keys, args.pushes, tmp)
                rows += small
            if not args.skip_large:
                for kind in args.kinds:
                    rows += bench_large(keys, kind, args.commits, args.large_repeat, tmp)
    except BenchError as e:
        print(f"bench_push: {e}", file=sys.stderr)
        return 1
    by_name = {r.name: r for r in rows}
    guard_hook = by_name.get("1-commit push, guard", Row("", 0)).hook_median
    trivial_hook = by_name.get("1-commit push, trivial Python hook", Row("", 0)).hook_median
    hook_ratio = guard_hook / trivial_hook if guard_hook and trivial_hook else None
    machine = machine_info(load_before)
    print_table(rows, ratio, hook_ratio)
    print(
        f"machine: {machine['cpus']} CPUs, {machine['git']}, {machine['guard']}, "
        f"hooks run {machine['python']}, load average {machine['load_before']} before, "
        f"{machine['load_after']} after"
    )
    print(f"\ncommand line: {command}")
    if args.json:
        doc = {
            "command": command,
            "machine": machine,
            "targets": {"ratio": RATIO_TARGET, "large_hook_seconds": LARGE_TARGET_SECONDS},
            "ratio": ratio,
            "hook_ratio": hook_ratio,
            "rows": [r.to_json() for r in rows],
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"results written to {args.json}")
    ok = all(r.error is None and r.passed is not False for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
