"""The receive guard: decide a push — a list of ref updates — against the policy.

API (shared by the server hooks and the client's pre-push check)::

    from gitguard.server.receive import RefUpdate, check_updates, format_report, parse_updates

    updates = parse_updates(stdin_bytes, repo)        # pre-receive's "<old> <new> <ref>" lines
    result = check_updates(repo, updates, policy, now=int(time.time()), push_cert=cert)
    sys.stderr.write(format_report(result))           # reads well as "remote: " lines
    exit_code = 0 if result.accepted else 1

- ``repo`` is a :class:`gitguard.gitobjects.Repo`; inside a hook ``Repo(None, fmt)``:
  git runs in the hook's cwd with its ``GIT_DIR`` and quarantine environment
  (``GIT_OBJECT_DIRECTORY``, ``GIT_ALTERNATE_OBJECT_DIRECTORIES``,
  ``GIT_QUARANTINE_PATH``), so the pushed objects are found before they land.
- ``updates`` are :class:`RefUpdate` ``(old, new, ref)``; ``repo.zero_id`` (40 or 64
  zeros) marks a created or deleted ref.
- ``now`` is the time of the push (POSIX seconds): key lifetimes are judged by it.
- ``push_cert`` is what :func:`gitguard.server.pushcert.read_push_cert` returns (or ``None``).
- ``known`` (optional) are revisions whose history counts as already checked. By default
  these are the refs, as they are before the push, that a ``require = "signed"`` rule
  protects. A client passes what it knows the server has (its remote-tracking refs).
- :class:`ReceiveResult` is plain data (every offending object is a
  :class:`gitguard.evaluate.Verdict` whose ``hint`` is the concrete fix), and
  :func:`format_report` is a pure function of it.

What is checked, per ref, under the first rule whose ``refs`` match (``policy.rule_for``):

- no rule: accepted, unless the policy's ``default = "deny"``;
- ``require_signed_push``: the push certificate (see :mod:`gitguard.server.pushcert`) is valid
  and signed by one of the rule's signers;
- deletion: only with ``allow_delete``; rewriting: only with ``allow_force_push``
  (a branch update that is not a fast-forward, ``git merge-base --is-ancestor``; and any
  change of an existing tag, since tags are not meant to move);
- ``require = "signed"``: every *new* commit — reachable from the new value, from no
  protected ref as it was before the push and not from ``exempt_before`` (with
  ``merges = "first-parent"``, only the new value's first-parent chain) — is ``good``
  (:func:`gitguard.evaluate.evaluate` at push time), signed by one of the rule's signers,
  and with ``committer_must_match`` signed by a key whose identities include the
  committer's e-mail. Commits already in protected history are not checked again; a
  commit that is new to several refs is judged once per rule;
- ``require = "signed-tag"``: the ref points at an annotated tag object (a lightweight
  tag is refused) whose own signature is good and by one of the rule's signers.

Why "new" means "not in *protected* history" rather than ``--not --all``: with
``--all``, an unsigned commit first pushed to an unprotected branch would no longer be
new, and could then be fast-forwarded onto a protected branch unchecked.
"""

import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple

from gitguard import git
from gitguard._text import plural, utc
from gitguard.errors import GitError, GuardError
from gitguard.evaluate import GIT_CODES, HINTS, Verdict, admit, evaluate, signer_allowed
from gitguard.gitobjects import ObjectReader, Repo, parse_commit, parse_tag, tag_target
from gitguard.model import Format, Kind, SignedObject, Status, Verification

if TYPE_CHECKING:
    from gitguard.model import TrustWarning
    from gitguard.server.pushcert import CertCheck, PushCert
    from gitguard.trust.policy import Policy, Rule

REPORT_CAP = 50  # offending objects listed in a report; the rest are counted
_CHUNK = 256
_PREFETCH = 4  # new-commit walks started ahead of their ref's turn
_HEX = frozenset("0123456789abcdef")
# evaluate's HINTS give this command with a placeholder; reports give it with the
# real base, and --allow-empty so that empty commits do not stop the rebase.
_REBASE = "git rebase --exec 'git commit --amend --no-edit -S' <base>"
_REBASE_CMD = "git rebase --exec 'git commit --amend --no-edit --allow-empty -S' {base}"
# Statuses fixed by re-signing with another (trusted, allowed, current) key.
_RESIGN = frozenset(
    {
        Status.UNKNOWN_KEY,
        Status.NOT_ALLOWED,
        Status.EXPIRED_KEY,
        Status.REVOKED_KEY,
        Status.NOT_YET_VALID,
        Status.WEAK_ALGORITHM,
        Status.UNPROVEN_TIME,
    }
)


class RefUpdate(NamedTuple):
    """One line of pre-receive input: ``old new ref``."""

    old: str
    new: str
    ref: str


# The result types are NamedTuples rather than dataclasses: immutable all the same,
# and their classes cost a fraction of the import time on the hook path.


class RefProblem(NamedTuple):
    """A reason to refuse a ref that is not about one object (force push, deletion,
    push certificate, no rule), with its fix."""

    reason: str
    fix: str
    summary: str = ""  # the short form for the ref's one-line summary; else ``reason``
    signed_push: bool = False  # a push-certificate problem (pre-receive only can check)


class RefResult(NamedTuple):
    """The decision for one ref. ``rule`` names the rule that applied
    (``policy.toml:12``), ``None`` when none matched. ``checked`` counts the objects
    judged; ``offending`` are the ones not acceptable (``hint`` = concrete fix)."""

    update: RefUpdate
    accepted: bool
    summary: str
    rule: str | None = None
    checked: int = 0
    offending: tuple[Verdict, ...] = ()
    problems: tuple[RefProblem, ...] = ()

    @property
    def ref(self) -> str:
        return self.update.ref


class ReceiveResult(NamedTuple):
    """The decision for a push. ``push_cert`` describes the certificate check when a
    rule required one."""

    refs: tuple[RefResult, ...]
    policy: str
    push_cert: str | None = None
    warnings: tuple["TrustWarning", ...] = ()

    @property
    def accepted(self) -> bool:
        return all(r.accepted for r in self.refs)

    @property
    def offending(self) -> Iterator[Verdict]:
        for r in self.refs:
            yield from r.offending


def parse_updates(data: bytes | str, repo: Repo) -> list[RefUpdate]:
    """Parse pre-receive / post-receive input. Raises :class:`GuardError` for a line
    that is not ``<old> <new> <ref>`` with ids of the repository's length."""
    text = data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else data
    updates = []
    # Split on "\n" only: str.splitlines() also splits on U+0085, U+2028 and U+2029,
    # which git allows inside ref names.
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        fields = line.split(" ")
        if len(fields) != 3:
            raise GuardError(f"hook input line {n} is not `<old> <new> <ref>`: {line[:200]!r}")
        update = RefUpdate(*fields)
        check_update(update, repo)
        updates.append(update)
    return updates


def check_update(update: RefUpdate, repo: Repo) -> None:
    """Raise :class:`GuardError` unless both ids are full ids of this repository's
    object format and the ref is a full ref name."""
    size = len(repo.zero_id)
    for oid in (update.old, update.new):
        if len(oid) != size or not set(oid) <= _HEX:
            raise GuardError(
                f"{update.ref}: {oid[:80]!r} is not a {repo.object_format} object id "
                f"({size} hex digits)"
            )
    if not update.ref.startswith("refs/") and update.ref != "HEAD":
        raise GuardError(f"{update.ref[:200]!r} is not a full ref name")
    if not update.ref.isprintable() and set(update.new) != {"0"}:  # deleting one is fine
        # Valid UTF-8 of printable characters only: a name with line or paragraph
        # separators, control or format characters (or bytes that are not UTF-8)
        # cannot be shown, matched or written back faithfully.
        raise GuardError(
            f"{update.ref[:200]!r}: ref names must be printable UTF-8 (no control, format, "
            "line or paragraph separator characters); choose another name"
        )


def rule_label(policy: "Policy", rule: "Rule") -> str:
    """``policy.toml:12``: the rule's file (base name) and line."""
    return f"{os.path.basename(policy.source)}:{rule.line}"


def _short(oid: str) -> str:
    return oid[:12]


def _parents(data: bytes) -> list[str]:
    """A commit's parents exactly as git reads them (commit.c parse_commit_buffer):
    the ``parent`` lines that directly follow the first line, ``tree``. A ``parent``
    line anywhere else is ignored by git, so it must not count here either: it would
    make a rewrite look like a fast-forward."""
    lines = data.split(b"\n", 64)
    if not lines[0].startswith(b"tree "):
        return []
    parents = []
    for line in lines[1:]:
        if not line.startswith(b"parent "):
            break
        parents.append(line[7:].decode("ascii", "replace"))
    return parents


class _RefWork:
    """What one ref's checks collect before they become a :class:`RefResult`."""

    __slots__ = ("checked", "notes", "offending", "parents", "problems")

    def __init__(self) -> None:
        self.checked = 0
        # Parents of the ref's new commits: each is an ancestor of the new value.
        self.parents: set[str] = set()
        self.offending: list[Verdict] = []
        self.problems: list[RefProblem] = []
        self.notes: list[str] = []


class _Guard:
    """One push: a reader, a verifier and the caches shared by its refs."""

    def __init__(
        self,
        repo: Repo,
        policy: "Policy",
        now: int,
        known: Sequence[str] | None,
        *,
        reader: ObjectReader | None = None,
        refs: git.Pending | None = None,
    ) -> None:
        from gitguard.signatures import Verifier

        self.repo = repo
        self.policy = policy
        self.now = now
        self.zero = repo.zero_id
        self.reader = reader if reader is not None else ObjectReader(repo)
        self._refs = refs
        self.verifier: Verifier = Verifier(policy.trust)
        self._known = known
        # The refs as they are before the push: commit tips of real (non-symbolic)
        # refs, and symbolic refs with their targets (read once, lazily).
        self._tips: list[tuple[str, str]] | None = None
        self._symrefs: dict[str, str] = {}
        self._protected: dict[int, list[str]] = {}
        self._ref_rules: list[tuple[str, list[Rule]]] | None = None
        self._compromised = frozenset(x.name for x in policy.signers if x.compromised)
        # Walks started ahead (prefetch), by (new value, rule).
        self._walks: dict[tuple[str, int], git.Pending] = {}
        # Push-time SSH validity: only worth a second verification when some trusted
        # SSH key has a validity window at all.
        self._ssh_windows = any(
            k.valid_after is not None or k.valid_before is not None for k in policy.trust.ssh
        )
        # Verified once per object (a commit new to several rules), judged per rule.
        self._verified: dict[str, Verification | None] = {}
        self._judged: dict[tuple[int, str], Verdict] = {}
        # Primary keys of the signatures verified: the trust warnings worth showing.
        self.used_keys: set[str] = set()

    def warnings(self) -> tuple["TrustWarning", ...]:
        """Trust warnings about the keys this push's signatures were made with."""
        return tuple(w for w in self.verifier.warnings() if w.key in self.used_keys)

    def close(self) -> None:
        self.reader.close()
        if self._refs is not None:
            self._refs.cancel()
        for walk in self._walks.values():
            walk.cancel()

    def prefetch(self, updates: Sequence[RefUpdate]) -> None:
        """Start the first few new-commit walks, then, while git walks, build the
        verifier each walk's tip commit will need (importing a format's module is
        most of a small push's work)."""
        for update in updates:
            rule = self.policy.rule_for(update.ref)
            if len(self._walks) >= _PREFETCH or rule is None or rule.require != "signed":
                continue
            if update.new == self.zero or (update.new, id(rule)) in self._walks:
                continue
            args, lines = self._walk(update.new, rule)
            self._walks[(update.new, id(rule))] = git.Pending(
                *args, cwd=self.repo.path, input=lines
            )
        for new, _ in list(self._walks):
            typ, data = self.reader.read(new)
            if typ == "commit":
                obj = parse_commit(new, data, self.repo.object_format)[0]
                if obj.signature is not None and obj.malformed is None:
                    self.verifier.prepare(obj.signature)

    # -- git questions --------------------------------------------------------------

    def _read_refs(self) -> list[tuple[str, str]]:
        if self._tips is None:
            if self._refs is not None:
                _, out, _ = self._refs.result()
                self._refs = None
            else:
                _, out, _ = git.run(*git.REFS_QUERY, cwd=self.repo.path)
            tips: list[tuple[str, str]] = []
            for line in out.decode("utf-8", "surrogateescape").split("\n"):
                if not line:
                    continue
                oid, typ, peeled, peeled_typ, ref, symref = line.split(" ", 5)
                if symref:
                    self._symrefs[ref] = symref
                elif typ == "commit":
                    tips.append((ref, oid))
                elif typ == "tag" and peeled_typ == "commit":
                    tips.append((ref, peeled))
            self._tips = tips
        return self._tips

    def resolve(self, ref: str) -> str:
        """The ref that moves when ``ref`` is updated: its symbolic-ref target, followed
        as git follows it (a few levels at most)."""
        self._read_refs()
        for _ in range(5):
            target = self._symrefs.get(ref)
            if target is None:
                break
            ref = target
        return ref

    def rules_for(self, ref: str) -> list["Rule"]:
        """The rules that govern an update of ``ref``: those of the ref that actually
        moves (its symbolic-ref target) and of every name for it (the ref pushed to,
        and every symbolic ref pointing at the same target), each once, in the
        order of the policy."""
        target = self.resolve(ref)
        names = {ref, target}
        names.update(s for s in self._symrefs if self.resolve(s) == target)
        found = {id(r): r for n in names if (r := self.policy.rule_for(n)) is not None}
        return [r for r in self.policy.rules if id(r) in found]

    def _tips_where(self, admits: "Callable[[Rule], bool]") -> list[str]:
        """Commit tips, before the push, of the refs governed by a rule ``admits``
        (each ref's rules worked out once per push)."""
        if self._ref_rules is None:
            self._ref_rules = [(oid, self.rules_for(ref)) for ref, oid in self._read_refs()]
        tips = (oid for oid, rules in self._ref_rules if any(admits(r) for r in rules))
        return list(dict.fromkeys(tips))

    def protected(self, rule: "Rule") -> list[str]:
        """Commit tips whose history counts as already checked for a ref of ``rule``:
        the refs (before the push) governed by a rule that vouches for ``rule``
        (:meth:`~gitguard.trust.policy.Rule.vouches_for`), or the caller's ``known``
        revisions. A weaker protected ref (other signers, first-parent only, exempt
        history) is no way around a stricter rule: its commits are judged again."""
        if self._known is not None:
            return list(self._known)
        cached = self._protected.get(id(rule))
        if cached is None:
            cached = self._protected[id(rule)] = self._tips_where(lambda r: r.vouches_for(rule))
        return cached

    def same_rule_tips(self, rule: "Rule") -> list[str]:
        """Commit tips of the refs governed by ``rule`` itself, before the push."""
        if self._known is not None:
            return list(self._known)
        return self._tips_where(lambda r: r is rule)

    def is_ancestor(self, old: str, new: str) -> bool:
        # 1: not an ancestor; 128: not commits (or missing), not a fast-forward either.
        rc, _, _ = git.run("merge-base", "--is-ancestor", old, new, cwd=self.repo.path, check=False)
        return rc == 0

    def new_commits(self, new: str, rule: "Rule") -> list[str]:
        """``git rev-list --topo-order [--first-parent] NEW --not PROTECTED EXEMPT``."""
        walk = self._walks.pop((new, id(rule)), None)
        if walk is not None:
            _, out, _ = walk.result()
        else:
            args, lines = self._walk(new, rule)
            _, out, _ = git.run(*args, input=lines, cwd=self.repo.path)
        return out.decode().split()

    def _walk(self, new: str, rule: "Rule") -> tuple[list[str], bytes]:
        """The new-commit walk's arguments and standard input."""
        args = ["rev-list", "--topo-order", "--stdin"]
        if rule.merges == "first-parent":
            args.insert(1, "--first-parent")
        lines = [new, *(f"^{oid}" for oid in self.protected(rule))]
        lines.extend(self._exempt(rule))
        return args, ("\n".join(lines) + "\n").encode()

    def _exempt(self, rule: "Rule") -> list[str]:
        """``^EXEMPT`` for a walk under ``rule``, when it has an ``exempt_before`` this
        repository holds."""
        if rule.exempt_before is not None:
            typ, _ = self.reader.read(rule.exempt_before)
            # An exempt_before commit this repository does not have exempts nothing
            # (stricter, never looser).
            if typ in ("commit", "tag"):
                return [f"^{rule.exempt_before}"]
        return []

    # -- judging --------------------------------------------------------------------

    def verify(self, obj: SignedObject) -> Verification | None:
        if obj.malformed is not None or obj.signature is None:
            return None
        v = self.verifier.verify(obj.payload, obj.signature, when=obj.time)
        if v.primary_key is not None:
            self.used_keys.add(v.primary_key)
        if v.status is Status.GOOD and v.format is Format.SSH and self._ssh_windows:
            # allowed_signers valid-after/valid-before, judged at the push as well as
            # at the time the commit claims.
            at_push = self.verifier.verify(obj.payload, obj.signature, when=self.now)
            if at_push.status is not Status.GOOD:
                # The verifier was given the push's time as the signature's: say what
                # it means here rather than edit its words.
                v = at_push._replace(
                    reason=f"at push time ({utc(self.now)}): key {at_push.key} of "
                    f"{at_push.signer} is outside the validity its allowed_signers entry "
                    "gives it (valid-after/valid-before)"
                )
        elif v.status is Status.GOOD and v.format is Format.OPENPGP:
            # An OpenPGP key that has expired or been revoked since can still make
            # signatures that claim an earlier time: judge its lifetime at the push.
            late = self.verifier.at_time(v, self.now)
            if late is not None:
                status, reason, code = late
                v = v._replace(status=status, reason=f"at push time: {reason}", git_code=code)
        return v

    def judge(self, obj: SignedObject, rule: "Rule", ref: str) -> Verdict:
        """The verdict for ``obj`` under ``rule``: the signature (verified once per
        object), the signer's lifetime at push time, the rule's signers and
        committer match."""
        if obj.oid in self._verified:
            v = self._verified[obj.oid]
        else:
            v = self._verified[obj.oid] = self.verify(obj)
        label = rule_label(self.policy, rule)
        verdict = evaluate(obj, v, self.policy, now=self.now)
        verdict = admit(verdict, v, obj, self.policy, rule, ref=ref, label=label)
        if verdict.ok:
            return verdict  # good verdicts are counted, not kept: no copy
        return verdict._replace(ref=ref, rule=label)

    def check_commits(self, update: RefUpdate, rule: "Rule", work: _RefWork) -> None:
        if not self._holds_a_commit(update, rule, work):
            return
        oids = self.new_commits(update.new, rule)
        if self._compromised:
            self._check_promoted(update, rule, oids, work)
        key = id(rule)
        earliest_bad: str | None = None
        base: str | None = None
        merges = False
        for start in range(0, len(oids), _CHUNK):
            for oid, typ, data in self.reader.read_many(oids[start : start + _CHUNK]):
                work.checked += 1
                if typ != "commit":
                    raise GitError(f"{oid} is listed by rev-list but reads as {typ}")
                parents = _parents(data)
                work.parents.update(parents)
                merges = merges or len(parents) > 1
                verdict = self._judged.get((key, oid))
                if verdict is None:
                    obj = parse_commit(oid, data, self.repo.object_format)[0]
                    verdict = self.judge(obj, rule, update.ref)
                    self._judged[(key, oid)] = verdict
                elif not verdict.ok and verdict.ref != update.ref:
                    verdict = verdict._replace(ref=update.ref)
                if not verdict.ok:
                    work.offending.append(verdict)
                    # rev-list --topo-order lists descendants first: the last offending
                    # commit seen is the earliest; re-signing starts at its parent.
                    earliest_bad = oid
                    base = parents[0] if parents else None
        if earliest_bad is None:
            return
        cmd = _REBASE_CMD.format(base=_short(base) if base else "--root")
        if merges:
            cmd = cmd.replace("git rebase ", "git rebase --rebase-merges ", 1)
        work.offending[:] = [v._replace(hint=_commit_fix(v, cmd, rule)) for v in work.offending]

    def _holds_a_commit(self, update: RefUpdate, rule: "Rule", work: _RefWork) -> bool:
        """A ref under ``require = "signed"`` must hold a commit (or a tag of one):
        a tree or a blob has no commits to check, and is no way around the rule."""
        oid = update.new
        typ, data = self.reader.read(oid)
        seen = 0
        while typ == "tag" and seen < 8:
            oid, _ = tag_target(data)
            typ, data = self.reader.read(oid) if oid else ("missing", b"")
            seen += 1
        if typ == "commit":
            return True
        label = rule_label(self.policy, rule)
        what = f"a {typ}" if typ != "missing" else "no readable object"
        via = "" if oid == update.new else f" (through the tag {_short(update.new)})"
        work.problems.append(
            RefProblem(
                f"{update.ref} would point at {what} {_short(oid)}{via}, not at a commit "
                f'(rule {label}: require = "signed" governs commits)',
                f"push a signed commit to {update.ref}; keep other objects under refs no "
                "rule requires signed commits for",
                f"not a commit ({what})",
            )
        )
        return False

    def _check_promoted(
        self, update: RefUpdate, rule: "Rule", new: Sequence[str], work: _RefWork
    ) -> None:
        """Commits this ref gains that another ref's rule already vouched for are not
        judged again, except for one thing: a signer marked compromised since is
        refused everywhere, promotion included."""
        args = ["rev-list", "--stdin"]
        lines = [update.new, *(f"^{oid}" for oid in self.same_rule_tips(rule))]
        lines.extend(self._exempt(rule))
        _, out, _ = git.run(*args, input=("\n".join(lines) + "\n").encode(), cwd=self.repo.path)
        fresh = set(new)
        promoted = [oid for oid in out.decode().split() if oid not in fresh]
        for start in range(0, len(promoted), _CHUNK):
            for oid, typ, data in self.reader.read_many(promoted[start : start + _CHUNK]):
                if typ != "commit":
                    continue
                obj = parse_commit(oid, data, self.repo.object_format)[0]
                v = self._verified.get(oid) if oid in self._verified else self.verify(obj)
                self._verified[oid] = v
                if v is None or v.signer not in self._compromised:
                    continue
                verdict = self.judge(obj, rule, update.ref)
                work.checked += 1
                work.offending.append(verdict)

    def check_tag(self, update: RefUpdate, rule: "Rule", work: _RefWork) -> None:
        typ, data = self.reader.read(update.new)
        name = update.ref.removeprefix("refs/tags/")
        label = rule_label(self.policy, rule)
        work.checked += 1
        if typ != "tag":
            subject = ""
            if typ == "commit":
                subject = parse_commit(update.new, data, self.repo.object_format)[0].subject
            work.offending.append(
                Verdict(
                    object=update.new,
                    kind=Kind.TAG,
                    status=Status.UNSIGNED,
                    git_code=GIT_CODES[Status.UNSIGNED],
                    format=None,
                    key=None,
                    signer=None,
                    reason=(
                        f"{update.ref} is a lightweight tag (it points at {typ} "
                        f"{_short(update.new)}, not at a signed tag object)"
                    ),
                    hint=(
                        f"make it a signed annotated tag: `git tag -s -f {name} "
                        f"{_short(update.new)}`, then push it again"
                    ),
                    subject=subject,
                    ref=update.ref,
                    rule=label,
                )
            )
            return
        verdict = self.judge(parse_tag(update.new, data), rule, update.ref)
        if verdict.ok:
            work.notes.append(f"by {verdict.signer}")
        else:
            target, _ = tag_target(data)
            resign = f"`git tag -s -f {name} {_short(target) or name + '^{}'}`, then push it again"
            if verdict.status is Status.UNSIGNED:
                hint = f"sign the tag: {resign}"
            else:
                hint = f"{HINTS[verdict.status]}; re-sign the tag: {resign}"
            work.offending.append(verdict._replace(hint=hint))

    def check_ref(self, update: RefUpdate, cert: "CertCheck | None") -> RefResult:
        """The decision for one ref: under every rule that governs it
        (:meth:`rules_for`), accepted only if every one accepts."""
        rules = self.rules_for(update.ref)
        target = self.resolve(update.ref)
        replacing = update.ref.startswith("refs/replace/") or target.startswith("refs/replace/")
        if replacing and update.new != self.zero:  # deleting one undoes a replacement
            named = [r for r in rules if any(p.startswith("refs/replace/") for p in r.refs)]
            if not named:
                problem = RefProblem(
                    f"{update.ref} is a replace ref: it would change what git shows for "
                    f"object {update.ref.rsplit('/', 1)[-1][:12]} to every reader that "
                    "honours replacements, so no rule's patterns may cover it by accident",
                    "do not push replace refs; an administrator who wants them adds a rule "
                    'naming refs/replace/ explicitly (e.g. refs = ["refs/replace/*"])',
                )
                return RefResult(update, False, "rejected: replace ref", problems=(problem,))
        if not rules:
            return self._check_rule(update, None, cert)
        results = [self._check_rule(update, rule, cert) for rule in rules]
        result = results[0] if len(results) == 1 else _merge_results(update, results)
        if target != update.ref:
            result = result._replace(summary=f"{result.summary} (moves {target})")
        return result

    def _check_rule(
        self, update: RefUpdate, rule: "Rule | None", cert: "CertCheck | None"
    ) -> RefResult:
        if rule is None:
            if self.policy.default == "deny":
                problem = RefProblem(
                    f"no rule in {os.path.basename(self.policy.source)} matches {update.ref}, "
                    'and the policy\'s default is "deny"',
                    "push to a ref a rule covers, or ask the administrator to add a rule",
                )
                return RefResult(
                    update, False, "rejected: no rule matches (default deny)", problems=(problem,)
                )
            return RefResult(update, True, "accepted: no rule applies (default allow)")
        label = rule_label(self.policy, rule)
        work = _RefWork()
        if rule.require_signed_push:
            self._check_cert(update, rule, cert, work)
        deleting = update.new == self.zero
        if deleting:
            if update.old == self.zero:
                work.problems.append(
                    RefProblem(
                        f"{update.ref} does not exist: there is nothing to delete",
                        "check the ref's name (`git ls-remote`)",
                        "no such ref",
                    )
                )
            elif not rule.allow_delete:
                work.problems.append(
                    RefProblem(
                        f"deleting {update.ref} is not allowed (rule {label}: "
                        "allow_delete = false)",
                        "keep the ref; ask the administrator if it must go",
                        "deletion not allowed",
                    )
                )
        else:
            if rule.require == "signed":
                self.check_commits(update, rule, work)
            elif rule.require == "signed-tag":
                self.check_tag(update, rule, work)
            # After check_commits: a parent of a new commit is an ancestor of the new
            # value, which spares most fast-forwards a `git merge-base`.
            if update.old not in (self.zero, update.new) and not rule.allow_force_push:
                self._check_fast_forward(update, label, work)
        return _ref_result(update, rule, label, work, deleting)

    def _check_fast_forward(self, update: RefUpdate, label: str, work: _RefWork) -> None:
        if update.ref.startswith("refs/tags/"):
            work.problems.append(
                RefProblem(
                    f"moving the existing tag {update.ref} from {_short(update.old)} to "
                    f"{_short(update.new)} is not allowed (rule {label}: "
                    "allow_force_push = false)",
                    "tags do not move: create a new tag instead",
                    "an existing tag cannot move",
                )
            )
        elif update.old not in work.parents and not self.is_ancestor(update.old, update.new):
            work.problems.append(
                RefProblem(
                    f"force push: {_short(update.new)} does not contain the current "
                    f"{_short(update.old)} of {update.ref} (rule {label}: "
                    "allow_force_push = false)",
                    f"integrate the current {update.ref} (`git pull --rebase`), then push "
                    "without --force",
                    "force push not allowed",
                )
            )

    def _check_cert(
        self, update: RefUpdate, rule: "Rule", cert: "CertCheck | None", work: _RefWork
    ) -> None:
        label = rule_label(self.policy, rule)
        if cert is None or not cert.ok:
            problems = cert.problems if cert is not None else ("no push certificate",)
            for problem in problems:
                work.problems.append(
                    RefProblem(
                        f"signed push required (rule {label}): {problem}",
                        "push again with `git push --signed`, signing with an allowed key",
                        f"signed push required: {problem}",
                        signed_push=True,
                    )
                )
        elif not signer_allowed(rule, cert.signer):
            work.problems.append(
                RefProblem(
                    f"the push certificate is signed by {cert.signer}, who may not push to "
                    f"{update.ref} (rule {label} allows {', '.join(rule.signers)})",
                    "push with `git push --signed` using an allowed signer's key",
                    f"push certificate signed by {cert.signer}, who may not push here",
                )
            )
        else:
            work.notes.append(f"push signed by {cert.signer}")


def _commit_fix(v: Verdict, cmd: str, rule: "Rule") -> str:
    hint = HINTS[v.status]
    if _REBASE in hint:
        return hint.replace(_REBASE, cmd)
    if v.status is Status.NOT_ALLOWED:
        return f"re-sign with the key of an allowed signer ({', '.join(rule.signers)}): `{cmd}`"
    if v.status is Status.IDENTITY_MISMATCH:
        return (
            "commit with an e-mail address of your signing key (`git config user.email`), "
            f"then re-sign: `{cmd}`"
        )
    if v.status in _RESIGN:
        return f"{hint}: `{cmd}`" if hint.endswith(" key") else f"{hint}; re-sign: `{cmd}`"
    return hint


def _merge_results(update: RefUpdate, results: Sequence[RefResult]) -> RefResult:
    """One ref governed by several rules (through symbolic refs): accepted only if
    every rule accepts; each rule's findings are kept."""
    refused = [r for r in results if not r.accepted]
    shown = refused or list(results)
    return RefResult(
        update,
        not refused,
        "; ".join(dict.fromkeys(r.summary for r in shown)),
        rule=", ".join(r.rule for r in results if r.rule),
        checked=max(r.checked for r in results),
        offending=tuple(v for r in results for v in r.offending),
        problems=tuple(dict.fromkeys(p for r in results for p in r.problems)),
    )


def _ref_result(
    update: RefUpdate, rule: "Rule", label: str, work: _RefWork, deleting: bool
) -> RefResult:
    reasons = list(dict.fromkeys(p.summary or p.reason for p in work.problems))
    if work.offending and rule.require == "signed":
        reasons.append(
            f"{len(work.offending)} of {plural(work.checked, 'new commit')} not acceptable"
        )
    elif work.offending:
        reasons.append(f"the tag is not acceptable ({work.offending[0].status.value})")
    accepted = not reasons
    if not accepted:
        summary = "rejected: " + "; ".join(reasons)
    elif deleting:
        summary = "accepted: deletion allowed"
    elif rule.require == "signed" and work.checked:
        summary = f"accepted: {plural(work.checked, 'new commit')} signed by allowed signers"
    elif rule.require == "signed":
        summary = "accepted: no new commits"
    elif rule.require == "signed-tag":
        summary = "accepted: signed tag"
    else:
        summary = 'accepted: require = "none"'
    if accepted and work.notes:
        summary += f" ({'; '.join(work.notes)})"
    return RefResult(
        update,
        accepted,
        summary,
        rule=label,
        checked=work.checked,
        offending=tuple(work.offending),
        problems=tuple(work.problems),
    )


def check_updates(
    repo: Repo,
    updates: Sequence[RefUpdate],
    policy: "Policy",
    *,
    now: int,
    push_cert: "PushCert | None" = None,
    known: Sequence[str] | None = None,
    pushees: Sequence[str] = (),
    reader: ObjectReader | None = None,
    refs: git.Pending | None = None,
) -> ReceiveResult:
    """Decide every ref update of one push (see the module docstring). Raises
    :class:`GuardError` for input or git failures: callers fail closed.

    A hook may start git early and pass it in (both are closed here): ``reader``, the
    repository's :class:`ObjectReader`, and ``refs``, ``git.Pending(*git.REFS_QUERY)``."""
    guard = _Guard(repo, policy, now, known, reader=reader, refs=refs)
    try:
        for update in updates:
            check_update(update, repo)
        guard.prefetch(updates)
        cert: CertCheck | None = None
        needs_cert = any(
            (r := policy.rule_for(u.ref)) is not None and r.require_signed_push for u in updates
        )
        if needs_cert:
            from gitguard.server.pushcert import check_certificate

            cert = check_certificate(
                push_cert,
                updates,
                verifier=guard.verifier,
                policy=policy,
                now=now,
                pushees=pushees,
            )
        results = tuple(guard.check_ref(u, cert) for u in updates)
    finally:
        guard.close()
    return ReceiveResult(
        results,
        policy.source,
        cert.describe() if cert is not None else None,
        guard.warnings(),
    )


# --------------------------------------------------------------------------- report


def _verdict_lines(v: Verdict) -> list[str]:
    kind = "" if v.kind is Kind.COMMIT else f"{v.kind.value} "
    key = v.key or "-"
    if v.signer:
        key += f" ({v.signer})"
    lines = [f"  {kind}{_short(v.object)}  {v.subject or '(no subject)'}"]
    if v.author:
        lines.append(f"      {'author' if v.kind is Kind.COMMIT else 'tagger'}  {v.author}")
    lines += [
        f"      status  {v.status.value}: {v.reason}",
        f"      key     {key}",
        f"      fix     {v.hint}",
    ]
    return lines


def format_report(result: ReceiveResult, *, cap: int = REPORT_CAP, title: str | None = None) -> str:
    """The report for the pusher: each offending object (at most ``cap``, then a
    count) with subject, author, status, key and fix; ref-level problems with their
    fix; then one summary line per ref. Pure: the same result gives the same text."""
    lines: list[str] = []
    if not result.accepted:
        n_bad = sum(1 for _ in result.offending)
        n_refs = sum(1 for r in result.refs if not r.accepted)
        what = f"{plural(n_bad, 'offending object')} on " if n_bad else ""
        lines.append(
            title
            or f"gitguard: push rejected: {what}{plural(n_refs, 'ref')} "
            f"({os.path.basename(result.policy)})"
        )
        listed = 0
        seen: set[tuple[str, str | None]] = set()
        hidden = 0
        for r in result.refs:
            if r.accepted:
                continue
            lines.append("")
            lines.append(f"{r.ref}  (rule {r.rule})" if r.rule else r.ref)
            for p in r.problems:
                lines.append(f"  {p.reason}")
                lines.append(f"      fix     {p.fix}")
            repeated = 0
            for v in r.offending:
                if (v.object, v.rule) in seen:
                    repeated += 1
                    continue
                seen.add((v.object, v.rule))
                if listed >= cap:
                    hidden += 1
                    continue
                listed += 1
                lines.extend(_verdict_lines(v))
            if repeated:
                lines.append(f"  ({plural(repeated, 'offending commit')} listed above)")
        if hidden:
            lines.append("")
            lines.append(
                f"… and {plural(hidden, 'more offending object')} not listed "
                f"({listed + hidden} in all)"
            )
        lines.append("")
    elif title:
        lines.append(title)
    if result.push_cert is not None and result.accepted:
        lines.append(f"gitguard: push certificate {result.push_cert}")
    several = len(result.refs) > 1
    for r in result.refs:
        if not result.accepted and several and r.accepted:
            # The push is refused as a whole: say plainly that this ref did not move.
            lines.append(f"gitguard: {r.ref}: not updated: the push is refused as a whole")
        else:
            lines.append(f"gitguard: {r.ref}: {r.summary}")
    for w in result.warnings:
        lines.append(f"gitguard: warning: {w.message}")
    return "\n".join(lines) + "\n"
