"""Real-world corpus (issue 10): gitguard against git and Sequoia, object by object.

``tests/data/realworld/`` holds signed commits, tags and mergetags sampled from public
histories (git.git, pre-commit, gittuf, gitsign) by ``bench/realworld_sample.py``; its
README states the sampling rule and where the keys come from. Every object is written
byte for byte into a throwaway bare repository (``git hash-object --literally``; the id
must be the file's name) and judged by three parties:

- **git** (with gpg 2.2, gpgsm and ssh-keygen), configured with the corpus certificates
  imported into a throwaway GnuPG home with ultimate owner trust and an empty
  ``gpg.ssh.allowedSignersFile``: ``git log --no-walk --format=%G?`` for a commit,
  ``git verify-tag --raw`` for a tag and for each mergetag (written out as a tag
  object), read from gpg's status lines exactly as git reads them;
- **Sequoia** (``sq verify``, Debian's sq 0.27), the second OpenPGP oracle: the payload
  git hands gpg and the detached signature, against the same certificates;
- **gitguard**, trusting exactly those certificates and the empty allowed_signers: all
  objects in one run in a shuffled order (``guard audit --no-walk`` once the CLI has it,
  else the library in a separate process) and every object alone in a freshly forked
  process; both runs must give the same status, git code and key (range independence).

Wherever gitguard's git code differs from git's, the difference must match exactly one
entry of :data:`realworld_corpus.DIFFERENCES` — the deliberate, documented differences
(README, "Statuses"), shared with ``bench/realworld.py`` — or the test fails listing
every unexplained one. The table is the contract: it names, for OpenPGP, whose verdict
gitguard follows instead (gpg's, sq's, or neither because it refuses), and
:func:`test_openpgp_follows_its_oracle` checks that.
Where gpg and sq disagree is collected and printed (run with ``-s``, or set
``REALWORLD_REPORT=FILE`` to write it as JSON); the corpus README discusses it.

The tools are required: a missing ``git``, ``gpg``, ``gpgsm`` or ``sq`` fails the module
(``scripts/apt-test-packages.txt`` installs sq), it never skips.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gitfixtures import (
    git_answer,
    index_results,
    parse_verify_output,
    require_tools,
    tool_env,
)
from realworld_corpus import (
    CORPUS,
    DIFFERENCES,
    KEYS,
    MANIFEST,
    Case,
    GitAnswer,
    KeyInfo,
    SqAnswer,
    Unit,
    gpg_keys,
    load_corpus,
    trust_ultimately,
    units_of,
)
from sigwire import armor_pgp, dearmor, packet

SEED = 10  # the shuffled run's order (issue 10)
MAX_CORPUS_BYTES = 2_000_000
TIMEOUT = 120
WORKERS = 2  # oracle processes at a time (2 cores, shared)

TOOLS = ("git", "gpg", "gpgsm", "sq")
if __name__ != "__main__":  # not in the helper process this file also is (_helper_main)
    require_tools(
        TOOLS,
        "for the real-world corpus test",
        "apt-get install git gnupg gpgsm sq; see scripts/apt-test-packages.txt",
    )

# --------------------------------------------------------------------------- oracles


def git_commit_verdict(repo: Path, env: dict[str, str], oid: str) -> GitAnswer:
    fmt = "--format=%G?%x1f%GK%x1f%GF"
    proc = git_answer(
        ["git", "-C", str(repo), "log", "--no-walk", fmt, oid], env=env, timeout=TIMEOUT
    )
    if proc.returncode:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        return GitAnswer("fatal", detail=(err[-1] if err else "")[:160])
    code, key, fpr = proc.stdout.decode().rstrip("\n").split("\x1f")
    return GitAnswer(code, key or fpr)


def git_tag_verdict(repo: Path, env: dict[str, str], unit: Unit) -> GitAnswer:
    if unit.signature is None:
        return GitAnswer("N")
    argv = ["git", "-C", str(repo), "verify-tag", "--raw", unit.oid]
    proc = git_answer(argv, env=env, timeout=TIMEOUT)
    # ssh-keygen's first line as git's parse_ssh_output reads it; else gpg / gpgsm
    # --status-fd lines as git's parse_gpg_output reads them.
    text = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    v = parse_verify_output(text, unit.signature)
    return GitAnswer(v.code, v.key or v.fingerprint)


def minimal_mpis(sig: bytes) -> bytes | None:
    """The signature with each MPI's bit count made exact and its leading zero
    octets dropped (the same integers, so the same signature), or ``None`` when it is
    already minimal or not a v3/v4 signature packet."""
    try:
        data = dearmor(sig)
        ctb = data[0]
        if ctb & 0x40:
            tag, first = ctb & 0x3F, data[1]
            if first < 192:
                off, length = 2, first
            elif first < 224:
                off, length = 3, ((first - 192) << 8) + data[2] + 192
            elif first == 255:
                off, length = 6, int.from_bytes(data[2:6], "big")
            else:
                return None
        else:
            tag = (ctb >> 2) & 0x0F
            n = {0: 1, 1: 2, 2: 4}.get(ctb & 3)
            if n is None:
                return None
            off, length = 1 + n, int.from_bytes(data[1 : 1 + n], "big")
        body, rest = data[off : off + length], data[off + length :]
        if tag != 2 or body[0] not in (3, 4):
            return None
        if body[0] == 4:
            hashed = int.from_bytes(body[4:6], "big")
            unhashed = int.from_bytes(body[6 + hashed : 8 + hashed], "big")
            pos = 8 + hashed + unhashed + 2
        else:
            pos = 19
        out = bytearray(body[:pos])
        changed = False
        while pos < len(body):
            bits = int.from_bytes(body[pos : pos + 2], "big")
            n = (bits + 7) // 8
            value = int.from_bytes(body[pos + 2 : pos + 2 + n], "big")
            changed |= value.bit_length() != bits
            out += value.bit_length().to_bytes(2, "big")
            out += value.to_bytes((value.bit_length() + 7) // 8, "big")
            pos += 2 + n
    except (IndexError, ValueError):
        return None
    if not changed:
        return None
    return armor_pgp(packet(2, bytes(out)) + rest)


def sq_verdict(unit: Unit, scratch: Path, certs: Sequence[Path]) -> SqAnswer:
    assert unit.signature is not None
    data = scratch / f"{unit.kind}-{unit.oid}.payload"
    data.write_bytes(unit.payload)
    env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(scratch)}

    def verify(signature: bytes, name: str) -> tuple[bool, str]:
        sig = scratch / f"{unit.kind}-{unit.oid}.{name}"
        sig.write_bytes(signature)
        argv = ["sq", "verify"]
        for cert in certs:
            argv += ["--signer-cert", str(cert)]
        proc = git_answer([*argv, "--detached", str(sig), str(data)], env=env, timeout=TIMEOUT)
        lines = [x for x in proc.stderr.decode("utf-8", "replace").splitlines() if x.strip()]
        return proc.returncode == 0, (lines[-1] if lines else "")[:160]

    accepted, detail = verify(unit.signature, "sig")
    minimal = minimal_mpis(unit.signature)
    if minimal is None:
        return SqAnswer(accepted, accepted, False, detail)
    value_accepted, value_detail = verify(minimal, "minimal.sig")
    return SqAnswer(accepted, value_accepted, True, f"{detail}; minimal MPIs: {value_detail}")


def sq_invalid_certs(certs: Sequence[Path], env: dict[str, str]) -> set[str]:
    """Long key ids (all keys) of the certificates sq cannot use at all now (for the
    report's labels only: read from ``sq inspect``'s text, which decides nothing)."""
    invalid: set[str] = set()
    for cert in certs:
        text = subprocess.run(
            ["sq", "inspect", str(cert)], env=env, capture_output=True, check=False
        ).stdout.decode("utf-8", "replace")
        for block in text.split("Fingerprint: ")[1:]:
            fpr, _, rest = block.partition("\n")
            if rest.lstrip().startswith("Invalid:"):
                invalid.add(fpr.strip()[-16:])
    return invalid


# --------------------------------------------------------------------------- gitguard


def cli_has_no_walk(env: dict[str, str]) -> bool:
    guard = Path(sys.executable).with_name("guard")
    proc = subprocess.run(
        [str(guard), "audit", "--help"], env=env, capture_output=True, check=False
    )
    return b"--no-walk" in proc.stdout


def gitguard_one_run(
    repo: Path, env: dict[str, str], trust_args: list[str], oids: list[str], out: Path
) -> tuple[list[dict[str, Any]], str]:
    """All objects in one run, in the given order: ``guard audit --no-walk`` when the
    CLI has it, else the library (one :class:`gitguard.audit.run.Checker`) in a process of
    its own. Returns the results and which way was used."""
    if cli_has_no_walk(env):
        guard = Path(sys.executable).with_name("guard")
        argv = [str(guard), "-C", str(repo), "audit", "--no-walk", "--format", "json"]
        argv += ["--output", str(out), *trust_args, *oids]
        proc = subprocess.run(argv, env=env, capture_output=True, timeout=TIMEOUT, check=False)
        assert proc.returncode in (0, 1), proc.stderr.decode("utf-8", "replace")
        results = json.loads(out.read_text("utf-8"))["results"]
        assert isinstance(results, list)
        return results, "guard audit --no-walk"
    return helper(repo, env, "run", trust_args, oids), "library (Checker), one process"


def gitguard_alone(
    repo: Path, env: dict[str, str], trust_args: list[str], oids: list[str]
) -> list[dict[str, Any]]:
    """Every object alone, each in a freshly forked process (trust, verifier and
    object reader built anew; nothing verified before in that process)."""
    return helper(repo, env, "alone", trust_args, oids)


def helper(
    repo: Path, env: dict[str, str], mode: str, trust_args: list[str], oids: list[str]
) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [sys.executable, __file__, mode, str(repo), *trust_args],
        input="\n".join(oids).encode(),
        env=env,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    results = json.loads(proc.stdout)
    assert isinstance(results, list)
    return results


def _helper_main(argv: list[str]) -> int:
    """``python tests/test_realworld.py run|alone REPO --openpgp-key F… --allowed-signers F``
    with object ids on stdin: gitguard's verdicts (its library) as JSON on stdout.

    ``run``: one :class:`gitguard.audit.run.Checker` for all objects, in the order given.
    ``alone``: each object in a process forked for it (two at a time), which builds
    its own verifier and object reader; the trust store (the parsed key files, data
    that verifying never changes) is loaded once before forking."""
    import argparse
    import tempfile

    from gitguard.audit.run import AuditSpec, Checker
    from gitguard.cli.main import load_trust
    from gitguard.gitobjects import open_repo

    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=("run", "alone"))
    p.add_argument("repo")
    p.add_argument("--openpgp-key", action="append", default=[], type=Path)
    p.add_argument("--allowed-signers", action="append", default=[], type=Path)
    args = p.parse_args(argv)
    oids = sys.stdin.read().split()
    repo = open_repo(args.repo)
    trust, policy = load_trust(args.repo, None, args.allowed_signers, args.openpgp_key)

    def verdicts(batch: list[str]) -> list[dict[str, Any]]:
        checker = Checker(AuditSpec(repo, trust, policy))
        try:
            return [v.to_json() for v in checker.check(batch)]
        finally:
            checker.close()

    if args.mode == "run":
        json.dump(verdicts(oids), sys.stdout)
        return 0
    # Import the verifiers' modules before forking (imports hold no verification
    # state), so that the children do not each pay for them.
    import gitguard.signatures.openpgp
    import gitguard.signatures.ssh
    import gitguard.signatures.x509  # noqa: F401

    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        running: dict[int, str] = {}

        def reap() -> None:
            pid, status = os.wait()
            oid = running.pop(pid)
            if status:
                raise SystemExit(f"{oid}: the child verifying it exited with status {status}")
            results[oid] = json.loads(Path(tmp, oid).read_text("utf-8"))

        for oid in oids:
            while len(running) >= WORKERS:
                reap()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child
                code = 0
                try:
                    Path(tmp, oid).write_text(json.dumps(verdicts([oid])), "utf-8")
                except BaseException:
                    import traceback

                    traceback.print_exc()
                    code = 3
                os._exit(code)
            running[pid] = oid
        while running:
            reap()
    json.dump([r for oid in oids for r in results[oid]], sys.stdout)
    return 0


# --------------------------------------------------------------------------- the run


@dataclass
class World:
    units: list[Unit]
    git: dict[tuple[str, str], GitAnswer]
    sq: dict[tuple[str, str], SqAnswer]
    run: dict[tuple[str, str], dict[str, Any]]
    run_how: str
    alone: dict[tuple[str, str], dict[str, Any]]
    keys: dict[str, KeyInfo]
    sq_invalid: set[str]  # primary key ids of the certificates sq cannot use now
    timings: dict[str, float]

    def case(self, unit: Unit) -> Case:
        return Case(unit, self.git[unit.key], self.run[unit.key], self.sq.get(unit.key), self.keys)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("realworld")
    env = tool_env(base / "home", gnupghome=base / "gnupg")
    try:
        yield build_world(base, env)
    finally:  # importing keys started a gpg-agent for this home
        subprocess.run(["gpgconf", "--kill", "all"], env=env, capture_output=True, check=False)


def build_world(base: Path, env: dict[str, str]) -> World:
    timings: dict[str, float] = {}
    t0 = time.monotonic()

    # Trust: the corpus certificates, ultimately trusted; gpgsm never goes online.
    certs = sorted(KEYS.glob("*.asc"))
    assert certs, f"no certificates in {KEYS}"
    trust_ultimately(env, certs)
    keys = gpg_keys(env)
    allowed = base / "allowed_signers"
    allowed.write_text("")

    # The repository: every object (and every mergetag as a tag object), literally.
    repo = base / "corpus.git"
    subprocess.run(["git", "init", "-q", "--bare", str(repo)], env=env, check=True)
    subprocess.run(
        ["git", "-C", str(repo), "config", "gpg.ssh.allowedSignersFile", str(allowed)],
        env=env,
        check=True,
    )
    objects = load_corpus()
    units = [u for obj in objects for u in units_of(obj)]
    for u in units:
        typ = "tag" if u.kind != "commit" else "commit"
        got = subprocess.run(
            ["git", "-C", str(repo), "hash-object", "-t", typ, "-w", "--literally", "--stdin"],
            env=env,
            input=u.raw,
            capture_output=True,
            check=True,
        ).stdout.decode()
        assert got.strip() == u.oid, f"{u.label()}: git hashes it to {got.strip()}"
    timings["setup"] = time.monotonic() - t0

    # git's verdicts and sq's, two processes at a time.
    t0 = time.monotonic()
    scratch = base / "sq"
    scratch.mkdir()

    def git_of(u: Unit) -> GitAnswer:
        if u.kind == "commit":
            return git_commit_verdict(repo, env, u.oid)
        return git_tag_verdict(repo, env, u)

    # gpgsm stores the certificates it meets in the keybox gpg reads (pubring.kbx): a
    # gpg reading it meanwhile may find no key and say E. X.509 objects go first, alone.
    git = {u.key: git_of(u) for u in units if u.format == "x509"}
    rest = [u for u in units if u.format != "x509"]
    with ThreadPoolExecutor(WORKERS) as pool:
        git.update(zip([u.key for u in rest], pool.map(git_of, rest), strict=True))
    timings["git"] = time.monotonic() - t0
    t0 = time.monotonic()
    pgp_units = [u for u in units if u.format == "openpgp"]
    with ThreadPoolExecutor(WORKERS) as pool:
        sq_answers = pool.map(lambda u: sq_verdict(u, scratch, certs), pgp_units)
        sq = dict(zip([u.key for u in pgp_units], sq_answers, strict=True))
    timings["sq"] = time.monotonic() - t0

    # gitguard: everything in one shuffled run, then each object alone.
    trust_args = [a for c in certs for a in ("--openpgp-key", str(c))]
    trust_args += ["--allowed-signers", str(allowed)]
    oids = [o.oid for o in objects]
    shuffled = list(oids)
    random.Random(SEED).shuffle(shuffled)  # noqa: S311 - an order, not a secret
    t0 = time.monotonic()
    run_results, how = gitguard_one_run(repo, env, trust_args, shuffled, base / "audit.json")
    timings["gitguard run"] = time.monotonic() - t0
    t0 = time.monotonic()
    alone_results = gitguard_alone(repo, env, trust_args, oids)
    timings["gitguard alone"] = time.monotonic() - t0
    return World(
        units,
        git,
        sq,
        index_results(run_results),
        how,
        index_results(alone_results),
        keys,
        sq_invalid_certs(certs, env),
        timings,
    )


# --------------------------------------------------------------------------- tests


def test_manifest_indexes_every_file_exactly() -> None:
    """The manifest lists every corpus file once; each file hashes to its name; the
    corpus stays small and carries both key files."""
    manifest = json.loads(MANIFEST.read_text("utf-8"))
    listed = [str(o["path"]) for o in manifest["objects"]]
    assert len(listed) == len(set(listed)), "a file is listed twice"
    on_disk = sorted(
        str(p.relative_to(CORPUS)) for p in CORPUS.glob("*/*") if p.suffix in (".commit", ".tag")
    )
    assert sorted(listed) == on_disk
    total = 0
    for o in manifest["objects"]:
        raw = (CORPUS / o["path"]).read_bytes()
        total += len(raw)
        algo = o["object_format"]
        oid = hashlib.new(algo, f"{o['type']} {len(raw)}\x00".encode() + raw).hexdigest()
        assert oid == o["oid"], o["path"]
        assert o["path"] == f"{o['source']}/{o['oid']}.{o['type']}"
        assert o["repository"] == manifest["sources"][o["source"]]["repository"]
    assert total < MAX_CORPUS_BYTES
    assert sorted(p.name for p in KEYS.glob("*.asc")) == [
        "git-junio-hamano.asc",
        "github-web-flow.asc",
    ]


def test_gitguard_splits_as_git_does(world: World) -> None:
    """gitguard's parser hands the verifier git's exact payload and signature (where
    it does not refuse the object as malformed)."""
    from gitguard.gitobjects import parse_commit, parse_tag
    from gitguard.model import Kind

    wrong = []
    for obj in {u.carrier.oid: u.carrier for u in world.units}.values():
        algo = "sha1" if len(obj.oid) == 40 else "sha256"
        if obj.type == "commit":
            facts = parse_commit(obj.oid, obj.raw, algo)
        else:
            facts = [parse_tag(obj.oid, obj.raw)]
        for f in facts:
            kind = {Kind.COMMIT: "commit", Kind.TAG: "tag", Kind.MERGETAG: "mergetag"}[f.kind]
            unit = next(u for u in world.units if u.key == (kind, f.oid))
            if f.malformed is None and (f.payload, f.signature) != (unit.payload, unit.signature):
                wrong.append(unit.label())
    assert not wrong, "payload/signature differ from git's split:\n" + "\n".join(wrong)


def test_gitguard_agrees_with_git(world: World) -> None:
    """gitguard's git code equals git's for every object, except where exactly one
    deliberate difference explains it."""
    unexplained: list[str] = []
    classes: Counter[str] = Counter()
    for unit in world.units:
        case = world.case(unit)
        if case.code == case.git.code:
            classes["same"] += 1
            continue
        names = [d.name for d in DIFFERENCES if d.applies(case)]
        if len(names) == 1:
            classes[names[0]] += 1
            continue
        why = "no deliberate difference applies" if not names else f"ambiguous: {names}"
        unexplained.append(
            f"{unit.label()}: git {case.git.code} {case.git.detail or case.git.key}, "
            f"gitguard {case.status}/{case.code} ({case.ours.get('reason', '')}) "
            f"[{', '.join(unit.carrier.groups)}] — {why}"
        )
    summary = ", ".join(f"{k} {n}" for k, n in sorted(classes.items()))
    print(f"\n{len(world.units)} judgements: {summary}; gitguard ran as {world.run_how}")
    print("timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in world.timings.items()))
    by_kind = Counter(
        f"git {line.split(': git ')[1].split(' ')[0]} / gitguard "
        + line.split(", gitguard ")[1].split(" ")[0]
        for line in unexplained
    )
    assert not unexplained, (
        f"{len(unexplained)} unexplained differences from git "
        f"({', '.join(f'{k}: {n}' for k, n in by_kind.most_common())}):\n"
        + "\n".join(sorted(unexplained))
    )


def _followed(case: Case) -> str:
    if case.code == case.git.code:
        return "gpg"
    names = [d for d in DIFFERENCES if d.applies(case)]
    if len(names) == 1 and names[0].follows is not None:
        return names[0].follows
    return "gpg"


def _split_label(world: World, case: Case) -> str:
    """Why gpg and sq disagree, from facts (for the report; decides nothing)."""
    assert case.sq is not None
    pgp = case.unit.pgp
    labels = []
    if case.sq.nonminimal and not case.sq.accepted and case.sq.value_accepted:
        labels.append("sq refuses a non-minimal MPI encoding")
    gpg_ok = case.git.code == "G"
    if gpg_ok != case.sq.value_accepted:
        key = world.keys.get(pgp.issuer) if pgp else None
        if case.git.code == "Y" and case.sq.value_accepted:
            labels.append("key expired since: gpg EXPKEYSIG, sq judges it at the signature's time")
        elif key is not None and key.primary in world.sq_invalid and gpg_ok:
            labels.append("sq cannot use the certificate (SHA-1 self-signatures, sq's policy)")
        else:
            labels.append("unclassified")
    return "; ".join(labels)


def test_openpgp_follows_its_oracle(world: World) -> None:
    """For each OpenPGP signature gitguard accepts exactly when the oracle the table
    names accepts: gpg (git G) by default, sq where gitguard follows Sequoia (asked with
    minimal MPIs: a non-minimal encoding is read as gpg reads it), neither where it
    refuses. Where gpg and sq disagree is printed (and written to
    ``$REALWORLD_REPORT``) for the corpus README."""
    wrong: list[str] = []
    disagreements: list[dict[str, Any]] = []
    both_refuse: list[str] = []
    for unit in world.units:
        if unit.format != "openpgp":
            continue
        case = world.case(unit)
        assert case.sq is not None
        gpg_ok = case.git.code == "G"
        ours_ok = case.status == "good"
        follows = _followed(case)
        want = {"gpg": gpg_ok, "sq": case.sq.value_accepted, "refuse": False}[follows]
        if ours_ok != want:
            wrong.append(
                f"{unit.label()}: follows {follows}: gpg {'accepts' if gpg_ok else 'refuses'} "
                f"({case.git.code}), sq {'accepts' if case.sq.value_accepted else 'refuses'} "
                f"({case.sq.detail}), gitguard {case.status} ({case.ours.get('reason', '')})"
            )
        if not gpg_ok and not case.sq.accepted and ours_ok:
            both_refuse.append(f"{unit.label()}: gpg {case.git.code}, sq {case.sq.detail}")
        if gpg_ok != case.sq.accepted:
            pgp = unit.pgp
            disagreements.append(
                {
                    "object": unit.oid,
                    "kind": unit.kind,
                    "source": unit.carrier.source,
                    "groups": list(unit.carrier.groups),
                    "gpg": case.git.code,
                    "sq": "accepts" if case.sq.accepted else "refuses",
                    "sq_detail": case.sq.detail,
                    "gitguard": case.status,
                    "follows": follows,
                    "why": _split_label(world, case),
                    "hash_algo": pgp.hash_algo if pgp else None,
                    "packet_version": pgp.version if pgp else None,
                }
            )
    report = os.environ.get("REALWORLD_REPORT")
    if report:
        Path(report).write_text(json.dumps(disagreements, indent=1) + "\n", "utf-8")
    by_why = Counter(
        (d["why"], f"gpg {d['gpg']}", f"sq {d['sq']}", f"gitguard {d['gitguard']}")
        for d in disagreements
    )
    print(f"\ngpg and sq disagree on {len(disagreements)} OpenPGP signatures:")
    for (why, g, q, ours), n in by_why.most_common():
        example = next(
            d["object"]
            for d in disagreements
            if (d["why"], f"gpg {d['gpg']}", f"sq {d['sq']}", f"gitguard {d['gitguard']}")
            == (why, g, q, ours)
        )
        print(f"  {n:4d}  {g}, {q}, {ours}: {why} (e.g. {example})")
    print(
        f"gitguard accepts {len(both_refuse)} signatures both refuse, each for a reason it "
        "deliberately does not follow (gpg: key expired since; sq: MPI encoding), e.g.:"
    )
    for line in both_refuse[:3]:
        print(f"  {line}")
    assert not wrong, (
        f"{len(wrong)} OpenPGP verdicts differ from the oracle gitguard follows:\n"
        + "\n".join(sorted(wrong))
    )


def test_verdicts_do_not_depend_on_the_run(world: World) -> None:
    """Range independence: each object verified alone (a fresh process) gets the same
    status, git code and key as in the one shuffled run of all objects."""
    assert world.alone.keys() == world.run.keys()
    assert {u.key for u in world.units} == set(world.run)
    differ = []
    for key, ours in world.run.items():
        alone = world.alone[key]
        a = (alone["status"], alone["git_code"], alone["key"])
        b = (ours["status"], ours["git_code"], ours["key"])
        if a != b:
            differ.append(f"{key[0]} {key[1]}: alone {a}, in the run {b}")
    assert not differ, "verdicts depend on the run:\n" + "\n".join(differ)


if __name__ == "__main__":
    sys.exit(_helper_main(sys.argv[1:]))
