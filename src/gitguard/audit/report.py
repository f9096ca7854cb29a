"""Audit reports: text for people, JSON (a stable contract) and SARIF 2.1.0 for
machines. Writers stream: ``add`` is called once per verdict, ``finish`` once.
``warn`` hands over what the trust store accepts but its owners should fix (see
:func:`gitguard.signatures.trust_warnings`), at most once, before ``finish``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Protocol

from gitguard import __version__
from gitguard.evaluate import HINTS
from gitguard.model import Status, TrustWarning

if TYPE_CHECKING:
    from gitguard.audit.results import Batch, Summary
    from gitguard.evaluate import Verdict

JSON_VERSION = 1
TEXT_LISTING_CAP = 200  # offending objects listed in the text report


class Report(Protocol):
    def add(self, v: Verdict) -> None: ...
    def add_batch(self, batch: Batch) -> None: ...
    def warn(self, warnings: Sequence[TrustWarning]) -> None: ...
    def finish(self, summary: Summary) -> None: ...


RESULT_SEPARATOR = ",\n  "
"""Between two results of the JSON report (and in :attr:`Batch.json`)."""


class JsonEncoder:
    """One verdict as the JSON report's result text, exactly as
    ``json.dumps(v.to_json(), ensure_ascii=False)``.

    Everything but the object id repeats across an audit (same key, same reason), so
    the rest of the text is encoded once per distinct verdict shape and cached.
    """

    _LIMIT = 4096

    def __init__(self) -> None:
        self._cache: dict[tuple[object, ...], str] = {}

    def encode(self, v: Verdict) -> str:
        # Every field but object, subject and author (not in the JSON) is in the key.
        key = v[1:10] + v[12:]
        rest = self._cache.get(key)
        if rest is None:
            doc = v.to_json()
            del doc["object"]
            rest = json.dumps(doc, ensure_ascii=False)[1:]
            if len(self._cache) >= self._LIMIT:
                self._cache.clear()
            self._cache[key] = rest
        oid = v.object
        # A git object id needs no escaping; anything else (a damaged tag's target) is
        # encoded properly.
        head = '"' + oid + '"' if oid.isalnum() else json.dumps(oid, ensure_ascii=False)
        return '{"object": ' + head + ", " + rest


class JsonReport:
    """``{"version": 1, "results": [...], "summary": {...}}``, written as it goes."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out
        self._first = True
        self._warnings: list[dict[str, str]] = []
        out.write(f'{{"version": {JSON_VERSION}, "results": [')

    def warn(self, warnings: Sequence[TrustWarning]) -> None:
        self._warnings = [{"key": w.key, "message": w.message} for w in warnings]

    def add(self, v: Verdict) -> None:
        self._out.write("\n  " if self._first else RESULT_SEPARATOR)
        self._first = False
        self._out.write(json.dumps(v.to_json(), ensure_ascii=False))

    def add_batch(self, batch: Batch) -> None:
        if not batch.size:
            return
        self._out.write("\n  " if self._first else RESULT_SEPARATOR)
        self._first = False
        self._out.write(batch.json)

    def finish(self, summary: Summary) -> None:
        self._out.write('\n], "warnings": ')
        self._out.write(json.dumps(self._warnings, ensure_ascii=False))
        self._out.write(', "summary": ')
        self._out.write(json.dumps(summary.to_json(), ensure_ascii=False))
        self._out.write("}\n")


_RULE_TEXT: dict[Status, str] = {
    Status.UNSIGNED: "Object is not signed",
    Status.BAD_SIGNATURE: "Signature does not verify over the object",
    Status.UNKNOWN_KEY: "Signed by a key the trust store does not contain",
    Status.NOT_ALLOWED: "Signer not allowed by the policy",
    Status.EXPIRED_KEY: "Signed by an expired or retired key",
    Status.REVOKED_KEY: "Signed by a revoked or compromised key",
    Status.NOT_YET_VALID: "Signed before the key was valid",
    Status.IDENTITY_MISMATCH: "Signer identity does not match the committer",
    Status.WEAK_ALGORITHM: "Signature uses an algorithm the policy refuses",
    Status.UNPROVEN_TIME: "Signing time not proven by a transparency log",
    Status.MALFORMED: "Object or signature cannot be parsed",
}


class SarifReport:
    """SARIF 2.1.0: one result per non-good verdict; rules are the statuses."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out
        self._first = True
        self._notes: list[dict[str, object]] = []
        rules = [
            {
                "id": status.value,
                "name": "".join(p.title() for p in status.value.split("-")),
                "shortDescription": {"text": text},
                "help": {"text": HINTS[status]},
                "defaultConfiguration": {"level": "error"},
            }
            for status, text in _RULE_TEXT.items()
        ]
        head = {
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
        }
        driver = {
            "name": "gitguard",
            "version": __version__,
            "informationUri": "https://github.com/gitguard/gitguard",
            "rules": rules,
        }
        text = json.dumps(head)[:-1]
        out.write(text + ', "runs": [{"tool": {"driver": ' + json.dumps(driver) + '}, "results": [')

    def add(self, v: Verdict) -> None:
        if v.ok:
            return
        result = {
            "ruleId": v.status.value,
            "level": "error",
            "message": {
                "text": f"{v.kind.value} {v.object[:12]} {v.subject!r}: {v.status.value}: "
                f"{v.reason}. Fix: {v.hint}"
            },
            "locations": [
                {
                    "logicalLocations": [
                        {"name": v.object, "kind": "object", "fullyQualifiedName": v.kind.value}
                    ]
                }
            ],
            "partialFingerprints": {"gitObject/v1": f"{v.object}:{v.status.value}"},
            "properties": v.to_json(),
        }
        self._out.write("\n" if self._first else ",\n")
        self._first = False
        self._out.write(json.dumps(result, ensure_ascii=False))

    def add_batch(self, batch: Batch) -> None:
        for v in batch.offending:
            self.add(v)

    def warn(self, warnings: Sequence[TrustWarning]) -> None:
        self._notes = [
            {"level": "warning", "message": {"text": w.message}, "properties": {"key": w.key}}
            for w in warnings
        ]

    def finish(self, summary: Summary) -> None:
        invocation = {"executionSuccessful": True, "toolConfigurationNotifications": self._notes}
        props = json.dumps({"summary": summary.to_json()})
        self._out.write('\n], "invocations": ' + json.dumps([invocation], ensure_ascii=False))
        self._out.write(', "properties": ' + props + "}]}\n")


class TextReport:
    """Offending objects as they are found (capped), then summary tables."""

    def __init__(self, out: IO[str], *, color: bool) -> None:
        self._out = out
        self._color = color
        self._listed = 0
        self._hidden = 0
        self._warnings: Sequence[TrustWarning] = ()

    def warn(self, warnings: Sequence[TrustWarning]) -> None:
        self._warnings = warnings

    def _c(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self._color else text

    def add(self, v: Verdict) -> None:
        if v.ok:
            return
        if self._listed >= TEXT_LISTING_CAP:
            self._hidden += 1
            return
        self._listed += 1
        where = f" (in merge {v.commit[:12]})" if v.commit else ""
        facts = []
        if v.format is not None:
            facts.append(v.format.value)
        if v.key:
            facts.append(f"key {v.key}")
        if v.signer:
            facts.append(f"signer {v.signer}")
        self._out.write(
            f"{self._c('1;31', v.status.value)} {v.kind.value} {v.object[:12]}{where} "
            f"{v.subject!r} by {v.author or '?'}\n"
            f"    {v.reason}\n"
            + (f"    {', '.join(facts)}\n" if facts else "")
            + f"    fix: {v.hint}\n"
        )

    def add_batch(self, batch: Batch) -> None:
        for v in batch.offending:
            self.add(v)

    def finish(self, summary: Summary) -> None:
        out = self._out
        if self._hidden:
            out.write(f"… and {self._hidden} more; use --format json for the full list\n")
        if self._listed:
            out.write("\n")
        out.write(f"Audited {summary.total} object{'' if summary.total == 1 else 's'} ")
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(summary.by_kind.items()))
        out.write(f"({kinds})\n" if kinds else "\n")
        if summary.by_status:
            out.write("\n  status              count\n")
            for status, n in sorted(summary.by_status.items(), key=lambda kv: -kv[1]):
                label = status.ljust(18)
                colored = self._c("32", label) if status == "good" else self._c("31", label)
                out.write(f"  {colored}  {n:>5}\n")
        if summary.by_signer:
            out.write("\n  signer                          good  other\n")
            for name, counts in sorted(summary.by_signer.items()):
                good = counts.get("good", 0)
                other = sum(counts.values()) - good
                out.write(f"  {name[:30].ljust(30)}  {good:>5}  {other:>5}\n")
        out.write("\n")
        for w in self._warnings:
            out.write(f"{self._c('1;33', 'warning')}: {w.message}\n\n")
        if summary.ok:
            out.write(self._c("1;32", "OK") + ": every object is signed by a trusted key\n")
        else:
            bad = summary.total - summary.by_status.get("good", 0)
            fail = self._c("1;31", "FAIL")
            out.write(f"{fail}: {bad} of {summary.total} objects are not good\n")
