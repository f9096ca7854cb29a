"""Signing and verification: payload bytes, strict parsing, the ``.sig`` manifest,
de-duplication, concurrency, identity rules, tampering, indexes, the CLI and the
admission policies — against an OCI layout directory and a real registry (Debian's
``docker-registry`` on 127.0.0.1: anonymous, basic and token auth). cosign and skopeo
as oracles are in tests/test_image_interop.py; signatures made by real cosign are
checked here from containers/image's fixtures (tests/data)."""

from __future__ import annotations

import base64
import concurrent.futures
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from gitguard.cli.main import main
from gitguard.images import PayloadError, RegistryError
from gitguard.images.keys import load_public_key, read_private_key, read_public_key
from gitguard.images.oci import (
    COSIGN_SIGNATURE_ANNOTATION,
    OCI_MANIFEST,
    SIMPLESIGNING_TYPE,
    LayoutStore,
    digest_of,
    signature_tag,
)
from gitguard.images.payload import go_json, make_payload, parse_payload
from gitguard.images.reference import LayoutRef, parse_reference, parse_target
from gitguard.images.registry import RegistryStore, find_credentials, parse_challenges
from gitguard.images.sign import sign_image
from gitguard.images.store import open_store
from gitguard.images.verify import IdentityRule, parse_identity_rule, verify_image
from imagefixtures import PASSWORD, make_layout, push_image, push_index, write_keys
from registry import AuthMode, Registry, docker_registry, image_tool_env

VECTORS = json.loads(
    (Path(__file__).parent / "data" / "containers_image_cosign_vectors.json").read_text()
)


def _payload(name: str) -> bytes:
    return base64.b64decode(VECTORS[name]["payload"])


def _signature(name: str) -> bytes:
    return base64.b64decode(VECTORS[name]["annotations"][COSIGN_SIGNATURE_ANNOTATION])


# --- payload -------------------------------------------------------------------------------


def test_payload_bytes_equal_a_cosign_made_payload() -> None:
    cosign = _payload("valid")
    parsed = parse_payload(cosign)
    assert make_payload(parsed.docker_reference, parsed.digest) == cosign
    assert make_payload(parsed.docker_reference, parsed.digest, {}) == cosign


def test_payload_annotations_are_sorted_strings_escaped_like_go() -> None:
    raw = make_payload("r.example/a:v1", "sha256:" + "a" * 64, {"z": "1", "a": "<&>\u2028é\n"})
    assert raw == (
        b'{"critical":{"identity":{"docker-reference":"r.example/a:v1"},"image":'
        b'{"docker-manifest-digest":"sha256:' + b"a" * 64 + b'"},"type":"cosign container '
        b'image signature"},"optional":{"a":"\\u003c\\u0026\\u003e\\u2028\xc3\xa9\\n","z":"1"}}'
    )
    assert parse_payload(raw).optional == {"a": "<&>\u2028é\n", "z": "1"}
    assert go_json({"ctl": "\x01\x08\x0c"}) == '{"ctl":"\\u0001\\b\\f"}'


def test_cosign_made_signatures_verify_with_our_code() -> None:
    key = load_public_key(VECTORS["cosign_pub"].encode(), source="cosign.pub")
    manifest_digest = digest_of(VECTORS["manifest"].encode())
    for name in ("valid", "valid_2", "valid_with_tag"):
        payload = _payload(name)
        assert key.verify(payload, _signature(name)), name
        assert parse_payload(payload).digest == manifest_digest
    assert parse_payload(_payload("valid_with_tag")).optional == {
        "creator": "containers/image 5.21.2-dev",
        "timestamp": 1657296609,
    }
    assert not key.verify(_payload("unknown_key"), _signature("unknown_key"))
    modified = digest_of(VECTORS["modified_manifest"].encode())
    assert parse_payload(_payload("valid")).digest != modified
    with pytest.raises(PayloadError):
        parse_payload(_payload("other_attachment"))


def _doc() -> dict[str, Any]:
    return json.loads(make_payload("r.example/a:v1", "sha256:" + "b" * 64))  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(extra=1), 'payload: unexpected "extra"'),
        (lambda d: d.pop("optional"), 'payload: missing "optional"'),
        (lambda d: d["critical"].update(x=1), 'critical: unexpected "x"'),
        (lambda d: d["critical"]["image"].update(x=1), 'critical.image: unexpected "x"'),
        (lambda d: d["critical"]["identity"].pop("docker-reference"), "critical.identity: missing"),
        (
            lambda d: d["critical"]["image"].update({"docker-manifest-digest": "sha256:AB"}),
            "not a digest",
        ),
        (lambda d: d.update(optional=[]), "optional is neither null nor an object"),
        (lambda d: d.update(optional={"timestamp": 1.5}), "optional.timestamp is not an integer"),
        (lambda d: d.update(optional={"timestamp": True}), "optional.timestamp is not an integer"),
        (lambda d: d.update(optional={"creator": 1}), "optional.creator is not a string"),
        (lambda d: d["critical"].update(type=1), "critical.type is not a string"),
    ],
)
def test_strict_payload_parsing(edit: Any, message: str) -> None:
    doc = _doc()
    edit(doc)
    with pytest.raises(PayloadError, match=message):
        parse_payload(json.dumps(doc).encode())


def test_duplicate_keys_and_bad_bytes_are_refused() -> None:
    raw = make_payload("r.example/a", "sha256:" + "c" * 64).replace(
        b'"optional":null', b'"optional":null,"optional":{}'
    )
    with pytest.raises(PayloadError, match='duplicate key "optional"'):
        parse_payload(raw)
    with pytest.raises(PayloadError, match="not UTF-8"):
        parse_payload(b'{"critical":"\xff"}')
    with pytest.raises(PayloadError, match="not JSON"):
        parse_payload(b"{")


# --- references --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "tag", "digest"),
    [
        ("app", "index.docker.io/library/app", None, None),
        ("docker.io/team/app:1", "index.docker.io/team/app", "1", None),
        ("127.0.0.1:5000/a/b:v1.0", "127.0.0.1:5000/a/b", "v1.0", None),
        ("localhost/app@sha256:" + "d" * 64, "localhost/app", None, "sha256:" + "d" * 64),
        ("[::1]:5000/app:x", "[::1]:5000/app", "x", None),
    ],
)
def test_references(text: str, name: str, tag: str | None, digest: str | None) -> None:
    ref = parse_reference(text)
    assert (ref.name, ref.tag, ref.digest) == (name, tag, digest)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Reg.example/App:v1", "not a valid repository name"),
        ("r.example/app:-bad", "is not a valid tag"),
        ("r.example/app@sha256:zz", "is not a sha256:<64 hex> digest"),
    ],
)
def test_bad_references_are_usage_errors(
    text: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["image", "verify", "--key", "x.pub", text]) == 2
    assert message in capsys.readouterr().err


def test_layout_targets() -> None:
    assert parse_target("oci:/a/b:v1") == LayoutRef("/a/b", "v1")
    assert parse_target("oci:dir") == LayoutRef("dir", None)
    assert parse_target("oci:./x:y/z") == LayoutRef("./x:y/z", None)
    assert parse_target("oci:d@sha256:" + "e" * 64) == LayoutRef("d", "sha256:" + "e" * 64)


# --- signing and verifying in an OCI layout --------------------------------------------


@dataclass
class World:
    tmp: Path
    store: LayoutStore
    digest: str
    key: Path
    pub: Path

    @property
    def layout(self) -> str:
        return f"oci:{self.store.path}"


@pytest.fixture
def world(tmp_path: Path) -> World:
    store, digest = make_layout(tmp_path / "layout", "v1")
    key, pub = write_keys(tmp_path)
    os.environ["COSIGN_PASSWORD"] = PASSWORD
    return World(tmp_path, store, digest, key, pub)


IDENTITY = "registry.example/team/app:v1"
INTENDED = parse_reference(IDENTITY)


def _sign(w: World, identity: str = IDENTITY, **kw: Any) -> list[Any]:
    key = read_private_key(w.key, PASSWORD.encode())
    return sign_image(w.store, "v1", identity=identity, key=key, **kw)


def _verify(
    w: World, rule: str = "matchRepoDigestOrExact", pub: Path | None = None, **kw: Any
) -> Any:
    return verify_image(
        w.store,
        kw.pop("reference", "v1"),
        key=read_public_key(pub or w.pub),
        rule=parse_identity_rule(rule),
        intended=kw.pop("intended", INTENDED),
        **kw,
    )


def test_sign_writes_cosigns_signature_manifest(world: World) -> None:
    (result,) = _sign(world, annotations={"release": "v1"})
    assert result.digest == world.digest
    assert result.added
    assert result.layers == 1
    sig = world.store.get_manifest(signature_tag(world.digest))
    assert sig is not None
    assert sig.media_type == OCI_MANIFEST
    doc = json.loads(sig.data)
    assert list(doc) == ["schemaVersion", "mediaType", "config", "layers"]
    (layer,) = doc["layers"]
    assert layer["mediaType"] == SIMPLESIGNING_TYPE
    assert list(layer["annotations"]) == [COSIGN_SIGNATURE_ANNOTATION]
    payload = world.store.get_blob(layer["digest"], 1 << 20)
    assert layer["size"] == len(payload)
    assert payload == make_payload(IDENTITY, world.digest, {"release": "v1"})
    signature = base64.b64decode(layer["annotations"][COSIGN_SIGNATURE_ANNOTATION], validate=True)
    assert read_public_key(world.pub).verify(payload, signature)
    config = json.loads(world.store.get_blob(doc["config"]["digest"], 1 << 20))
    assert config["rootfs"] == {"type": "layers", "diff_ids": [layer["digest"]]}
    assert config["created"] == "0001-01-01T00:00:00Z"


def test_sign_is_idempotent_and_appends_other_signatures(world: World) -> None:
    _sign(world)
    (again,) = _sign(world)
    assert not again.added
    assert again.layers == 1
    (annotated,) = _sign(world, annotations={"k": "v"})
    assert annotated.added
    assert annotated.layers == 2
    (world.tmp / "other").mkdir()
    other_key, other_pub = write_keys(world.tmp / "other")
    other = read_private_key(other_key, PASSWORD.encode())
    (third,) = sign_image(world.store, "v1", identity=IDENTITY, key=other)
    assert third.added
    assert third.layers == 3
    assert len(_verify(world).verified) == 2
    assert len(_verify(world, pub=other_pub).verified) == 1


def test_verify_reports_the_verified_payloads(world: World) -> None:
    _sign(world, annotations={"release": "v1"})
    result = _verify(world, annotations={"release": "v1"})
    assert result.ok
    assert not result.rejected
    assert result.to_json() == [json.loads(make_payload(IDENTITY, world.digest, {"release": "v1"}))]
    missing = _verify(world, annotations={"release": "v2"})
    assert not missing.ok
    assert missing.rejected[0].reason == "annotation release='v2' required, signature has 'v1'"


def test_unsigned_image_has_no_signatures(world: World) -> None:
    result = _verify(world)
    assert not result.found
    assert not result.ok


@pytest.mark.parametrize(
    ("signed", "rule", "intended", "accepted"),
    [
        (IDENTITY, "matchRepoDigestOrExact", IDENTITY, True),
        (IDENTITY, "matchRepoDigestOrExact", "registry.example/team/app:v2", False),
        (IDENTITY, "matchRepoDigestOrExact", "registry.example/team/app@sha256:" + "0" * 64, True),
        ("registry.example/team/app", "matchRepoDigestOrExact", IDENTITY, False),  # cosign's form
        ("registry.example/team/app", "matchRepository", IDENTITY, True),
        ("registry.example/team/other:v1", "matchRepository", IDENTITY, False),
        (IDENTITY, "matchExact", IDENTITY, True),
        ("docker.io/library/app:v1", "matchExact", "app:v1", True),  # normalized like c/image
        (
            "registry.example/team/app",
            "exactRepository:registry.example/team/app",
            "x.example/y",
            True,
        ),
        (IDENTITY, "exactReference:registry.example/team/app:v1", "x.example/y", True),
        (IDENTITY, "exactReference:registry.example/team/app:v2", "x.example/y", False),
    ],
)
def test_identity_rules(
    world: World, signed: str, rule: str, intended: str, accepted: bool
) -> None:
    _sign(world, identity=signed)
    assert _verify(world, rule=rule, intended=parse_reference(intended)).ok is accepted


def test_identity_rule_needs_a_reference_for_layouts(world: World) -> None:
    _sign(world)
    result = _verify(world, intended=None)
    assert not result.ok
    assert "pass --identity" in result.rejected[0].reason
    assert str(IdentityRule()) == "matchRepoDigestOrExact"
    with pytest.raises(Exception, match="unknown identity rule"):
        parse_identity_rule("anything")


def test_index_is_signed_and_recursive_signs_children(tmp_path: Path) -> None:
    store = LayoutStore(tmp_path / "l", create=True)
    index, children = push_index(store, "multi")
    key_path, pub_path = write_keys(tmp_path)
    key = read_private_key(key_path, PASSWORD.encode())
    (only,) = sign_image(store, "multi", identity="r.example/m:multi", key=key)
    assert only.digest == index
    assert all(store.get_manifest(signature_tag(c)) is None for c in children)
    results = sign_image(store, "multi", identity="r.example/m:multi", key=key, recursive=True)
    assert [r.digest for r in results] == [index, *children]
    assert [r.added for r in results] == [False, True, True]
    pub = read_public_key(pub_path)
    for child in children:
        verified = verify_image(
            store,
            child,
            key=pub,
            rule=IdentityRule("matchRepository"),
            intended=parse_reference("r.example/m"),
        )
        assert verified.ok


# --- tampering ----------------------------------------------------------------------------------


def _rewrite_layer(w: World, digest: str, change: Any) -> None:
    tag = signature_tag(digest)
    sig = w.store.get_manifest(tag)
    assert sig is not None
    doc = json.loads(sig.data)
    change(doc["layers"][0])
    w.store.put_manifest(tag, json.dumps(doc).encode(), OCI_MANIFEST)


def test_flipped_payload_byte_is_refused(world: World) -> None:
    _sign(world)

    def flip(layer: dict[str, Any]) -> None:
        payload = bytearray(world.store.get_blob(layer["digest"], 1 << 20))
        payload[payload.index(b"v1")] ^= 1
        layer["digest"] = world.store.put_blob(bytes(payload))

    _rewrite_layer(world, world.digest, flip)
    result = _verify(world)
    assert not result.ok
    assert result.rejected[0].reason == f"signature does not verify with {world.pub}"


def test_payload_blob_not_matching_its_digest_is_refused(world: World) -> None:
    _sign(world)
    sig = world.store.get_manifest(signature_tag(world.digest))
    assert sig is not None
    layer = json.loads(sig.data)["layers"][0]
    blob = world.store.path / "blobs" / "sha256" / layer["digest"].split(":")[1]
    blob.write_bytes(blob.read_bytes().replace(b"v1", b"v2"))
    result = _verify(world)
    assert not result.ok
    assert "does not match its digest" in result.rejected[0].reason


def test_signature_moved_to_another_image_is_refused(world: World) -> None:
    _sign(world)
    other = push_image(world.store, "v2", content=b"other")
    sig = world.store.get_manifest(signature_tag(world.digest))
    assert sig is not None
    world.store.put_manifest(signature_tag(other), sig.data, sig.media_type)
    result = _verify(
        world, reference="v2", intended=parse_reference("registry.example/team/app:v2")
    )
    assert not result.ok
    assert result.rejected[0].reason == f"signature is for {world.digest}, not this image ({other})"


def test_wrong_key_is_refused(world: World) -> None:
    _sign(world)
    (world.tmp / "w").mkdir()
    _, wrong = write_keys(world.tmp / "w")
    assert not _verify(world, pub=wrong).ok


def test_edited_manifest_is_refused(world: World) -> None:
    _sign(world)
    manifest = world.store.get_manifest("v1")
    assert manifest is not None
    edited = manifest.data.replace(
        b'"schemaVersion":2', b'"schemaVersion":2,"annotations":{"x":"y"}'
    )
    world.store.put_manifest("v1", edited, OCI_MANIFEST)
    result = _verify(world)
    assert not result.found
    assert not result.ok


def test_garbage_signature_manifests_are_reported(world: World) -> None:
    _sign(world)
    _rewrite_layer(world, world.digest, lambda layer: layer.update(mediaType="text/plain"))
    assert "layer media type is 'text/plain'" in _verify(world).rejected[0].reason
    _rewrite_layer(
        world,
        world.digest,
        lambda layer: layer.update(
            mediaType=SIMPLESIGNING_TYPE, annotations={COSIGN_SIGNATURE_ANNOTATION: "%%"}
        ),
    )
    assert "not standard base64" in _verify(world).rejected[0].reason


def test_signing_refuses_to_overwrite_a_foreign_manifest(world: World) -> None:
    index, _ = push_index(world.store, "idx")
    foreign = world.store.get_manifest(index)
    assert foreign is not None
    world.store.put_manifest(signature_tag(world.digest), foreign.data, foreign.media_type)
    with pytest.raises(RegistryError, match="not an image manifest; refusing to overwrite it"):
        _sign(world)


def test_concurrent_signers_lose_no_signature(world: World) -> None:
    """Six ``guard image sign`` processes with six keys on one digest at once: the
    per-digest lock serializes the read-modify-write, so all six layers remain."""
    keys = []
    for i in range(6):
        d = world.tmp / f"k{i}"
        d.mkdir()
        keys.append(write_keys(d))
    guard = str(Path(sys.executable).parent / "guard")
    env = dict(os.environ)

    def run(key: Path) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [
                guard,
                "image",
                "sign",
                "--key",
                str(key),
                "--identity",
                IDENTITY,
                f"{world.layout}:v1",
            ],
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        procs = list(pool.map(run, [k for k, _ in keys]))
    assert all(p.returncode == 0 for p in procs), [p.stderr for p in procs]
    for _, pub in keys:
        assert len(_verify(world, pub=pub).verified) == 1


# --- the CLI ----------------------------------------------------------------------------------


def test_cli_sign_and_verify_a_layout(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["image", "sign", "--key", str(world.key), "-a", "team=x", world.layout + ":v1"]) == 2
    )
    assert "pass --identity" in capsys.readouterr().err
    args = ["--identity", IDENTITY, world.layout + ":v1"]
    assert main(["image", "sign", "--key", str(world.key), "-a", "team=x", *args]) == 0
    assert f"Signed oci:{world.store.path}@{world.digest} as {IDENTITY}" in capsys.readouterr().out
    assert main(["image", "verify", "--key", str(world.pub), "-a", "team=x", *args]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)[0]["optional"] == {"team": "x"}
    assert "Verified 1 signature" in out.err
    assert main(["image", "verify", "--key", str(world.pub), "-a", "team=y", *args]) == 1
    err = capsys.readouterr().err
    assert "signature 1 refused: annotation team='y' required" in err
    assert "no valid signature for" in err
    # The layout's only image is the default.
    assert (
        main(["image", "verify", "--key", str(world.pub), "--identity", IDENTITY, world.layout])
        == 0
    )


def test_cli_expected_failures_are_short(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    target = [world.layout + ":v1", "--identity", IDENTITY]
    os.environ["COSIGN_PASSWORD"] = "wrong"
    assert main(["image", "sign", "--key", str(world.key), *target]) == 1
    assert capsys.readouterr().err == (
        f"guard: {world.key}: cannot decrypt the private key: wrong password (or a damaged file)\n"
    )
    assert main(["image", "verify", "--key", str(world.tmp / "none.pub"), *target]) == 1
    assert "cannot read public key" in capsys.readouterr().err
    assert main(["image", "verify", "--key", str(world.key), *target]) == 1
    assert 'is not "PUBLIC KEY"' in capsys.readouterr().err
    assert main(["image", "verify", "--key", str(world.pub), *target]) == 1
    assert "no signatures found" in capsys.readouterr().err
    assert main(["image", "verify", "--key", str(world.pub), f"oci:{world.tmp}/nowhere:v1"]) == 1
    assert "not an OCI image layout" in capsys.readouterr().err
    assert main(["image", "verify", "--key", str(world.pub), world.layout + ":v9"]) == 1
    assert "no image 'v9'" in capsys.readouterr().err
    assert main(["image", "sign", "--key", str(world.key), "-a", "novalue", *target]) == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err


def test_admission_policies(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    pem = world.pub.read_text()
    assert (
        main(
            [
                "image",
                "policy",
                "--kyverno",
                "--key",
                str(world.pub),
                "-a",
                "gitguard.tag=v1",
                "r.example/app*",
            ]
        )
        == 0
    )
    doc = yaml.safe_load(capsys.readouterr().out)
    assert doc["apiVersion"] == "kyverno.io/v1"
    assert doc["kind"] == "ClusterPolicy"
    assert doc["spec"]["validationFailureAction"] == "Enforce"
    (rule,) = doc["spec"]["rules"]
    (verify,) = rule["verifyImages"]
    assert verify["imageReferences"] == ["r.example/app*"]
    assert verify["mutateDigest"] is True
    assert verify["verifyDigest"] is True
    (attestor,) = verify["attestors"]
    (entry,) = attestor["entries"]
    assert entry["keys"]["publicKeys"] == pem.strip()
    assert entry["keys"]["rekor"] == {"ignoreTlog": True}
    assert entry["keys"]["ctlog"] == {"ignoreSCT": True}
    assert entry["annotations"] == {"gitguard.tag": "v1"}

    assert (
        main(["image", "policy", "--policy-controller", "--key", str(world.pub), "r.example/app**"])
        == 0
    )
    doc = yaml.safe_load(capsys.readouterr().out)
    assert doc["apiVersion"] == "policy.sigstore.dev/v1beta1"
    assert doc["kind"] == "ClusterImagePolicy"
    assert doc["spec"]["images"] == [{"glob": "r.example/app**"}]
    (authority,) = doc["spec"]["authorities"]
    assert authority["key"] == {"hashAlgorithm": "sha256", "data": pem.strip()}
    assert "ctlog" not in authority
    assert (
        main(["image", "policy", "--policy-controller", "--key", str(world.pub), "-a", "k=v", "x"])
        == 2
    )


# --- a real registry ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def registry_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("registry-env")
    return image_tool_env(tmp / "home", tmp / "tools")


@pytest.fixture(scope="module")
def anonymous(
    tmp_path_factory: pytest.TempPathFactory, registry_env: dict[str, str]
) -> Iterator[Registry]:
    with docker_registry(tmp_path_factory.mktemp("anon"), registry_env) as r:
        yield r


def _store(
    registry: Registry, repo: str, *, push: bool = True, config: Path | None = None
) -> RegistryStore:
    return RegistryStore(registry.host, repo, insecure=True, push=push, docker_config=config)


def test_registry_sign_verify_and_dedupe(anonymous: Registry, tmp_path: Path) -> None:
    store = _store(anonymous, "team/app")
    digest = push_image(store, "v1")
    key_path, pub_path = write_keys(tmp_path)
    key = read_private_key(key_path, PASSWORD.encode())
    identity = f"{anonymous.host}/team/app:v1"
    (first,) = sign_image(store, "v1", identity=identity, key=key)
    (second,) = sign_image(store, digest, identity=identity, key=key)
    assert first.added
    assert not second.added
    assert second.layers == 1
    layers = anonymous.client().signature_layers("team/app", digest)
    assert [json.loads(x.payload)["critical"]["identity"]["docker-reference"] for x in layers] == [
        identity
    ]
    result = verify_image(
        store,
        "v1",
        key=read_public_key(pub_path),
        rule=IdentityRule(),
        intended=parse_reference(identity),
    )
    assert result.ok
    assert result.digest == digest


def test_registry_index_recursive(anonymous: Registry, tmp_path: Path) -> None:
    store = _store(anonymous, "team/multi")
    index, children = push_index(store, "v1")
    key_path, _ = write_keys(tmp_path)
    key = read_private_key(key_path, PASSWORD.encode())
    results = sign_image(
        store, "v1", identity=f"{anonymous.host}/team/multi:v1", key=key, recursive=True
    )
    assert [r.digest for r in results] == [index, *children]
    for digest in (index, *children):
        assert len(anonymous.client().signature_layers("team/multi", digest)) == 1


def test_cli_against_the_registry(
    anonymous: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    digest = push_image(_store(anonymous, "cli/app"), "v1")
    key, pub = write_keys(tmp_path)
    os.environ["COSIGN_PASSWORD"] = PASSWORD
    image = f"{anonymous.host}/cli/app:v1"
    assert main(["image", "sign", "--key", str(key), "--allow-insecure-registry", image]) == 0
    assert f"@{digest} as {image}" in capsys.readouterr().out
    assert main(["image", "verify", "--key", str(pub), "--allow-insecure-registry", image]) == 0
    assert (
        json.loads(capsys.readouterr().out)[0]["critical"]["image"]["docker-manifest-digest"]
        == digest
    )
    # By digest: the default rule wants the same repository.
    by_digest = f"{anonymous.host}/cli/app@{digest}"
    assert main(["image", "verify", "--key", str(pub), "--allow-insecure-registry", by_digest]) == 0
    capsys.readouterr()
    # TLS is the default: a plain-HTTP registry is a TLS failure, said plainly.
    assert main(["image", "verify", "--key", str(pub), image]) == 1
    err = capsys.readouterr().err
    assert f"cannot reach registry {anonymous.host}: TLS failed" in err
    assert "--allow-insecure-registry" in err
    assert "Traceback" not in err


def test_insecure_is_only_for_loopback() -> None:
    with pytest.raises(RegistryError, match="only for loopback registries"):
        RegistryStore("registry.example.com", "app", insecure=True)
    for host in ("127.0.0.1:5000", "localhost:1", "[::1]:5000", "127.1.2.3"):
        RegistryStore(host, "app", insecure=True)


def test_registry_down_is_a_retryable_error(tmp_path: Path, registry_env: dict[str, str]) -> None:
    with docker_registry(tmp_path / "r", registry_env) as registry:
        store = _store(registry, "down/app")
        push_image(store, "v1")
        registry.stop()
        with pytest.raises(RegistryError) as e:
            store.get_manifest("v1")
        assert e.value.retryable
        assert f"cannot reach registry {registry.host}" in str(e.value)
        assert "Connection refused" in str(e.value)
        registry.start()
        assert store.get_manifest("v1") is not None


@pytest.mark.parametrize("auth", ["basic", "token"])
def test_authenticated_registries(
    auth: AuthMode, tmp_path: Path, registry_env: dict[str, str]
) -> None:
    with docker_registry(tmp_path / "r", registry_env, auth=auth) as registry:
        config_dir = tmp_path / "docker"
        registry.docker_config(config_dir)
        # Anonymous: refused, with the way out.
        with pytest.raises(RegistryError) as e:
            _store(registry, "auth/app", config=tmp_path / "nothing.json").get_manifest("v1")
        text = str(e.value)
        if auth == "basic":
            assert f"requires authentication for {registry.host}/auth/app" in text
            assert "docker login" in text
        else:
            assert "refused anonymous access" in text
        # With config.json credentials (DOCKER_CONFIG, as docker and cosign read it).
        os.environ["DOCKER_CONFIG"] = str(config_dir)
        store = RegistryStore(registry.host, "auth/app", insecure=True, push=True)
        digest = push_image(store, "v1")
        key_path, pub_path = write_keys(tmp_path)
        key = read_private_key(key_path, PASSWORD.encode())
        (signed,) = sign_image(store, "v1", identity=f"{registry.host}/auth/app:v1", key=key)
        assert signed.added
        assert signed.digest == digest
        reader = RegistryStore(registry.host, "auth/app", insecure=True)
        result = verify_image(
            reader,
            "v1",
            key=read_public_key(pub_path),
            rule=IdentityRule("matchRepository"),
            intended=parse_reference(f"{registry.host}/auth/app"),
        )
        assert result.ok
        if auth == "token":
            assert registry.token_server is not None
            scopes = [s for ok, s in registry.token_server.requests if ok]
            assert "repository:auth/app:pull,push" in scopes
            assert "repository:auth/app:pull" in scopes
        # Wrong password: refused, naming where the credentials came from.
        bad = tmp_path / "bad"
        bad.mkdir()
        (bad / "config.json").write_text(
            json.dumps(
                {
                    "auths": {
                        f"http://{registry.host}": {
                            "auth": base64.b64encode(b"pusher:nope").decode()
                        }
                    }
                }
            )
        )
        with pytest.raises(RegistryError) as e:
            RegistryStore(
                registry.host, "auth/app", insecure=True, docker_config=bad / "config.json"
            ).get_manifest("v1")
        assert f"{bad}/config.json (auths.http://{registry.host})" in str(e.value)
        assert "refused" in str(e.value)


# --- credentials and challenges (no network) -----------------------------------------


def test_docker_config_forms(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    auth = base64.b64encode(b"u:p:with:colons").decode()
    config.write_text(
        json.dumps(
            {
                "auths": {
                    "https://index.docker.io/v1/": {"auth": auth},
                    "r.example:5000": {"username": "x", "password": "y"},
                    "t.example": {"identitytoken": "refresh"},
                }
            }
        )
    )
    hub = find_credentials("index.docker.io", config)
    assert hub is not None
    assert (hub.username, hub.password) == ("u", "p:with:colons")
    other = find_credentials("r.example:5000", config)
    assert other is not None
    assert (other.username, other.password) == ("x", "y")
    token = find_credentials("t.example", config)
    assert token is not None
    assert token.identity_token == "refresh"
    assert find_credentials("nowhere.example", config) is None
    assert find_credentials("x", tmp_path / "missing.json") is None
    config.write_text("{")
    with pytest.raises(RegistryError, match="is not valid JSON"):
        find_credentials("x", config)
    config.write_text(json.dumps({"credHelpers": {"h.example": "gitguard-test-missing"}}))
    with pytest.raises(
        RegistryError, match="docker-credential-gitguard-test-missing is not on PATH"
    ):
        find_credentials("h.example", config)


def test_credential_helper_is_used(tmp_path: Path) -> None:
    helper = tmp_path / "docker-credential-fake"
    helper.write_text(
        '#!/bin/sh\nread server\necho "{\\"Username\\":\\"hu\\",\\"Secret\\":\\"hs-$server\\"}"\n'
    )
    helper.chmod(0o755)
    os.environ["PATH"] = f"{tmp_path}:{os.environ['PATH']}"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credsStore": "fake"}))
    creds = find_credentials("r.example", config)
    assert creds is not None
    assert (creds.username, creds.password) == ("hu", "hs-r.example")


def test_challenge_parsing() -> None:
    assert parse_challenges(
        [
            'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"'
        ]
    ) == [
        (
            "bearer",
            {
                "realm": "https://auth.example/token",
                "service": "registry.example",
                "scope": "repository:a/b:pull",
            },
        )
    ]
    assert parse_challenges(['Basic realm="Registry Realm"']) == [
        ("basic", {"realm": "Registry Realm"})
    ]


def test_open_store_for_each_target(tmp_path: Path) -> None:
    store, digest = make_layout(tmp_path / "l", "v1")
    layout, reference = open_store(parse_target(f"oci:{store.path}"))
    assert reference == digest
    assert layout.where == f"oci:{store.path}"
    registry, reference = open_store(parse_target("r.example/app:v3"))
    assert reference == "v3"
    assert registry.where == "r.example/app"
