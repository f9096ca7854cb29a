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
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms, core
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gitfixtures import Repo, run_audit, split_signature, split_tag_signature, tool_env
from gitguard.model import SigstoreIdentity, Status, TrustStore, X509Email, X509Trust
from gitguard.policy import load_policy
from gitguard.signatures import Verifier, _cms, _rekor
from gitguard.signatures._x509_chain import ChainError, oidc_issuer
from gitguard.signatures._x509_trustroot import PINNED_SHA256, pinned_bytes
from gitguard.signatures.x509 import X509Result, X509Verifier

DATA = Path(__file__).parent / "data" / "gitsign"
BILLY = "billy@chainguard.dev"
GOOGLE = "https://accounts.google.com"
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
    values = msg.unsigned_values(_cms.OID_REKOR_ENTRY)
    if not values:
        return doc
    entry = _rekor.decode_entry(_cms.octet_string(values[0]))
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
    policy.write_text(
        f"""version = 1
[trust.x509]
tlog = "require"
[[signer]]
name = "billy"
sigstore = [{{ identity = "{BILLY}", issuer = "{GOOGLE}" }}]
"""
    )
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
        result = verifier.check(v.payload, with_unsigned(v.signature, [entry]), when=None)
        assert (result.status, result.code) == (Status.BAD_SIGNATURE, "tlog-malformed"), (
            entry,
            result,
        )


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
