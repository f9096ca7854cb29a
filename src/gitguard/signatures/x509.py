"""X.509/CMS signatures (gitsign, smimesign).

Recognised and reported, not yet verified: every such signature is ``unknown-key``
(git's ``E``: it cannot be checked) — never ``unsigned``, so an audit does not
mistake a signed history for an unsigned one, and never ``good``.
"""

from __future__ import annotations

import base64
import binascii

from gitguard.model import Format, Status, Verification

_BEGIN = b"-----BEGIN SIGNED MESSAGE-----"
_END = b"-----END SIGNED MESSAGE-----"


class X509Verifier:
    def verify(self, payload: bytes, signature: bytes, *, when: int | None) -> Verification:
        text = signature.strip()
        if not text.startswith(_BEGIN) or not text.endswith(_END):
            return Verification(
                Format.X509, Status.MALFORMED, "X.509 signature armor is incomplete"
            )
        body = b"".join(text[len(_BEGIN) : -len(_END)].split())
        try:
            der = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return Verification(
                Format.X509, Status.MALFORMED, "X.509 signature armor is not valid base64"
            )
        # A CMS ContentInfo is a DER SEQUENCE.
        if not der or der[0] != 0x30:
            return Verification(
                Format.X509, Status.MALFORMED, "X.509 signature is not a CMS structure"
            )
        return Verification(
            Format.X509,
            Status.UNKNOWN_KEY,
            "X.509/CMS (gitsign/smimesign) signatures are recognised but not verified yet",
            git_code="E",
        )
