#!/usr/bin/env python3
"""Differential fuzzing at scale: thousands of mutated signatures, git vs gitguard.

    .venv/bin/python bench/fuzz_differential.py --seed 1 --count 5000
    .venv/bin/python bench/fuzz_differential.py --seed 7 --count 1 --start 1234 -v

The same engine as tests/test_fuzz_differential.py (tests/fuzzsig.py) and the same
table of deliberate differences, over many more mutations than CI runs: every object
is judged by git (``git log --no-walk --format='%H %G?'`` in batches, with real gpg
and ssh-keygen; ``git verify-tag --raw`` per tag) and by one ``guard audit --format
json`` run. Prints the counts per (gitguard status, git code), per disagreement class
(one example each) and every unexplained disagreement, with seed and mutation index:
``--start INDEX --count 1`` regenerates one mutation (with fresh keys) to look at it;
``--alone N`` re-audits N objects one by one and compares (range independence).

Keys are made with gpg / ssh-keygen in a temporary directory (``--keep DIR`` keeps
them, the repository and the audit output). Not run in CI. Exit status 1 when a
disagreement is unexplained, a signature with damaged signed bytes is good, the JSON
contract is broken, an object has no verdict or a verdict depends on the range.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fuzzsig import NO_ANSWER, Campaign, Outcome, build_world, run_campaign, verify_alone  # noqa: E402
from test_fuzz_differential import (  # noqa: E402
    DIFFERENCES,
    alone_sample,
    classify,
    explain,
    intact,
    known_bug,
    range_dependence,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--start", type=int, default=0, help="first mutation index")
    parser.add_argument("--alone", type=int, default=0, help="re-audit N objects alone")
    parser.add_argument("--keep", type=Path, help="work in this (new) directory and keep it")
    parser.add_argument("-v", "--verbose", action="store_true", help="every mutation")
    args = parser.parse_args(argv)

    if args.keep is not None:
        args.keep.mkdir(parents=True)
        base = args.keep
    else:
        tmp = tempfile.TemporaryDirectory(prefix="fuzz-differential-")
        base = Path(tmp.name)
    t0 = time.monotonic()
    world = build_world(base / "world")
    try:
        print(f"keys: {', '.join(f'{k} {v:.1f} s' for k, v in world.timings.items())}")
        campaign = run_campaign(
            world, args.seed, args.count, start=args.start, out=base / "audit.json"
        )
        alone_problems = []
        if args.alone:
            for o in alone_sample(campaign.outcomes, args.alone, args.seed):
                alone = verify_alone(world, o, base / "alone.json")
                if alone != o.ours:
                    alone_problems.append(range_dependence(o, alone))
    finally:
        world.close()
    total = time.monotonic() - t0
    return report(campaign, args, total, alone_problems)


def report(
    campaign: Campaign, args: argparse.Namespace, total: float, alone_problems: list[str]
) -> int:
    outcomes = campaign.outcomes
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in campaign.timings.items())
    last = args.start + args.count - 1
    print(f"seed {args.seed}, mutations {args.start}..{last}: {steps}; {total:.1f} s in all")
    if args.verbose:
        for o in outcomes:
            print(f"{o.mutation.describe()}")
            print(f"    git {o.git}, gitguard {o.code} ({o.status}): {o.ours.get('reason')}")

    by_pair = Counter((o.status, o.git) for o in outcomes)
    statuses = sorted({s for s, _ in by_pair})
    codes = sorted({g for _, g in by_pair})
    print("\ncounts per (gitguard status, git code):")
    width = max(len(s) for s in statuses)
    print(" " * width + "".join(f"{c:>7}" for c in codes))
    for s in statuses:
        print(s.ljust(width) + "".join(f"{by_pair.get((s, c), 0) or '.':>7}" for c in codes))
    by_fmt = Counter((o.mutation.fmt, o.agrees) for o in outcomes)
    agreeing = [
        f"{fmt} {by_fmt[(fmt, True)]}/{by_fmt[(fmt, True)] + by_fmt[(fmt, False)]}"
        for fmt in ("openpgp", "ssh")
    ]
    print(f"same git code as git: {', '.join(agreeing)}")

    classes: dict[str, list[Outcome]] = defaultdict(list)
    unexplained: list[Outcome] = []
    unanswered = [o for o in outcomes if o.git == NO_ANSWER]
    for o in outcomes:
        if o.agrees or o.git == NO_ANSWER:
            continue
        d = classify(o)
        if d is None:
            unexplained.append(o)
        else:
            classes[d.name].append(o)
    print("\ndisagreements per class (one example each):")
    for d in DIFFERENCES:
        found = classes.get(d.name, [])
        if not found:
            continue
        pairs = Counter(f"{o.code}/{o.git}" for o in found)
        split = ", ".join(f"{p} {n}" for p, n in pairs.most_common())
        print(f"  {d.name} [{d.status}] {len(found)}  (gitguard/git: {split})")
        print("    " + explain(found[0]).replace("\n", "\n    "))
    unused = [d.name for d in DIFFERENCES if d.name not in classes]
    if unused and len(outcomes) >= 500:
        print(f"  (no disagreement of class: {', '.join(unused)})")

    bugs = Counter(b for o in unexplained if (b := known_bug(o)) is not None)
    print(f"\nunexplained disagreements: {len(unexplained)}")
    for text, n in bugs.items():
        print(f"  {n} of them: known gitguard bug: {text}")
    for o in unexplained:
        print("  " + explain(o).replace("\n", "\n  "))
    if unanswered:
        print(f"\ngit gave no answer (SIGPIPE every time) for {len(unanswered)} objects")
    damaged_good = [explain(o) for o in outcomes if o.status == "good" and not intact(o)]
    checks = (
        ("good although signed bytes were damaged", damaged_good),
        ("JSON contract", campaign.contract),
        ("missing verdicts", campaign.missing),
        ("range dependence", alone_problems),
    )
    for title, problems in checks:
        if problems:
            print(f"\n{title}: {len(problems)}")
            for p in problems[:20]:
                print("  " + p)
    failed = unexplained or damaged_good or campaign.contract or campaign.missing or alone_problems
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
