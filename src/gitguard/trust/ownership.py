"""Who owns which key: the security-relevant rules of the trust store, kept apart from
TOML, files and positions so that they can be read, and tested, on their own.

- A ``[[signer]]`` (an *explicit* signer) owns the keys it lists and the e-mail
  addresses it names; each key, e-mail and name has one owner.
- A key that only a trust file names (an allowed_signers line, a certificate in
  ``[trust] openpgp``) belongs to the signer that lists it, if one does — and then the
  line must name that signer — or else to an *implicit* signer named by the line's
  first principal (the certificate's e-mail or user ID). It can never take an explicit
  signer's name or e-mail: ``alice <mallory's key>`` in allowed_signers does not make
  mallory's commits alice's.

Every refusal is a :class:`ValueError` whose message says what and how to fix it; the
policy loader adds where (file and line).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable

__all__ = ["Ownership"]


def _dedup(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


class Ownership:
    """The owners of signer names, e-mail addresses and SSH keys, as a policy is read.

    ``where`` strings (``policy.toml:12``) only serve the messages.
    """

    def __init__(self) -> None:
        self._signers: dict[str, str] = {}  # explicit signer -> where it is defined
        self._emails: dict[str, str] = {}  # casefolded e-mail -> explicit signer
        self._ssh: dict[bytes, tuple[str, str]] = {}  # key blob -> (owner, where)

    # -- explicit signers --------------------------------------------------------

    def is_signer(self, name: str) -> bool:
        """Whether ``name`` is an explicit ``[[signer]]``."""
        return name in self._signers

    def add_signer(self, name: str, where: str) -> None:
        """Record the explicit signer ``name``; raises if the name is taken."""
        first = self._signers.setdefault(name, where)
        if first != where:
            raise ValueError(f'duplicate signer name "{name}" (first at {first})')

    def claim_email(self, email: str, name: str | None) -> None:
        """Record that ``name`` (``None``: a signer already refused) names ``email``;
        raises if another signer does."""
        owner = self._emails.get(email.casefold())
        if owner is not None and owner != name:
            raise ValueError(f'e-mail "{email}" is also listed by signer "{owner}"')
        if name is not None:
            self._emails[email.casefold()] = name

    def claim_ssh_key(self, blob: bytes, name: str, where: str) -> bool:
        """Record that ``blob`` belongs to ``name``; False if another signer holds it."""
        return self._ssh.setdefault(blob, (name, where))[0] == name

    def ssh_holder(self, blob: bytes) -> tuple[str, str] | None:
        """``(owner, where)`` of an SSH key, if it has one."""
        return self._ssh.get(blob)

    # -- what a trust-file identity names -----------------------------------------

    def named_by(self, principal: str) -> list[tuple[str, str]]:
        """The explicit signers a trust-file identity names: ``(signer, how)``, how
        being "the name" (exact) or "an e-mail" (case-insensitive); a signer named like
        one of its e-mails once, as "the name"."""
        found: list[tuple[str, str]] = []
        if principal in self._signers:
            found.append((principal, "the name"))
        owner = self._emails.get(principal.casefold())
        if owner is not None and owner != principal:
            found.append((owner, "an e-mail"))
        return found

    def owner_of_line(
        self,
        key_type: str,
        blob: bytes,
        *,
        principals: Iterable[str],
        implicit: str,
        fingerprint: str,
        where: str,
    ) -> str:
        """The signer of an allowed_signers line for ``blob`` naming ``principals``
        (``implicit``: the signer the line makes when no ``[[signer]]`` lists its key).

        A key a ``[[signer]]`` lists belongs to that signer, and the line must name it
        (its name or an e-mail), no other. Any other key belongs to the implicit signer,
        and no principal of the line may be the name or an e-mail of a ``[[signer]]``.
        Raises :class:`ValueError` with one problem per line of its message."""
        held = self._ssh.get(blob)
        claimer = held[0] if held is not None and held[0] in self._signers else None
        problems: list[str] = []
        names_claimer = False
        for principal in _dedup(p for p in principals if p):
            for signer, how in self.named_by(principal):
                if signer == claimer:
                    names_claimer = True
                    continue
                said = (
                    f'principal "{principal}" is {how} of [[signer]] "{signer}" '
                    f"({self._signers[signer]})"
                )
                if claimer is None:
                    text = f"{key_type} {base64.b64encode(blob).decode('ascii')}"
                    problems.append(
                        f"{said}, whose keys do not include this line's key {fingerprint}: a "
                        f"trust file cannot give a key to a [[signer]]; if the key is "
                        f"{signer}'s, add \"{text}\" to that signer's keys, else change the "
                        "principal"
                    )
                else:
                    assert held is not None  # noqa: S101 - claimer comes from held
                    problems.append(
                        f"{said}, but this line's key {fingerprint} belongs to signer "
                        f'"{claimer}" ({held[1]}): a key has one owner; name that signer on '
                        f'this line ("{claimer}" or one of its e-mails) instead'
                    )
        if problems:
            raise ValueError("\n".join(problems))
        name = claimer if claimer is not None and names_claimer else implicit
        if not self.claim_ssh_key(blob, name, where):
            assert held is not None  # noqa: S101 - a claim fails only for a held key
            owner, at = held
            fix = (
                f'name that signer on this line ("{owner}" or one of its e-mails)'
                if owner in self._signers
                else f'make "{owner}" the line\'s first principal'
            )
            raise ValueError(
                f'key {fingerprint} already belongs to signer "{owner}" ({at}); a key has '
                f"one owner: {fix}, or remove the line"
            )
        return name

    def owner_of_certificate(
        self, implicit: str, emails: Iterable[str], fingerprint: str, files: str
    ) -> str:
        """The implicit signer of a certificate no ``[[signer]]`` lists (named
        ``implicit``, from its user IDs); raises if that name or one of its e-mails is
        an explicit signer's."""
        fix = f'add "openpgp:{fingerprint}" to that signer\'s keys'
        if implicit in self._signers:
            raise ValueError(
                f"certificate {fingerprint} ({files}) is in no signer's keys but is named "
                f'"{implicit}" like a [[signer]]; {fix}'
            )
        owners = _dedup(self._emails[e.casefold()] for e in emails if e.casefold() in self._emails)
        if owners:
            raise ValueError(
                f"certificate {fingerprint} ({files}) is in no signer's keys but has the "
                f'e-mail address of signer "{owners[0]}"; {fix}'
            )
        return implicit
