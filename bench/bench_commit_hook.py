#!/usr/bin/env python3
"""Benchmark what gitguard's client signing check adds to ``git commit``.

In one run, with one throwaway HOME (an Ed25519 SSH signing key, configured the way
``guard setup`` configures it), commits are timed in repositories that differ only in
their hooks:

- ``plain``: no hook;
- ``framework-noop``: the pre-commit framework running one no-op hook (``true``,
  ``language: system``) — the framework's own cost;
- ``framework-guard``: the pre-commit framework running ``guard-signing`` installed from
  this repository (a snapshot committed into a temporary repository, its environment
  built offline exactly as ``tests/test_precommit_framework.py`` builds it);
- ``framework-guard-policy``: the same with a ``.gitguard.toml`` policy to load and
  check the key against;
- ``shim``: ``guard hooks install``'s plain pre-commit hook (absolute interpreter path).

Each round commits once in every repository (interleaved, so machine noise hits all
alike); the median of ``--rounds`` is reported. Every commit is signed (``%G?`` = G is
checked at the end).

Target (issue 4): the framework-installed ``guard-signing`` hook adds under 250 ms to a
commit: ``framework-guard`` minus ``plain``. Also printed: the hook's own cost on top of
the framework (``framework-guard`` minus ``framework-noop``). Exit status 0 when the
target is met, 1 when not.

    .venv/bin/python bench/bench_commit_hook.py [--rounds 15] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from gitfixtures import make_ssh_key, run, tool_env  # noqa: E402
from test_precommit_framework import build_wheelhouse, snapshot_repo  # noqa: E402

TARGET_MS = 250.0
VARIANTS = ("plain", "framework-noop", "framework-guard", "framework-guard-policy", "shim")


def _config(hook_repo: Path, rev: str, variant: str) -> str:
    if variant == "framework-noop":
        return (
            "repos:\n- repo: local\n  hooks:\n  - id: noop\n    name: noop\n"
            '    entry: "true"\n    language: system\n    always_run: true\n'
            "    pass_filenames: false\n"
        )
    return f"repos:\n- repo: {hook_repo}\n  rev: {rev}\n  hooks:\n  - id: guard-signing\n"


def setup(base: Path) -> tuple[dict[str, str], dict[str, Path]]:
    home = base / "home"
    env = tool_env(home)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    hook_repo = base / "gitguard-hooks"
    rev = snapshot_repo(hook_repo, env)
    wheels = base / "wheelhouse"
    wheels.mkdir()
    build_wheelhouse(hook_repo, wheels)
    env.update(
        {
            "PRE_COMMIT_HOME": str(base / "store"),
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(wheels),
            "PIP_CONFIG_FILE": os.devnull,
            "VIRTUALENV_NO_PERIODIC_UPDATE": "1",
        }
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    run(["git", "config", "--global", "user.name", "Bench"], env=env)
    run(["git", "config", "--global", "user.email", "committer@example.com"], env=env)
    key = make_ssh_key(home / ".ssh", "id_ed25519", "ed25519", env)
    run([sys.executable, "-m", "gitguard", "setup"], env=env, cwd=home)
    policy = (
        'version = 1\n[[signer]]\nname = "bench"\nemails = ["committer@example.com"]\n'
        f'keys = ["{key.public_line}"]\n'
        '[[rule]]\nrefs = ["refs/heads/*"]\nsigners = ["bench"]\n'
    )
    repos: dict[str, Path] = {}
    for variant in VARIANTS:
        repo = base / variant
        run(["git", "init", "-q", "-b", "main", repo], env=env)
        if variant.startswith("framework"):
            (repo / ".pre-commit-config.yaml").write_text(_config(hook_repo, rev, variant))
            if variant == "framework-guard-policy":
                (repo / ".gitguard.toml").write_text(policy)
            run(["git", "-C", repo, "add", "."], env=env)
            run([sys.executable, "-m", "pre_commit", "install"], env=env, cwd=repo)
            run([sys.executable, "-m", "pre_commit", "install-hooks"], env=env, cwd=repo)
        elif variant == "shim":
            run([sys.executable, "-m", "gitguard", "hooks", "install"], env=env, cwd=repo)
            for name in ("commit-msg", "post-commit", "pre-push"):
                (repo / ".git" / "hooks" / name).unlink()
        repos[variant] = repo
    return env, repos


def commit_ms(repo: Path, env: dict[str, str], n: int) -> tuple[float, float]:
    """Wall-clock and CPU (user + system of git and everything it waited for)
    milliseconds of one commit."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        ["git", "commit", "-q", "--allow-empty", "-m", f"commit {n}"],
        cwd=repo,
        env=env,
        capture_output=True,
        check=False,
    )
    elapsed = (time.perf_counter() - start) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise SystemExit(f"commit in {repo} failed: {proc.stderr.decode()}{proc.stdout.decode()}")
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return elapsed, cpu


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rounds", type=int, default=15, help="commits per variant (median)")
    p.add_argument("--json", type=Path, help="write the figures here too")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-commit-hook-") as tmp:
        env, repos = setup(Path(tmp))
        for repo in repos.values():  # warm-up: caches, first-run work
            commit_ms(repo, env, -1)
        times: dict[str, list[float]] = {v: [] for v in VARIANTS}
        cpus: dict[str, list[float]] = {v: [] for v in VARIANTS}
        for n in range(args.rounds):
            for variant in VARIANTS:
                wall, spent = commit_ms(repos[variant], env, n)
                times[variant].append(wall)
                cpus[variant].append(spent)
        for variant, repo in repos.items():
            code = run(["git", "-C", repo, "log", "-1", "--format=%G?"], env=env)
            if code.stdout.decode().strip() != "G":
                raise SystemExit(f"{variant}: the commit is not signed")
    med = {v: statistics.median(t) for v, t in times.items()}
    cpu = {v: statistics.median(t) for v, t in cpus.items()}
    added = med["framework-guard"] - med["plain"]
    print(f"git commit (signed, SSH Ed25519), median of {args.rounds} rounds, wall / CPU:")
    for v in VARIANTS:
        print(f"  {v:24} {med[v]:7.1f} ms  (min {min(times[v]):6.1f})   CPU {cpu[v]:6.1f} ms")

    def line(label: str, a: str, b: str) -> None:
        print(f"  {label:44} {med[a] - med[b]:7.1f} ms wall  {cpu[a] - cpu[b]:7.1f} ms CPU")

    print(f"what it adds to a commit (target: framework-guard - plain < {TARGET_MS:.0f} ms):")
    line("framework + guard-signing (vs no hook)", "framework-guard", "plain")
    line("  the pre-commit framework itself", "framework-noop", "plain")
    line("  guard-signing on top of the framework", "framework-guard", "framework-noop")
    line("framework + guard-signing + policy", "framework-guard-policy", "plain")
    line("guard hooks install's shim (vs no hook)", "shim", "plain")
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {"median_ms": med, "median_cpu_ms": cpu, "samples_ms": times, "added_ms": added},
                indent=2,
            )
        )
    ok = added < TARGET_MS
    print("target met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
