"""The trust policy: one TOML file turned into frozen, typed objects at load time.

::

    version = 1

    [trust]
    allowed_signers = "keys/allowed_signers"   # git's SSH format, read as ssh-keygen does
    openpgp = ["keys/*.asc"]                   # certificates; every glob must match a file
    sha1_self_signatures = "warn"              # or "refuse": keys bound by SHA-1 self-sigs

    [trust.x509]                        # X.509 signatures (gitsign, S/MIME)
    tlog = "if-present"                 # "require" | "if-present" | "ignore" (Rekor entries)
    trusted_root = "trusted_root.json"  # Sigstore; default: the pinned public-good root
    ca_bundle = "corp-ca.pem"           # S/MIME trust anchors (+ intermediates); or a list
    crl = ["corp.crl"]                  # optional; PEM or DER
    eku = "emailProtection"             # "emailProtection" | "codeSigning" | "any"

    [[signer]]
    name = "alice"
    emails = ["alice@example.com"]
    keys = ["ssh-ed25519 AAAA…", "openpgp:6F3A…"]   # fingerprint of a cert in [trust] openpgp
    valid_after = 2024-01-01
    retired_after = 2025-06-30
    compromised = false
    only_when_committer = ["GitHub <noreply@github.com>"]
    sigstore = [{ identity = "alice@example.com", issuer = "https://accounts.google.com" }]
    # or identity_regexp = "…" (fully anchored) instead of identity
    x509 = [{ email = "alice@corp.example" }]   # S/MIME certificate e-mail

    [groups]
    maintainers = ["alice", "bob"]      # signers or other groups

    [[rule]]
    refs = ["refs/heads/main"]
    require = "signed"                  # "signed" | "signed-tag" | "none"
    signers = ["maintainers"]           # required unless require = "none"
    committer_must_match = false
    allow_force_push = false
    allow_delete = false
    merges = "all"                      # "all" | "first-parent"
    exempt_before = "<full commit id>"
    require_signed_push = false

    default = "allow"                   # or "deny": refs no rule matches
    [release]
    tags = ["refs/tags/v*"]
    images = ["registry.example.com/app:{tag}"]
    key = "/etc/gitguard/cosign.key"
    annotations = { team = "platform" }

Who owns a key (the ``signer`` name in the trust store, which rules refer to):

- a ``[[signer]]`` key: that signer. The same key may not belong to two signers.
- an ``allowed_signers`` line: the ``[[signer]]`` whose ``keys`` list the line's key
  (the line must then name that signer: its name or one of its ``emails``), else a
  signer named after the line's first principal (ssh-keygen's principals are just
  identities: ``carol@example.com <key>`` makes a signer "carol@example.com"). A
  principal may not be the name or an e-mail (case-insensitively) of a ``[[signer]]``
  that does not list the key: ``alice <mallory's key>`` is refused, with the fix (add
  the key to alice's ``keys``), never attributed to alice.
- an OpenPGP certificate: the ``[[signer]]`` whose ``keys`` name its primary or a subkey
  fingerprint (``openpgp:FPR``). A certificate no signer claims belongs to a signer
  named after its first user-ID e-mail address (in Sequoia's user-ID order; the first
  user ID, or ``openpgp:FPR`` when it has none). Such a certificate may not carry the
  name or an e-mail address of a ``[[signer]]``: that is refused, with the fix (add
  ``openpgp:FPR`` to that signer's keys), so a file dropped into the key directory
  cannot borrow someone else's rights.

- an X.509 signature: the ``[[signer]]`` one of whose ``sigstore`` identities (with
  the same issuer) or ``x509`` e-mails the certificate names; an identity or e-mail
  may belong to one signer only.

Signers that exist only through trust files ("implicit" signers) are part of
:attr:`Policy.signers` too (after the ``[[signer]]`` entries, with their principals
or user-ID e-mails as ``emails``), so rules and groups may name them.

Errors: every problem is collected and raised at once as :class:`PolicyError`; each
is ``file:line: key.path: message``. Key paths count array elements from 1
(``signer[2]`` is the second ``[[signer]]``; ``keys[1]`` the first key). An unknown key
anywhere is an error: a typo must not quietly weaken the policy.
"""

import os
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeVar

from gitguard.errors import PolicyError
from gitguard.model import (
    OpenPGPTrustedCert,
    SigstoreIdentity,
    SshTrustedKey,
    TrustStore,
    X509Email,
    X509Trust,
)
from gitguard.trust._toml_lines import KeyPath, Locator, show_path
from gitguard.trust.ownership import Ownership

if TYPE_CHECKING:
    # Certificates are read only when a policy names some: off the hook path.
    from gitguard.trust.certificates import CertificateInfo

__all__ = [
    "FrozenMap",
    "Policy",
    "Release",
    "Rule",
    "Signer",
    "load_policy",
    "load_policy_file",
    "ref_pattern_problem",
]

K = TypeVar("K")
V = TypeVar("V")

Require = Literal["signed", "signed-tag", "none"]
Merges = Literal["all", "first-parent"]
Default = Literal["allow", "deny"]


class FrozenMap(Mapping[K, V]):
    """A read-only, hashable, picklable mapping (``MappingProxyType`` cannot be pickled,
    and policies travel to audit worker processes)."""

    __slots__ = ("_d",)

    def __init__(self, items: Mapping[K, V] | Iterable[tuple[K, V]] = ()) -> None:
        self._d: dict[K, V] = dict(items)

    def __getitem__(self, key: K) -> V:
        return self._d[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def __hash__(self) -> int:
        return hash(tuple(self._d.items()))

    def __repr__(self) -> str:
        return f"FrozenMap({self._d!r})"

    def __reduce__(self) -> "tuple[type[FrozenMap[K, V]], tuple[dict[K, V]]]":
        return (type(self), (self._d,))


class Signer(NamedTuple):
    """A person or system whose keys are trusted.

    ``keys`` are the keys the trust store attributes to this signer, as a
    :class:`~gitguard.model.Verification` reports them: ``SHA256:…`` for SSH keys, the
    primary-key fingerprint (upper-case hex) for OpenPGP certificates.

    Times are POSIX seconds (UTC); ``None`` means unbounded. Both bounds are inclusive:
    a signature at time ``t`` is within them when ``valid_after <= t <= retired_after``.
    In the policy file a TOML date means, for ``valid_after``, the start of that day
    (00:00:00 UTC) and, for ``retired_after``, the *end* of that day (23:59:59 UTC): the
    key may still sign on the day written. A date-time without an offset is UTC.
    ``retired_after`` is soft (later signatures refused, earlier ones stay good);
    ``compromised`` is hard (every signature by the signer's keys is refused).
    ``only_when_committer``: if non-empty, this signer is only accepted on commits
    whose committer identity (``Name <email>``) is one of these strings.
    """

    name: str
    emails: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    valid_after: int | None = None
    retired_after: int | None = None
    compromised: bool = False
    only_when_committer: tuple[str, ...] = ()


class Rule(NamedTuple):
    """One ``[[rule]]``. ``refs`` are globs over full ref names (``fnmatch`` rules:
    ``*`` also matches ``/``); the first rule that matches a ref applies.

    ``signers`` are signer names, groups already expanded (order kept, no repeats).
    ``exempt_before`` is a full object id (lower-case hex): that commit and its
    ancestors are not checked. ``line`` is the line of the ``[[rule]]`` header.
    """

    refs: tuple[str, ...]
    require: Require = "signed"
    signers: tuple[str, ...] = ()
    committer_must_match: bool = False
    allow_force_push: bool = False
    allow_delete: bool = False
    merges: Merges = "all"
    exempt_before: str | None = None
    require_signed_push: bool = False
    line: int = 0

    def matches(self, ref: str) -> bool:
        """Whether ``ref`` (a full name such as ``refs/heads/main``) is one of ours."""
        from fnmatch import fnmatchcase

        return any(fnmatchcase(ref, pattern) for pattern in self.refs)

    def vouches_for(self, other: "Rule") -> bool:
        """Whether every commit this rule accepted would pass ``other`` too (so that
        history already under a ref of this rule need not be judged again for a ref
        of ``other``): both require signed commits; this rule's signers are among
        ``other``'s; it checked every commit if ``other`` does (not only the first-
        parent chain); it matched committers if ``other`` does; it exempted no
        history that ``other`` does not exempt. Signers marked compromised later are
        the receive guard's concern (it re-judges promoted commits then)."""
        if self is other:
            return True
        return (
            self.require == "signed"
            and other.require == "signed"
            and set(self.signers) <= set(other.signers)
            and (self.merges == "all" or other.merges == "first-parent")
            and (self.committer_must_match or not other.committer_must_match)
            and (self.exempt_before is None or self.exempt_before == other.exempt_before)
        )


class Release(NamedTuple):
    """``[release]``: which tags trigger image signing, the image references
    (``{tag}`` and ``{commit}`` placeholders), the cosign key path (resolved against the
    policy's directory) and extra signature annotations."""

    tags: tuple[str, ...]
    images: tuple[str, ...]
    key: str
    annotations: Mapping[str, str] = FrozenMap()


class Policy(NamedTuple):
    """A loaded policy. ``groups`` maps each group to its signer names (nested groups
    already expanded). ``source`` is the display name it was loaded from."""

    source: str
    version: int
    trust: TrustStore
    signers: tuple[Signer, ...] = ()
    groups: Mapping[str, tuple[str, ...]] = FrozenMap()
    rules: tuple[Rule, ...] = ()
    default: Default = "allow"
    release: Release | None = None

    def signer(self, name: str) -> Signer | None:
        """The signer called ``name``, or None."""
        for s in self.signers:
            if s.name == name:
                return s
        return None

    def rule_for(self, ref: str) -> Rule | None:
        """The first rule whose ``refs`` match ``ref``, or None (then ``default``)."""
        for rule in self.rules:
            if rule.matches(ref):
                return rule
        return None


# ---------------------------------------------------------------------------
# The loader


class Field(NamedTuple):
    """One key of a policy section: how its value is read (``kind``), its default,
    and for ``choice`` the allowed values. ``custom`` keys are read by the section's
    own code (they need more than their value); every key of a section is in its
    table, so the allowed keys and the readers cannot drift apart."""

    kind: Literal["bool", "choice", "custom"]
    default: object = None
    options: tuple[str, ...] = ()


_TOP_KEYS = ("version", "trust", "signer", "groups", "rule", "default", "release")
_TRUST_FIELDS: dict[str, Field] = {
    "allowed_signers": Field("custom"),
    "openpgp": Field("custom"),
    "x509": Field("custom"),
    "sha1_self_signatures": Field("choice", "warn", ("warn", "refuse")),
}
_TRUST_X509_FIELDS: dict[str, Field] = {
    "ca_bundle": Field("custom"),
    "crl": Field("custom"),
    "eku": Field("choice", "emailProtection", ("emailProtection", "codeSigning", "any")),
    "trusted_root": Field("custom"),
    "tlog": Field("choice", "if-present", ("require", "if-present", "ignore")),
}
_SIGSTORE_KEYS = ("identity", "identity_regexp", "issuer")
_X509_SIGNER_KEYS = ("email",)
_SIGNER_KEYS = (
    "name",
    "emails",
    "keys",
    "valid_after",
    "retired_after",
    "compromised",
    "only_when_committer",
    "sigstore",
    "x509",
)


_RULE_FIELDS: dict[str, Field] = {
    "refs": Field("custom"),
    "require": Field("choice", "signed", ("signed", "signed-tag", "none")),
    "signers": Field("custom"),
    "committer_must_match": Field("bool", False),
    "allow_force_push": Field("bool", False),
    "allow_delete": Field("bool", False),
    "merges": Field("choice", "all", ("all", "first-parent")),
    "exempt_before": Field("custom"),
    "require_signed_push": Field("bool", False),
}
_RELEASE_KEYS = ("tags", "images", "key", "annotations")
_IMAGE_FIELDS = ("tag", "commit")


def _is_hex_id(text: str, digits: str) -> bool:
    """A full SHA-1 or SHA-256 sized hex identifier (fingerprint, object id)."""
    return len(text) in (40, 64) and all(c in digits for c in text)


_DAY = 86400


def _kind(value: object) -> str:
    import datetime as _dt

    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, _dt.datetime):
        return "a date-time"
    if isinstance(value, _dt.date):
        return "a date"
    if isinstance(value, _dt.time):
        return "a time of day"
    return type(value).__name__


def _quoted(values: Iterable[str]) -> str:
    items = [f'"{v}"' for v in values]
    return ", ".join(items[:-1]) + f" or {items[-1]}" if len(items) > 1 else items[0]


def _dedup(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def ref_pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not a usable ref glob, or None. Patterns name full refs
    (``refs/…``) and may use ``*``, ``?`` and ``[…]``; otherwise git's ref-name rules."""
    if not pattern.startswith("refs/"):
        return 'must start with "refs/" (e.g. "refs/heads/main")'
    bad = sorted({c for c in pattern if ord(c) < 0x20 or c in " ~^:\\\x7f"})
    if bad:
        return "contains " + ", ".join(repr(c) for c in bad) + ", not allowed in ref names"
    for seq in ("..", "//", "@{"):
        if seq in pattern:
            return f'contains "{seq}", not allowed in ref names'
    if pattern.endswith(("/", ".", ".lock")):
        return 'must not end with "/", "." or ".lock"'
    if any(part.startswith(".") for part in pattern.split("/")):
        return 'no path component may start with "."'
    i = 0
    while i < len(pattern):
        if pattern[i] == "[":
            j = i + 1
            if pattern[j : j + 1] == "!":
                j += 1
            if pattern[j : j + 1] == "]":
                j += 1
            end = pattern.find("]", j)
            if end < 0:
                return 'has a "[" without a closing "]"'
            i = end
        i += 1
    return None


class _SignerDraft:
    __slots__ = (
        "compromised",
        "emails",
        "keys",
        "name",
        "only_when_committer",
        "retired_after",
        "valid_after",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.emails: list[str] = []
        self.keys: list[str] = []
        self.valid_after: int | None = None
        self.retired_after: int | None = None
        self.compromised = False
        self.only_when_committer: tuple[str, ...] = ()

    def freeze(self) -> Signer:
        return Signer(
            name=self.name,
            emails=_dedup(self.emails),
            keys=_dedup(self.keys),
            valid_after=self.valid_after,
            retired_after=self.retired_after,
            compromised=self.compromised,
            only_when_committer=self.only_when_committer,
        )


class _CertEntry:
    __slots__ = ("cert", "info", "path", "signer", "sources")

    def __init__(self, cert: Any, source: str, path: KeyPath) -> None:
        self.cert = cert
        from gitguard.trust.certificates import cert_info

        self.info = cert_info(cert)
        self.sources = [source]
        self.path = path
        self.signer: str | None = None


class _Loader:
    def __init__(self, name: str, base_dir: str, text: str) -> None:
        self.name = name
        self.base_dir = base_dir
        self.loc = Locator(text)
        self._problems: list[tuple[int, tuple[tuple[int, int, str], ...], int, str]] = []
        # attribution state
        self.ssh: list[SshTrustedKey] = []
        self.owners = Ownership()
        self.certs: list[_CertEntry] = []
        self.cert_by_fpr: dict[str, _CertEntry] = {}
        self.openpgp_failed = False
        self.explicit: dict[str, _SignerDraft] = {}
        self.implicit: dict[str, _SignerDraft] = {}
        self.signer_lines: dict[str, int] = {}
        # X.509 identities: (issuer, identity or regexp) and e-mail -> owning signer
        self.sigstore: list[SigstoreIdentity] = []
        self.x509_emails: list[X509Email] = []
        self.x509_owner: dict[tuple[str, ...], str] = {}

    # -- problems ------------------------------------------------------------

    def file(self, rel: str) -> str:
        """A file the policy names, relative to the policy's directory."""
        return rel if self.base_dir in ("", ".") else os.path.join(self.base_dir, rel)

    def error(self, path: KeyPath, message: str) -> None:
        line = self.loc.line_of(path)
        where = f"{self.name}:{line}" if line else self.name
        self._add(line or 0, path, f"{where}: {show_path(path)}: {message}")

    def external(self, path: KeyPath, problems: Iterable[str]) -> None:
        """Problems found in another file, listed where ``path`` refers to it."""
        line = self.loc.line_of(path) or 0
        for text in problems:
            self._add(line, (), text)

    def _add(self, line: int, path: KeyPath, text: str) -> None:
        # Listed by line, then by key path (so list items come in order), then as found.
        order = tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in path)
        self._problems.append((line, order, len(self._problems), text))

    def line(self, path: KeyPath) -> int:
        return self.loc.line_of(path) or 0

    # -- typed accessors (None after reporting a problem) -----------------------

    def table(self, value: object, path: KeyPath, allowed: Iterable[str]) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.error(path, f"expected a table, not {_kind(value)}")
            return None
        known = tuple(allowed)
        for key in value:
            if key not in known:
                self.error((*path, key), f"unknown key (expected one of: {', '.join(known)})")
        return value

    def tables(self, value: object, path: KeyPath) -> list[Any]:
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.error(path, f"expected an array of tables ([[{show_path(path)}]])")
            return []
        return value

    def inline_tables(self, value: object, path: KeyPath, example: str) -> list[Any]:
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.error(path, f"expected a list of tables, e.g. {example}")
            return []
        return value

    def string(self, value: object, path: KeyPath) -> str | None:
        if not isinstance(value, str):
            self.error(path, f"expected a string, not {_kind(value)}")
            return None
        if not value.strip():
            self.error(path, "must not be empty")
            return None
        return value

    def strings(self, value: object, path: KeyPath) -> list[tuple[KeyPath, str]] | None:
        """A list of non-empty strings, each with its own path."""
        if not isinstance(value, list):
            self.error(path, f"expected a list of strings, not {_kind(value)}")
            return None
        out: list[tuple[KeyPath, str]] = []
        for i, item in enumerate(value):
            s = self.string(item, (*path, i))
            if s is not None:
                out.append(((*path, i), s))
        return out

    def boolean(self, value: object, path: KeyPath) -> bool | None:
        if not isinstance(value, bool):
            self.error(path, f"expected true or false, not {_kind(value)}")
            return None
        return value

    def fields(
        self, raw: dict[str, Any], path: KeyPath, table: Mapping[str, Field]
    ) -> dict[str, Any]:
        """Every non-custom field of ``table``: its value read by its kind (a bad
        value is reported and gives the default), or its default when absent."""
        values: dict[str, Any] = {}
        for key, field in table.items():
            if field.kind == "custom":
                continue
            value: object = None
            if key in raw:
                if field.kind == "bool":
                    value = self.boolean(raw[key], (*path, key))
                else:
                    value = self.choice(raw[key], (*path, key), field.options)
            values[key] = field.default if value is None else value
        return values

    def choice(self, value: object, path: KeyPath, options: tuple[str, ...]) -> str | None:
        if not isinstance(value, str) or value not in options:
            shown = f'"{value}"' if isinstance(value, str) else _kind(value)
            self.error(path, f"expected {_quoted(options)}, not {shown}")
            return None
        return value

    def instant(self, value: object, path: KeyPath, *, end_of_day: bool) -> int | None:
        import datetime as _dt

        if isinstance(value, _dt.datetime):
            when = value if value.tzinfo else value.replace(tzinfo=_dt.UTC)
            return int(when.timestamp() // 1)
        if isinstance(value, _dt.date):
            start = _dt.datetime(value.year, value.month, value.day, tzinfo=_dt.UTC)
            t = int(start.timestamp())
            return t + _DAY - 1 if end_of_day else t
        self.error(
            path,
            f"expected a TOML date or date-time (e.g. 2024-01-31 or 2024-01-31T12:00:00Z), "
            f"not {_kind(value)}",
        )
        return None

    def ref_patterns(self, value: object, path: KeyPath, prefix: str = "refs/") -> tuple[str, ...]:
        items = self.strings(value, path)
        if items is None:
            return ()
        if not items and isinstance(value, list) and not value:
            self.error(path, "must list at least one ref pattern")
        out: list[str] = []
        for p, pattern in items:
            problem = ref_pattern_problem(pattern)
            if problem is None and not pattern.startswith(prefix):
                problem = f'must start with "{prefix}"'
            if problem:
                self.error(p, f'bad ref pattern "{pattern}": {problem}')
            else:
                out.append(pattern)
        return tuple(out)

    # -- sections -------------------------------------------------------------

    def load(self, doc: dict[str, Any]) -> Policy:
        self.table(doc, (), _TOP_KEYS)
        version = self.version(doc)
        trust: dict[str, Any] = {}
        if "trust" in doc:
            trust = self.table(doc["trust"], ("trust",), _TRUST_FIELDS) or {}
        if "openpgp" in trust:
            self.load_openpgp(trust["openpgp"])
        for i, raw in enumerate(self.tables(doc.get("signer", []), ("signer",))):
            self.signer(raw, ("signer", i))
        if "allowed_signers" in trust:
            self.load_allowed_signers(trust["allowed_signers"])
        x509 = self.load_x509(trust.get("x509"))
        sha1 = self.fields(trust, ("trust",), _TRUST_FIELDS)["sha1_self_signatures"]
        self.attribute_unclaimed_certs()
        names = set(self.explicit) | set(self.implicit)
        groups = self.groups(doc.get("groups", {}), names)
        rules = tuple(
            r
            for i, raw in enumerate(self.tables(doc.get("rule", []), ("rule",)))
            if (r := self.rule(raw, ("rule", i), names, groups)) is not None
        )
        default = "allow"
        if "default" in doc:
            default = self.choice(doc["default"], ("default",), ("allow", "deny")) or "allow"
        release = self.release(doc["release"]) if "release" in doc else None

        if self._problems:
            raise PolicyError([p[-1] for p in sorted(self._problems)])
        assert version is not None  # noqa: S101 - a missing version is a reported problem
        openpgp = tuple(
            OpenPGPTrustedCert(
                signer=e.signer or _cert_signer_name(e.info),
                cert=e.info.data,
                source=", ".join(e.sources),
            )
            for e in self.certs
        )
        return Policy(
            source=self.name,
            version=version,
            trust=TrustStore(
                ssh=tuple(self.ssh), openpgp=openpgp, x509=x509, sha1_self_signatures=sha1
            ),
            signers=tuple(d.freeze() for d in (*self.explicit.values(), *self.implicit.values())),
            groups=FrozenMap(groups),
            rules=rules,
            default="deny" if default == "deny" else "allow",
            release=release,
        )

    def version(self, doc: dict[str, Any]) -> int | None:
        if "version" not in doc:
            self.error(("version",), "missing required key (add: version = 1)")
            return None
        value = doc["version"]
        if not isinstance(value, int) or isinstance(value, bool):
            self.error(("version",), f"expected an integer, not {_kind(value)}")
            return None
        if value != 1:
            self.error(("version",), f"unsupported version {value} (this gitguard reads version 1)")
            return None
        return value

    def load_openpgp(self, value: object) -> None:
        import glob

        path: KeyPath = ("trust", "openpgp")
        patterns = self.strings(value, path)
        if patterns is None:
            self.openpgp_failed = True
            return
        seen: set[str] = set()
        for p, pattern in patterns:
            matches = sorted(glob.glob(pattern, root_dir=self.base_dir, recursive=True))
            files = [f for m in matches if os.path.isfile(f := self.file(m))]
            if not files:
                self.error(p, f'"{pattern}" matches no files (relative to {self.base_dir})')
                self.openpgp_failed = True
                continue
            for file in files:
                key = os.path.realpath(file)
                if key in seen:
                    continue
                seen.add(key)
                self.load_cert_file(file, p)

    def load_cert_file(self, file: str, path: KeyPath) -> None:
        try:
            data = _read(file)
            from gitguard.trust.certificates import split_certs

            certs = split_certs(data)
        except OSError as e:
            self.error(path, f"cannot read {file}: {e.strerror or e}")
            self.openpgp_failed = True
            return
        except ValueError as e:
            self.error(path, f"{file}: {e}")
            self.openpgp_failed = True
            return
        for cert in certs:
            fpr = cert.fingerprint.upper()
            entry = self.cert_by_fpr.get(fpr)
            if entry is not None and entry.info.fingerprint == fpr:
                # The same certificate again (say, with a new revocation): merge them.
                entry.cert = entry.cert.merge(cert)
                entry.info = _cert_info(entry.cert)
                entry.sources.append(file)
            else:
                entry = _CertEntry(cert, file, path)
                self.certs.append(entry)
            for f in (entry.info.fingerprint, *entry.info.subkeys):
                self.cert_by_fpr.setdefault(f, entry)

    def signer(self, raw: dict[str, Any], path: KeyPath) -> None:
        self.table(raw, path, _SIGNER_KEYS)
        name: str | None = None
        if "name" not in raw:
            self.error((*path, "name"), "missing required key")
        else:
            name = self.string(raw["name"], (*path, "name"))
        if name is not None and self.owners.is_signer(name):
            first = self.signer_lines[name]
            self.error((*path, "name"), f'duplicate signer name "{name}" (first at line {first})')
            name = None
        draft = _SignerDraft(name or "")
        if name is not None:
            self.explicit[name] = draft
            line = self.signer_lines[name] = self.line((*path, "name"))
            self.owners.add_signer(name, f"{self.name}:{line}")

        for p, email in self.strings(raw.get("emails", []), (*path, "emails")) or []:
            if "@" not in email or any(c.isspace() or c in "<>" for c in email):
                self.error(
                    p, f'"{email}" is not an e-mail address (write it bare: name@example.com)'
                )
                continue
            try:
                self.owners.claim_email(email, name)
            except ValueError as e:
                self.error(p, str(e))
                continue
            draft.emails.append(email)

        if "valid_after" in raw:
            draft.valid_after = self.instant(
                raw["valid_after"], (*path, "valid_after"), end_of_day=False
            )
        if "retired_after" in raw:
            draft.retired_after = self.instant(
                raw["retired_after"], (*path, "retired_after"), end_of_day=True
            )
        if (
            draft.valid_after is not None
            and draft.retired_after is not None
            and draft.retired_after < draft.valid_after
        ):
            self.error((*path, "retired_after"), "is before valid_after")
        if "compromised" in raw:
            draft.compromised = bool(self.boolean(raw["compromised"], (*path, "compromised")))
        if "only_when_committer" in raw:
            items = self.strings(raw["only_when_committer"], (*path, "only_when_committer"))
            draft.only_when_committer = _dedup(s for _, s in items or [])

        if "sigstore" in raw:
            example = '[{ identity = "…", issuer = "…" }]'
            identities = self.inline_tables(raw["sigstore"], (*path, "sigstore"), example)
            for i, item in enumerate(identities):
                self.sigstore_identity(item, (*path, "sigstore", i), name)
        if "x509" in raw:
            example = '[{ email = "…" }]'
            for i, item in enumerate(self.inline_tables(raw["x509"], (*path, "x509"), example)):
                self.x509_email(item, (*path, "x509", i), name)

        for p, key in self.strings(raw.get("keys", []), (*path, "keys")) or []:
            if key.startswith("openpgp:"):
                self.claim_cert(key[len("openpgp:") :], p, name, draft)
            else:
                self.signer_ssh_key(key, p, name, draft)

    def claim_x509(self, key: tuple[str, ...], path: KeyPath, name: str, what: str) -> bool:
        """Record that an X.509 identity belongs to ``name``; False (reported) if it
        already belongs to another signer."""
        owner = self.x509_owner.setdefault(key, name)
        if owner != name:
            self.error(path, f'{what} already belongs to signer "{owner}"')
            return False
        return True

    def sigstore_identity(self, raw: dict[str, Any], path: KeyPath, name: str | None) -> None:
        import re

        self.table(raw, path, _SIGSTORE_KEYS)
        issuer = None
        if "issuer" not in raw:
            self.error(
                (*path, "issuer"),
                'missing required key (the OIDC issuer, e.g. "https://accounts.google.com")',
            )
        else:
            issuer = self.string(raw["issuer"], (*path, "issuer"))
        exact = regexp = None
        if ("identity" in raw) == ("identity_regexp" in raw):
            self.error(path, 'needs exactly one of "identity" and "identity_regexp"')
        elif "identity" in raw:
            exact = self.string(raw["identity"], (*path, "identity"))
        else:
            regexp = self.string(raw["identity_regexp"], (*path, "identity_regexp"))
            if regexp is not None:
                try:
                    re.compile(regexp)
                except re.error as e:
                    self.error((*path, "identity_regexp"), f"not a regular expression: {e}")
                    regexp = None
        if name is None or issuer is None or (exact is None and regexp is None):
            return
        key = ("sigstore", issuer, "=" + exact if exact is not None else "~" + (regexp or ""))
        shown = f'identity "{exact}"' if exact is not None else f'identity_regexp "{regexp}"'
        if self.claim_x509(key, path, name, f"{shown} (issuer {issuer})"):
            self.sigstore.append(
                SigstoreIdentity(
                    signer=name,
                    issuer=issuer,
                    identity=exact,
                    identity_regexp=regexp,
                    source=f"{self.name}:{self.line(path)}",
                )
            )

    def x509_email(self, raw: dict[str, Any], path: KeyPath, name: str | None) -> None:
        self.table(raw, path, _X509_SIGNER_KEYS)
        if "email" not in raw:
            self.error((*path, "email"), "missing required key (the certificate's e-mail)")
            return
        email = self.string(raw["email"], (*path, "email"))
        if email is None:
            return
        if "@" not in email or any(c.isspace() or c in "<>" for c in email):
            self.error((*path, "email"), f'"{email}" is not an e-mail address')
            return
        if name is None:
            return
        if self.claim_x509(("x509", email.casefold()), path, name, f'e-mail "{email}"'):
            self.x509_emails.append(
                X509Email(signer=name, email=email, source=f"{self.name}:{self.line(path)}")
            )

    def x509_files(self, value: object, path: KeyPath) -> list[tuple[KeyPath, str, bytes]]:
        """One file name or a list of them, each read (relative to the policy)."""
        items: list[tuple[KeyPath, str]] | None
        if isinstance(value, str):
            s = self.string(value, path)
            items = [(path, s)] if s is not None else None
        else:
            items = self.strings(value, path)
        out: list[tuple[KeyPath, str, bytes]] = []
        for p, rel in items or []:
            file = self.file(rel)
            try:
                out.append((p, file, _read(file)))
            except OSError as e:
                self.error(p, f"cannot read {file}: {e.strerror or e}")
        return out

    def load_x509(self, value: object) -> X509Trust:
        """``[trust.x509]`` and the X.509 identities the signers named."""
        path: KeyPath = ("trust", "x509")
        raw: dict[str, Any] = {}
        if value is not None:
            raw = self.table(value, path, _TRUST_X509_FIELDS) or {}
        bundle: list[bytes] = []
        crls: list[bytes] = []
        trusted_root: bytes | None = None
        if "ca_bundle" in raw:
            from gitguard.signatures._x509_files import read_certificates

            for p, file, data in self.x509_files(raw["ca_bundle"], (*path, "ca_bundle")):
                try:
                    bundle.extend(read_certificates(data))
                except ValueError as e:
                    self.error(p, f"{file}: {e}")
        if "crl" in raw:
            from gitguard.signatures._x509_files import read_crls

            for p, file, data in self.x509_files(raw["crl"], (*path, "crl")):
                try:
                    crls.extend(read_crls(data))
                except ValueError as e:
                    self.error(p, f"{file}: {e}")
        if "trusted_root" in raw:
            from gitguard.signatures._x509_trustroot import parse_trusted_root

            p = (*path, "trusted_root")
            rel = self.string(raw["trusted_root"], p)
            for _, file, data in self.x509_files(rel, p) if rel is not None else []:
                try:
                    parse_trusted_root(data)
                except ValueError as e:
                    self.error(p, f"{file}: not a usable Sigstore trusted root: {e}")
                    continue
                trusted_root = data
        read = self.fields(raw, path, _TRUST_X509_FIELDS)
        eku, tlog = read["eku"], read["tlog"]
        if self.x509_emails and "ca_bundle" not in raw:
            first = self.x509_emails[0].source.rsplit(":", 1)[-1]
            self.error(
                path,
                f"signers name x509 e-mail identities (line {first}) but there is no "
                "[trust.x509] ca_bundle to check their certificates against",
            )
        return X509Trust(
            sigstore=tuple(self.sigstore),
            emails=tuple(self.x509_emails),
            trusted_root=trusted_root,
            ca_bundle=tuple(bundle),
            crls=tuple(crls),
            eku=eku,
            tlog=tlog,
        )

    def claim_cert(self, text: str, path: KeyPath, name: str | None, draft: _SignerDraft) -> None:
        fpr = text.strip().upper()
        if not _is_hex_id(fpr, "0123456789ABCDEF"):
            self.error(path, f'"openpgp:{text}": expected a 40 or 64 hex digit fingerprint')
            return
        entry = self.cert_by_fpr.get(fpr)
        if entry is None:
            if not self.openpgp_failed:
                self.error(path, f"no certificate with fingerprint {fpr} in [trust] openpgp files")
            return
        if name is None:
            return
        if entry.signer is not None and entry.signer != name:
            self.error(
                path,
                f'certificate {entry.info.fingerprint} already belongs to signer "{entry.signer}"',
            )
            return
        entry.signer = name
        draft.keys.append(entry.info.fingerprint)

    def signer_ssh_key(
        self, text: str, path: KeyPath, name: str | None, draft: _SignerDraft
    ) -> None:
        from gitguard.trust.sshkeys import fingerprint, parse_public_key_line

        try:
            key_type, blob = parse_public_key_line(text)
        except ValueError as e:
            self.error(
                path,
                f'expected an SSH public key ("ssh-ed25519 AAAA…") or "openpgp:<fingerprint>": {e}',
            )
            return
        if name is None:
            return
        where = f"{self.name}:{self.line(path)}"
        if not self.owners.claim_ssh_key(blob, name, where):
            owner, at = self.owners.ssh_holder(blob) or ("?", "?")
            self.error(path, f'key {fingerprint(blob)} already belongs to signer "{owner}" ({at})')
            return
        self.ssh.append(
            SshTrustedKey(
                signer=name,
                principals=tuple(draft.emails),
                key_type=key_type,
                key_blob=blob,
                source=where,
            )
        )
        draft.keys.append(fingerprint(blob))

    def signer_for_line(self, key: SshTrustedKey) -> str:
        """The signer of an allowed_signers line (called by the parser for each line,
        in order): :meth:`Ownership.owner_of_line` decides."""
        from gitguard.trust.sshkeys import fingerprint

        return self.owners.owner_of_line(
            key.key_type,
            key.key_blob,
            principals=key.principals,
            implicit=key.signer,
            fingerprint=fingerprint(key.key_blob),
            where=key.source,
        )

    def load_allowed_signers(self, value: object) -> None:
        from gitguard.trust.allowed_signers import parse_allowed_signers_lines
        from gitguard.trust.sshkeys import fingerprint

        path: KeyPath = ("trust", "allowed_signers")
        rel = self.string(value, path)
        if rel is None:
            return
        file = self.file(rel)
        try:
            text = _read(file).decode("utf-8", "surrogateescape")
        except OSError as e:
            self.error(path, f"cannot read {file}: {e.strerror or e}")
            return
        # The good lines count even when others are refused (the policy then fails
        # anyway), so that their signers are not also reported unknown.
        keys, problems = parse_allowed_signers_lines(text, file, signer_for=self.signer_for_line)
        self.external(path, problems)
        for key in keys:
            self.ssh.append(key)
            draft = self.explicit.get(key.signer)
            if draft is None:
                draft = self.implicit.setdefault(key.signer, _SignerDraft(key.signer))
                draft.emails.extend(key.principals)
            draft.keys.append(fingerprint(key.key_blob))

    def attribute_unclaimed_certs(self) -> None:
        """Certificates no ``[[signer]]`` lists become implicit signers of their own
        (:meth:`Ownership.owner_of_certificate` decides)."""
        for entry in self.certs:
            if entry.signer is not None:
                continue
            info = entry.info
            try:
                name = self.owners.owner_of_certificate(
                    _cert_signer_name(info),
                    info.emails,
                    info.fingerprint,
                    ", ".join(entry.sources),
                )
            except ValueError as e:
                self.error(entry.path, str(e))
                continue
            entry.signer = name
            draft = self.implicit.setdefault(name, _SignerDraft(name))
            draft.emails.extend(info.emails)
            draft.keys.append(info.fingerprint)

    def groups(self, value: object, names: set[str]) -> dict[str, tuple[str, ...]]:
        path: KeyPath = ("groups",)
        if not isinstance(value, dict):
            self.error(path, f"expected a table, not {_kind(value)}")
            return {}
        members: dict[str, list[tuple[KeyPath, str]]] = {}
        for group, raw in value.items():
            gp = (*path, group)
            items = self.strings(raw, gp)
            if group in names:  # members naming it mean the signer
                self.error(gp, f'"{group}" is both a group and a signer name')
                continue
            members[group] = items or []
        for items in members.values():
            for p, member in items:
                if member not in members and member not in names:
                    self.error(p, f'unknown signer or group "{member}"')

        expanded: dict[str, tuple[str, ...]] = {}
        reported: set[frozenset[str]] = set()

        def expand(group: str, stack: list[str]) -> tuple[str, ...]:
            if group in expanded:
                return expanded[group]
            if group in stack:
                cycle = [*stack[stack.index(group) :], group]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    self.error((*path, cycle[0]), "groups form a cycle: " + " -> ".join(cycle))
                return ()
            stack.append(group)
            out: list[str] = []
            for _, member in members[group]:
                if member in members:
                    out.extend(expand(member, stack))
                elif member in names:
                    out.append(member)
            stack.pop()
            expanded[group] = _dedup(out)
            return expanded[group]

        for group in members:
            expand(group, [])
        return expanded

    def rule(
        self,
        raw: dict[str, Any],
        path: KeyPath,
        names: set[str],
        groups: Mapping[str, tuple[str, ...]],
    ) -> Rule | None:
        self.table(raw, path, _RULE_FIELDS)
        read = self.fields(raw, path, _RULE_FIELDS)
        refs: tuple[str, ...] = ()
        if "refs" not in raw:
            self.error((*path, "refs"), "missing required key")
        else:
            refs = self.ref_patterns(raw["refs"], (*path, "refs"))
        require = read["require"]
        signers: list[str] = []
        if "signers" in raw:
            items = self.strings(raw["signers"], (*path, "signers"))
            if items is not None and not items and require != "none":
                self.error((*path, "signers"), "must name at least one signer or group")
            for p, member in items or []:
                if member in groups:
                    signers.extend(groups[member])
                elif member in names:
                    signers.append(member)
                else:
                    self.error(p, f'unknown signer or group "{member}"')
        elif require != "none":
            self.error(
                (*path, "signers"), "missing required key (the signers or groups this rule allows)"
            )
        merges = read["merges"]
        exempt: str | None = None
        if "exempt_before" in raw:
            exempt = self.string(raw["exempt_before"], (*path, "exempt_before"))
            if exempt is not None and not _is_hex_id(exempt.lower(), "0123456789abcdef"):
                self.error(
                    (*path, "exempt_before"),
                    f'"{exempt}" is not a full commit id (40 or 64 hex digits)',
                )
                exempt = None
            exempt = exempt.lower() if exempt else None
        return Rule(
            refs=refs,
            require="signed-tag"
            if require == "signed-tag"
            else "none"
            if require == "none"
            else "signed",
            signers=_dedup(signers),
            committer_must_match=bool(read["committer_must_match"]),
            allow_force_push=bool(read["allow_force_push"]),
            allow_delete=bool(read["allow_delete"]),
            merges="first-parent" if merges == "first-parent" else "all",
            exempt_before=exempt,
            require_signed_push=bool(read["require_signed_push"]),
            line=self.line(path),
        )

    def release(self, value: object) -> Release | None:
        path: KeyPath = ("release",)
        raw = self.table(value, path, _RELEASE_KEYS)
        if raw is None:
            return None
        tags: tuple[str, ...] = ()
        if "tags" not in raw:
            self.error((*path, "tags"), "missing required key")
        else:
            tags = self.ref_patterns(raw["tags"], (*path, "tags"), prefix="refs/tags/")
        images: list[str] = []
        if "images" not in raw:
            self.error((*path, "images"), "missing required key")
        else:
            items = self.strings(raw["images"], (*path, "images"))
            if items is not None and not items:
                self.error((*path, "images"), "must list at least one image")
            for p, image in items or []:
                problem = _image_problem(image)
                if problem:
                    self.error(p, f'bad image reference "{image}": {problem}')
                else:
                    images.append(image)
        key = ""
        if "key" not in raw:
            self.error((*path, "key"), "missing required key")
        else:
            key_text = self.string(raw["key"], (*path, "key"))
            if key_text is not None:
                key = self.file(key_text)
        annotations: dict[str, str] = {}
        if "annotations" in raw:
            table = raw["annotations"]
            if not isinstance(table, dict):
                self.error((*path, "annotations"), f"expected a table, not {_kind(table)}")
            else:
                for k, v in table.items():
                    if isinstance(v, str):
                        annotations[k] = v
                    else:
                        self.error((*path, "annotations", k), f"expected a string, not {_kind(v)}")
        return Release(tuple(tags), tuple(images), key, FrozenMap(annotations))


def _image_problem(image: str) -> str | None:
    from string import Formatter

    if any(c.isspace() for c in image):
        return "contains white space"
    try:
        fields = [f for _, f, _, _ in Formatter().parse(image) if f is not None]
    except ValueError as e:
        return str(e)
    for name in fields:
        if name not in _IMAGE_FIELDS:
            known = ", ".join("{" + f + "}" for f in _IMAGE_FIELDS)
            return f"unknown placeholder {{{name}}} (known: {known})"
    return None


def load_policy(
    data: bytes, name: str, *, base_dir: str | os.PathLike[str], cache: str | None = None
) -> Policy:
    """Parse and validate a policy from ``data``; ``name`` is how messages refer to it
    (a path, later ``<commit>:<path>``); relative trust files resolve against
    ``base_dir``. Raises :class:`PolicyError` listing every problem found. ``cache``
    names a :mod:`gitguard.trust.policycache` file for the parsed TOML (the receive hook's)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PolicyError([f"{name}: not UTF-8 text (byte {e.start})"]) from None
    doc = None
    if cache is not None:
        from gitguard.trust import policycache

        doc = policycache.load(cache, data)
    if doc is None:
        import tomllib

        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise PolicyError([f"{name}: {e}"]) from None
        if cache is not None:
            policycache.store(cache, data, doc)
    return _Loader(name, os.fspath(base_dir), text).load(doc)


def load_policy_file(path: str | os.PathLike[str], *, cache: str | None = None) -> Policy:
    """Load the policy file at ``path``; trust files resolve against its directory.
    (Paths stay strings: the receive hook imports this, and pathlib costs it ≈4 ms.)"""
    name = os.fspath(path)
    try:
        data = _read(name)
    except OSError as e:
        raise PolicyError([f"{name}: cannot read: {e.strerror or e}"]) from None
    return load_policy(data, name, base_dir=os.path.dirname(name) or ".", cache=cache)


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _cert_info(cert: Any) -> "CertificateInfo":
    from gitguard.trust.certificates import cert_info

    return cert_info(cert)


def _cert_signer_name(info: "CertificateInfo") -> str:
    from gitguard.trust.certificates import cert_signer_name

    return cert_signer_name(info)
