"""S/MIME (smimesign-style) X.509 signatures against a CA bundle.

A throwaway PKI is built with the real ``openssl`` (``req`` / ``ca``: a root, an
intermediate, another root nobody trusts, leaf certificates, a revocation and CRLs);
commits and tags are signed through git itself with ``gpg.format = x509`` and
``gpg.x509.program`` = tests/x509_sign.py (which speaks git's gpgsm interface and signs
with ``openssl cms -sign``). ``guard audit`` with a policy file judges them, and
``openssl cms -verify`` (at the signing time, with ``-crl_check``) is the oracle for
the CMS signature and the chain.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import x509_sign
from gitfixtures import Repo, index_results, run, run_audit, split_signature, tool_env
from gitguard.model import Status, X509Email, X509Trust
from gitguard.signatures import _cms
from gitguard.signatures._x509_files import read_certificates, read_crls
from gitguard.signatures.x509 import X509Result, X509Verifier

if shutil.which("openssl") is None or shutil.which("git") is None:  # pragma: no cover
    pytest.fail(
        "openssl and git are required for S/MIME tests (run scripts/test.sh)", pytrace=False
    )

CA_CONFIG = """\
[ ca ]
default_ca = this_ca
[ this_ca ]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/new
serial = $dir/serial
crlnumber = $dir/crlnumber
certificate = $dir/cert.pem
private_key = $dir/key.pem
default_md = sha256
default_days = 3650
default_crl_days = 30
policy = any_name
unique_subject = no
copy_extensions = none
[ any_name ]
commonName = supplied
organizationName = optional
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ root_ext ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ sub_ca_ext ]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""

LEAF_EXT = """\
[ leaf ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = {eku}
subjectAltName = email:{email}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


@dataclass
class CA:
    """An ``openssl ca`` directory."""

    dir: Path
    env: dict[str, str]

    @property
    def cert(self) -> Path:
        return self.dir / "cert.pem"

    @property
    def config(self) -> Path:
        return self.dir / "ca.cnf"

    def openssl(self, *args: str) -> None:
        run(["openssl", *args], env=self.env)

    @classmethod
    def create(cls, base: Path, name: str, env: dict[str, str], parent: CA | None = None) -> CA:
        d = base / name
        (d / "new").mkdir(parents=True)
        (d / "index.txt").write_text("")
        (d / "serial").write_text("1000\n")
        (d / "crlnumber").write_text("1000\n")
        (d / "ca.cnf").write_text(CA_CONFIG.format(dir=d))
        ca = cls(d, env)
        ca.openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                   "-out", str(d / "key.pem"))  # fmt: skip
        subject = f"/CN={name}/O=gitguard tests"
        if parent is None:
            ca.openssl("req", "-config", str(ca.config), "-new", "-x509", "-key",
                       str(d / "key.pem"), "-subj", subject, "-days", "3650",
                       "-extensions", "root_ext", "-out", str(ca.cert))  # fmt: skip
        else:
            csr = d / "req.csr"
            ca.openssl("req", "-config", str(ca.config), "-new", "-key", str(d / "key.pem"),
                       "-subj", subject, "-out", str(csr))  # fmt: skip
            parent.openssl("ca", "-batch", "-config", str(parent.config), "-notext",
                           "-extfile", str(parent.config), "-extensions", "sub_ca_ext",
                           "-in", str(csr), "-out", str(ca.cert))  # fmt: skip
        return ca

    def issue(
        self,
        keydir: Path,
        email: str,
        *,
        eku: str = "emailProtection",
        dates: tuple[str, str] | None = None,
        chain: tuple[Path, ...] = (),
    ) -> Path:
        """A leaf key and certificate in ``keydir`` (the signing program's key)."""
        keydir.mkdir(parents=True)
        self.openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                     "-out", str(keydir / "key.pem"))  # fmt: skip
        self.openssl("req", "-config", str(self.config), "-new", "-key",
                     str(keydir / "key.pem"), "-subj", f"/CN={email.split('@', 1)[0]}",
                     "-out", str(keydir / "req.csr"))  # fmt: skip
        (keydir / "ext.cnf").write_text(LEAF_EXT.format(eku=eku, email=email))
        validity = ["-startdate", dates[0], "-enddate", dates[1]] if dates else ["-days", "3650"]
        self.openssl("ca", "-batch", "-config", str(self.config), "-notext",
                     "-extfile", str(keydir / "ext.cnf"), "-extensions", "leaf",
                     *validity, "-in", str(keydir / "req.csr"),
                     "-out", str(keydir / "cert.pem"))  # fmt: skip
        if chain:
            (keydir / "chain.pem").write_bytes(b"".join(p.read_bytes() for p in chain))
        return keydir

    def revoke(self, cert: Path) -> None:
        self.openssl("ca", "-config", str(self.config), "-revoke", str(cert))

    @property
    def crl_path(self) -> Path:
        return self.dir / "crl.pem"

    def crl(self) -> Path:
        out = self.crl_path
        self.openssl("ca", "-config", str(self.config), "-gencrl", "-out", str(out))
        return out


@dataclass
class World:
    repo: Repo
    dir: Path
    root: CA
    intermediate: CA
    stranger: CA
    keys: dict[str, Path] = field(default_factory=dict)
    oids: dict[str, str] = field(default_factory=dict)
    program: Path = Path()

    def sign_commit(self, name: str, key: str, *, tag: bool = False) -> str:
        cfg = [
            "-c", "gpg.format=x509",
            "-c", f"gpg.x509.program={self.program}",
            "-c", f"user.signingkey={self.keys[key]}",
        ]  # fmt: skip
        if tag:
            self.repo.git(*cfg, "tag", "-s", "-m", name, name)
            return self.repo.rev_parse(f"refs/tags/{name}")
        self.repo.git(*cfg, "commit", "-q", "--allow-empty", "-S", "-m", name)
        return self.repo.rev_parse("HEAD")


# Which key signs each case, and the verdict under the policy below (CRLs of both CAs).
CASES: dict[str, tuple[str, str, str]] = {
    # case: (key, status, git code)
    "good": ("alice", "good", "G"),
    "via-intermediate": ("ivan", "good", "G"),
    "expired": ("bob", "expired-key", "Y"),
    "revoked": ("carol", "revoked-key", "R"),
    "wrong-ca": ("dave", "unknown-key", "E"),
    "untrusted-identity": ("frank", "unknown-key", "U"),
    "code-signing-only": ("erin", "unknown-key", "E"),
    "tag-good": ("alice", "good", "G"),
}

POLICY = """\
version = 1
[trust.x509]
ca_bundle = "{root}"
crl = ["{crl_root}", "{crl_sub}"]

[[signer]]
name = "alice"
x509 = [{{ email = "Alice@Corp.example" }}]   # compared case-insensitively

[[signer]]
name = "others"
x509 = [
  {{ email = "ivan@corp.example" }}, {{ email = "bob@corp.example" }},
  {{ email = "carol@corp.example" }}, {{ email = "dave@corp.example" }},
  {{ email = "erin@corp.example" }},
]
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    base = tmp_path_factory.mktemp("smime")
    env = tool_env(base / "home")
    pki = base / "pki"
    root = CA.create(pki, "Test Root CA", env)
    sub = CA.create(pki, "Test Issuing CA", env, parent=root)
    stranger = CA.create(pki, "Untrusted CA", env)
    repo = Repo.init(base / "repo", env)
    w = World(repo, base, root, sub, stranger)
    shim = base / "x509-sign"
    shim.write_text(f"#!/bin/sh\nexec '{sys.executable}' '{Path(x509_sign.__file__)}' \"$@\"\n")
    shim.chmod(0o755)
    w.program = shim
    keys = base / "keys"
    w.keys["alice"] = root.issue(keys / "alice", "alice@corp.example")
    w.keys["ivan"] = sub.issue(keys / "ivan", "ivan@corp.example", chain=(sub.cert,))
    w.keys["bob"] = root.issue(
        keys / "bob", "bob@corp.example", dates=("20200101000000Z", "20210101000000Z")
    )
    w.keys["carol"] = root.issue(keys / "carol", "carol@corp.example")
    w.keys["dave"] = stranger.issue(keys / "dave", "dave@corp.example")
    w.keys["frank"] = root.issue(keys / "frank", "frank@corp.example")
    w.keys["erin"] = root.issue(keys / "erin", "erin@corp.example", eku="codeSigning")
    root.revoke(w.keys["carol"] / "cert.pem")
    (base / "policy.toml").write_text(
        POLICY.format(root=root.cert, crl_root=root.crl(), crl_sub=sub.crl())
    )
    for case, (key, _, _) in CASES.items():
        w.oids[case] = w.sign_commit(case, key, tag=case.startswith("tag-"))
    return w


def _audit(world: World, tmp: Path, *args: str) -> dict[tuple[str, str], dict[str, object]]:
    audit = run_audit(world.repo, "--all", *args, out=tmp / "out.json")
    assert audit.rc in (0, 1), audit.stderr
    return index_results(audit.results())


def test_git_signed_through_the_program(world: World) -> None:
    """git accepted the program's signatures and stored them in the x509 armor."""
    raw = world.repo.cat(world.oids["good"])
    _, sig = split_signature(raw)
    assert sig is not None
    assert sig.startswith(b"-----BEGIN SIGNED MESSAGE-----")


@pytest.mark.parametrize("case", list(CASES))
def test_audit_verdicts(world: World, case: str, tmp_path: Path) -> None:
    results = _audit(world, tmp_path, "--policy", str(world.dir / "policy.toml"))
    kind = "tag" if case.startswith("tag-") else "commit"
    r = results[(kind, world.oids[case])]
    key, status, code = CASES[case]
    assert (r["status"], r["git_code"], r["format"]) == (status, code, "x509"), r
    assert r["identity"] == f"{key}@corp.example"
    assert r["time_source"] == "signing-time"
    assert "issuer" not in r
    assert "tlog_index" not in r
    if status == "good":
        assert r["signer"] == ("alice" if key == "alice" else "others")


def _verifier(world: World, **changes: object) -> X509Verifier:
    root = world.root
    # The CRLs the fixture made before any signature (openssl wants a CRL issued by the
    # verification time; ours does not look at CRL dates).
    crls = read_crls(root.crl_path.read_bytes()) + read_crls(
        world.intermediate.crl_path.read_bytes()
    )
    emails = tuple(X509Email(k, f"{k}@corp.example") for k in world.keys)
    trust = X509Trust(
        emails=emails, ca_bundle=tuple(read_certificates(root.cert.read_bytes())), crls=tuple(crls)
    )
    return X509Verifier(trust._replace(**changes))  # type: ignore[arg-type]


def _check(world: World, case: str, verifier: X509Verifier) -> tuple[bytes, bytes, X509Result]:
    raw = world.repo.cat(world.oids[case])
    payload, sig = split_signature(raw)
    assert sig is not None
    return payload, sig, verifier.check(payload, sig, when=None)


def test_eku_is_configurable(world: World) -> None:
    code_signing = _check(world, "code-signing-only", _verifier(world))[2]
    assert (code_signing.status, code_signing.code) == (Status.UNKNOWN_KEY, "eku")
    assert code_signing.cms_chain_ok is True  # the chain itself is fine
    for eku in ("codeSigning", "any"):
        result = _check(world, "code-signing-only", _verifier(world, eku=eku))[2]
        assert result.status is Status.GOOD, (eku, result.reason)
    email_cert = _check(world, "good", _verifier(world, eku="codeSigning"))[2]
    assert (email_cert.status, email_cert.code) == (Status.UNKNOWN_KEY, "eku")


def test_intermediate_from_bundle_or_cms(world: World) -> None:
    """ivan's signature embeds the issuing CA; with only the root trusted it chains.
    A bundle holding the intermediate works too (it is not a trust anchor)."""
    result = _check(world, "via-intermediate", _verifier(world))[2]
    assert result.status is Status.GOOD, result.reason
    bundle = read_certificates(world.root.cert.read_bytes()) + read_certificates(
        world.intermediate.cert.read_bytes()
    )
    result = _check(world, "via-intermediate", _verifier(world, ca_bundle=tuple(bundle)))[2]
    assert result.status is Status.GOOD, result.reason
    only_sub = _verifier(
        world, ca_bundle=tuple(read_certificates(world.intermediate.cert.read_bytes()))
    )
    result = _check(world, "via-intermediate", only_sub)[2]
    assert (result.status, result.code) == (Status.UNKNOWN_KEY, "chain-untrusted")


def test_crl_needed_for_the_issuer_once_crls_are_configured(world: World) -> None:
    root_crl_only = _verifier(world, crls=tuple(read_crls(world.root.crl_path.read_bytes())))
    result = _check(world, "via-intermediate", root_crl_only)[2]
    assert (result.status, result.code) == (Status.UNKNOWN_KEY, "crl-missing")
    no_crl = _check(world, "revoked", _verifier(world, crls=()))[2]
    assert no_crl.status is Status.GOOD  # without CRLs nothing says it is revoked


def test_tampered_commit_is_bad(world: World) -> None:
    raw = world.repo.cat(world.oids["good"])
    payload, sig = split_signature(raw)
    assert sig is not None
    result = _verifier(world).check(payload.replace(b"good", b"gooD"), sig, when=None)
    assert (result.status, result.code) == (Status.BAD_SIGNATURE, "digest-mismatch")


def _openssl_accepts(
    world: World, payload: bytes, sig: bytes, *, at: int, tmp: Path, crls: tuple[Path, ...]
) -> bool:
    (tmp / "payload").write_bytes(payload)
    (tmp / "sig.der").write_bytes(_cms.dearmor(sig))
    # openssl cms has no -CRLfile: the CRLs go into the CAfile (it loads both).
    cafile = tmp / "ca-and-crls.pem"
    cafile.write_bytes(world.root.cert.read_bytes() + b"".join(p.read_bytes() for p in crls))
    proc = subprocess.run(
        [
            "openssl", "cms", "-verify", "-binary", "-inform", "DER",
            "-in", str(tmp / "sig.der"), "-content", str(tmp / "payload"),
            "-CAfile", str(cafile), "-purpose", "any", "-attime", str(at),
            "-crl_check", "-out", "/dev/null",
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    return proc.returncode == 0


@pytest.mark.parametrize("case", [c for c in CASES if not c.startswith("tag-")])
def test_openssl_agrees(world: World, case: str, tmp_path: Path) -> None:
    """``openssl cms -verify -crl_check`` at the signing time accepts exactly the
    signatures whose CMS signature, chain and revocation status we accept."""
    payload, sig, result = _check(world, case, _verifier(world))
    assert result.time is not None
    crls = (world.root.crl_path, world.intermediate.crl_path)
    accepted = _openssl_accepts(world, payload, sig, at=result.time, tmp=tmp_path, crls=crls)
    assert accepted is (result.cms_chain_ok is True), result
    tampered = payload.replace(case.encode(), case.upper().encode())
    assert not _openssl_accepts(world, tampered, sig, at=result.time, tmp=tmp_path, crls=crls)
    assert _verifier(world).check(tampered, sig, when=None).status is Status.BAD_SIGNATURE


def test_policy_needs_a_ca_bundle_for_email_identities(tmp_path: Path) -> None:
    from gitguard.errors import PolicyError
    from gitguard.trust.policy import load_policy

    text = 'version = 1\n[[signer]]\nname = "a"\nx509 = [{ email = "a@corp.example" }]\n'
    with pytest.raises(PolicyError) as e:
        load_policy(text.encode(), "p.toml", base_dir=tmp_path)
    assert list(e.value.problems) == [
        "p.toml: trust.x509: signers name x509 e-mail identities (line 4) but there is no "
        "[trust.x509] ca_bundle to check their certificates against"
    ]
    (tmp_path / "bad.pem").write_text("not a certificate")
    text = 'version = 1\n[trust.x509]\nca_bundle = "bad.pem"\ncrl = "missing.crl"\n'
    with pytest.raises(PolicyError) as e:
        load_policy(text.encode(), "p.toml", base_dir=tmp_path)
    problems = list(e.value.problems)
    assert problems[0].startswith(f"p.toml:3: trust.x509.ca_bundle: {tmp_path / 'bad.pem'}: ")
    assert problems[1] == (
        f"p.toml:4: trust.x509.crl: cannot read {tmp_path / 'missing.crl'}: "
        "No such file or directory"
    )
