"""``guard audit``: walk history, verify every signature in parallel, stream verdicts.

Memory stays flat: commit ids stream from ``git rev-list`` in chunks to worker
processes, each of which reads objects through its own ``git cat-file --batch``,
verifies in-process and returns compact verdicts; the caller consumes verdicts one
at a time (writing JSON as it goes) and only counters are kept.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from gitguard.audit.report import RESULT_SEPARATOR, JsonEncoder
from gitguard.audit.results import Batch, Summary
from gitguard.evaluate import Verdict, evaluate
from gitguard.gitobjects import (
    ObjectReader,
    Repo,
    Walk,
    WalkProblem,
    commit_details,
    named_objects,
    parse_commit,
    parse_tag,
    plan_walk,
    rev_list,
    tag_objects,
    tag_target,
)
from gitguard.model import Kind, SignedObject, Status, TrustStore, Verification
from gitguard.signatures import Verifier

if TYPE_CHECKING:
    from gitguard.trust.policy import Policy

CHUNK = 256  # commits per worker task


@dataclass(frozen=True)
class AuditSpec:
    """Everything a worker needs; pickled once per worker."""

    repo: Repo
    trust: TrustStore
    policy: Policy | None


class Checker:
    """Reads, verifies and evaluates objects. One per process."""

    def __init__(self, spec: AuditSpec) -> None:
        self.spec = spec
        self.reader = ObjectReader(spec.repo)
        self.verifier = Verifier(spec.trust)

    def close(self) -> None:
        self.reader.close()

    def facts(self, oids: Sequence[str]) -> Iterator[SignedObject]:
        fmt = self.spec.repo.object_format
        for oid, typ, data in self.reader.read_many(oids):
            yield from _facts(oid, typ, data, fmt, details=True)

    def verification(self, obj: SignedObject) -> Verification | None:
        """The signature's verification (``None``: unsigned or malformed object)."""
        if obj.malformed is None and obj.signature is not None:
            return self.verifier.verify(obj.payload, obj.signature, when=obj.time)
        return None

    def judge(self, obj: SignedObject) -> Verdict:
        return evaluate(obj, self.verification(obj), self.spec.policy)

    def check(self, oids: Sequence[str]) -> list[Verdict]:
        return [self.judge(obj) for obj in self.facts(oids)]

    def check_batch(self, oids: Sequence[str], encoder: JsonEncoder) -> Batch:
        """:meth:`check`, compact: a commit's author and subject are only read for
        a verdict that is not good (no decision depends on them)."""
        fmt = self.spec.repo.object_format
        judge = self.judge
        encode = encoder.encode
        texts: list[str] = []
        counts: dict[tuple[str, str, str | None], int] = {}
        offending: list[Verdict] = []
        good = Status.GOOD
        for oid, typ, data in self.reader.read_many(oids):
            for obj in _facts(oid, typ, data, fmt, details=False):
                v = judge(obj)
                status = v.status
                if status is not good:
                    if typ == "commit" and obj.kind is Kind.COMMIT:
                        author, subject = commit_details(data)
                        v = v._replace(author=author, subject=subject)
                    offending.append(v)
                texts.append(encode(v))
                key = (status.value, v.kind.value, v.signer)
                counts[key] = counts.get(key, 0) + 1
        return Batch(RESULT_SEPARATOR.join(texts), len(texts), list(counts.items()), offending)


def _facts(oid: str, typ: str, data: bytes, fmt: str, *, details: bool) -> list[SignedObject]:
    if typ == "commit":
        return parse_commit(oid, data, fmt, details=details)
    if typ == "tag":
        return [parse_tag(oid, data)]
    if typ == "missing":
        why = "object is not in the repository (or git cannot read it)"
    elif typ == "unreadable":
        why = f"git cannot read this object ({data.decode('utf-8', 'replace')})"
    else:
        why = f"object is a {typ}, expected a commit or tag"
    return [SignedObject(oid=oid, kind=Kind.COMMIT, payload=b"", signature=None, malformed=why)]


def batch_of(verdicts: Iterable[Verdict], encoder: JsonEncoder) -> Batch:
    """Verdicts already decided, as a :class:`Batch`."""
    texts: list[str] = []
    counts: dict[tuple[str, str, str | None], int] = {}
    offending: list[Verdict] = []
    for v in verdicts:
        if not v.ok:
            offending.append(v)
        texts.append(encoder.encode(v))
        key = (v.status.value, v.kind.value, v.signer)
        counts[key] = counts.get(key, 0) + 1
    return Batch(RESULT_SEPARATOR.join(texts), len(texts), list(counts.items()), offending)


_worker: Checker | None = None
_encoder = JsonEncoder()


def _init_worker(spec: AuditSpec) -> None:
    global _worker  # noqa: PLW0603 - one checker per worker process, by design
    _worker = Checker(spec)


def _work_batch(oids: list[str]) -> Batch:
    if _worker is None:  # pragma: no cover - the pool initializer always runs first
        raise RuntimeError("audit worker used before initialisation")
    return _worker.check_batch(oids, _encoder)


def _chunks(it: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for oid in it:
        chunk.append(oid)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _tag_closure(
    checker: Checker, start: Sequence[str], problems: Sequence[WalkProblem] = ()
) -> Iterator[Verdict]:
    """Verify tag objects, following tags that point at tags (each once), then the
    objects git's walk could not get past (each ``malformed``, with git's reason
    added to ours)."""
    unwalkable = {p.oid: p.reason for p in problems}
    seen: set[str] = set()
    todo = [*start, *unwalkable]
    while todo:
        oid = todo.pop(0)
        if oid in seen:
            continue
        seen.add(oid)
        for fact in checker.facts([oid]):
            why = unwalkable.get(fact.oid) if fact.kind is not Kind.MERGETAG else None
            obj = fact
            if why is not None:
                obj = fact._replace(malformed=f"{fact.malformed}; {why}" if fact.malformed else why)
            yield checker.judge(obj)
            if obj.kind is Kind.TAG and obj.malformed is None:
                target, typ = tag_target(obj.payload)
                if typ == "tag":
                    todo.append(target)


class Selection(NamedTuple):
    """What an audit reads: ``tags`` (and the tags they point at), the ``named``
    objects of ``--no-walk`` (exactly those), and the commits of a git ``walk``,
    with the objects that walk could not get past."""

    tags: tuple[str, ...]
    named: tuple[str, ...]
    walk: Walk | None

    @property
    def problems(self) -> tuple[WalkProblem, ...]:
        return self.walk.problems if self.walk is not None else ()

    @property
    def total(self) -> int:
        """Objects to audit, for progress (tags pointing at tags and mergetags aside)."""
        walked = self.walk.total + len(self.walk.problems) if self.walk is not None else 0
        return len(self.tags) + len(self.named) + walked


def select(repo: Repo, revisions: Sequence[str], *, all_refs: bool, no_walk: bool) -> Selection:
    """What ``revisions`` / ``all_refs`` name: checked before any verdict (a bad
    revision is a :class:`~gitguard.errors.GitError` here) and counted. With
    ``no_walk`` the named commits and tags themselves, else their history."""
    if no_walk:
        return Selection((), tuple(named_objects(repo, revisions, all_refs=all_refs)), None)
    walk = plan_walk(repo, revisions, all_refs=all_refs)
    return Selection(tuple(tag_objects(repo, revisions, all_refs=all_refs)), (), walk)


def _named(oids: Sequence[str]) -> Generator[str, None, None]:
    yield from oids


def run_audit(
    spec: AuditSpec,
    revisions: Sequence[str],
    *,
    all_refs: bool,
    jobs: int,
    sink: Callable[[Batch], None],
    no_walk: bool = False,
    selection: Selection | None = None,
) -> Summary:
    """Audit the tags and commits named by ``revisions`` / ``all_refs`` (and their
    history, unless ``no_walk``), handing the verdicts to ``sink`` a :class:`Batch`
    at a time as they are decided (workers encode the JSON report's text and keep
    only the offending verdicts, so the main process stays light); return the
    counts. ``selection`` is :func:`select`'s answer, when the caller has it."""
    if selection is None:
        selection = select(spec.repo, revisions, all_refs=all_refs, no_walk=no_walk)
    summary = Summary()
    encoder = JsonEncoder()

    def emit(batch: Batch) -> None:
        summary.add_batch(batch)
        sink(batch)

    tags = selection.tags
    commits = (
        rev_list(spec.repo, revisions, all_refs=all_refs, walk=selection.walk)
        if selection.walk is not None
        else _named(selection.named)
    )
    if jobs <= 1:
        checker = Checker(spec)
        try:
            emit(batch_of(_tag_closure(checker, tags, selection.problems), encoder))
            for chunk in _chunks(commits, CHUNK):
                emit(checker.check_batch(chunk, encoder))
        finally:
            checker.close()
        return summary

    ctx = multiprocessing.get_context("fork")
    with (
        contextlib.closing(commits),
        ctx.Pool(jobs, initializer=_init_worker, initargs=(spec,)) as pool,
    ):
        checker = Checker(spec)
        try:
            emit(batch_of(_tag_closure(checker, tags, selection.problems), encoder))
        finally:
            checker.close()
        for batch in pool.imap(_work_batch, _chunks(commits, CHUNK)):
            emit(batch)
    return summary


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1
