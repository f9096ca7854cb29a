"""Image signatures against the real tools: cosign 2.5.0 and skopeo 1.18.0 (Debian 13,
provisioned into ``.tools/`` by ``scripts/provision-image-tools.sh``) and a real
registry (Debian's ``docker-registry``, distribution 2.8.2) on 127.0.0.1.

* Keys: made by cosign and by skopeo load in gitguard; gitguard's (both PEM labels,
  scrypt N 32768 and 65536, and ``guard image generate-key-pair``) load in both tools.
* Signatures: ``guard image sign`` output verifies with ``cosign verify`` and with
  skopeo's ``sigstoreSigned`` policy, and its payload is byte-identical to cosign's;
  cosign's and skopeo's signatures verify with ``guard image verify``; signatures
  accumulate (append, de-duplicated); multi-arch indexes; basic and bearer-token auth.
* Tampering: a flipped payload byte, a signature moved to another image's ``.sig``, a
  wrong key, an edited manifest, a payload that is signed but not strictly
  well-formed — refused by ``guard image verify`` (and, as the oracle, by the tools).
* End to end: a signed release tag pushed to a guarded bare repository gets its image
  signed (cosign verifies it with the release annotations); an unsigned or untrusted
  tag is refused and nothing is signed; a registry outage leaves the job pending and
  ``guard release retry`` signs it once the registry is back, exactly once.

Nothing is skipped: a missing tool, registry or CLI command fails the test.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gitfixtures import Repo, SshKey, make_ssh_key, ssh_signer, tool_env
from gitguard.images.keys import (
    COSIGN_LABEL,
    SIGSTORE_LABEL,
    generate_key_pair,
    load_private_key,
    load_public_key,
)
from gitguard.images.payload import make_payload, parse_payload
from registry import (
    SIGNATURE_ANNOTATION,
    AuthMode,
    Client,
    Image,
    Registry,
    RegistryError,
    ToolRun,
    cosign_sign,
    cosign_verify,
    docker_registry,
    image_tool_env,
    push_image,
    push_index,
    run_tool,
    sha256_digest,
    sig_tag,
    skopeo_auth_args,
    skopeo_policy,
    skopeo_verify,
    tool,
)
from servers import (
    Push,
    ServerError,
    find_program,
    git_daemon,
    git_push,
    group_members,
    init_bare,
    install_guard,
    port_open,
    ref_value,
)

PASSWORD = "correct horse"
PROJECT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- the lab


@dataclass(frozen=True)
class Keys:
    key: Path  # encrypted private key, password PASSWORD
    pub: Path


@dataclass
class Lab:
    """One anonymous registry, the tools' environment and key pairs for the module."""

    tmp: Path
    env: dict[str, str]  # cosign, skopeo and guard run with exactly this
    registry: Registry
    cosign_keys: Keys
    skopeo_keys: Keys
    passphrase_file: Path  # PASSWORD, for skopeo
    _names: Iterator[int]

    @property
    def client(self) -> Client:
        return self.registry.client()

    def name(self, prefix: str) -> str:
        return f"{prefix}-{next(self._names)}"

    def image(self, repo: str | None = None, *, tag: str = "v1", content: bytes = b"") -> Image:
        """A fresh image with its own digest in a fresh repository."""
        repo = repo or f"interop/{self.name('app')}"
        body = content or f"image {next(self._names)}\n".encode()
        return push_image(self.client, repo, tag, content=body)

    def dir(self, prefix: str) -> Path:
        path = self.tmp / self.name(prefix)
        path.mkdir(parents=True)
        return path

    def cosign_sign(self, image: Image, annotations: Mapping[str, str] | None = None) -> ToolRun:
        """cosign signs ``image`` (by digest) with the lab's key: the reference signer."""
        ref = self.registry.ref(image.repo, digest=image.digest)
        return cosign_sign(
            self.registry, self.cosign_keys.key, ref, env=self.env, annotations=annotations
        )


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    tmp = tmp_path_factory.mktemp("image-interop")
    env = image_tool_env(tmp / "home", tmp / "tools-home")
    env["COSIGN_PASSWORD"] = PASSWORD
    passphrase = tmp / "passphrase"
    passphrase.write_text(PASSWORD + "\n")
    run_tool([tool("cosign"), "generate-key-pair", "--output-key-prefix", tmp / "cosign"], env=env)
    run_tool(
        [
            tool("skopeo"),
            "generate-sigstore-key",
            "--output-prefix",
            tmp / "skopeo",
            "--passphrase-file",
            passphrase,
        ],
        env=env,
    )
    with docker_registry(tmp / "registry", env) as registry:
        yield Lab(
            tmp,
            env,
            registry,
            Keys(tmp / "cosign.key", tmp / "cosign.pub"),
            Keys(tmp / "skopeo.private", tmp / "skopeo.pub"),
            passphrase,
            itertools.count(),
        )


# --------------------------------------------------------------------------- guard CLI


def guard(*args: str | Path, env: Mapping[str, str], cwd: Path | None = None) -> ToolRun:
    """``python -m gitguard ARGS`` with exactly ``env`` (never raises on exit status)."""
    return run_tool(
        [sys.executable, "-m", "gitguard", *map(str, args)], env=env, cwd=cwd, check=False
    )


def annotation_args(annotations: Mapping[str, str] | None) -> list[str]:
    args: list[str] = []
    for k, v in (annotations or {}).items():
        args += ["-a", f"{k}={v}"]
    return args


def guard_sign(
    lab: Lab,
    key: Path,
    image: str,
    *,
    annotations: Mapping[str, str] | None = None,
    extra: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> ToolRun:
    return guard(
        "image",
        "sign",
        "--key",
        key,
        "--allow-insecure-registry",
        *annotation_args(annotations),
        *extra,
        image,
        env=env or lab.env,
    )


def guard_verify(
    lab: Lab,
    pub: Path,
    image: str,
    *,
    annotations: Mapping[str, str] | None = None,
    rule: str | None = "matchRepository",
    extra: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> ToolRun:
    """``guard image verify``; ``rule`` is the ``--identity-rule`` (containers/image's
    ``signedIdentity`` names): cosign writes tag-less identities, which the default
    ``matchRepoDigestOrExact`` refuses, as skopeo does; None leaves the default."""
    rule_args = ["--identity-rule", rule] if rule is not None else []
    return guard(
        "image",
        "verify",
        "--key",
        pub,
        "--allow-insecure-registry",
        *rule_args,
        *annotation_args(annotations),
        *extra,
        image,
        env=env or lab.env,
    )


def assert_refused(run: ToolRun) -> None:
    """Exit 1 (verification failed), not 0 and not a crash (3) or usage error (2)."""
    assert run.returncode == 1, run.describe()
    assert "Traceback" not in run.stderr, run.describe()


# --------------------------------------------------------------------------- helpers


def skopeo_sign_copy(
    lab: Lab, key: Path, source: str, dest: str, *, registry: Registry | None = None
) -> ToolRun:
    """``skopeo copy --sign-by-sigstore-private-key KEY`` into a registry that has
    ``use-sigstore-attachments`` on (so the signature goes to ``sha256-….sig``)."""
    reg = registry or lab.registry
    _, registries_d = skopeo_policy(lab.dir("skopeo-sign"), reg, key)
    return run_tool(
        [
            tool("skopeo"),
            "--insecure-policy",
            "--registries.d",
            registries_d,
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            *skopeo_auth_args(reg, "--dest-creds"),
            "--sign-by-sigstore-private-key",
            key,
            "--sign-passphrase-file",
            lab.passphrase_file,
            source,
            dest,
        ],
        env=lab.env,
    )


def skopeo_accepts(
    lab: Lab, pub: Path, image: str, *, identity: Mapping[str, Any] | None = None
) -> ToolRun:
    policy, registries_d = skopeo_policy(
        lab.dir("skopeo-policy"),
        lab.registry,
        pub,
        signed_identity=identity or {"type": "matchRepository"},
    )
    return skopeo_verify(lab.registry, policy, registries_d, image, lab.dir("pulled"), env=lab.env)


def verified_payloads(run: ToolRun) -> list[dict[str, Any]]:
    """The payloads ``cosign verify --output=json`` printed."""
    docs: list[dict[str, Any]] = json.loads(run.stdout)
    return docs


def write_our_key(directory: Path, *, label: str = COSIGN_LABEL, n: int = 32768) -> Keys:
    private_pem, public_pem = generate_key_pair(PASSWORD.encode(), label=label, n=n)
    directory.mkdir(parents=True, exist_ok=True)
    key, pub = directory / "ours.key", directory / "ours.pub"
    key.write_bytes(private_pem)
    key.chmod(0o600)
    pub.write_bytes(public_pem)
    return Keys(key, pub)


def raw_key(directory: Path) -> tuple[ec.EllipticCurvePrivateKey, Path]:
    """A plain P-256 key for hand-made signatures, and its PKIX public key file."""
    key = ec.generate_private_key(ec.SECP256R1())
    pub = directory / "raw.pub"
    pub.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key, pub


def signature_of(key: ec.EllipticCurvePrivateKey, payload: bytes) -> str:
    return base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()


# --------------------------------------------------------------------------- the harness


@pytest.mark.parametrize("auth", ["none", "basic", "token"])
def test_registry_harness_round_trip(lab: Lab, auth: AuthMode) -> None:
    """The oracles work against the harness: skopeo pulls and pushes without changing
    the digest, cosign signs and verifies; credentials are needed when configured."""
    workdir = lab.dir(f"harness-{auth}")
    env = {**lab.env, "DOCKER_CONFIG": str(workdir / "docker")}
    with docker_registry(workdir / "registry", lab.env, auth=auth) as registry:
        image = push_index(registry.client(), "harness/app", "v1")
        if auth != "none":
            registry.docker_config(workdir / "docker")
            with pytest.raises(RegistryError) as denied:
                registry.client(None).get_manifest("harness/app", "v1")
            assert denied.value.status == 401
        creds = skopeo_auth_args(registry, "--src-creds")
        layout = workdir / "layout"
        skopeo: list[str | Path] = [tool("skopeo"), "--insecure-policy", "copy", "--all"]
        source, copy = registry.ref("harness/app", "v1"), registry.ref("harness/copy", "v1")
        run_tool(
            [*skopeo, "--src-tls-verify=false", *creds, f"docker://{source}", f"oci:{layout}:v1"],
            env=env,
        )
        dest_creds = skopeo_auth_args(registry, "--dest-creds")
        run_tool(
            [
                *skopeo,
                "--dest-tls-verify=false",
                *dest_creds,
                f"oci:{layout}:v1",
                f"docker://{copy}",
            ],
            env=env,
        )
        copied = registry.client().get_manifest("harness/copy", "v1")
        assert copied is not None
        assert sha256_digest(copied[0]) == image.digest

        ref = registry.ref("harness/copy", digest=image.digest)
        cosign_sign(registry, lab.cosign_keys.key, ref, env=env, annotations={"auth": auth})
        ok = cosign_verify(registry, lab.cosign_keys.pub, ref, env=env, annotations={"auth": auth})
        assert ok.returncode == 0, ok.describe()
        if registry.token_server is not None:
            assert (True, "repository:harness/copy:push,pull") in registry.token_server.requests


def test_registry_stops_by_pid_and_restarts_with_its_storage(lab: Lab) -> None:
    with docker_registry(lab.dir("restart") / "registry", lab.env) as registry:
        image = push_image(registry.client(), "restart/app", "v1")
        pid, port = registry.pid, registry.port
        assert pid is not None
        registry.stop()
        assert not port_open(port)
        assert group_members(pid) == []
        registry.start()
        assert registry.port == port
        assert registry.pid != pid
        got = registry.client().get_manifest("restart/app", "v1")
        assert got is not None
        assert sha256_digest(got[0]) == image.digest


# --------------------------------------------------------------------------- keys


def test_cosign_generated_key_loads_in_gitguard(lab: Lab) -> None:
    pem = lab.cosign_keys.key.read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
    key = load_private_key(pem, PASSWORD.encode(), source="cosign.key")
    assert key.public_key.pem == load_public_key(lab.cosign_keys.pub.read_bytes(), source="pub").pem


def test_skopeo_generated_key_loads_in_gitguard(lab: Lab) -> None:
    pem = lab.skopeo_keys.key.read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n")
    key = load_private_key(pem, PASSWORD.encode(), source="skopeo.private")
    assert key.public_key.pem == load_public_key(lab.skopeo_keys.pub.read_bytes(), source="pub").pem


@pytest.mark.parametrize(
    ("label", "n"),
    [
        (COSIGN_LABEL, 32768),
        (COSIGN_LABEL, 65536),
        (SIGSTORE_LABEL, 32768),
        (SIGSTORE_LABEL, 65536),
    ],
)
def test_gitguard_keys_load_in_cosign_and_skopeo(lab: Lab, label: str, n: int) -> None:
    keys = write_our_key(lab.dir("ourkey"), label=label, n=n)

    derived = run_tool([tool("cosign"), "public-key", "--key", keys.key], env=lab.env)
    assert derived.stdout.encode() == keys.pub.read_bytes()

    # skopeo signs with it; cosign and skopeo verify that signature with our public key.
    image = lab.image()
    dest = lab.registry.ref(image.repo, "signed-by-skopeo")
    skopeo_sign_copy(
        lab, keys.key, f"docker://{lab.registry.ref(image.repo, image.tag)}", f"docker://{dest}"
    )
    assert cosign_verify(lab.registry, keys.pub, dest, env=lab.env).returncode == 0
    accepted = skopeo_accepts(lab, keys.pub, dest)
    assert accepted.returncode == 0, accepted.describe()


def test_guard_generate_key_pair_loads_in_cosign_and_skopeo(lab: Lab) -> None:
    directory = lab.dir("guard-keygen")
    run = guard("image", "generate-key-pair", "--output-key-prefix", directory / "g", env=lab.env)
    assert run.returncode == 0, run.describe()
    key, pub = directory / "g.key", directory / "g.pub"
    assert key.stat().st_mode & 0o777 == 0o600
    assert PASSWORD.encode() not in key.read_bytes()

    derived = run_tool([tool("cosign"), "public-key", "--key", key], env=lab.env)
    assert derived.stdout.encode() == pub.read_bytes()

    image = lab.image()
    dest = lab.registry.ref(image.repo, "signed-by-skopeo")
    skopeo_sign_copy(
        lab, key, f"docker://{lab.registry.ref(image.repo, image.tag)}", f"docker://{dest}"
    )
    accepted = skopeo_accepts(lab, pub, dest)
    assert accepted.returncode == 0, accepted.describe()


# --------------------------------------------------------------------------- payload bytes


WEIRD_ANNOTATIONS = {
    "release": "v1.2.3",
    "a-html": "<b>&amp;</b>",
    "quote": 'say "hi"\\now',
    "unicode": "café \u2028 ☃",
    "Upper": "sorted before lower case",
}


def test_payload_bytes_match_cosign(lab: Lab) -> None:
    """gitguard's payload builder reproduces cosign's bytes exactly (Go escaping,
    sorted ``optional``), with and without annotations."""
    image = lab.image()
    by_digest = lab.registry.ref(image.repo, digest=image.digest)
    cosign_sign(lab.registry, lab.cosign_keys.key, by_digest, env=lab.env)
    cosign_sign(
        lab.registry, lab.cosign_keys.key, by_digest, env=lab.env, annotations=WEIRD_ANNOTATIONS
    )

    layers = lab.client.signature_layers(image.repo, image.digest)
    assert len(layers) == 2
    identity = f"{lab.registry.host}/{image.repo}"
    assert layers[0].payload == make_payload(identity, image.digest)
    assert layers[1].payload == make_payload(identity, image.digest, WEIRD_ANNOTATIONS)
    for layer in layers:
        parsed = parse_payload(layer.payload)
        assert (parsed.docker_reference, parsed.digest) == (identity, image.digest)


def test_signature_manifest_bytes_match_cosign(lab: Lab) -> None:
    """Signing the same digest with the same identity and annotations, gitguard writes
    the same ``.sig`` manifest and config bytes as cosign (only the ECDSA signature,
    random each time, differs); and it treats cosign's layer as its own duplicate."""
    content = f"same bytes {lab.name('same')}\n".encode()
    ours, theirs = lab.image(content=content), lab.image(content=content)
    assert ours.digest == theirs.digest
    identity = f"{lab.registry.host}/{theirs.repo}"
    annotations = {"release": "v1", "a": "<&>"}
    lab.cosign_sign(theirs, annotations=annotations)
    signed = guard_sign(
        lab,
        lab.cosign_keys.key,
        lab.registry.ref(ours.repo, ours.tag),
        annotations=annotations,
        extra=["--identity", identity],
    )
    assert signed.returncode == 0, signed.describe()

    def without_signature(repo: str) -> tuple[dict[str, Any], bytes]:
        doc = lab.client.signature_manifest(repo, ours.digest)
        assert doc is not None
        for layer in doc["layers"]:
            assert set(layer["annotations"]) == {SIGNATURE_ANNOTATION}
            layer["annotations"][SIGNATURE_ANNOTATION] = "…"
        return doc, lab.client.get_blob(repo, doc["config"]["digest"])

    assert without_signature(ours.repo) == without_signature(theirs.repo)
    got = lab.client.get_manifest(ours.repo, sig_tag(ours.digest))
    assert got is not None
    assert got[1] == "application/vnd.oci.image.manifest.v1+json"

    # cosign's own layer, same payload and key: gitguard adds nothing (cosign's rule).
    again = guard_sign(
        lab,
        lab.cosign_keys.key,
        lab.registry.ref(theirs.repo, theirs.tag),
        annotations=annotations,
        extra=["--identity", identity],
    )
    assert again.returncode == 0, again.describe()
    assert len(lab.client.signature_layers(theirs.repo, theirs.digest)) == 1


# --------------------------------------------------------------------------- ours -> theirs


def test_guard_signature_verifies_with_cosign(lab: Lab) -> None:
    image = lab.image()
    ref = lab.registry.ref(image.repo, image.tag)
    annotations = {"release": "v1.2.3", "commit": "0" * 40}

    signed = guard_sign(lab, lab.cosign_keys.key, ref, annotations=annotations)
    assert signed.returncode == 0, signed.describe()

    ok = cosign_verify(lab.registry, lab.cosign_keys.pub, ref, env=lab.env, annotations=annotations)
    assert ok.returncode == 0, ok.describe()
    (payload,) = verified_payloads(ok)
    assert payload["critical"]["image"]["docker-manifest-digest"] == image.digest
    assert payload["critical"]["type"] == "cosign container image signature"
    assert payload["optional"] == annotations

    wrong = cosign_verify(
        lab.registry, lab.cosign_keys.pub, ref, env=lab.env, annotations={"release": "v9"}
    )
    assert wrong.returncode != 0

    # The stored layer has cosign's shape: payload blob, media type, one annotation.
    (layer,) = lab.client.signature_layers(image.repo, image.digest)
    assert layer.descriptor["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json"
    assert layer.descriptor["digest"] == sha256_digest(layer.payload)
    assert layer.descriptor["size"] == len(layer.payload)
    assert set(layer.descriptor["annotations"]) == {SIGNATURE_ANNOTATION}
    parsed = parse_payload(layer.payload)
    assert layer.payload == make_payload(parsed.docker_reference, image.digest, annotations)


def test_guard_signature_verifies_with_skopeo(lab: Lab) -> None:
    image = lab.image()
    ref = lab.registry.ref(image.repo, image.tag)
    signed = guard_sign(lab, lab.skopeo_keys.key, ref)
    assert signed.returncode == 0, signed.describe()

    accepted = skopeo_accepts(lab, lab.skopeo_keys.pub, ref)
    assert accepted.returncode == 0, accepted.describe()
    by_digest = skopeo_accepts(
        lab, lab.skopeo_keys.pub, lab.registry.ref(image.repo, digest=image.digest)
    )
    assert by_digest.returncode == 0, by_digest.describe()

    # If the identity names the tag (IMAGE-SIGNING.md §7), skopeo's default rule
    # (matchRepoDigestOrExact) accepts a pull by that tag too.
    (layer,) = lab.client.signature_layers(image.repo, image.digest)
    if parse_payload(layer.payload).docker_reference == ref:
        exact = skopeo_accepts(
            lab, lab.skopeo_keys.pub, ref, identity={"type": "matchRepoDigestOrExact"}
        )
        assert exact.returncode == 0, exact.describe()

    other_key = skopeo_accepts(lab, lab.cosign_keys.pub, ref)
    assert other_key.returncode != 0


# --------------------------------------------------------------------------- theirs -> ours


def test_cosign_signature_verifies_with_guard(lab: Lab) -> None:
    image = lab.image()
    annotations = {"release": "v2"}
    lab.cosign_sign(image, annotations=annotations)
    ref = lab.registry.ref(image.repo, image.tag)
    ok = guard_verify(lab, lab.cosign_keys.pub, ref, annotations=annotations)
    assert ok.returncode == 0, ok.describe()
    assert image.digest in ok.stdout

    # cosign's identity has no tag: the default rule refuses it, as skopeo's does.
    assert_refused(guard_verify(lab, lab.cosign_keys.pub, ref, rule=None))
    strict = skopeo_accepts(
        lab, lab.cosign_keys.pub, ref, identity={"type": "matchRepoDigestOrExact"}
    )
    assert strict.returncode != 0

    assert_refused(guard_verify(lab, lab.cosign_keys.pub, ref, annotations={"release": "v3"}))
    assert_refused(guard_verify(lab, lab.skopeo_keys.pub, ref))


def test_skopeo_signature_verifies_with_guard(lab: Lab) -> None:
    image = lab.image()
    dest = lab.registry.ref(image.repo, "skopeo-signed")
    skopeo_sign_copy(
        lab,
        lab.skopeo_keys.key,
        f"docker://{lab.registry.ref(image.repo, image.tag)}",
        f"docker://{dest}",
    )
    (layer,) = lab.client.signature_layers(image.repo, image.digest)
    assert parse_payload(layer.payload).docker_reference == dest  # containers/image: with tag

    ok = guard_verify(lab, lab.skopeo_keys.pub, dest, rule=None)  # default rule: exact tag
    assert ok.returncode == 0, ok.describe()
    assert_refused(guard_verify(lab, lab.cosign_keys.pub, dest))


def test_signatures_accumulate_and_repeat_signing_adds_nothing(lab: Lab) -> None:
    image = lab.image()
    ref = lab.registry.ref(image.repo, image.tag)
    lab.cosign_sign(image)
    for _ in range(2):
        signed = guard_sign(lab, lab.skopeo_keys.key, ref, annotations={"release": "v1"})
        assert signed.returncode == 0, signed.describe()

    assert len(lab.client.signature_layers(image.repo, image.digest)) == 2
    for keys in (lab.cosign_keys, lab.skopeo_keys):
        assert cosign_verify(lab.registry, keys.pub, ref, env=lab.env).returncode == 0
        assert guard_verify(lab, keys.pub, ref).returncode == 0


def test_multi_arch_index_and_children(lab: Lab) -> None:
    repo = f"interop/{lab.name('multi')}"
    index = push_index(lab.client, repo, "v1")
    ref = lab.registry.ref(repo, "v1")

    signed = guard_sign(lab, lab.cosign_keys.key, ref, extra=["--recursive"])
    assert signed.returncode == 0, signed.describe()

    (payload,) = verified_payloads(
        cosign_verify(lab.registry, lab.cosign_keys.pub, ref, env=lab.env, check=True)
    )
    assert payload["critical"]["image"]["docker-manifest-digest"] == index.digest
    for child in index.children:
        by_digest = lab.registry.ref(repo, digest=child.digest)
        ok = cosign_verify(lab.registry, lab.cosign_keys.pub, by_digest, env=lab.env)
        assert ok.returncode == 0, ok.describe()
        assert guard_verify(lab, lab.cosign_keys.pub, by_digest).returncode == 0


@pytest.mark.parametrize("auth", ["basic", "token"])
def test_authenticated_registry(lab: Lab, auth: str) -> None:
    workdir = lab.dir(f"registry-{auth}")
    with docker_registry(workdir / "registry", lab.env, auth=auth) as registry:  # type: ignore[arg-type]
        image = push_image(registry.client(), "auth/app", "v1")
        ref = registry.ref("auth/app", "v1")

        anonymous = guard_sign(lab, lab.cosign_keys.key, ref)
        assert_refused(anonymous)

        env = {**lab.env, "DOCKER_CONFIG": str(workdir / "docker")}
        registry.docker_config(workdir / "docker")
        signed = guard_sign(lab, lab.cosign_keys.key, ref, env=env, annotations={"auth": auth})
        assert signed.returncode == 0, signed.describe()

        ok = cosign_verify(registry, lab.cosign_keys.pub, ref, env=env, annotations={"auth": auth})
        assert ok.returncode == 0, ok.describe()
        assert (
            verified_payloads(ok)[0]["critical"]["image"]["docker-manifest-digest"] == image.digest
        )
        assert guard_verify(lab, lab.cosign_keys.pub, ref, env=env).returncode == 0
        if registry.token_server is not None:
            assert any(ok and "push" in scope for ok, scope in registry.token_server.requests)


# --------------------------------------------------------------------------- tampering


@pytest.fixture
def signed_image(lab: Lab) -> Image:
    """An image cosign signed (positive control: both verifiers accept it)."""
    image = lab.image()
    lab.cosign_sign(image)
    ref = lab.registry.ref(image.repo, image.tag)
    assert cosign_verify(lab.registry, lab.cosign_keys.pub, ref, env=lab.env).returncode == 0
    assert guard_verify(lab, lab.cosign_keys.pub, ref).returncode == 0
    return image


def _refused_by_all(lab: Lab, pub: Path, ref: str) -> None:
    assert_refused(guard_verify(lab, pub, ref))
    assert cosign_verify(lab.registry, pub, ref, env=lab.env).returncode != 0


def test_flipped_payload_byte_is_refused(lab: Lab, signed_image: Image) -> None:
    (layer,) = lab.client.signature_layers(signed_image.repo, signed_image.digest)
    flipped = bytearray(layer.payload)
    at = layer.payload.index(b"cosign container image signature")
    flipped[at] ^= 0x01  # "c" -> "b": still valid JSON, no longer the signed bytes
    lab.client.put_signature_manifest(
        signed_image.repo,
        signed_image.digest,
        [(bytes(flipped), {SIGNATURE_ANNOTATION: layer.signature})],
    )
    _refused_by_all(lab, lab.cosign_keys.pub, lab.registry.ref(signed_image.repo, signed_image.tag))


def test_signature_moved_to_another_image_is_refused(lab: Lab, signed_image: Image) -> None:
    other = lab.image(signed_image.repo, tag="other")
    (layer,) = lab.client.signature_layers(signed_image.repo, signed_image.digest)
    lab.client.put_signature_manifest(
        signed_image.repo, other.digest, [(layer.payload, {SIGNATURE_ANNOTATION: layer.signature})]
    )
    _refused_by_all(lab, lab.cosign_keys.pub, lab.registry.ref(other.repo, other.tag))


def test_wrong_key_is_refused(lab: Lab, signed_image: Image) -> None:
    _, stranger = raw_key(lab.dir("stranger"))
    _refused_by_all(lab, stranger, lab.registry.ref(signed_image.repo, signed_image.tag))


def test_edited_manifest_is_refused(lab: Lab, signed_image: Image) -> None:
    manifest = json.loads(signed_image.manifest)
    manifest["annotations"] = {"org.opencontainers.image.title": "edited after signing"}
    body = json.dumps(manifest, separators=(",", ":")).encode()
    edited = lab.client.put_manifest(signed_image.repo, "v1", body, signed_image.media_type)
    ref = lab.registry.ref(signed_image.repo, "v1")
    # No signature for the new digest at all …
    _refused_by_all(lab, lab.cosign_keys.pub, ref)
    # … and the old one copied over does not name it.
    (layer,) = lab.client.signature_layers(signed_image.repo, signed_image.digest)
    lab.client.put_signature_manifest(
        signed_image.repo, edited, [(layer.payload, {SIGNATURE_ANNOTATION: layer.signature})]
    )
    _refused_by_all(lab, lab.cosign_keys.pub, ref)


@pytest.mark.parametrize(
    "mutation",
    ["extra-critical-field", "wrong-type", "identity-other-repo"],
)
def test_signed_malformed_payload_is_refused_like_containers_image(lab: Lab, mutation: str) -> None:
    """Validly signed payloads that containers/image (skopeo) rejects: gitguard's
    verifier is strict like it, although cosign ignores these fields."""
    image = lab.image()
    key, pub = raw_key(lab.dir("raw"))
    identity = f"{lab.registry.host}/{image.repo}"
    doc: dict[str, Any] = json.loads(make_payload(identity, image.digest))
    if mutation == "extra-critical-field":
        doc["critical"]["extra"] = "x"
    elif mutation == "wrong-type":
        doc["critical"]["type"] = "atomic container signature"
    else:
        doc["critical"]["identity"]["docker-reference"] = f"{lab.registry.host}/somewhere/else"
    payload = json.dumps(doc, separators=(",", ":")).encode()
    lab.client.put_signature_manifest(
        image.repo, image.digest, [(payload, {SIGNATURE_ANNOTATION: signature_of(key, payload)})]
    )
    ref = lab.registry.ref(image.repo, image.tag)

    assert cosign_verify(lab.registry, pub, ref, env=lab.env).returncode == 0  # cosign: lax
    assert skopeo_accepts(lab, pub, ref).returncode != 0  # containers/image: strict
    assert_refused(guard_verify(lab, pub, ref))


# --------------------------------------------------------------------------- OCI layout


def skopeo_copy(lab: Lab, source: str, dest: str) -> ToolRun:
    """A plain ``skopeo copy --preserve-digests`` (no signing, no policy)."""
    return run_tool(
        [
            tool("skopeo"),
            "--insecure-policy",
            "copy",
            "--preserve-digests",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            source,
            dest,
        ],
        env=lab.env,
    )


def test_oci_layout_signature_travels_to_the_registry(lab: Lab) -> None:
    """``guard image sign oci:PATH:TAG`` stores the ``.sig`` manifest in the layout the
    way cosign stores it in a registry: copied there by skopeo (image and signature
    tag), cosign and skopeo verify it."""
    image = lab.image()
    layout = lab.dir("layout") / "image"
    skopeo_copy(lab, f"docker://{lab.registry.ref(image.repo, image.tag)}", f"oci:{layout}:v1")
    repo = f"interop/{lab.name('from-layout')}"
    identity = lab.registry.ref(repo, "v1")  # where the image will be published

    signed = guard_sign(
        lab,
        lab.cosign_keys.key,
        f"oci:{layout}:v1",
        annotations={"k": "v"},
        extra=["--identity", identity],
    )
    assert signed.returncode == 0, signed.describe()
    local = guard_verify(
        lab, lab.cosign_keys.pub, f"oci:{layout}:v1", rule=None, extra=["--identity", identity]
    )
    assert local.returncode == 0, local.describe()

    sig = sig_tag(image.digest)
    skopeo_copy(lab, f"oci:{layout}:v1", f"docker://{identity}")
    skopeo_copy(lab, f"oci:{layout}:{sig}", f"docker://{lab.registry.ref(repo, sig)}")
    ok = cosign_verify(
        lab.registry, lab.cosign_keys.pub, identity, env=lab.env, annotations={"k": "v"}
    )
    assert ok.returncode == 0, ok.describe()
    exact = skopeo_accepts(
        lab, lab.cosign_keys.pub, identity, identity={"type": "matchRepoDigestOrExact"}
    )
    assert exact.returncode == 0, exact.describe()


def test_cosign_signature_verifies_in_an_oci_layout(lab: Lab) -> None:
    image = lab.image()
    lab.cosign_sign(image)
    layout = lab.dir("layout") / "image"
    sig = sig_tag(image.digest)
    skopeo_copy(lab, f"docker://{lab.registry.ref(image.repo, image.tag)}", f"oci:{layout}:v1")
    skopeo_copy(lab, f"docker://{lab.registry.ref(image.repo, sig)}", f"oci:{layout}:{sig}")

    ok = guard_verify(
        lab,
        lab.cosign_keys.pub,
        f"oci:{layout}:v1",
        rule=f"exactRepository:{lab.registry.host}/{image.repo}",
    )
    assert ok.returncode == 0, ok.describe()
    stranger = guard_verify(
        lab,
        lab.skopeo_keys.pub,
        f"oci:{layout}:v1",
        rule=f"exactRepository:{lab.registry.host}/{image.repo}",
    )
    assert_refused(stranger)


# --------------------------------------------------------------------------- end to end


@dataclass
class ReleaseWorld:
    """A guarded bare repository served by ``git daemon`` whose policy signs
    ``{registry}/release/app:{tag}`` for tags ``v*`` signed by alice."""

    lab: Lab
    registry: Registry
    bare: Path
    server_env: dict[str, str]
    client_env: dict[str, str]
    url: str
    alice: SshKey
    mallory: SshKey
    release_keys: Keys
    repo: str = "release/app"

    def client(self) -> Repo:
        return Repo.init(self.lab.dir("release-client") / "work", self.client_env)

    def guard(self, *args: str | Path) -> ToolRun:
        return guard(*args, env=self.server_env, cwd=self.bare)

    def push(self, client: Repo, *refspecs: str) -> Push:
        return git_push(client.path, self.url, *refspecs, env=self.client_env)


RELEASE_POLICY = """version = 1

[[signer]]
name = "alice"
emails = ["alice@example.com"]
keys = ["{alice}"]

[[rule]]
refs = ["refs/tags/v*"]
require = "signed-tag"
signers = ["alice"]

[[rule]]
refs = ["refs/heads/*"]
require = "signed"
signers = ["alice"]

[release]
tags = ["refs/tags/v*"]
images = ["{registry}/release/app:{{tag}}"]
key = "{key}"
annotations = {{ team = "platform" }}
"""


@pytest.fixture
def release_world(lab: Lab, tmp_path: Path) -> Iterator[ReleaseWorld]:
    server_env = {**tool_env(tmp_path / "server-home"), **_no_git_vars(lab.env)}
    server_env["HOME"] = str(tmp_path / "server-home")
    client_env = tool_env(tmp_path / "client-home")
    keys_dir = tmp_path / "ssh"
    alice = make_ssh_key(keys_dir, "alice", "ed25519", client_env)
    mallory = make_ssh_key(keys_dir, "mallory", "ed25519", client_env)
    release_keys = write_our_key(tmp_path / "release-key")
    root = tmp_path / "repos"
    root.mkdir()
    with contextlib.ExitStack() as stack:
        registry = stack.enter_context(docker_registry(tmp_path / "registry", lab.env))
        # The hooks run with the daemon's environment: the release key's password and
        # the plain-HTTP loopback registry (release.py's documented variables).
        server_env["GUARD_COSIGN_PASSWORD"] = PASSWORD
        server_env["GUARD_INSECURE_REGISTRIES"] = registry.host
        daemon = stack.enter_context(git_daemon(root, tmp_path / "git-daemon", server_env))
        policy = tmp_path / "policy.toml"
        policy.write_text(
            RELEASE_POLICY.format(
                alice=alice.public_line, registry=registry.host, key=release_keys.key
            )
        )
        bare = init_bare(root / "app.git", server_env)
        install_guard(bare, policy, server_env)
        yield ReleaseWorld(
            lab,
            registry,
            bare,
            server_env,
            client_env,
            daemon.url(bare),
            alice,
            mallory,
            release_keys,
        )


def _no_git_vars(env: Mapping[str, str]) -> dict[str, str]:
    """The tools' variables (COSIGN_PASSWORD, DOCKER_CONFIG …) for the server, minus
    anything git-specific (the server has its own)."""
    return {k: v for k, v in env.items() if not k.startswith("GIT_") and k != "HOME"}


def _release(world: ReleaseWorld, client: Repo, tag: str, signer: SshKey | None) -> Push:
    """A signed commit on main and an annotated tag ``tag`` (signed by ``signer``, or
    unsigned), pushed together."""
    client.commit(f"release {tag}", signer=ssh_signer(world.alice))
    client.tag(tag, f"release {tag}", signer=ssh_signer(signer) if signer else None)
    return world.push(client, "HEAD:refs/heads/main", f"refs/tags/{tag}")


def release_jobs(world: ReleaseWorld) -> list[dict[str, Any]]:
    """``guard release status --json`` in the bare repository."""
    status = world.guard("release", "status", "--json")
    assert status.returncode == 0, status.describe()
    jobs: list[dict[str, Any]] = json.loads(status.stdout)["jobs"]
    return jobs


def release_lines(push: Push, tag: str) -> list[str]:
    """What the release step told the pusher about ``tag``."""
    return [line for line in push.remote_lines if line.startswith(f"gitguard release: {tag}:")]


def test_release_tag_push_signs_the_image(release_world: ReleaseWorld) -> None:
    world = release_world
    client = world.registry.client()
    image = push_image(client, world.repo, "v1.0.0", content=b"release 1.0.0\n")
    repo = world.client()

    push = _release(world, repo, "v1.0.0", world.alice)

    assert push.returncode == 0, push.stderr
    tag_oid = repo.rev_parse("refs/tags/v1.0.0")
    commit_oid = repo.rev_parse("refs/tags/v1.0.0^{commit}")
    (line,) = release_lines(push, "v1.0.0")
    assert "signed" in line
    assert image.digest[:19] in line, line  # sha256: + 12 hex digits, at least

    # The release annotations (release.py's documented keys) plus the policy's.
    (layer,) = client.signature_layers(world.repo, image.digest)
    optional = layer.document["optional"]
    assert optional == {
        "team": "platform",
        "gitguard.repository": "app",
        "gitguard.tag": "v1.0.0",
        "gitguard.tag-object": tag_oid,
        "gitguard.commit": commit_oid,
        "gitguard.tag-signer": "alice",
    }
    ref = world.registry.ref(world.repo, "v1.0.0")
    assert parse_payload(layer.payload).docker_reference == ref
    assert layer.payload == make_payload(ref, image.digest, optional)

    ok = cosign_verify(
        world.registry, world.release_keys.pub, ref, env=world.lab.env, annotations=optional
    )
    assert ok.returncode == 0, ok.describe()
    assert verified_payloads(ok)[0]["critical"]["image"]["docker-manifest-digest"] == image.digest
    wrong = cosign_verify(
        world.registry,
        world.release_keys.pub,
        ref,
        env=world.lab.env,
        annotations={"gitguard.commit": "0" * 40},
    )
    assert wrong.returncode != 0
    # skopeo's default rule: the identity is the released tag itself.
    exact = skopeo_verify(
        world.registry,
        *skopeo_policy(
            world.lab.dir("release-policy"),
            world.registry,
            world.release_keys.pub,
            signed_identity={"type": "matchRepoDigestOrExact"},
        ),
        ref,
        world.lab.dir("release-pull"),
        env=world.lab.env,
    )
    assert exact.returncode == 0, exact.describe()
    (job,) = release_jobs(world)
    assert (job["state"], job["digest"], job["tag_object"]) == ("done", image.digest, tag_oid)

    # Pushing the same tag again (nothing new) neither re-signs nor adds a job.
    again = world.push(repo, "refs/tags/v1.0.0")
    assert again.returncode == 0, again.stderr
    assert len(client.signature_layers(world.repo, image.digest)) == 1
    assert len(release_jobs(world)) == 1


@pytest.mark.parametrize("who", ["unsigned", "untrusted"])
def test_unsigned_or_untrusted_release_tag_is_refused_and_not_signed(
    release_world: ReleaseWorld, who: str
) -> None:
    world = release_world
    client = world.registry.client()
    image = push_image(client, world.repo, "v2.0.0", content=b"release 2.0.0\n")
    repo = world.client()

    push = _release(world, repo, "v2.0.0", None if who == "unsigned" else world.mallory)

    assert push.returncode != 0
    assert any("refs/tags/v2.0.0" in line for line in push.remote_lines), push.remote_lines
    assert release_lines(push, "v2.0.0") == []
    assert ref_value(world.bare, "refs/tags/v2.0.0", world.server_env) is None
    assert client.signature_manifest(world.repo, image.digest) is None
    assert release_jobs(world) == []


def test_registry_outage_leaves_the_job_pending_until_retry(release_world: ReleaseWorld) -> None:
    world = release_world
    client = world.registry.client()
    image = push_image(client, world.repo, "v3.0.0", content=b"release 3.0.0\n")
    repo = world.client()

    world.registry.stop()
    try:
        push = _release(world, repo, "v3.0.0", world.alice)
        assert push.returncode == 0, push.stderr  # signing never fails the push
        assert ref_value(world.bare, "refs/tags/v3.0.0", world.server_env) is not None
        (line,) = release_lines(push, "v3.0.0")
        assert "guard release retry" in line, line
        (job,) = release_jobs(world)
        assert job["state"] == "pending", job
        assert job["ref"] == "refs/tags/v3.0.0"
        assert job["last_error"]
    finally:
        world.registry.start()

    assert client.signature_manifest(world.repo, image.digest) is None
    retried = world.guard("release", "retry")
    assert retried.returncode == 0, retried.describe()
    assert len(client.signature_layers(world.repo, image.digest)) == 1
    (job,) = release_jobs(world)
    assert (job["state"], job["digest"]) == ("done", image.digest)

    again = world.guard("release", "retry", str(job["id"]))
    assert again.returncode == 0, again.describe()
    assert len(client.signature_layers(world.repo, image.digest)) == 1

    ref = world.registry.ref(world.repo, "v3.0.0")
    ok = cosign_verify(
        world.registry,
        world.release_keys.pub,
        ref,
        env=world.lab.env,
        annotations={"gitguard.tag": "v3.0.0", "team": "platform"},
    )
    assert ok.returncode == 0, ok.describe()


def test_missing_tools_fail_loudly(tmp_path: Path) -> None:
    """No tool, no test: the harness raises (the test fails) instead of skipping."""
    with pytest.raises(ServerError, match=r"provision-image-tools\.sh"):
        tool("cosign", tools_bin=tmp_path)
    with pytest.raises(ServerError, match="apt-get install --no-install-recommends docker-reg"):
        find_program("docker-registry", {"PATH": str(tmp_path)}, package="docker-registry")
