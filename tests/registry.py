"""A real OCI registry on 127.0.0.1 for the image-signing tests, a small distribution-API
client to fill and inspect it, and the independent verifiers (cosign, skopeo).

The registry is Debian's ``docker-registry`` (distribution 2.8.2), started with its own
configuration on a free port with its storage in a directory the caller owns and
stopped by PID (see :mod:`servers`). Three authentication modes:

* ``"none"``: anonymous pull and push;
* ``"basic"``: ``auth: htpasswd`` with a bcrypt password file made by ``htpasswd -B``
  (apache2-utils);
* ``"token"``: ``auth: token`` (the Docker token dance): a :class:`TokenServer` in this
  process issues ES256 JWTs whose ``x5c`` header carries a self-signed certificate that
  the registry's ``rootcertbundle`` trusts; it grants every requested action to a
  client that presents the right basic credentials, and refuses everyone else.

Test images are built with the distribution HTTP API directly (:func:`push_image`,
:func:`push_index`): an OCI config, one deterministic gzip layer and a manifest, or an
index over several of those. Nothing is mocked and nothing leaves the loopback
interface. A missing program raises (tests fail, never skip: ``scripts/bootstrap.sh
--test`` installs docker-registry and apache2-utils and provisions cosign and skopeo
into ``.tools/``).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import gzip
import hashlib
import io
import json
import os
import secrets
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from gitfixtures import run, tool_env
from servers import HOST, ManagedProcess, ServerError, find_program, free_port

PROJECT = Path(__file__).resolve().parent.parent
TOOLS_BIN = PROJECT / ".tools" / "bin"
TOOL_TIMEOUT = 120

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
MANIFEST_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST)

AuthMode = Literal["none", "basic", "token"]


class RegistryError(Exception):
    """A registry request failed; the message names method, URL, status and body."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sig_tag(digest: str) -> str:
    """The legacy signature tag of a manifest digest: ``sha256-<hex>.sig``."""
    algorithm, _, hexpart = digest.partition(":")
    return f"{algorithm}-{hexpart}.sig"


# --------------------------------------------------------------------------- tools


def tool(name: Literal["cosign", "skopeo"], *, tools_bin: Path = TOOLS_BIN) -> Path:
    """The provisioned wrapper ``.tools/bin/NAME``. Raises :class:`ServerError` when it
    is missing (the test fails, it never skips)."""
    path = tools_bin / name
    if not os.access(path, os.X_OK):
        raise ServerError(
            f"{path} is missing: run scripts/provision-image-tools.sh "
            "(scripts/bootstrap.sh --test runs it)"
        )
    return path


@dataclass(frozen=True)
class ToolRun:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return (
            f"{' '.join(self.argv)} exited {self.returncode}\n"
            f"stdout: {self.stdout}\nstderr: {self.stderr}"
        )


def run_tool(
    argv: Sequence[str | os.PathLike[str]],
    *,
    env: Mapping[str, str],
    input: bytes | None = None,
    cwd: Path | None = None,
    check: bool = True,
    timeout: float = TOOL_TIMEOUT,
) -> ToolRun:
    """Run cosign, skopeo, guard… with exactly ``env``; raise :class:`ServerError` on a
    non-zero exit when ``check``."""
    cmd = [os.fspath(a) for a in argv]
    proc = run(cmd, env=env, input=input, cwd=cwd, check=False, timeout=timeout)
    result = ToolRun(
        cmd,
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
    )
    if check and proc.returncode:
        raise ServerError(result.describe())
    return result


# --------------------------------------------------------------------------- credentials


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def write_docker_config(directory: Path, registry: str, credentials: Credentials) -> Path:
    """``DIRECTORY/config.json`` in docker's format (``auths.<host>.auth`` = base64
    ``user:password``), for ``DOCKER_CONFIG=DIRECTORY`` (cosign, guard) and
    ``--authfile`` (skopeo). Returns the file."""
    directory.mkdir(parents=True, exist_ok=True)
    auth = base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode()
    path = directory / "config.json"
    path.write_text(json.dumps({"auths": {registry: {"auth": auth}}}, indent=1) + "\n")
    path.chmod(0o600)
    return path


def htpasswd_file(path: Path, credentials: Credentials, env: Mapping[str, str]) -> Path:
    """A bcrypt password file (the only hash distribution's htpasswd accepts)."""
    htpasswd = find_program("htpasswd", env, package="apache2-utils")
    out = run_tool([htpasswd, "-nbB", credentials.username, credentials.password], env=env).stdout
    path.write_text(out.strip() + "\n")
    return path


# --------------------------------------------------------------------------- token server


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenServer:
    """A Docker token service (``GET /token?service=…&scope=…``) on 127.0.0.1.

    Tokens are ES256 JWTs signed by a fresh P-256 key whose self-signed certificate
    travels in the ``x5c`` header and is the registry's ``rootcertbundle``. A request
    with the right basic credentials gets every action it asks for; any other request
    gets 401. ``requests`` records ``(authorized, scope)`` of every request."""

    credentials: Credentials
    issuer: str = "gitguard-test-token-issuer"
    service: str = "gitguard-test-registry"
    port: int = 0
    requests: list[tuple[bool, str]] = field(default_factory=list)
    _key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    _cert: x509.Certificate | None = None
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def realm(self) -> str:
        return f"http://{HOST}:{self.port}/token"

    def certificate_pem(self) -> bytes:
        if self._cert is None:
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.issuer)])
            now = datetime.datetime.now(datetime.UTC)
            self._cert = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(self._key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(self._key, hashes.SHA256())
            )
        return self._cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, scopes: Sequence[str], subject: str) -> str:
        """A signed token granting ``scopes`` (``repository:NAME:ACTION,ACTION``)."""
        self.certificate_pem()
        assert self._cert is not None
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind and name:
                access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {
            "typ": "JWT",
            "alg": "ES256",
            "x5c": [base64.b64encode(self._cert.public_bytes(serialization.Encoding.DER)).decode()],
        }
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + 600,
            "nbf": now - 60,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        signing_input = (
            _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        )
        der = self._key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return signing_input + "." + _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    def start(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query)
                scopes = [s for value in query.get("scope", []) for s in value.split(" ")]
                ok = (
                    url.path == "/token"
                    and self.headers.get("Authorization") == outer.credentials.basic_header()
                )
                outer.requests.append((ok, " ".join(scopes)))
                if not ok:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="token"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                token = outer.issue(scopes, outer.credentials.username)
                body = json.dumps({"token": token, "access_token": token, "expires_in": 600})
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((HOST, self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None


# --------------------------------------------------------------------------- the registry


@dataclass
class Registry:
    """A ``docker-registry`` process. :meth:`stop` and :meth:`start` (same port, same
    storage) simulate an outage; the context manager :func:`docker_registry` stops it
    for good."""

    workdir: Path
    env: Mapping[str, str]
    auth: AuthMode = "none"
    credentials: Credentials | None = None
    token_server: TokenServer | None = None
    port: int = 0
    _process: ManagedProcess | None = None

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``: the registry part of image references."""
        return f"{HOST}:{self.port}"

    @property
    def storage(self) -> Path:
        return self.workdir / "storage"

    @property
    def log(self) -> Path:
        return self.workdir / "registry.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.proc.poll() is None

    def ref(self, repo: str, tag: str | None = None, digest: str | None = None) -> str:
        """``127.0.0.1:PORT/REPO[:TAG][@DIGEST]``."""
        ref = f"{self.host}/{repo}"
        if tag is not None:
            ref += f":{tag}"
        if digest is not None:
            ref += f"@{digest}"
        return ref

    def client(self, credentials: Credentials | Literal["default"] | None = "default") -> Client:
        creds = self.credentials if credentials == "default" else credentials
        return Client(f"http://{self.host}", creds)

    def docker_config(self, directory: Path) -> Path:
        """A docker ``config.json`` in ``directory`` with this registry's credentials."""
        if self.credentials is None:
            raise ServerError("this registry has no credentials")
        return write_docker_config(directory, self.host, self.credentials)

    def _write_config(self) -> Path:
        lines = [
            "version: 0.1",
            "log:",
            "  level: info",
            "  accesslog:",
            "    disabled: false",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {json.dumps(str(self.storage))}",
            "  delete:",
            "    enabled: true",
            "  maintenance:",
            "    uploadpurging:",
            "      enabled: false",
            "http:",
            f"  addr: {HOST}:{self.port}",
            f"  secret: {secrets.token_hex(16)}",
            "  headers:",
            "    X-Content-Type-Options: [nosniff]",
        ]
        if self.auth == "basic":
            assert self.credentials is not None
            users = htpasswd_file(self.workdir / "htpasswd", self.credentials, self.env)
            lines += [
                "auth:",
                "  htpasswd:",
                "    realm: gitguard-test",
                f"    path: {json.dumps(str(users))}",
            ]
        elif self.auth == "token":
            assert self.token_server is not None
            bundle = self.workdir / "token-ca.pem"
            bundle.write_bytes(self.token_server.certificate_pem())
            lines += [
                "auth:",
                "  token:",
                f"    realm: {json.dumps(self.token_server.realm)}",
                f"    service: {json.dumps(self.token_server.service)}",
                f"    issuer: {json.dumps(self.token_server.issuer)}",
                f"    rootcertbundle: {json.dumps(str(bundle))}",
            ]
        config = self.workdir / "config.yml"
        config.write_text("\n".join(lines) + "\n")
        return config

    def start(self) -> None:
        """Start (or restart, on the same port and storage) and wait until ``/v2/``
        answers."""
        if self.running:
            return
        program = find_program("docker-registry", self.env, package="docker-registry")
        self.storage.mkdir(parents=True, exist_ok=True)
        fixed_port = self.port != 0
        for _ in range(1 if fixed_port else 5):
            if not fixed_port:
                self.port = free_port()
            config = self._write_config()
            process = ManagedProcess(
                [program, "serve", str(config)], env=self.env, cwd=self.workdir, log=self.log
            )
            try:
                up = process.wait_for_port(self.port)
            except BaseException:
                process.stop()
                raise
            if up:
                self._process = process
                self._wait_ready()
                return
            process.stop()
        raise ServerError(f"docker-registry did not start; log {self.log}:\n{self._tail()}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"http://{self.host}/v2/", timeout=5):
                    return
            except urllib.error.HTTPError as exc:
                if exc.code == 401:  # authentication required: up
                    return
                error: Exception = exc
            except OSError as exc:
                error = exc
            if time.monotonic() > deadline:
                raise ServerError(f"registry not ready: {error}; log:\n{self._tail()}")
            time.sleep(0.05)

    def _tail(self) -> str:
        try:
            return "\n".join(self.log.read_text("utf-8", "replace").splitlines()[-30:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Stop the process by PID (SIGTERM, then SIGKILL). The storage is kept."""
        if self._process is not None:
            self._process.stop()
            self._process = None


@contextlib.contextmanager
def docker_registry(
    workdir: Path, env: Mapping[str, str], *, auth: AuthMode = "none"
) -> Iterator[Registry]:
    """A running registry on 127.0.0.1 (``auth``: none, basic or token), stopped on
    exit. Its credentials (basic, token) are random and in :attr:`Registry.credentials`."""
    workdir.mkdir(parents=True, exist_ok=True)
    credentials = (
        Credentials("pusher", secrets.token_urlsafe(12)) if auth in ("basic", "token") else None
    )
    token_server = None
    if auth == "token":
        assert credentials is not None
        token_server = TokenServer(credentials)
        token_server.start()
    registry = Registry(workdir, env, auth, credentials, token_server)
    try:
        registry.start()
        yield registry
    finally:
        registry.stop()
        if token_server is not None:
            token_server.stop()


# --------------------------------------------------------------------------- API client


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.partition(" ")
    params: dict[str, str] = {}
    for part in _split_params(rest):
        key, _, value = part.partition("=")
        params[key.strip().lower()] = value.strip().strip('"')
    return scheme.lower(), params


def _split_params(text: str) -> list[str]:
    parts, current, quoted = [], "", False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current)
    return parts


class Client:
    """Just enough of the distribution API to build test images and to inspect and
    tamper with signature manifests: anonymous, basic and bearer (token) auth."""

    def __init__(self, base: str, credentials: Credentials | None) -> None:
        self.base = base
        self.credentials = credentials
        self._authorization: str | None = None
        self._opener = urllib.request.build_opener(_NoRedirect)

    def _raw(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]
    ) -> Response:
        # Only http URLs of our own registry and token server (never file: or others).
        request = urllib.request.Request(url, data=body, method=method, headers=dict(headers))  # noqa: S310
        try:
            with self._opener.open(request, timeout=30) as resp:
                return Response(resp.status, dict(resp.headers.items()), resp.read())
        except urllib.error.HTTPError as exc:
            return Response(exc.code, dict(exc.headers.items()), exc.read())

    def _authenticate(self, challenge: str) -> None:
        scheme, params = _parse_challenge(challenge)
        if self.credentials is None:
            raise RegistryError(f"registry wants {challenge!r} and we have no credentials", 401)
        if scheme == "basic":
            self._authorization = self.credentials.basic_header()
            return
        if scheme != "bearer":
            raise RegistryError(f"unsupported challenge {challenge!r}", 401)
        query = {"service": params.get("service", "")}
        if "scope" in params:
            query["scope"] = params["scope"]
        url = params["realm"] + "?" + urllib.parse.urlencode(query)
        resp = self._raw("GET", url, None, {"Authorization": self.credentials.basic_header()})
        if resp.status != 200:
            raise RegistryError(f"token request {url}: {resp.status} {resp.body!r}", resp.status)
        doc = json.loads(resp.body)
        self._authorization = "Bearer " + (doc.get("token") or doc["access_token"])

    def request(
        self,
        method: str,
        path_or_url: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        ok: Sequence[int] = (200, 201, 202, 204),
    ) -> Response:
        url = path_or_url if "://" in path_or_url else self.base + path_or_url
        hdrs = dict(headers or {})
        for attempt in range(3):
            if self._authorization is not None:
                hdrs["Authorization"] = self._authorization
            resp = self._raw(method, url, body, hdrs)
            if resp.status == 401 and attempt < 2:
                challenge = resp.headers.get("Www-Authenticate") or resp.headers.get(
                    "WWW-Authenticate", ""
                )
                self._authenticate(challenge)
                continue
            break
        if resp.status not in ok:
            raise RegistryError(f"{method} {url}: {resp.status} {resp.body[:500]!r}", resp.status)
        return resp

    # blobs

    def put_blob(self, repo: str, data: bytes) -> str:
        """Upload ``data`` (POST, then PUT with the digest); returns its digest."""
        digest = sha256_digest(data)
        head = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", ok=(200, 404))
        if head.status == 200:
            return digest
        start = self.request("POST", f"/v2/{repo}/blobs/uploads/", b"", ok=(202,))
        location = start.headers["Location"]
        if location.startswith("/"):
            location = self.base + location
        sep = "&" if "?" in location else "?"
        self.request(
            "PUT",
            f"{location}{sep}digest={urllib.parse.quote(digest)}",
            data,
            {"Content-Type": "application/octet-stream", "Content-Length": str(len(data))},
            ok=(201,),
        )
        return digest

    def get_blob(self, repo: str, digest: str) -> bytes:
        # The filesystem driver serves blobs itself (no redirect).
        return self.request("GET", f"/v2/{repo}/blobs/{digest}").body

    # manifests

    def put_manifest(self, repo: str, reference: str, body: bytes, media_type: str) -> str:
        resp = self.request(
            "PUT", f"/v2/{repo}/manifests/{reference}", body, {"Content-Type": media_type}
        )
        digest = resp.headers.get("Docker-Content-Digest", "")
        if digest != sha256_digest(body):
            raise RegistryError(f"registry stored {digest!r} for {sha256_digest(body)}")
        return digest

    def get_manifest(self, repo: str, reference: str) -> tuple[bytes, str] | None:
        """``(bytes, media type)`` or None when the reference does not exist."""
        resp = self.request(
            "GET",
            f"/v2/{repo}/manifests/{reference}",
            headers={"Accept": ", ".join(MANIFEST_TYPES)},
            ok=(200, 404),
        )
        if resp.status == 404:
            return None
        return resp.body, resp.headers.get("Content-Type", "")

    def delete_manifest(self, repo: str, digest: str) -> None:
        self.request("DELETE", f"/v2/{repo}/manifests/{digest}", ok=(202,))

    def tags(self, repo: str) -> list[str]:
        resp = self.request("GET", f"/v2/{repo}/tags/list", ok=(200, 404))
        if resp.status == 404:
            return []
        return list(json.loads(resp.body).get("tags") or [])

    # signatures (legacy cosign scheme, for inspection and tampering)

    def signature_manifest(self, repo: str, digest: str) -> dict[str, Any] | None:
        """The parsed ``sha256-<hex>.sig`` manifest of ``digest``, or None."""
        got = self.get_manifest(repo, sig_tag(digest))
        if got is None:
            return None
        doc: dict[str, Any] = json.loads(got[0])
        return doc

    def signature_layers(self, repo: str, digest: str) -> list[SignatureLayer]:
        """Every simple-signing layer of ``digest``'s signature manifest."""
        doc = self.signature_manifest(repo, digest)
        if doc is None:
            return []
        layers = []
        for layer in doc.get("layers", []):
            payload = self.get_blob(repo, layer["digest"])
            layers.append(
                SignatureLayer(
                    layer, payload, layer.get("annotations", {}).get(SIGNATURE_ANNOTATION, "")
                )
            )
        return layers

    def put_signature_manifest(
        self, repo: str, digest: str, layers: Sequence[tuple[bytes, Mapping[str, str]]]
    ) -> str:
        """Write a ``.sig`` manifest for ``digest`` with the given ``(payload,
        annotations)`` layers, shaped like cosign's (used to tamper)."""
        descriptors = []
        for payload, layer_annotations in layers:
            descriptors.append(
                {
                    "mediaType": SIMPLESIGNING,
                    "size": len(payload),
                    "digest": self.put_blob(repo, payload),
                    "annotations": dict(layer_annotations),
                }
            )
        config = json.dumps(
            {
                "architecture": "",
                "os": "",
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in descriptors]},
            },
            separators=(",", ":"),
        ).encode()
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": OCI_CONFIG,
                "size": len(config),
                "digest": self.put_blob(repo, config),
            },
            "layers": descriptors,
        }
        body = json.dumps(manifest, separators=(",", ":")).encode()
        return self.put_manifest(repo, sig_tag(digest), body, OCI_MANIFEST)


@dataclass(frozen=True)
class SignatureLayer:
    descriptor: Mapping[str, Any]
    payload: bytes
    signature: str  # base64, as stored in the annotation

    @property
    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.payload)
        return doc


# --------------------------------------------------------------------------- test images


@dataclass(frozen=True)
class Image:
    """An image (manifest or index) in the registry."""

    repo: str
    tag: str | None
    digest: str
    manifest: bytes
    media_type: str
    children: tuple[Image, ...] = ()


def _layer(content: bytes) -> tuple[bytes, str]:
    """A deterministic gzip tar with one file; returns ``(blob, diff id)``."""
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(content)
        info.mtime = 0
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(content))
    raw = tar_bytes.getvalue()
    blob = gzip.compress(raw, mtime=0)
    return blob, sha256_digest(raw)


def _compact(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def push_image(
    client: Client,
    repo: str,
    tag: str | None,
    *,
    content: bytes = b"hello from gitguard\n",
    platform: tuple[str, str] = ("linux", "amd64"),
    annotations: Mapping[str, str] | None = None,
) -> Image:
    """A minimal OCI image (config + one layer) pushed as ``repo:tag`` (or by digest
    only when ``tag`` is None). Different ``content`` gives a different digest."""
    layer, diff_id = _layer(content)
    os_name, arch = platform
    config = _compact(
        {
            "architecture": arch,
            "os": os_name,
            "config": {"Cmd": ["/bin/true"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
    )
    manifest_doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": OCI_CONFIG,
            "size": len(config),
            "digest": client.put_blob(repo, config),
        },
        "layers": [
            {
                "mediaType": OCI_LAYER_GZIP,
                "size": len(layer),
                "digest": client.put_blob(repo, layer),
            }
        ],
    }
    if annotations:
        manifest_doc["annotations"] = dict(annotations)
    manifest = _compact(manifest_doc)
    digest = sha256_digest(manifest)
    client.put_manifest(repo, tag or digest, manifest, OCI_MANIFEST)
    return Image(repo, tag, digest, manifest, OCI_MANIFEST)


def push_index(
    client: Client,
    repo: str,
    tag: str,
    *,
    platforms: Sequence[tuple[str, str]] = (("linux", "amd64"), ("linux", "arm64")),
    content: bytes = b"multi-arch",
) -> Image:
    """An OCI index over one image per platform (children pushed by digest)."""
    children = tuple(
        push_image(
            client, repo, None, content=content + f" {os_}/{arch}\n".encode(), platform=(os_, arch)
        )
        for os_, arch in platforms
    )
    index = _compact(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": child.media_type,
                    "size": len(child.manifest),
                    "digest": child.digest,
                    "platform": {"os": os_, "architecture": arch},
                }
                for child, (os_, arch) in zip(children, platforms, strict=True)
            ],
        }
    )
    digest = client.put_manifest(repo, tag, index, OCI_INDEX)
    return Image(repo, tag, digest, index, OCI_INDEX, children)


# --------------------------------------------------------------------------- verifiers


def image_tool_env(home: Path, tools_home: Path) -> dict[str, str]:
    """The environment cosign and skopeo run with: :func:`gitfixtures.tool_env` rooted
    at ``home``, but their own HOME ``tools_home`` (cosign keeps a TUF cache there,
    skopeo its auth file lookups), loopback not proxied."""
    tools_home.mkdir(parents=True, exist_ok=True)
    env = tool_env(home)
    env.update(
        {
            "HOME": str(tools_home),
            "DOCKER_CONFIG": str(tools_home / ".docker"),
            "NO_PROXY": HOST,
            "no_proxy": HOST,
            "COSIGN_PASSWORD": env.get("COSIGN_PASSWORD", ""),
            # cosign 2.x: never ask, never reach Rekor/Fulcio/TUF for offline keys.
            "COSIGN_YES": "true",
            "SIGSTORE_NO_CACHE": "true",
            "TUF_ROOT": str(tools_home / ".sigstore" / "root"),
        }
    )
    return env


def cosign_annotation_args(annotations: Mapping[str, str] | None) -> list[str]:
    """``-a k=v`` flags. cosign's ``-a`` is a pflag string slice, parsed as one CSV
    record: a value with ``"`` or ``,`` must be CSV-quoted."""
    args: list[str] = []
    for k, v in (annotations or {}).items():
        item = f"{k}={v}"
        if any(c in item for c in '",\r\n'):
            item = '"' + item.replace('"', '""') + '"'
        args += ["-a", item]
    return args


def cosign_sign(
    registry: Registry,
    key: Path,
    image: str,
    *,
    env: Mapping[str, str],
    annotations: Mapping[str, str] | None = None,
    extra: Sequence[str] = (),
) -> ToolRun:
    """``cosign sign --key KEY`` in the legacy ``.sig`` format, offline (no tlog)."""
    argv: list[str | os.PathLike[str]] = [
        tool("cosign"),
        "sign",
        "--key",
        key,
        "--tlog-upload=false",
        "--allow-insecure-registry",
        "--yes",
        *cosign_annotation_args(annotations),
    ]
    return run_tool([*argv, *extra, image], env=env)


def cosign_verify(
    registry: Registry,
    pub: Path,
    image: str,
    *,
    env: Mapping[str, str],
    annotations: Mapping[str, str] | None = None,
    check: bool = False,
) -> ToolRun:
    """``cosign verify --key PUB --insecure-ignore-tlog=true`` (exit 0 = verified)."""
    argv: list[str | os.PathLike[str]] = [
        tool("cosign"),
        "verify",
        "--key",
        pub,
        "--insecure-ignore-tlog=true",
        "--allow-insecure-registry",
        "--output=json",
        *cosign_annotation_args(annotations),
    ]
    return run_tool([*argv, image], env=env, check=check)


def skopeo_policy(
    directory: Path,
    registry: Registry,
    pub: Path,
    *,
    signed_identity: Mapping[str, Any] | None = None,
) -> tuple[Path, Path]:
    """A containers-policy.json requiring a ``sigstoreSigned`` signature by ``pub`` for
    the registry (everything else rejected), and a registries.d directory that turns
    on ``use-sigstore-attachments``. Returns ``(policy file, registries.d)``."""
    directory.mkdir(parents=True, exist_ok=True)
    requirement: dict[str, Any] = {"type": "sigstoreSigned", "keyPath": str(pub)}
    if signed_identity is not None:
        requirement["signedIdentity"] = dict(signed_identity)
    policy = {
        "default": [{"type": "reject"}],
        "transports": {
            "docker": {registry.host: [requirement]},
            "oci": {"": [{"type": "insecureAcceptAnything"}]},
            "dir": {"": [{"type": "insecureAcceptAnything"}]},
        },
    }
    policy_path = directory / "policy.json"
    policy_path.write_text(json.dumps(policy, indent=1) + "\n")
    registries_d = directory / "registries.d"
    registries_d.mkdir(exist_ok=True)
    (registries_d / "test.yaml").write_text(
        f"docker:\n  {registry.host}:\n    use-sigstore-attachments: true\n"
    )
    return policy_path, registries_d


def skopeo_auth_args(registry: Registry, flag: str) -> list[str]:
    """``--src-creds=USER:PASSWORD`` (or ``--dest-creds``) for a registry that needs
    credentials, else nothing."""
    if registry.credentials is None:
        return []
    c = registry.credentials
    return [f"{flag}={c.username}:{c.password}"]


def skopeo_verify(
    registry: Registry,
    policy: Path,
    registries_d: Path,
    image: str,
    dest: Path,
    *,
    env: Mapping[str, str],
    check: bool = False,
) -> ToolRun:
    """Pull ``docker://IMAGE`` into ``dir:DEST`` under ``policy``: exit 0 means the
    signature requirement was met (containers/image checks it before copying)."""
    argv: list[str | os.PathLike[str]] = [
        tool("skopeo"),
        "--policy",
        policy,
        "--registries.d",
        registries_d,
        "copy",
        "--src-tls-verify=false",
        *skopeo_auth_args(registry, "--src-creds"),
        f"docker://{image}",
        f"dir:{dest}",
    ]
    return run_tool(argv, env=env, check=check)
