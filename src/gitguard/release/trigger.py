"""Release signing: a pushed, properly signed release tag ⇒ signed container images.

Called from post-receive (the receive guard's ``guard hook post-receive``)::

    from gitguard.release.trigger import on_tags_pushed
    for line in on_tags_pushed(repo, updates, policy):
        print(line)          # git shows hook output to the pusher as "remote: …"

``on_tags_pushed(repo, updates, policy) -> list[str]``

- ``repo``: :class:`gitguard.gitobjects.Repo` of the repository pushed to (in a hook:
  ``open_repo(None)``; the quarantine is gone by post-receive).
- ``updates``: the ref updates in stdin order, each ``(old, new, ref)`` or an object
  with ``old``, ``new`` and ``ref`` attributes (full ref names, hex ids).
- ``policy``: the loaded :class:`gitguard.trust.policy.Policy` (``None`` ⇒ nothing to do).
- Returns the lines to show the pusher; never raises (the push is never failed by
  the signing step, and post-receive cannot refuse it anyway).

What it does, for every created or updated ref matching ``[release] tags``:

1. Re-verifies the tag with the audit engine (:class:`gitguard.audit.run.Checker`): it must
   be an annotated tag object, its signature ``good``, and its signer one of the
   ``signers`` of the policy rule for the ref (:meth:`Policy.rule_for`); no rule, or
   a rule with ``require = "none"``, means nobody may release. A tag that fails is
   never signed for: a line says why.
2. Peels the tag to its commit and expands every ``[release] images`` template
   (``{tag}`` = the tag name without ``refs/tags/``, ``{commit}`` = the commit id).
3. Records one job per (tag object, image) in ``<git-dir>/gitguard/release.sqlite3``
   (SQLite, WAL) *before* any network work — so a crash, a registry outage or an image
   not pushed yet never loses it — then runs the new jobs: resolve the image tag to
   a digest once (kept in the job), sign that digest with the ``[release] key`` and
   the annotations below, append the signature to ``sha256-<hex>.sig``.
4. A failed job stays ``pending`` with exponential backoff (30 s doubling, at most
   1 h, 12 attempts), or becomes ``failed`` at once for errors that need a person
   (wrong key password, credentials refused). ``guard release retry`` re-runs
   pending and failed jobs (``--due``: only those whose backoff has elapsed, for a
   cron job or timer); ``guard release status`` lists them.

Re-running a job never adds a duplicate signature: the payload is deterministic and
the signing step skips an existing layer with the same payload that verifies with
the key. Re-pushing the same tag does not create a new job (one per tag object and
image); a tag moved to a new tag object does.

Signature annotations (``optional`` in the payload, ``cosign verify -a``/Kyverno
``annotations`` match them): ``[release] annotations`` from the policy, then
``gitguard.repository`` (the repository directory name without ``.git``),
``gitguard.tag``, ``gitguard.tag-object``, ``gitguard.commit`` and
``gitguard.tag-signer`` (these five override same-named policy annotations). The
identity (``docker-reference``) is the image reference with its tag
(``registry/app:v1.2.3``), which cosign, Kyverno and policy-controller ignore and
skopeo's default ``matchRepoDigestOrExact`` accepts. An image template may also be an
OCI layout, ``oci:DIR:{tag}`` (identity ``localhost/<dir name>:<tag>``).

The release key's password, in order: ``$GUARD_COSIGN_PASSWORD``; the file named by
``$GUARD_COSIGN_PASSWORD_FILE``; ``<key>.password`` next to the key. A password file
must belong to the server user and be unreadable by group and others. Plain-HTTP
registries (loopback only) are allowed by ``$GUARD_INSECURE_REGISTRIES``
(comma-separated ``host:port``), recorded in the job when it is created.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitguard.errors import GuardError

if TYPE_CHECKING:
    from gitguard.gitobjects import Repo
    from gitguard.images.keys import SigningKey
    from gitguard.trust.policy import Policy

__all__ = [
    "Job",
    "ReleaseQueue",
    "on_tags_pushed",
    "open_queue",
    "release_password",
    "run_jobs",
]

PREFIX = "gitguard release:"
BACKOFF_BASE = 30.0
BACKOFF_MAX = 3600.0
MAX_ATTEMPTS = 12
LEASE = 600.0  # a job "running" longer than this was abandoned by a crashed process
OTHER_DUE_JOBS = 5  # older due jobs a push also retries
REGISTRY_TIMEOUT = 15.0
_SCHEMA = 1

_ANNOTATION_KEYS = (
    "gitguard.repository",
    "gitguard.tag",
    "gitguard.tag-object",
    "gitguard.commit",
    "gitguard.tag-signer",
)


@dataclass(frozen=True, slots=True)
class Job:
    """One (tag object, image) signing job as stored."""

    id: int
    ref: str
    tag_object: str
    commit: str
    signer: str
    image: str
    identity: str
    annotations: dict[str, str]
    key_path: str
    insecure: bool
    digest: str | None
    state: str
    attempts: int
    next_attempt: float
    last_error: str | None
    created: float
    updated: float

    @property
    def tag(self) -> str:
        return self.ref.removeprefix("refs/tags/")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "ref": self.ref,
            "tag_object": self.tag_object,
            "commit": self.commit,
            "signer": self.signer,
            "image": self.image,
            "identity": self.identity,
            "digest": self.digest,
            "annotations": self.annotations,
            "attempts": self.attempts,
            "next_attempt": self.next_attempt if self.state == "pending" else None,
            "last_error": self.last_error,
            "created": self.created,
            "updated": self.updated,
        }


_COLUMNS = (
    "id, ref, tag_object, commit_id, signer, image, identity, annotations, key_path, "
    "insecure, digest, state, attempts, next_attempt, last_error, created, updated"
)


def _job(row: Sequence[Any]) -> Job:
    return Job(
        id=row[0],
        ref=row[1],
        tag_object=row[2],
        commit=row[3],
        signer=row[4],
        image=row[5],
        identity=row[6],
        annotations=json.loads(row[7]),
        key_path=row[8],
        insecure=bool(row[9]),
        digest=row[10],
        state=row[11],
        attempts=row[12],
        next_attempt=row[13],
        last_error=row[14],
        created=row[15],
        updated=row[16],
    )


class ReleaseQueue:
    """The durable job table of one repository."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(mode=0o700, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._migrate()
        except sqlite3.Error as e:
            raise GuardError(f"cannot open the release queue {path}: {e}") from None
        except OSError as e:
            raise GuardError(f"cannot create {path.parent}: {e.strerror or e}") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ReleaseQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _migrate(self) -> None:
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version == _SCHEMA:
            return
        if version > _SCHEMA:
            raise GuardError(f"{self.path} was written by a newer gitguard (schema {version})")
        with self._write() as db:
            db.execute(
                """CREATE TABLE IF NOT EXISTS jobs (
                    id INTEGER PRIMARY KEY,
                    ref TEXT NOT NULL,
                    tag_object TEXT NOT NULL,
                    commit_id TEXT NOT NULL,
                    signer TEXT NOT NULL,
                    image TEXT NOT NULL,
                    identity TEXT NOT NULL,
                    annotations TEXT NOT NULL,
                    key_path TEXT NOT NULL,
                    insecure INTEGER NOT NULL DEFAULT 0,
                    digest TEXT,
                    state TEXT NOT NULL CHECK (state IN ('pending','running','done','failed')),
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt REAL NOT NULL,
                    last_error TEXT,
                    created REAL NOT NULL,
                    updated REAL NOT NULL,
                    UNIQUE (tag_object, image)
                )"""
            )
            db.execute(f"PRAGMA user_version={_SCHEMA}")

    # -- jobs -------------------------------------------------------------------------

    def enqueue(
        self,
        *,
        ref: str,
        tag_object: str,
        commit: str,
        signer: str,
        image: str,
        identity: str,
        annotations: dict[str, str],
        key_path: str,
        insecure: bool,
    ) -> tuple[Job, bool]:
        """Record a job (idempotent on tag object + image); ``(job, created)``."""
        now = time.time()
        with self._write() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO jobs (ref, tag_object, commit_id, signer, image, identity, "
                "annotations, key_path, insecure, state, next_attempt, created, updated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
                (
                    ref,
                    tag_object,
                    commit,
                    signer,
                    image,
                    identity,
                    json.dumps(annotations, sort_keys=True),
                    key_path,
                    int(insecure),
                    now,
                    now,
                    now,
                ),
            )
            created = cur.rowcount == 1
            row = db.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE tag_object = ? AND image = ?",  # noqa: S608
                (tag_object, image),
            ).fetchone()
        return _job(row), created

    def get(self, job_id: int) -> Job | None:
        query = f"SELECT {_COLUMNS} FROM jobs WHERE id = ?"  # noqa: S608 - constant columns
        row = self._db.execute(query, (job_id,)).fetchone()
        return _job(row) if row else None

    def jobs(self, states: Iterable[str] | None = None) -> list[Job]:
        query = f"SELECT {_COLUMNS} FROM jobs ORDER BY id"  # noqa: S608 - constant columns
        rows = self._db.execute(query).fetchall()
        wanted = set(states) if states is not None else None
        return [j for j in map(_job, rows) if wanted is None or j.state in wanted]

    def due(self, now: float | None = None, limit: int | None = None) -> list[Job]:
        """Pending jobs whose backoff has elapsed, and abandoned running ones."""
        now = time.time() if now is None else now
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM jobs WHERE (state = 'pending' AND next_attempt <= ?) "  # noqa: S608
            "OR (state = 'running' AND updated < ?) ORDER BY id",
            (now, now - LEASE),
        ).fetchall()
        jobs = [_job(r) for r in rows]
        return jobs[:limit] if limit is not None else jobs

    def claim(self, job_id: int) -> bool:
        """Mark a job running unless another process runs it right now."""
        now = time.time()
        with self._write() as db:
            cur = db.execute(
                "UPDATE jobs SET state = 'running', updated = ? WHERE id = ? AND "
                "(state != 'running' OR updated < ?)",
                (now, job_id, now - LEASE),
            )
            return cur.rowcount == 1

    def set_digest(self, job_id: int, digest: str) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE jobs SET digest = ?, updated = ? WHERE id = ? AND digest IS NULL",
                (digest, time.time(), job_id),
            )

    def finish(self, job_id: int) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE jobs SET state = 'done', last_error = NULL, attempts = attempts + 1, "
                "updated = ? WHERE id = ?",
                (time.time(), job_id),
            )

    def fail(self, job_id: int, error: str, *, retryable: bool) -> Job:
        now = time.time()
        with self._write() as db:
            (attempts,) = db.execute("SELECT attempts FROM jobs WHERE id = ?", (job_id,)).fetchone()
            attempts += 1
            state = "pending" if retryable and attempts < MAX_ATTEMPTS else "failed"
            delay = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** (attempts - 1))
            db.execute(
                "UPDATE jobs SET state = ?, attempts = ?, last_error = ?, next_attempt = ?, "
                "updated = ? WHERE id = ?",
                (state, attempts, error, now + delay, now, job_id),
            )
        job = self.get(job_id)
        assert job is not None  # noqa: S101 - we just updated it
        return job


def queue_path(repo: Repo) -> Path:
    """``<git-dir>/gitguard/release.sqlite3``."""
    from gitguard import git

    _, out, _ = git.run("rev-parse", "--absolute-git-dir", cwd=repo.path)
    return Path(out.decode("utf-8", "surrogateescape").strip()) / "gitguard" / "release.sqlite3"


def open_queue(repo: Repo) -> ReleaseQueue:
    return ReleaseQueue(queue_path(repo))


# -- secrets and settings ------------------------------------------------------------


def _read_secret_file(path: Path) -> bytes:
    from gitguard.images import KeyFileError

    try:
        st = path.stat()
        data = path.read_bytes()
    except OSError as e:
        raise KeyFileError(f"cannot read password file {path}: {e.strerror or e}") from None
    if st.st_uid != os.getuid():
        raise KeyFileError(f"password file {path} does not belong to this user (uid {os.getuid()})")
    if st.st_mode & 0o077:
        raise KeyFileError(
            f"password file {path} is readable by others (mode {st.st_mode & 0o777:o}); "
            f"`chmod 600 {path}`"
        )
    return data[:-1] if data.endswith(b"\n") else data


def release_password(key_path: str) -> bytes:
    """The release key's password (see the module docstring for the order)."""
    from gitguard.images import KeyFileError

    value = os.environ.get("GUARD_COSIGN_PASSWORD")
    if value is not None:
        return value.encode("utf-8")
    named = os.environ.get("GUARD_COSIGN_PASSWORD_FILE")
    if named:
        return _read_secret_file(Path(named))
    beside = Path(f"{key_path}.password")
    if beside.exists():
        return _read_secret_file(beside)
    raise KeyFileError(
        f"no password for the release key {key_path}: set GUARD_COSIGN_PASSWORD or "
        f"GUARD_COSIGN_PASSWORD_FILE for the server, or create {beside} (mode 600)"
    )


def _insecure_registries(policy: Policy | None) -> set[str]:
    hosts = {h.strip() for h in os.environ.get("GUARD_INSECURE_REGISTRIES", "").split(",")}
    release = policy.release if policy is not None else None
    hosts.update(getattr(release, "insecure_registries", ()) or ())
    return {h for h in hosts if h}


# -- running jobs ----------------------------------------------------------------------


def _short(digest: str | None) -> str:
    return digest[:19] if digest else "?"


def _run_one(queue: ReleaseQueue, job: Job, keys: dict[str, SigningKey]) -> str:
    """Run one claimed job; the line that reports it."""
    from gitguard.images import ImageError, KeyFileError, RegistryError
    from gitguard.images.keys import read_private_key
    from gitguard.images.reference import parse_target
    from gitguard.images.sign import resolve, sign_image
    from gitguard.images.store import open_store

    what = f"{PREFIX} {job.tag}: {job.image}"
    try:
        key = keys.get(job.key_path)
        if key is None:
            key = read_private_key(Path(job.key_path), release_password(job.key_path))
            keys[job.key_path] = key
        store, reference = open_store(
            parse_target(job.image), insecure=job.insecure, push=True, timeout=REGISTRY_TIMEOUT
        )
        digest = job.digest
        if digest is None:
            digest = resolve(store, reference).digest
            queue.set_digest(job.id, digest)  # the tag is resolved once, ever
        results = sign_image(
            store, digest, identity=job.identity, key=key, annotations=job.annotations
        )
    except (KeyFileError, RegistryError, ImageError, GuardError) as e:
        retryable = isinstance(e, RegistryError) and e.retryable
        failed = queue.fail(job.id, str(e), retryable=retryable)
        if failed.state == "pending":
            wait = max(0, round(failed.next_attempt - time.time()))
            return (
                f"{what}: NOT signed yet, job {job.id} pending (attempt {failed.attempts}; "
                f"next try in {wait} s, or `guard release retry`): {e}"
            )
        return (
            f"{what}: NOT signed (job {job.id} failed; fix the cause, then "
            f"`guard release retry {job.id}`): {e}"
        )
    queue.finish(job.id)
    result = results[0]
    if result.added:
        return f"{what}: signed {_short(result.digest)}… (job {job.id})"
    return f"{what}: already signed {_short(result.digest)}… (job {job.id})"


def run_jobs(queue: ReleaseQueue, jobs: Iterable[Job]) -> list[tuple[Job, str]]:
    """Claim and run ``jobs`` one by one; ``(job as claimed, report line)`` for each
    job this process ran (jobs another process is running are skipped)."""
    keys: dict[str, SigningKey] = {}
    out: list[tuple[Job, str]] = []
    for job in jobs:
        if not queue.claim(job.id):
            out.append((job, f"{PREFIX} {job.tag}: {job.image}: job {job.id} is running elsewhere"))
            continue
        try:
            line = _run_one(queue, job, keys)
        except Exception as e:  # never leave a job "running" because of a bug
            queue.fail(job.id, f"internal error: {type(e).__name__}: {e}", retryable=True)
            raise
        out.append((job, line))
    return out


# -- post-receive ------------------------------------------------------------------------


def _updates(updates: Iterable[Any]) -> list[tuple[str, str, str]]:
    out = []
    for u in updates:
        if isinstance(u, tuple | list):
            old, new, ref = u
        else:
            old, new, ref = u.old, u.new, u.ref
        out.append((str(old), str(new), str(ref)))
    return out


def _repo_name(queue: ReleaseQueue) -> str:
    git_dir = queue.path.parent.parent
    name = git_dir.name
    if name == ".git":
        name = git_dir.parent.name
    return name.removesuffix(".git")


def _check_tag(repo: Repo, policy: Policy, ref: str, oid: str) -> tuple[str, str] | str:
    """``(commit, signer)`` for a releasable tag, else the reason it is not."""
    from gitguard.audit.run import AuditSpec, Checker
    from gitguard.evaluate import admit, evaluate
    from gitguard.gitobjects import tag_target
    from gitguard.model import Kind

    checker = Checker(AuditSpec(repo=repo, trust=policy.trust, policy=policy))
    try:
        facts = list(checker.facts([oid]))
        if not facts or facts[0].kind is not Kind.TAG:
            return "a lightweight tag (release tags must be annotated and signed: `git tag -s`)"
        tag = facts[0]
        v = checker.verification(tag)
        verdict = evaluate(tag, v, policy)
        if not verdict.ok:
            return f"tag signature is {verdict.status.value}: {verdict.reason}"
        rule = policy.rule_for(ref)
        if rule is None or rule.require == "none" or not rule.signers:
            return (
                f"no [[rule]] for {ref} names who may sign release tags (add a rule with "
                'require = "signed-tag" and signers)'
            )
        # The same admission as the receive guard's (evaluate.admit): the rule's
        # signers, and its committer match (the tagger) when it asks for one.
        label = f"{os.path.basename(policy.source)}:{rule.line}"
        verdict = admit(verdict, v, tag, policy, rule, ref=ref, label=label)
        if not verdict.ok:
            return f"tag {verdict.status.value}: {verdict.reason}"
        target = oid
        for _ in range(16):
            typ, data = checker.reader.read(target)
            if typ == "commit":
                return target, verdict.signer or ""
            if typ != "tag":
                return f"the tag points at a {typ}, not a commit"
            target, _ = tag_target(data)
        return "tag chain too long"
    finally:
        checker.close()


def _identity(image: str) -> str:
    """The docker-reference a release signature names: the image with its tag; for
    an ``oci:DIR:TAG`` layout (demo, air-gapped hand-over) ``localhost/<dir name>:TAG``."""
    import re

    from gitguard.images.reference import ImageRef, parse_reference, parse_target

    target = parse_target(image)
    if isinstance(target, ImageRef):
        ref = target
    else:
        name = re.sub(r"[^a-z0-9]+", "-", Path(target.path).name.lower()).strip("-") or "image"
        tag = target.reference if target.reference and ":" not in target.reference else None
        ref = parse_reference(f"localhost/{name}" + (f":{tag}" if tag else ""))
    return f"{ref.name}:{ref.tag}" if ref.tag and not ref.digest else ref.name


def on_tags_pushed(repo: Repo, updates: Iterable[Any], policy: Policy | None) -> list[str]:
    """Queue and run image signing for pushed release tags (module docstring)."""
    try:
        return _on_tags_pushed(repo, _updates(updates), policy)
    except GuardError as e:
        return [f"{PREFIX} error: {e}"]
    except Exception as e:  # the push already happened; report, never raise
        return [f"{PREFIX} internal error ({type(e).__name__}: {e}); jobs recorded so far are kept"]


def _on_tags_pushed(
    repo: Repo, updates: list[tuple[str, str, str]], policy: Policy | None
) -> list[str]:
    from fnmatch import fnmatchcase

    if policy is None or policy.release is None:
        return []
    release = policy.release
    wanted = [
        (ref, new)
        for _, new, ref in updates
        if ref.startswith("refs/tags/")
        and new.strip("0")
        and any(fnmatchcase(ref, p) for p in release.tags)
    ]
    if not wanted:
        return []
    lines: list[str] = []
    insecure_hosts = _insecure_registries(policy)
    with open_queue(repo) as queue:
        new_jobs: list[Job] = []
        for ref, oid in wanted:
            tag = ref.removeprefix("refs/tags/")
            checked = _check_tag(repo, policy, ref, oid)
            if isinstance(checked, str):
                lines.append(f"{PREFIX} {tag}: not signing any image: {checked}")
                continue
            commit, signer = checked
            base = {k: v for k, v in release.annotations.items() if k not in _ANNOTATION_KEYS}
            annotations = {
                **base,
                "gitguard.repository": _repo_name(queue),
                "gitguard.tag": tag,
                "gitguard.tag-object": oid,
                "gitguard.commit": commit,
                "gitguard.tag-signer": signer,
            }
            for template in release.images:
                image = template.format(tag=tag, commit=commit)
                try:
                    identity = _identity(image)
                except GuardError as e:
                    lines.append(f"{PREFIX} {tag}: bad image reference {image!r}: {e}")
                    continue
                host = image.split("/", 1)[0]
                job, created = queue.enqueue(
                    ref=ref,
                    tag_object=oid,
                    commit=commit,
                    signer=signer,
                    image=image,
                    identity=identity,
                    annotations=annotations,
                    key_path=release.key,
                    insecure=host in insecure_hosts,
                )
                if created or job.state in ("pending", "failed"):
                    new_jobs.append(job)
                else:
                    lines.append(f"{PREFIX} {tag}: {image}: already {job.state} (job {job.id})")
        others = [
            j for j in queue.due(limit=OTHER_DUE_JOBS) if j.id not in {n.id for n in new_jobs}
        ]
        for _, line in run_jobs(queue, [*new_jobs, *others]):
            lines.append(line)
    return lines
