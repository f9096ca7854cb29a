"""What an audit produces, shared by the walk (:mod:`gitguard.audit.run`) and the
writers (:mod:`gitguard.audit.report`): compact batches of verdicts and the counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

from gitguard.evaluate import Verdict
from gitguard.model import Status


class Batch(NamedTuple):
    """The verdicts on a run of objects, compact for the trip from a worker: what a
    report and the summary need, without a :class:`Verdict` per good object.

    ``json`` is the JSON report's text for every verdict, in order, joined by
    :data:`gitguard.audit.report.RESULT_SEPARATOR`; ``counts`` holds
    ``((status, kind, signer), n)`` for the summary; ``offending`` the verdicts that
    are not good, in order, with their subject and author.
    """

    json: str
    size: int
    counts: list[tuple[tuple[str, str, str | None], int]]
    offending: list[Verdict]


@dataclass
class Summary:
    """Counts only: the audit never holds all verdicts."""

    total: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_signer: dict[str, Counter[str]] = field(default_factory=dict)
    by_kind: Counter[str] = field(default_factory=Counter)

    def add(self, v: Verdict) -> None:
        self.total += 1
        self.by_status[v.status.value] += 1
        self.by_kind[v.kind.value] += 1
        if v.signer is not None:
            self.by_signer.setdefault(v.signer, Counter())[v.status.value] += 1

    def add_batch(self, batch: Batch) -> None:
        self.total += batch.size
        for (status, kind, signer), n in batch.counts:
            self.by_status[status] += n
            self.by_kind[kind] += n
            if signer is not None:
                self.by_signer.setdefault(signer, Counter())[status] += n

    @property
    def ok(self) -> bool:
        return self.total == self.by_status.get(Status.GOOD.value, 0)

    def to_json(self) -> dict[str, object]:
        return {
            "total": self.total,
            "ok": self.ok,
            "by_status": dict(sorted(self.by_status.items())),
            "by_kind": dict(sorted(self.by_kind.items())),
            "by_signer": {
                name: dict(sorted(counts.items()))
                for name, counts in sorted(self.by_signer.items())
            },
        }
