"""gitsign (Sigstore keyless) signatures, verified offline.

The inputs are gitsign's own published test vectors (real signatures by real Fulcio
certificates, two of them with embedded Rekor entries; see tests/data/gitsign/README.md)
and mutations of them built here. The oracles are independent verifiers:

* ``openssl cms -verify`` (the real binary) for the CMS signature, the message digest
  and the chain at the verification time (``-attime``): it must agree with our
  ``cms_chain_ok`` on every vector and every mutation;
* sigstore-python's ``Verifier`` (test-only dependency) over the signature repacked as
  a Sigstore bundle (as gitsign's ``internal/sigstore/compat`` does): it must agree
  with our verdict on every tlog-bearing case, under ``tlog = "require"`` (sigstore
  always requires a log entry).

No network: the trusted root is the copy pinned in ``gitguard/data``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms, core
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from cmsfixtures import attribute, ber_wrapped, with_unsigned_contents
from gitfixtures import Repo, run_audit, split_signature, split_tag_signature, tool_env
from gitguard.gitobjects import parse_commit, parse_tag
from gitguard.model import SigstoreIdentity, Status, TrustStore, X509Email, X509Trust
from gitguard.signatures import Verifier, _cms, _rekor
from gitguard.signatures._x509_chain import ChainError, oidc_issuer
from gitguard.signatures._x509_trustroot import PINNED_SHA256, pinned_bytes
from gitguard.signatures.x509 import X509Result, X509Verifier
from gitguard.trust.policy import load_policy

DATA = Path(__file__).parent / "data" / "gitsign"
BILLY = "billy@chainguard.dev"
GOOGLE = "https://accounts.google.com"
# A policy whose only signer is billy's sigstore identity, with a transparency-log
# entry required for every X.509 signature.
BILLY_TLOG_REQUIRED = f"""version = 1
[trust.x509]
tlog = "require"
[[signer]]
name = "billy"
sigstore = [{{ identity = "{BILLY}", issuer = "{GOOGLE}" }}]
"""
DEX = "github-sigstore-production"  # the 2022 tag's issuer .1 value (a Dex connector id)


@dataclass(frozen=True)
class Vector:
    name: str
    payload: bytes
    signature: bytes
    issuer: str
    tlog_index: int | None  # the global Rekor index of the embedded entry

    @property
    def is_tag(self) -> bool:
        return self.payload.startswith(b"object ")


VECTORS: dict[str, tuple[str, int | None]] = {
    "e2e-offline.commit": (GOOGLE, 22784639),
    "rekor-oid-commit.txt": (GOOGLE, 17974796),
    "e2e-online.commit": (GOOGLE, None),
    "git-commit.txt": (GOOGLE, None),
    "git-tag.txt": (DEX, None),
    "attest-fulcio-cert.txt": (GOOGLE, None),
    "attest-fulcio-tag.txt": (GOOGLE, None),
}
TLOG_VECTORS = [n for n, (_, index) in VECTORS.items() if index is not None]


def load_vector(name: str) -> Vector:
    raw = (DATA / name).read_bytes()
    if raw.startswith(b"object "):
        payload, sig = split_tag_signature(raw)
    else:
        payload, sig = split_signature(raw)
    assert sig is not None
    issuer, index = VECTORS[name]
    return Vector(name, payload, sig, issuer, index)


def trust(tlog: str = "if-present", root: bytes | None = None, **ids: str) -> X509Trust:
    principals: tuple[SigstoreIdentity, ...] = (
        SigstoreIdentity("billy", GOOGLE, identity=BILLY),
        SigstoreIdentity("billy-dex", DEX, identity=BILLY),
    )
    if ids:
        principals = (SigstoreIdentity("other", ids["issuer"], identity=ids["identity"]),)
    return X509Trust(sigstore=principals, trusted_root=root, tlog=tlog)


# --------------------------------------------------------------------------- mutations


def der_of(signature: bytes) -> bytes:
    return _cms.dearmor(signature)


def with_unsigned(signature: bytes, values: list[bytes] | None) -> bytes:
    """The signature with its Rekor attribute replaced by ``values`` (DER OCTET STRING
    values), or removed (None). Everything signed keeps its original bytes."""
    info = cms.ContentInfo.load(der_of(signature))
    si = info["content"]["signer_infos"][0]
    kept = [
        a
        for a in (si["unsigned_attrs"] if si["unsigned_attrs"].native else [])
        if a["type"].dotted != _cms.OID_REKOR_ENTRY
    ]
    if values is not None:
        attr = cms.CMSAttribute(
            {"type": _cms.OID_REKOR_ENTRY, "values": [core.OctetString(v) for v in values]}
        )
        kept.append(attr)
    if kept:
        si["unsigned_attrs"] = cms.CMSAttributes(kept)
    else:
        del si["unsigned_attrs"]
    out = _cms.armor(info.dump(force=False))
    assert _cms.parse(out).signed_attrs == _cms.parse(signature).signed_attrs
    return out


def entry_of(signature: bytes) -> bytes:
    (value,) = _cms.parse(signature).unsigned_values(_cms.OID_REKOR_ENTRY)
    return _cms.octet_string(value)


def flip_inside(data: bytes, part: bytes, offset: int = 0) -> bytes:
    """``data`` with one bit flipped inside its (unique) sub-string ``part``."""
    at = data.index(part)
    assert data.count(part) == 1
    i = at + offset
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]


def flip_set(signature: bytes) -> bytes:
    entry = entry_of(signature)
    promise = _rekor.decode_entry(entry).signed_entry_timestamp
    assert promise is not None
    return with_unsigned(signature, [flip_inside(entry, promise, 20)])


def flip_proof_hash(signature: bytes) -> bytes:
    entry = entry_of(signature)
    proof = _rekor.decode_entry(entry).proof
    assert proof is not None
    return with_unsigned(signature, [flip_inside(entry, proof.hashes[0], 5)])


def flip_checkpoint_signature(signature: bytes) -> bytes:
    entry = entry_of(signature)
    proof = _rekor.decode_entry(entry).proof
    assert proof is not None
    sig_line = proof.checkpoint.rstrip("\n").rsplit("\n", 1)[1].encode()
    b64 = sig_line.rsplit(b" ", 1)[1]
    blob = bytearray(base64.b64decode(b64))
    blob[12] ^= 0x01
    forged = sig_line.replace(b64, base64.b64encode(bytes(blob)))
    return with_unsigned(signature, [entry.replace(sig_line, forged)])


def move_entry(donor: str) -> Callable[[bytes], bytes]:
    def mutate(signature: bytes) -> bytes:
        return with_unsigned(signature, [entry_of(load_vector(donor).signature)])

    return mutate


def strip_entry(signature: bytes) -> bytes:
    return with_unsigned(signature, None)


def with_unsigned_attrs(signature: bytes, attrs: list[bytes], *, drop_rekor: bool = False) -> bytes:
    """The signature with the DER attributes ``attrs`` added to its unsigned attributes
    (after removing the Rekor attribute, with ``drop_rekor``); nothing signed changes.
    asn1crypto writes them as they are, without reading their values."""
    info = cms.ContentInfo.load(der_of(signature))
    si = info["content"]["signer_infos"][0]
    present = si["unsigned_attrs"]
    kept = [] if isinstance(present, core.Void) else list(present)
    if drop_rekor:
        kept = [a for a in kept if a["type"].dotted != _cms.OID_REKOR_ENTRY]
    si["unsigned_attrs"] = cms.CMSAttributes(kept + [cms.CMSAttribute.load(a) for a in attrs])
    out = _cms.armor(info.dump(force=False))
    assert _cms.parse(out).signed_attrs == _cms.parse(signature).signed_attrs
    return out


def rekor_value_as(tag: int) -> Callable[[bytes], bytes]:
    """The Rekor attribute's value re-tagged (same contents): e.g. a PrintableString,
    as an early gitsign build wrote under this OID."""

    def mutate(signature: bytes) -> bytes:
        (value,) = _cms.parse(signature).unsigned_values(_cms.OID_REKOR_ENTRY)
        odd = bytes([tag]) + value[1:]
        return with_unsigned_attrs(
            signature, [attribute(_cms.OID_REKOR_ENTRY, odd)], drop_rekor=True
        )

    return mutate


def rekor_entry_truncated(signature: bytes) -> bytes:
    """An OCTET STRING that does not decode as a TransparencyLogEntry."""
    return with_unsigned(signature, [entry_of(signature)[:-7]])


def add_odd_rekor_value(signature: bytes) -> bytes:
    """A second value, a PrintableString, beside the real entry in the Rekor attribute."""
    (value,) = _cms.parse(signature).unsigned_values(_cms.OID_REKOR_ENTRY)
    both = attribute(_cms.OID_REKOR_ENTRY, value, core.PrintableString("c0d23d6a").dump())
    return with_unsigned_attrs(signature, [both], drop_rekor=True)


ODD_UNSIGNED = [
    attribute("1.3.6.1.4.1.57264.3.99", b"\x05\x00", b"\x02\x01\x07"),  # unknown type
    attribute("1.3.6.1.4.1.57264.3.0", core.Integer(1673483618).dump()),  # early gitsign
    # types asn1crypto knows, with values it cannot read as those types
    attribute("1.2.840.113549.1.9.16.2.14", core.UTF8String("not a token").dump()),
    attribute("1.2.840.113549.1.9.6", core.Integer(1).dump()),
]


def add_odd_unsigned(signature: bytes) -> bytes:
    return with_unsigned_attrs(signature, ODD_UNSIGNED)


def flip_signed_attrs(signature: bytes) -> bytes:
    """One bit of the signing-time attribute (covered by the signature)."""
    der = der_of(signature)
    msg = _cms.parse(signature)
    at = der.index(msg.signed_attrs[1:])  # the stored [0] form differs in its first byte
    stamp = msg.signed_attrs.index(b"\x17\x0d") + 3  # UTCTime YYMMDD…: 2nd year digit
    i = at - 1 + stamp
    return _cms.armor(der[:i] + bytes([der[i] ^ 0x01]) + der[i + 1 :])


def root_without_rekor_v1() -> bytes:
    doc = json.loads(pinned_bytes())
    doc["tlogs"] = [t for t in doc["tlogs"] if t["baseUrl"] != "https://rekor.sigstore.dev"]
    assert len(doc["tlogs"]) == len(json.loads(pinned_bytes())["tlogs"]) - 1
    return json.dumps(doc).encode()


def root_old_ca_only() -> bytes:
    doc = json.loads(pinned_bytes())
    doc["certificateAuthorities"] = [
        ca for ca in doc["certificateAuthorities"] if "end" in ca["validFor"]
    ]
    assert len(doc["certificateAuthorities"]) == 1
    return json.dumps(doc).encode()


@dataclass(frozen=True)
class Mutation:
    """One vector, changed (payload and/or signature), under a trust configuration;
    the documented verdict (GITSIGN.md §6) and what the oracles must say."""

    name: str
    vector: str
    status: str
    code: str
    mutate_sig: Callable[[bytes], bytes] | None = None
    mutate_payload: Callable[[bytes], bytes] | None = None
    root: Callable[[], bytes] | None = None
    tlog: str = "if-present"
    identity: tuple[str, str] | None = None  # (identity, issuer) the policy trusts instead

    def apply(self) -> tuple[bytes, bytes, X509Trust]:
        v = load_vector(self.vector)
        payload = self.mutate_payload(v.payload) if self.mutate_payload else v.payload
        sig = self.mutate_sig(v.signature) if self.mutate_sig else v.signature
        root = self.root() if self.root else None
        ids = {"identity": self.identity[0], "issuer": self.identity[1]} if self.identity else {}
        return payload, sig, trust(self.tlog, root, **ids)


def _flip_payload(payload: bytes) -> bytes:
    i = payload.rindex(b"\n\n") + 3
    return payload[:i] + bytes([payload[i] ^ 0x20]) + payload[i + 1 :]


MUTATIONS = [
    Mutation("modified-payload", "e2e-offline.commit", "bad-signature", "digest-mismatch",
             mutate_payload=_flip_payload),
    Mutation("modified-payload", "git-commit.txt", "bad-signature", "digest-mismatch",
             mutate_payload=_flip_payload),
    Mutation("signed-attribute-bit", "e2e-offline.commit", "bad-signature",
             "signature-invalid", mutate_sig=flip_signed_attrs),
    Mutation("set-bit", "e2e-offline.commit", "bad-signature", "tlog-bad-set",
             mutate_sig=flip_set),
    Mutation("set-bit", "rekor-oid-commit.txt", "bad-signature", "tlog-bad-set",
             mutate_sig=flip_set),
    Mutation("entry-from-other-signature", "e2e-offline.commit", "bad-signature",
             "tlog-bad-set", mutate_sig=move_entry("rekor-oid-commit.txt")),
    Mutation("entry-from-other-signature", "git-commit.txt", "bad-signature", "tlog-bad-set",
             mutate_sig=move_entry("e2e-offline.commit")),
    Mutation("proof-hash-bit", "rekor-oid-commit.txt", "bad-signature", "tlog-bad-proof",
             mutate_sig=flip_proof_hash),
    Mutation("checkpoint-signature-bit", "e2e-offline.commit", "bad-signature",
             "tlog-bad-checkpoint", mutate_sig=flip_checkpoint_signature),
    Mutation("stripped-entry", "e2e-offline.commit", "good", "valid-unproven-time",
             mutate_sig=strip_entry),
    Mutation("stripped-entry-tlog-required", "e2e-offline.commit", "unproven-time", "no-tlog",
             mutate_sig=strip_entry, tlog="require"),
    Mutation("stripped-entry-tlog-ignored", "rekor-oid-commit.txt", "good",
             "valid-unproven-time", tlog="ignore"),
    Mutation("rekor-key-missing", "e2e-offline.commit", "unknown-key", "tlog-unknown-log",
             root=root_without_rekor_v1),
    Mutation("rekor-key-missing", "rekor-oid-commit.txt", "unknown-key", "tlog-unknown-log",
             root=root_without_rekor_v1),
    Mutation("old-root-only", "e2e-offline.commit", "unknown-key", "chain-untrusted",
             root=root_old_ca_only),
    Mutation("old-root-only", "git-commit.txt", "unknown-key", "chain-untrusted",
             root=root_old_ca_only),
    Mutation("wrong-identity", "e2e-offline.commit", "unknown-key", "identity-untrusted",
             identity=("alice@example.com", GOOGLE)),
    Mutation("wrong-issuer", "rekor-oid-commit.txt", "unknown-key", "identity-untrusted",
             identity=(BILLY, "https://github.com/login/oauth")),
    # Unsigned attributes are not signed: odd ones are ignored, never a bad signature.
    Mutation("rekor-value-wrong-type", "e2e-offline.commit", "good", "valid-unproven-time",
             mutate_sig=rekor_value_as(0x13)),
    Mutation("rekor-value-wrong-type-tlog-required", "e2e-offline.commit", "unproven-time",
             "no-tlog", mutate_sig=rekor_value_as(0x0C), tlog="require"),
    Mutation("rekor-value-not-an-entry", "rekor-oid-commit.txt", "unproven-time", "no-tlog",
             mutate_sig=rekor_entry_truncated, tlog="require"),
    Mutation("odd-rekor-value-beside-entry", "e2e-offline.commit", "good", "verified",
             mutate_sig=add_odd_rekor_value, tlog="require"),
    Mutation("odd-unsigned-attributes", "e2e-offline.commit", "good", "verified",
             mutate_sig=add_odd_unsigned),
    Mutation("odd-unsigned-attributes", "git-commit.txt", "good", "valid-unproven-time",
             mutate_sig=add_odd_unsigned),
]  # fmt: skip
MUTATION_IDS = [f"{m.name}/{m.vector}" for m in MUTATIONS]


# --------------------------------------------------------------------------- ours


@pytest.mark.parametrize("name", list(VECTORS))
def test_vector_verifies(name: str) -> None:
    """Every published vector verifies: tlog-bearing ones with the log's integrated
    time, the others (gitsign's default online mode) on their signing-time claim."""
    v = load_vector(name)
    result = X509Verifier(trust()).check(v.payload, v.signature, when=None)
    assert result.status is Status.GOOD, result
    assert result.cms_chain_ok is True
    assert result.identities == (BILLY,)
    assert result.identity == BILLY
    assert result.issuer == v.issuer
    assert result.sct_count >= 1
    assert result.signer == ("billy" if v.issuer == GOOGLE else "billy-dex")
    if v.tlog_index is not None:
        assert (result.code, result.time_source, result.tlog_index) == (
            "verified",
            "tlog",
            v.tlog_index,
        )
    else:
        assert (result.code, result.time_source, result.tlog_index) == (
            "valid-unproven-time",
            "signing-time",
            None,
        )
        assert result.time == _cms.parse(v.signature).signing_time


@pytest.mark.parametrize("name", TLOG_VECTORS)
def test_tlog_required_accepts_logged_vectors(name: str) -> None:
    v = load_vector(name)
    result = X509Verifier(trust("require")).check(v.payload, v.signature, when=None)
    assert (result.status, result.code) == (Status.GOOD, "verified")


@pytest.mark.parametrize("name", [n for n in VECTORS if n not in TLOG_VECTORS])
def test_tlog_required_refuses_online_mode_vectors(name: str) -> None:
    v = load_vector(name)
    result = X509Verifier(trust("require")).check(v.payload, v.signature, when=None)
    assert (result.status, result.code) == (Status.UNPROVEN_TIME, "no-tlog")
    assert result.verification().git_code is None  # evaluate maps unproven-time to "U"


def test_rebuilt_body_is_rekors_body() -> None:
    """The hashedrekord body rebuilt from the signature is byte-identical to the body
    Rekor stored for it (gitsign internal/rekor/oid/testdata/tlog.json)."""
    v = load_vector("rekor-oid-commit.txt")
    stored = json.loads((DATA / "rekor-oid-tlog.json").read_text())
    msg = _cms.parse(v.signature)
    pem = x509.load_der_x509_certificate(msg.signer_cert).public_bytes(serialization.Encoding.PEM)
    body = _rekor.hashedrekord_body(msg.signed_attrs, msg.signature, pem)
    assert body == base64.b64decode(stored["body"])
    entry = _rekor.decode_entry(entry_of(v.signature))
    assert entry.log_index == stored["logIndex"]
    assert entry.integrated_time == stored["integratedTime"]
    assert entry.key_id.hex() == stored["logID"]
    assert entry.body is None  # gitsign clears it (GITSIGN.md §2)
    proof = stored["verification"]["inclusionProof"]
    assert entry.proof is not None
    assert entry.proof.log_index == proof["logIndex"] != entry.log_index  # shard-relative
    # The embedded proof is the one gitsign got at signing time (a smaller tree than
    # the one fetched later into tlog.json); both must lead to their own roots.
    assert entry.proof.tree_size < proof["treeSize"]
    leaf = hashlib.sha256(b"\x00" + body).digest()
    later = tuple(bytes.fromhex(h) for h in proof["hashes"])
    root = _rekor.root_from_proof(leaf, proof["logIndex"], proof["treeSize"], later)
    assert root == bytes.fromhex(proof["rootHash"])


@pytest.mark.parametrize("m", MUTATIONS, ids=MUTATION_IDS)
def test_mutation_gives_documented_reason(m: Mutation) -> None:
    payload, sig, tr = m.apply()
    result = X509Verifier(tr).check(payload, sig, when=None)
    assert (result.status.value, result.code) == (m.status, m.code), result.reason


def test_without_trust_stays_unknown_key_e() -> None:
    """No X.509 trust configured: recognised, never verified, git code E (as before)."""
    v = load_vector("e2e-offline.commit")
    verification = Verifier(TrustStore()).verify(v.payload, v.signature, when=None)
    assert (verification.status, verification.git_code) == (Status.UNKNOWN_KEY, "E")


def test_identity_regexp_is_fully_anchored() -> None:
    v = load_vector("git-commit.txt")
    for pattern, ok in (
        (r"billy@chainguard\.dev", True),
        (r".*@chainguard\.dev", True),
        (r"billy@chainguard", False),  # a prefix is not a match
        (r"chainguard\.dev", False),
    ):
        tr = X509Trust(sigstore=(SigstoreIdentity("cg", GOOGLE, identity_regexp=pattern),))
        result = X509Verifier(tr).check(v.payload, v.signature, when=None)
        assert (result.status is Status.GOOD) is ok, (pattern, result.reason)


def test_issuer_must_match_exactly() -> None:
    """The 2022 tag's issuer is a Dex connector id; it is not aliased to GitHub."""
    v = load_vector("git-tag.txt")
    tr = X509Trust(
        sigstore=(SigstoreIdentity("b", "https://github.com/login/oauth", identity=BILLY),)
    )
    result = X509Verifier(tr).check(v.payload, v.signature, when=None)
    assert (result.status, result.code, result.issuer) == (
        Status.UNKNOWN_KEY,
        "identity-untrusted",
        DEX,
    )


def _cert_with_issuers(v1: bytes | None, v2: bytes | None) -> x509.Certificate:
    import datetime

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(x509.Name.from_rfc4514_string("CN=test"))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(datetime.datetime(2024, 1, 1))
        .not_valid_after(datetime.datetime(2024, 1, 2))
    )
    if v1 is not None:
        oid = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
        builder = builder.add_extension(x509.UnrecognizedExtension(oid, v1), critical=False)
    if v2 is not None:
        oid = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
        builder = builder.add_extension(x509.UnrecognizedExtension(oid, v2), critical=False)
    return builder.sign(key, hashes.SHA256())


def test_issuer_extensions() -> None:
    """.8 (DER UTF8String) is preferred, .1 (raw bytes) the fallback; disagreement fails."""
    a, b = "https://accounts.google.com", "https://github.com/login/oauth"
    utf8 = core.UTF8String
    assert oidc_issuer(_cert_with_issuers(a.encode(), None)) == a
    assert oidc_issuer(_cert_with_issuers(None, utf8(a).dump())) == a
    assert oidc_issuer(_cert_with_issuers(a.encode(), utf8(a).dump())) == a
    with pytest.raises(ChainError) as e:
        oidc_issuer(_cert_with_issuers(a.encode(), utf8(b).dump()))
    assert e.value.code == "issuer-mismatch"
    with pytest.raises(ChainError) as e:
        oidc_issuer(_cert_with_issuers(None, a.encode()))  # not DER
    assert e.value.code == "issuer-malformed"


def test_pinned_trusted_root_is_the_documented_file() -> None:
    assert hashlib.sha256(pinned_bytes()).hexdigest() == PINNED_SHA256
    import gitguard

    readme = (Path(gitguard.__path__[0]) / "data" / "README.md").read_text()
    assert PINNED_SHA256 in readme


def test_vectors_are_the_documented_files() -> None:
    readme = (DATA / "README.md").read_text()
    for path in DATA.iterdir():
        if path.name != "README.md":
            assert f"`{path.name}`" in readme
            assert hashlib.sha256(path.read_bytes()).hexdigest() in readme, path.name


# --------------------------------------------------------------------------- openssl


def _openssl_accepts(payload: bytes, sig: bytes, root: bytes | None, at: int, tmp: Path) -> bool:
    """``openssl cms -verify`` with the Fulcio chains of the trusted root as CAfile
    (any purpose: gitsign certificates are for code signing), at time ``at``."""
    doc = json.loads(root if root is not None else pinned_bytes())
    pems = [
        x509.load_der_x509_certificate(base64.b64decode(c["rawBytes"])).public_bytes(
            serialization.Encoding.PEM
        )
        for ca in doc["certificateAuthorities"]
        for c in ca["certChain"]["certificates"]
    ]
    (tmp / "fulcio.pem").write_bytes(b"".join(pems))
    (tmp / "payload").write_bytes(payload)
    (tmp / "sig.der").write_bytes(der_of(sig))
    proc = subprocess.run(
        [
            "openssl", "cms", "-verify", "-binary", "-inform", "DER",
            "-in", str(tmp / "sig.der"), "-content", str(tmp / "payload"),
            "-CAfile", str(tmp / "fulcio.pem"), "-purpose", "any",
            "-attime", str(at), "-out", "/dev/null",
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    return proc.returncode == 0


@pytest.mark.parametrize("name", list(VECTORS))
def test_openssl_agrees_on_vectors(name: str, tmp_path: Path) -> None:
    v = load_vector(name)
    result = X509Verifier(trust()).check(v.payload, v.signature, when=None)
    assert result.time is not None
    assert _openssl_accepts(v.payload, v.signature, None, result.time, tmp_path)
    assert result.cms_chain_ok is True


@pytest.mark.parametrize("m", MUTATIONS, ids=MUTATION_IDS)
def test_openssl_agrees_on_mutations(m: Mutation, tmp_path: Path) -> None:
    payload, sig, tr = m.apply()
    result = X509Verifier(tr).check(payload, sig, when=None)
    assert result.time is not None or result.cms_chain_ok is False
    at = result.time if result.time is not None else _cms.parse(sig).signing_time
    assert at is not None
    ours = result.cms_chain_ok is True
    assert _openssl_accepts(payload, sig, tr.trusted_root, at, tmp_path) is ours, result


# --------------------------------------------------------------------------- sigstore


def _bundle(sig: bytes) -> dict[str, Any]:
    """gitsign's CMS repacked as a Sigstore v0.3 bundle: the message signature over the
    signed attributes, the leaf, and the embedded entry with its body rebuilt (RFC 8785
    via the ``rfc8785`` package, independently of gitguard's builder)."""
    import rfc8785

    msg = _cms.parse(sig)
    cert = x509.load_der_x509_certificate(msg.signer_cert)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    doc: dict[str, Any] = {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "certificate": {"rawBytes": base64.b64encode(msg.signer_cert).decode()},
            "tlogEntries": [],
        },
        "messageSignature": {
            "messageDigest": {
                "algorithm": "SHA2_256",
                "digest": base64.b64encode(hashlib.sha256(msg.signed_attrs).digest()).decode(),
            },
            "signature": base64.b64encode(msg.signature).decode(),
        },
    }
    entries = []
    for value in msg.unsigned_values(_cms.OID_REKOR_ENTRY):
        try:  # what is not a readable entry is left out, as the verifier leaves it out
            entries.append(_rekor.decode_entry(_cms.octet_string(value)))
        except (_cms.CmsError, _rekor.TlogError):
            continue
    if not entries:
        return doc
    (entry,) = entries
    body = rfc8785.dumps(
        {
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {
                    "hash": {
                        "algorithm": "sha256",
                        "value": hashlib.sha256(msg.signed_attrs).hexdigest(),
                    }
                },
                "signature": {
                    "content": base64.b64encode(msg.signature).decode(),
                    "publicKey": {"content": base64.b64encode(pem).decode()},
                },
            },
        }
    )
    b64 = base64.b64encode
    tlog: dict[str, Any] = {
        "logIndex": str(entry.log_index),
        "logId": {"keyId": b64(entry.key_id).decode()},
        "kindVersion": {"kind": entry.kind, "version": entry.version},
        "integratedTime": str(entry.integrated_time),
        "canonicalizedBody": b64(body).decode(),
    }
    if entry.signed_entry_timestamp is not None:
        tlog["inclusionPromise"] = {
            "signedEntryTimestamp": b64(entry.signed_entry_timestamp).decode()
        }
    if entry.proof is not None:
        tlog["inclusionProof"] = {
            "logIndex": str(entry.proof.log_index),
            "rootHash": b64(entry.proof.root_hash).decode(),
            "treeSize": str(entry.proof.tree_size),
            "hashes": [b64(h).decode() for h in entry.proof.hashes],
            "checkpoint": {"envelope": entry.proof.checkpoint},
        }
    doc["verificationMaterial"]["tlogEntries"] = [tlog]
    return doc


def _sigstore_accepts(sig: bytes, tr: X509Trust, tmp: Path) -> bool:
    import sigstore.models as sigstore_models
    from sigstore.errors import Error as SigstoreError
    from sigstore.verify import Verifier as SigstoreVerifier
    from sigstore.verify.policy import AnyOf, Identity

    root_bytes = tr.trusted_root if tr.trusted_root is not None else pinned_bytes()
    (tmp / "trusted_root.json").write_bytes(root_bytes)
    root = sigstore_models.TrustedRoot.from_file(str(tmp / "trusted_root.json"))
    policy = AnyOf([Identity(identity=p.identity or "", issuer=p.issuer) for p in tr.sigstore])
    try:
        bundle = sigstore_models.Bundle.from_json(json.dumps(_bundle(sig)))
        SigstoreVerifier(trusted_root=root).verify_artifact(
            _cms.parse(sig).signed_attrs, bundle, policy
        )
    except (SigstoreError, ValueError) as e:
        print("sigstore:", e)
        return False
    return True


# Mutations sigstore-python can see: signature changes (the bundle carries the signed
# attributes, not the commit) of a tlog-bearing vector, or that attach an entry.
TLOG_MUTATIONS = [
    m
    for m in MUTATIONS
    if m.mutate_payload is None and (m.vector in TLOG_VECTORS or m.mutate_sig is not None)
]


@pytest.mark.parametrize("name", TLOG_VECTORS)
def test_sigstore_python_agrees_on_vectors(name: str, tmp_path: Path) -> None:
    v = load_vector(name)
    assert _sigstore_accepts(v.signature, trust(), tmp_path)


@pytest.mark.parametrize("m", TLOG_MUTATIONS, ids=[f"{m.name}/{m.vector}" for m in TLOG_MUTATIONS])
def test_sigstore_python_agrees_on_mutations(m: Mutation, tmp_path: Path) -> None:
    """sigstore-python always requires a log entry: compare with our verdict under
    ``tlog = "require"`` (payload mutations are not visible to it: the bundle carries
    the signed attributes, not the commit)."""
    payload, sig, tr = m.apply()
    tr = tr._replace(tlog="require")
    ours = X509Verifier(tr).check(payload, sig, when=None)
    assert _sigstore_accepts(sig, tr, tmp_path) is (ours.status is Status.GOOD), ours


# --------------------------------------------------------------------------- policy, audit


def _policy(text: str, tmp_path: Path) -> Any:
    (tmp_path / "policy.toml").write_text(text)
    return load_policy(text.encode(), "policy.toml", base_dir=tmp_path)


def test_policy_sigstore_signers(tmp_path: Path) -> None:
    policy = _policy(
        f"""
version = 1
[trust.x509]
tlog = "require"

[[signer]]
name = "billy"
sigstore = [{{ identity = "{BILLY}", issuer = "{GOOGLE}" }}]

[[signer]]
name = "release"
[[signer.sigstore]]  # the same as sigstore = [{{ … }}]
identity_regexp = "https://github\\\\.com/org/repo/.*"
issuer = "https://token.actions.githubusercontent.com"
""",
        tmp_path,
    )
    x = policy.trust.x509
    assert x.tlog == "require"
    assert x.trusted_root is None
    assert [(p.signer, p.identity, p.identity_regexp) for p in x.sigstore] == [
        ("billy", BILLY, None),
        ("release", None, r"https://github\.com/org/repo/.*"),
    ]


def test_policy_x509_errors(tmp_path: Path) -> None:
    """Every problem at once, each with its line and key path."""
    from gitguard.errors import PolicyError

    (tmp_path / "root.json").write_text("{}")
    with pytest.raises(PolicyError) as e:
        _policy(
            """version = 1
[trust.x509]
tlog = "always"
trusted_root = "root.json"
ca_bundel = "x.pem"

[[signer]]
name = "a"
sigstore = [{ identity = "a@example.com" }, { identity = "b", identity_regexp = "(", issuer = "i" }]
x509 = [{ email = "not-an-email" }, { email = "a@corp.example" }]

[[signer]]
name = "b"
sigstore = "a@example.com"
x509 = [{ email = "A@corp.example" }]
""",
            tmp_path,
        )
    assert list(e.value.problems) == [
        "policy.toml:2: trust.x509: signers name x509 e-mail identities (line 10) but there "
        "is no [trust.x509] ca_bundle to check their certificates against",
        'policy.toml:3: trust.x509.tlog: expected "require", "if-present" or "ignore", '
        'not "always"',
        f"policy.toml:4: trust.x509.trusted_root: {tmp_path / 'root.json'}: not a usable "
        "Sigstore trusted root: not a Sigstore trusted root (mediaType None)",
        "policy.toml:5: trust.x509.ca_bundel: unknown key (expected one of: ca_bundle, crl, "
        "eku, trusted_root, tlog)",
        "policy.toml:9: signer[1].sigstore[1].issuer: missing required key (the OIDC issuer, "
        'e.g. "https://accounts.google.com")',
        'policy.toml:9: signer[1].sigstore[2]: needs exactly one of "identity" and '
        '"identity_regexp"',
        'policy.toml:10: signer[1].x509[1].email: "not-an-email" is not an e-mail address',
        "policy.toml:14: signer[2].sigstore: expected a list of tables, e.g. "
        '[{ identity = "…", issuer = "…" }]',
        'policy.toml:15: signer[2].x509[1]: e-mail "A@corp.example" already belongs to signer "a"',
    ]


def _vector_repo(tmp_path: Path) -> tuple[Repo, dict[str, str]]:
    """A repository holding the commit vectors as they are (parents cut off with
    ``.git/shallow``; the trees are not needed to audit signatures)."""
    env = tool_env(tmp_path / "home")
    repo = Repo.init(tmp_path / "repo", env)
    oids: dict[str, str] = {}
    for name in VECTORS:
        raw = (DATA / name).read_bytes()
        if raw.startswith(b"object "):
            continue
        oids[name] = repo.write_object("commit", raw, literally=True)
    (repo.path / ".git" / "shallow").write_text("".join(f"{o}\n" for o in oids.values()))
    for name, oid in oids.items():
        repo.update_ref(f"refs/heads/{name.replace('.', '-')}", oid)
    return repo, oids


def test_audit_cli_sigstore_identity(tmp_path: Path) -> None:
    repo, oids = _vector_repo(tmp_path)
    run = run_audit(
        repo, "--all", "--sigstore-identity", BILLY, "--sigstore-issuer", GOOGLE,
        out=tmp_path / "out.json",
    )  # fmt: skip
    assert run.rc == 0, run.stderr + run.output
    by_oid = {r["object"]: r for r in run.results()}
    assert set(by_oid) == set(oids.values())
    for name, oid in oids.items():
        r = by_oid[oid]
        assert (r["status"], r["git_code"], r["format"]) == ("good", "G", "x509")
        assert (r["identity"], r["issuer"], r["signer"]) == (BILLY, GOOGLE, BILLY)
        if VECTORS[name][1] is not None:
            assert (r["time_source"], r["tlog_index"]) == ("tlog", VECTORS[name][1])
        else:
            assert r["time_source"] == "signing-time"
            assert "tlog_index" not in r


def test_audit_cli_pairs_must_match(tmp_path: Path) -> None:
    repo, _ = _vector_repo(tmp_path)
    run = run_audit(repo, "--all", "--sigstore-identity", BILLY, out=tmp_path / "out.json")
    assert run.rc == 2
    assert "--sigstore-issuer" in run.stderr


def test_audit_policy_tlog_require_and_unknown_identity(tmp_path: Path) -> None:
    repo, oids = _vector_repo(tmp_path)
    policy = tmp_path / "policy.toml"
    policy.write_text(BILLY_TLOG_REQUIRED)
    run = run_audit(repo, "--all", "--policy", str(policy), out=tmp_path / "out.json")
    assert run.rc == 1
    by_oid = {r["object"]: r for r in run.results()}
    for name, oid in oids.items():
        r = by_oid[oid]
        if VECTORS[name][1] is not None:
            assert (r["status"], r["signer"]) == ("good", "billy")
        else:
            assert (r["status"], r["git_code"]) == ("unproven-time", "U"), r
            assert "gitsign.rekorMode offline" in r["hint"]
    other = run_audit(
        repo, "--all", "--sigstore-identity", "someone@example.com", "--sigstore-issuer", GOOGLE,
        out=tmp_path / "other.json",
    )  # fmt: skip
    assert {(r["status"], r["git_code"]) for r in other.results()} == {("unknown-key", "U")}


def test_audit_without_x509_trust_reports_unknown_key(tmp_path: Path) -> None:
    """Nothing X.509 trusted: a signature we recognise but do not check is
    ``unknown-key`` / E, never unsigned. git's own verdict with its default x509 program
    differs: gpgsm cannot parse gitsign's CMS and prints no status line, so git says
    N (no signature) — a documented difference (README)."""
    repo, _ = _vector_repo(tmp_path)
    keys = tmp_path / "allowed_signers"
    keys.write_text("")
    run = run_audit(repo, "--all", "--allowed-signers", str(keys), out=tmp_path / "out.json")
    assert {(r["status"], r["git_code"]) for r in run.results()} == {("unknown-key", "E")}
    codes = repo.git("log", "--all", "--format=%G?").decode().split()
    assert set(codes) == {"N"}


def test_mutation_table_is_complete() -> None:
    """Every negative case GITSIGN.md §6 documents is covered."""
    names = {m.name for m in MUTATIONS}
    assert {
        "modified-payload",
        "set-bit",
        "entry-from-other-signature",
        "stripped-entry",
        "stripped-entry-tlog-required",
        "rekor-key-missing",
        "old-root-only",
    } <= names


def test_garbage_gives_a_verdict_never_an_exception() -> None:
    verifier = X509Verifier(trust())
    for sig in (
        b"-----BEGIN SIGNED MESSAGE-----\nMAA=\n-----END SIGNED MESSAGE-----\n",
        b"-----BEGIN SIGNED MESSAGE-----\n!!\n-----END SIGNED MESSAGE-----\n",
        _cms.armor(b"\x30\x03\x02\x01\x01"),
        _cms.armor(der_of(load_vector("git-commit.txt").signature)[:-40]),
    ):
        result: X509Result = verifier.check(b"payload", sig, when=None)
        assert (result.status, result.code) == (Status.MALFORMED, "cms-malformed"), result
    v = load_vector("e2e-offline.commit")
    for entry in (b"\x08", b"\x12\xff\x01", b"\x0f", b"", b"\x08\x01"):
        # Not a readable TransparencyLogEntry: an unsigned attribute that proves nothing
        # (and disproves nothing) is ignored, the signature judged as if it had none.
        result = verifier.check(v.payload, with_unsigned(v.signature, [entry]), when=None)
        assert (result.status, result.code) == (Status.GOOD, "valid-unproven-time"), (
            entry,
            result,
        )
        assert "(Rekor entry) was ignored: its value is not a readable entry" in result.reason
    # Two readable entries: which one would vouch? Refused, as before.
    two = with_unsigned(v.signature, [entry_of(v.signature)] * 2)
    result = verifier.check(v.payload, two, when=None)
    assert (result.status, result.code) == (Status.BAD_SIGNATURE, "tlog-malformed"), result


RECEIVE_POLICY = """version = 1
[[signer]]
name = "billy"
sigstore = [{{ identity = "{billy}", issuer = "{google}" }}]

[[signer]]
name = "release"
[[signer.sigstore]]
identity = "https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main"
issuer = "https://token.actions.githubusercontent.com"

[[rule]]
refs = ["refs/heads/main"]
require = "signed"
signers = ["{allowed}"]
"""


@pytest.mark.parametrize("allowed", ["release", "billy"])
def test_receive_guard_checks_the_gitsign_identity(allowed: str, tmp_path: Path) -> None:
    """A real ``git push`` of gitsign's root-commit vector into a guarded repository:
    refused when the rule allows another identity, accepted when it allows billy."""
    from receivefixtures import Server, push

    env = tool_env(tmp_path / "home")
    client = Repo.init(tmp_path / "client", env)
    client.write_object("tree", b"")  # the vector's (empty) tree, so it can be pushed
    oid = client.write_object("commit", (DATA / "e2e-online.commit").read_bytes())
    client.update_ref("refs/heads/main", oid)
    server = Server.create(tmp_path / "srv.git", env)
    policy = tmp_path / "policy.toml"
    policy.write_text(RECEIVE_POLICY.format(billy=BILLY, google=GOOGLE, allowed=allowed))
    server.install(policy)
    result = push(client, server, "refs/heads/main:refs/heads/main")
    if allowed == "billy":
        assert result.returncode == 0, result.report
        assert server.ref("refs/heads/main") == oid
    else:
        assert result.returncode != 0
        assert server.ref("refs/heads/main") is None
        assert oid[:12] in result.report
        assert "not-allowed" in result.report, result.report


def _with_signer_cert(signature: bytes, mutate: Callable[[bytes], bytes]) -> bytes:
    """The signature with its signer certificate's DER changed by ``mutate`` (same
    length: the CMS framing stays valid)."""
    der = der_of(signature)
    cert = _cms.parse(signature).signer_cert
    changed = mutate(cert)
    assert len(changed) == len(cert)
    assert der.count(cert) == 1
    return _cms.armor(der.replace(cert, changed))


def _version_6(cert: bytes) -> bytes:
    # TBSCertificate's explicit [0] version: INTEGER 2 (v3) becomes 5 ("v6").
    at = cert.index(b"\xa0\x03\x02\x01\x02")
    return cert[: at + 4] + b"\x05" + cert[at + 5 :]


def _san_as_set(cert: bytes) -> bytes:
    # subjectAltName's GeneralNames SEQUENCE re-tagged as a SET: it no longer parses.
    at = cert.index(b"\x06\x03\x55\x1d\x11")
    octets = cert.index(b"\x04", at + 5)
    inner = octets + 2 if cert[octets + 1] < 0x80 else octets + 2 + (cert[octets + 1] & 0x7F)
    assert cert[inner] == 0x30
    return cert[:inner] + b"\x31" + cert[inner + 1 :]


@pytest.mark.parametrize("mutate", [_version_6, _san_as_set], ids=["version-6", "damaged-san"])
@pytest.mark.parametrize("mode", ["sigstore", "smime"])
def test_a_damaged_signer_certificate_is_malformed_not_a_crash(
    mutate: Callable[[bytes], bytes], mode: str
) -> None:
    """cryptography raises InvalidVersion (not a ValueError) for an unknown version and
    ValueError only when a damaged extension is first read: either way the verdict is
    malformed, in both X.509 modes, never an exception."""
    v = load_vector("git-commit.txt")
    sig = _with_signer_cert(v.signature, mutate)
    if mode == "sigstore":
        verifier = X509Verifier(trust())
    else:
        ca = _cms.parse(v.signature).signer_cert
        verifier = X509Verifier(
            X509Trust(emails=(X509Email("billy", BILLY),), ca_bundle=(ca,), eku="any")
        )
    result: X509Result = verifier.check(v.payload, sig, when=None)
    if mode == "sigstore" and mutate is _san_as_set:
        # The Fulcio chain is checked (and the changed certificate's signature refused)
        # before anything reads the SAN.
        assert (result.status, result.code) == (Status.UNKNOWN_KEY, "chain-untrusted"), result
        return
    assert result.status is Status.MALFORMED, result
    assert result.code == "cert-malformed"
    assert result.reason.startswith("signer certificate cannot be parsed: ")


# --------------------------------------------------------------------------- unsigned attributes
#
# Unsigned attributes (RFC 5652 §5.3) are not covered by the signature: unknown or
# oddly typed ones are ignored; a Rekor attribute whose value is not an OCTET STRING
# holding a readable entry is judged as if absent, and the reason says so. Signed
# attributes stay strict. The fast DER reader and the asn1crypto parser give the same
# verdict (a BER-wrapped copy of a signature takes the asn1crypto path).

REALWORLD = Path(__file__).parent / "data" / "realworld" / "gitsign"
IGNORED_PRINTABLE = (
    "the unsigned attribute 1.3.6.1.4.1.57264.3.1 (Rekor entry) was ignored: its value "
    "is a PrintableString, not an OCTET STRING"
)
# Real objects from sigstore/gitsign's history (README.md there): (kind, identity,
# issuer, what the reason must say was ignored).
REALWORLD_OBJECTS: dict[str, tuple[str, str, str, str]] = {
    # 2023-01-12, refs/pull/218/head: a development build of gitsign's offline mode
    # wrote the Rekor entry as nine attributes .3.0-.3.8, the log ID (.3.1) as a
    # PrintableString. It used to be bad-signature (tlog-malformed).
    "c47e8bf5c86212dc9b6db0e3ec4df27a978b3d6e": ("commit", BILLY, GOOGLE, IGNORED_PRINTABLE),
}


def _realworld(oid: str) -> tuple[bytes, Any]:
    kind = REALWORLD_OBJECTS[oid][0]
    raw = (REALWORLD / f"{oid}.{kind}").read_bytes()
    fact = parse_tag(oid, raw) if kind == "tag" else parse_commit(oid, raw, "sha1")[0]
    assert fact.signature is not None
    assert fact.malformed is None
    return raw, fact


def test_realworld_objects_are_the_documented_files() -> None:
    readme = (REALWORLD / "README.md").read_text()
    for oid, (kind, *_) in REALWORLD_OBJECTS.items():
        raw = (REALWORLD / f"{oid}.{kind}").read_bytes()
        # the file is the object: its git object id is its name
        assert hashlib.sha1(b"%s %d\x00" % (kind.encode(), len(raw)) + raw).hexdigest() == oid  # noqa: S324
        assert f"`{oid}.{kind}`" in readme
        assert hashlib.sha256(raw).hexdigest() in readme


@pytest.mark.parametrize("tlog", ["if-present", "require", "ignore"])
@pytest.mark.parametrize("oid", list(REALWORLD_OBJECTS))
def test_realworld_odd_rekor_attribute_is_ignored(oid: str, tlog: str, tmp_path: Path) -> None:
    _, fact = _realworld(oid)
    _, identity, issuer, ignored = REALWORLD_OBJECTS[oid]
    tr = trust(tlog)
    result = X509Verifier(tr).check(fact.payload, fact.signature, when=fact.time)
    if tlog == "require":
        assert (result.status, result.code) == (Status.UNPROVEN_TIME, "no-tlog"), result
    else:
        assert (result.status, result.code) == (Status.GOOD, "valid-unproven-time"), result
    assert (result.identity, result.issuer) == (identity, issuer)
    assert result.time_source == "signing-time"
    assert result.tlog_index is None
    assert result.cms_chain_ok is True
    assert (f"({ignored})" in result.reason) is (tlog != "ignore"), result.reason
    # The asn1crypto path (BER-wrapped copy) gives the very same result...
    slow = _cms.armor(ber_wrapped(der_of(fact.signature)))
    assert _cms._parse_fast(der_of(slow)) is None
    assert X509Verifier(tr).check(fact.payload, slow, when=fact.time) == result
    # ...the dispatching verifier the same verdict...
    verification = Verifier(TrustStore(x509=tr)).verify(fact.payload, fact.signature, when=None)
    assert (verification.status, verification.reason) == (result.status, result.reason)
    # ...and openssl accepts the CMS signature and chain at that time.
    assert result.time is not None
    assert _openssl_accepts(fact.payload, fact.signature, None, result.time, tmp_path)


def test_realworld_audit(tmp_path: Path) -> None:
    """``guard audit`` over a repository holding the real objects (parents cut off)."""
    env = tool_env(tmp_path / "home")
    repo = Repo.init(tmp_path / "repo", env)
    for oid in REALWORLD_OBJECTS:
        raw, _ = _realworld(oid)
        kind = REALWORLD_OBJECTS[oid][0]
        assert repo.write_object(kind, raw, literally=True) == oid
        repo.update_ref(f"refs/{'tags' if kind == 'tag' else 'heads'}/r{oid[:8]}", oid)
    (repo.path / ".git" / "shallow").write_text(
        "".join(f"{o}\n" for o, k in REALWORLD_OBJECTS.items() if k[0] == "commit")
    )
    run = run_audit(
        repo, "--all", "--sigstore-identity", BILLY, "--sigstore-issuer", GOOGLE,
        out=tmp_path / "out.json",
    )  # fmt: skip
    assert run.rc == 0, run.stderr + run.output
    by_oid = {r["object"]: r for r in run.results()}
    assert set(by_oid) == set(REALWORLD_OBJECTS)
    for oid, (_, identity, issuer, ignored) in REALWORLD_OBJECTS.items():
        r = by_oid[oid]
        assert (r["status"], r["git_code"], r["identity"], r["issuer"]) == (
            "good", "G", identity, issuer,
        )  # fmt: skip
        assert ignored in r["reason"]
    policy = tmp_path / "policy.toml"
    policy.write_text(BILLY_TLOG_REQUIRED)
    run = run_audit(repo, "--all", "--policy", str(policy), out=tmp_path / "policy.json")
    assert run.rc == 1
    for r in run.results():
        assert (r["status"], r["git_code"]) == ("unproven-time", "U"), r
        assert REALWORLD_OBJECTS[r["object"]][3] in r["reason"]


def test_both_readers_agree_on_every_real_gitsign_object() -> None:
    """Every real gitsign object in the corpus directory, whoever added it, trusting
    every identity of the issuers met there: the same result on both paths, and never
    refused over its unsigned attributes."""
    issuers = (GOOGLE, DEX, "https://github.com/login/oauth", "https://login.microsoftonline.com")
    tr = X509Trust(
        sigstore=tuple(SigstoreIdentity("any", i, identity_regexp=".*") for i in issuers)
    )
    verifier = X509Verifier(tr)
    paths = sorted(REALWORLD.glob("*.commit")) + sorted(REALWORLD.glob("*.tag"))
    assert len(paths) >= len(REALWORLD_OBJECTS)
    for path in paths:
        raw = path.read_bytes()
        oid = path.name.split(".")[0]
        facts = [parse_tag(oid, raw)] if path.suffix == ".tag" else parse_commit(oid, raw, "sha1")
        for fact in facts:
            if fact.signature is None or not fact.signature.startswith(b"-----BEGIN SIGNED"):
                continue
            result = verifier.check(fact.payload, fact.signature, when=fact.time)
            slow = _cms.armor(ber_wrapped(der_of(fact.signature)))
            assert verifier.check(fact.payload, slow, when=fact.time) == result, path.name
            assert not result.code.startswith(("tlog-malformed", "cms-malformed")), result


IGNORED_REASONS = {
    "rekor-value-wrong-type": IGNORED_PRINTABLE,
    "rekor-value-wrong-type-tlog-required": IGNORED_PRINTABLE.replace(
        "a PrintableString", "a UTF8String"
    ),
    "rekor-value-not-an-entry": "the unsigned attribute 1.3.6.1.4.1.57264.3.1 (Rekor entry) "
    "was ignored: its value is not a readable entry (transparency-log entry: ",
}


@pytest.mark.parametrize("m", MUTATIONS, ids=MUTATION_IDS)
def test_both_readers_give_the_same_verdict(m: Mutation) -> None:
    """Every vector mutation, verified once as it is (the fast reader, when it takes
    it) and once BER-wrapped (the asn1crypto parser): the same result."""
    payload, sig, tr = m.apply()
    verifier = X509Verifier(tr)
    result = verifier.check(payload, sig, when=None)
    slow = _cms.armor(ber_wrapped(der_of(sig)))
    assert _cms._parse_fast(der_of(slow)) is None
    assert verifier.check(payload, slow, when=None) == result
    if m.name in IGNORED_REASONS:
        assert IGNORED_REASONS[m.name] in result.reason, result.reason
    elif m.name.startswith("odd-"):
        assert "ignored" not in result.reason  # unknown attributes: silently ignored


def test_unsigned_signing_time_is_never_the_time(tmp_path: Path) -> None:
    """A signing-time attribute among the *unsigned* attributes (RFC 5652 §11.3: it
    MUST NOT be there) is not the signing time: the signed one is. gitguard ignores it
    like any unsigned attribute; ``openssl cms -verify`` refuses the whole signature
    over it ("attribute error") — a deliberate difference: nobody who can add an
    unsigned attribute can make a good signature bad."""
    v = load_vector("git-commit.txt")
    claimed = _cms.parse(v.signature).signing_time
    assert claimed is not None
    forged = core.UTCTime(datetime.fromtimestamp(0, UTC)).dump()
    for value in (forged, core.Null().dump()):
        sig = with_unsigned_attrs(v.signature, [attribute("1.2.840.113549.1.9.5", value)])
        result = X509Verifier(trust()).check(v.payload, sig, when=None)
        assert (result.status, result.code, result.time) == (
            Status.GOOD, "valid-unproven-time", claimed,
        )  # fmt: skip
        assert not _openssl_accepts(v.payload, sig, None, claimed, tmp_path)


@pytest.mark.parametrize(
    ("contents", "note"),
    [
        (b"\x02\x01\x01", "unsigned attribute 1 was ignored: not a DER (type, values) pair"),
        (b"\x30\x05\x06\x03\x2a\x03", "the unsigned attributes were ignored: they are not DER"),
    ],
    ids=["not-an-attribute", "not-der"],
)
def test_unreadable_unsigned_attributes_are_named(contents: bytes, note: str) -> None:
    """Unsigned attributes that cannot be read at all are left out, on both paths, and
    the reason for a signature without a proven time names them."""
    v = load_vector("git-commit.txt")
    sig = _cms.armor(with_unsigned_contents(der_of(v.signature), contents))
    for tlog, status, code in (
        ("if-present", Status.GOOD, "valid-unproven-time"),
        ("require", Status.UNPROVEN_TIME, "no-tlog"),
    ):
        verifier = X509Verifier(trust(tlog))
        result = verifier.check(v.payload, sig, when=None)
        assert (result.status, result.code) == (status, code), result
        assert f"({note})" in result.reason
        slow = _cms.armor(ber_wrapped(der_of(sig)))
        assert verifier.check(v.payload, slow, when=None) == result


def _retag_signing_time(signature: bytes, tag: int) -> bytes:
    der = der_of(signature)
    msg = _cms.parse(signature)
    at = der.index(msg.signed_attrs[1:]) - 1
    i = at + msg.signed_attrs.index(b"\x17\x0d")
    return _cms.armor(der[:i] + bytes([tag]) + der[i + 1 :])


@pytest.mark.parametrize("tag", [0x13, 0x0C, 0x04])
def test_signed_attributes_stay_strict(tag: int) -> None:
    """A *signed* attribute of the wrong type (signing-time as a PrintableString,
    UTF8String, OCTET STRING) is malformed on both paths, not ignored."""
    v = load_vector("e2e-offline.commit")
    sig = _retag_signing_time(v.signature, tag)
    for s in (sig, _cms.armor(ber_wrapped(der_of(sig)))):
        assert _cms._parse_fast(der_of(s)) is None
        result = X509Verifier(trust()).check(v.payload, s, when=None)
        assert (result.status, result.code) == (Status.MALFORMED, "cms-malformed"), result


def test_smime_signature_with_odd_unsigned_attributes(tmp_path: Path) -> None:
    """A signature made by the real ``openssl cms -sign`` (tests/x509_sign.py) with a
    throwaway CA, then given unknown and oddly typed unsigned attributes (an unknown
    type, time-stamp token and counter-signature values asn1crypto cannot read, and a
    Rekor attribute holding a PrintableString): every verdict is the verdict of the
    signature without them, on both paths, and ``openssl cms -verify`` agrees."""
    import x509_sign
    from gitguard.signatures._x509_files import read_certificates
    from test_smime import CA

    env = tool_env(tmp_path / "home")
    root = CA.create(tmp_path / "pki", "Unsigned Attributes Root", env)
    keydir = root.issue(tmp_path / "keys" / "alice", "alice@corp.example")
    payload = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor A <a@b> 1 +0000\n\nx\n"
    signature = x509_sign.sign(payload, keydir)
    tr = X509Trust(
        emails=(X509Email("alice", "alice@corp.example"),),
        ca_bundle=tuple(read_certificates(root.cert.read_bytes())),
    )
    verifier = X509Verifier(tr)
    plain = verifier.check(payload, signature, when=None)
    assert (plain.status, plain.code) == (Status.GOOD, "verified"), plain
    rekor = attribute(_cms.OID_REKOR_ENTRY, core.PrintableString("c0d23d6a").dump())
    tampered = payload.replace(b"x\n", b"y\n")
    for attrs in ([ODD_UNSIGNED[0]], ODD_UNSIGNED[2:], [rekor], [*ODD_UNSIGNED, rekor]):
        sig = with_unsigned_attrs(signature, attrs)
        assert len(_cms.parse(sig).unsigned) == len(attrs)
        for s in (sig, _cms.armor(ber_wrapped(der_of(sig)))):
            result = verifier.check(payload, s, when=None)
            assert result == plain, (attrs, result)
            bad = verifier.check(tampered, s, when=None)
            assert (bad.status, bad.code) == (Status.BAD_SIGNATURE, "digest-mismatch")
        (tmp_path / "payload").write_bytes(payload)
        (tmp_path / "sig.der").write_bytes(der_of(sig))
        proc = subprocess.run(
            [
                "openssl", "cms", "-verify", "-binary", "-inform", "DER",
                "-in", str(tmp_path / "sig.der"), "-content", str(tmp_path / "payload"),
                "-CAfile", str(root.cert), "-out", "/dev/null",
            ],
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
