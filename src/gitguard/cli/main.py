"""The ``guard`` / ``git-guard`` command line. The only place that prints and picks
exit codes: 0 ok, 1 violations or expected failure, 2 usage or policy error,
3 internal error (a bug: versions and traceback are printed), 130 interrupted."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

from gitguard import __version__
from gitguard._text import color_enabled
from gitguard.errors import EXIT_CODES, GuardError, UsageError, bug_report, failure

if TYPE_CHECKING:
    from gitguard.model import TrustStore
    from gitguard.trust.policy import Policy


# Further command groups. Each module defines ``register(subparsers)``, adding its
# subcommands with ``set_defaults(func=handler)`` where ``handler(args) -> int``.
# Keep these modules to argparse definitions: their heavy imports belong inside the
# handlers, so ``guard --help`` and the hook paths stay fast.
COMMAND_MODULES: tuple[str, ...] = (
    "gitguard.cli.client",
    "gitguard.cli.server",
    "gitguard.cli.image",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="guard",
        description="Verify that commits and tags are signed by keys your policy trusts.",
    )
    p.add_argument("--version", action="version", version=f"gitguard {__version__}")
    p.add_argument(
        "-C", dest="chdir", metavar="PATH", help="run as if started in PATH (like git -C)"
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    a = sub.add_parser(
        "audit",
        help="verify the signatures of a revision range or the whole history",
        description=(
            "Verify every commit (and annotated tag, and mergetag) in the given revision "
            "range, or in every ref with --all. Without --policy or key options, trusts "
            "what this repository's git trusts: gpg.ssh.allowedSignersFile and the GnuPG "
            "keyring (keys with full or ultimate validity). Exit 0 when every object is "
            "good, 1 when any is not, 2 on usage or policy errors."
        ),
    )
    a.add_argument(
        "revisions",
        nargs="*",
        metavar="REVISION-RANGE",
        help="revisions as git rev-list takes them (default: HEAD)",
    )
    a.add_argument(
        "--all", action="store_true", dest="all_refs", help="every ref, and every annotated tag"
    )
    a.add_argument(
        "--no-walk",
        action="store_true",
        help="audit only the named commits and annotated tags (and the mergetags of the "
        "commits), not their history, like git rev-list --no-walk; their parents need not "
        "be in the repository",
    )
    a.add_argument("--policy", type=Path, metavar="FILE", help="gitguard policy (TOML)")
    a.add_argument(
        "--allowed-signers",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="trust the keys in an SSH allowed_signers file",
    )
    a.add_argument(
        "--openpgp-key",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="trust the OpenPGP certificate(s) in FILE (armored or binary)",
    )
    a.add_argument(
        "--sigstore-identity",
        action="append",
        default=[],
        metavar="ID",
        help="trust gitsign (keyless) signatures by this certificate identity; each needs "
        "a --sigstore-issuer (repeatable pairs)",
    )
    a.add_argument(
        "--sigstore-issuer",
        action="append",
        default=[],
        metavar="ISSUER",
        help="the OIDC issuer of the preceding --sigstore-identity",
    )
    a.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    a.add_argument(
        "--jobs", "-j", type=int, metavar="N", help="worker processes (default: all cores)"
    )
    a.add_argument(
        "--output",
        "-o",
        type=Path,
        metavar="FILE",
        help="write the report to FILE instead of standard output",
    )

    d = sub.add_parser(
        "demo",
        help="build a throwaway repository with good and bad commits and audit it",
        description=(
            "Create a temporary repository with signed, unsigned, tampered and "
            "unknown-key commits (throwaway SSH keys; your own keys and config are not "
            "touched) and run guard audit on it."
        ),
    )
    d.add_argument("--keep", type=Path, metavar="DIR", help="build the demo in DIR and keep it")
    a.set_defaults(func=cmd_audit)
    d.set_defaults(func=cmd_demo)
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        module.register(sub)
    return p


def load_trust(
    repo_path: str | None,
    policy_path: Path | None,
    allowed_signers: Sequence[Path],
    openpgp_keys: Sequence[Path],
    sigstore: Sequence[tuple[str, str]] = (),
) -> tuple[TrustStore, Policy | None]:
    """The trust store and policy an audit uses (see ``guard audit --help``).
    ``sigstore`` are (identity, issuer) pairs trusted in addition to the policy."""

    from gitguard.model import SigstoreIdentity, TrustStore, X509Trust

    policy: Policy | None = None
    ssh: list = []  # type: ignore[type-arg]
    pgp: list = []  # type: ignore[type-arg]
    if policy_path is not None:
        from gitguard.trust.policy import load_policy_file

        policy = load_policy_file(policy_path)
        ssh.extend(policy.trust.ssh)
        pgp.extend(policy.trust.openpgp)
    if allowed_signers or openpgp_keys:
        from gitguard.trust.files import load_key_files

        extra = load_key_files(allowed_signers, openpgp_keys, policy=policy)
        ssh.extend(extra.ssh)
        pgp.extend(extra.openpgp)
    x509 = policy.trust.x509 if policy is not None else X509Trust()
    if sigstore:
        extra_ids = tuple(
            SigstoreIdentity(signer=i, issuer=iss, identity=i, source="--sigstore-identity")
            for i, iss in sigstore
        )
        x509 = x509._replace(sigstore=x509.sigstore + extra_ids)
    if policy is None and not allowed_signers and not openpgp_keys and not sigstore:
        from gitguard.trust.gittrust import collect_git_trust

        store, notes = collect_git_trust(Path(repo_path or "."))
        for note in notes:
            sys.stderr.write(f"guard: note: {note}\n")
        return store, None
    sha1 = policy.trust.sha1_self_signatures if policy is not None else "warn"
    store = TrustStore(ssh=tuple(ssh), openpgp=tuple(pgp), x509=x509, sha1_self_signatures=sha1)
    return store, policy


class _Progress:
    """A one-line progress meter on a terminal's stderr; silent otherwise."""

    def __init__(self, total: int, stream: IO[str]) -> None:
        self.total = total
        self.stream = stream
        self.done = 0
        self.start = time.monotonic()
        self.last = 0.0

    def tick(self) -> None:
        self.done += 1
        now = time.monotonic()
        if now - self.last < 0.1:
            return
        self.last = now
        rate = self.done / max(now - self.start, 1e-6)
        pct = min(100, 100 * self.done // max(self.total, 1))
        width = 30
        filled = width * pct // 100
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(f"\r[{bar}] {pct:3d}% {self.done}/{self.total} objects {rate:,.0f}/s ")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\r" + " " * 79 + "\r")
        self.stream.flush()


def cmd_audit(args: argparse.Namespace) -> int:
    from gitguard.audit.report import JsonReport, Report, SarifReport, TextReport
    from gitguard.audit.results import Batch
    from gitguard.audit.run import AuditSpec, default_jobs, run_audit, select
    from gitguard.gitobjects import open_repo

    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    repo = open_repo(args.chdir)
    if len(args.sigstore_identity) != len(args.sigstore_issuer):
        raise UsageError("each --sigstore-identity needs one --sigstore-issuer (in pairs)")
    trust, policy = load_trust(
        args.chdir,
        args.policy,
        args.allowed_signers,
        args.openpgp_key,
        list(zip(args.sigstore_identity, args.sigstore_issuer, strict=True)),
    )
    # Validates the revisions before any output, and sizes the progress bar.
    selection = select(repo, args.revisions, all_refs=args.all_refs, no_walk=args.no_walk)
    total = selection.total
    jobs = args.jobs or default_jobs()
    if total < 2 * 256:
        jobs = 1  # not worth starting workers

    out: IO[str]
    if args.output is not None:
        try:
            out = open(args.output, "w", encoding="utf-8")  # noqa: SIM115
        except OSError as e:
            raise GuardError(f"cannot write {args.output}: {e.strerror}") from e
    else:
        out = sys.stdout
    report: Report
    if args.format == "json":
        report = JsonReport(out)
    elif args.format == "sarif":
        report = SarifReport(out)
    else:
        report = TextReport(out, color=args.output is None and color_enabled(sys.stdout))

    from gitguard.signatures import trust_warnings

    report.warn(trust_warnings(trust))
    progress = _Progress(total, sys.stderr) if sys.stderr.isatty() else None

    def sink(batch: Batch) -> None:
        report.add_batch(batch)
        if progress is not None and batch.size:
            progress.done += batch.size - 1
            progress.tick()

    try:
        spec = AuditSpec(repo=repo, trust=trust, policy=policy)
        summary = run_audit(
            spec, args.revisions, all_refs=args.all_refs, jobs=jobs, sink=sink, selection=selection
        )
        if progress is not None:
            progress.close()
        report.finish(summary)
    finally:
        if out is not sys.stdout:
            out.close()
        else:
            out.flush()
    if selection.problems:
        # Each has a malformed verdict in the report; the audit is incomplete too.
        n = len(selection.problems)
        sys.stderr.write(
            f"guard: incomplete audit: git cannot walk past {n} object{'s' if n != 1 else ''} "
            "(reported as malformed); the history behind "
            f"{'them' if n != 1 else 'it'} was not audited:\n"
        )
        for p in selection.problems:
            sys.stderr.write(f"  {p.oid}: {p.reason}\n")
        return 1
    return 0 if summary.ok else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from gitguard.cli.demo import run_demo

    return run_demo(args.keep, sys.stdout)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        if args.command is None:
            _parser().print_help(sys.stderr)
            return 2
        result: int = args.func(args)
        return result
    except BrokenPipeError:
        # Output closed early (e.g. `guard audit | head`): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except (Exception, KeyboardInterrupt) as e:
        what = failure(e)
        if what.kind == "policy":
            sys.stderr.write(f"guard: invalid trust configuration ({what.message}):\n")
        elif what.kind == "bug":
            sys.stderr.write(
                "guard: internal error — this is a bug in gitguard, please report it with "
                "the text below.\n" + bug_report(e)
            )
        else:
            sys.stderr.write(f"guard: {what.message}\n")
        for line in what.details:
            sys.stderr.write(f"  {line}\n")
        return EXIT_CODES[what.kind]
