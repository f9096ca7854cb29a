"""A small client for the OCI distribution API (what ``cosign`` and ``skopeo`` speak).

Why not a library: oras-py (the only maintained Python OCI client, PyPI ``oras``
0.2.x) was evaluated and does not fit — its ``do_request`` retries any error five
times with sleeps of 3 to 83 s (over two minutes of a ``git push`` hanging when the
registry is down), it answers a ``Basic`` challenge with the token flow, ignores
``DOCKER_CONFIG``, re-serializes manifests it pushes and returns parsed JSON (the
digest of the exact bytes is lost), and signals failures with ``ValueError`` and log
lines. This module is the part of it we need, with the stdlib only:

- **Transport**: HTTPS with certificate verification (system CAs, ``SSL_CERT_FILE``,
  or ``ca_file``). Plain HTTP only with ``insecure=True`` *and* a loopback host
  (127.0.0.0/8, ::1, localhost) — ``--allow-insecure-registry``.
- **Auth** (the distribution token spec): try anonymously; on ``401`` read
  ``WWW-Authenticate``. ``Basic`` ⇒ retry with the user's credentials. ``Bearer
  realm=…,service=…,scope=…`` ⇒ fetch a token from the realm (GET with basic
  credentials, or the OAuth2 refresh-token POST for an ``identitytoken``), asking
  for the challenge's scopes plus ``repository:<repo>:pull[,push]``, then retry with
  ``Authorization: Bearer``. Tokens are reused for the client's lifetime. The
  ``Authorization`` header is never sent along a redirect (blob storage).
- **Credentials**: the docker ``config.json`` convention — ``$DOCKER_CONFIG/config.json``
  or ``~/.docker/config.json``: ``auths`` entries (``auth`` = base64 ``user:pass``,
  ``username``/``password``, ``identitytoken``, ``registrytoken``), and the
  ``credHelpers``/``credsStore`` helpers (``docker-credential-<name> get``).
- **Errors**: :class:`~gitguard.images.RegistryError` naming the registry, the
  request and the registry's own error text; ``retryable`` for connection
  failures, timeouts, 429 and 5xx.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import ipaddress
import json
import os
import re
import ssl
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

from gitguard import tools
from gitguard.images import RegistryError
from gitguard.images.oci import (
    ACCEPTED_TYPES,
    MAX_MANIFEST,
    Manifest,
    digest_of,
    file_lock,
    media_type_of,
)
from gitguard.images.reference import DOCKER_HUB, api_host

__all__ = ["Credentials", "RegistryStore", "find_credentials", "is_loopback"]

_USER_AGENT = "gitguard"


def is_loopback(registry: str) -> bool:
    """Whether ``host[:port]`` is a loopback address or ``localhost``."""
    host = registry
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Credentials:
    """What ``config.json`` holds for one registry. ``source`` names where."""

    username: str | None = None
    password: str | None = None
    identity_token: str | None = None
    registry_token: str | None = None
    source: str = ""


def docker_config_path() -> Path:
    base = os.environ.get("DOCKER_CONFIG")
    if base:
        return Path(base) / "config.json"
    return Path.home() / ".docker" / "config.json"


def _host_of(key: str) -> str:
    """``https://host:5000/v1/`` -> ``host:5000`` (config.json keys come in all forms)."""
    if "://" in key:
        key = key.split("://", 1)[1]
    return key.split("/", 1)[0]


def _credential_helper(helper: str, registry: str, source: str) -> Credentials | None:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", helper):
        raise RegistryError(f"{source}: bad credential helper name {helper!r}")
    program = f"docker-credential-{helper}"
    server = "https://index.docker.io/v1/" if registry == DOCKER_HUB else registry
    try:
        proc = tools.run((program, "get"), input=server.encode(), timeout=30, check=False)
    except tools.ToolMissing:
        raise RegistryError(
            f"{source} names credential helper {helper!r} for {registry}, but {program} "
            "is not on PATH"
        ) from None
    except tools.ToolTimeout:
        raise RegistryError(f"{program} get timed out for {registry}") from None
    if proc.returncode:
        err = proc.stdout.decode("utf-8", "replace").strip()
        if "credentials not found" in err.lower():
            return None
        raise RegistryError(f"{program} get failed for {registry}: {err or proc.returncode}")
    try:
        doc = json.loads(proc.stdout)
        user, secret = doc["Username"], doc["Secret"]
    except (ValueError, KeyError, TypeError):
        raise RegistryError(f"{program} get returned something that is not credentials") from None
    where = f"{source} ({program})"
    if user == "<token>":
        return Credentials(identity_token=secret, source=where)
    return Credentials(username=user, password=secret, source=where)


def find_credentials(registry: str, config: Path | None = None) -> Credentials | None:
    """The credentials the docker ``config.json`` convention gives for ``registry``."""
    path = config or docker_config_path()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise RegistryError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RegistryError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise RegistryError(f"{path} is not a JSON object")
    source = str(path)
    wanted = {registry}
    if registry == DOCKER_HUB:
        wanted |= {"docker.io", "registry-1.docker.io"}
    helpers = doc.get("credHelpers")
    if isinstance(helpers, dict):
        for key, helper in helpers.items():
            if _host_of(key) in wanted and isinstance(helper, str):
                return _credential_helper(helper, registry, source)
    auths = doc.get("auths")
    if isinstance(auths, dict):
        for key, entry in auths.items():
            if _host_of(key) not in wanted or not isinstance(entry, dict):
                continue
            creds = _auth_entry(entry, f"{source} (auths.{key})")
            if creds is not None:
                return creds
    store = doc.get("credsStore")
    if isinstance(store, str) and store:
        return _credential_helper(store, registry, source)
    return None


def _auth_entry(entry: Mapping[str, Any], source: str) -> Credentials | None:
    identity = entry.get("identitytoken")
    token = entry.get("registrytoken")
    user = entry.get("username")
    password = entry.get("password")
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            decoded = base64.b64decode(auth, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise RegistryError(f"{source}: auth is not base64 of user:password") from None
        user, sep, password = decoded.partition(":")
        if not sep:
            raise RegistryError(f"{source}: auth is not base64 of user:password")
    creds = Credentials(
        username=user if isinstance(user, str) and user else None,
        password=password if isinstance(password, str) else None,
        identity_token=identity if isinstance(identity, str) and identity else None,
        registry_token=token if isinstance(token, str) and token else None,
        source=source,
    )
    if not (creds.username or creds.identity_token or creds.registry_token):
        return None
    return creds


# -- WWW-Authenticate ----------------------------------------------------------------

_CHALLENGE_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?')


def parse_challenges(values: list[str]) -> list[tuple[str, dict[str, str]]]:
    """``[(scheme lower-cased, params)]`` from ``WWW-Authenticate`` header values."""
    out: list[tuple[str, dict[str, str]]] = []
    for value in values:
        rest = value.strip()
        while rest:
            m = re.match(r"([A-Za-z][A-Za-z0-9_-]*)\s*", rest)
            if not m:
                break
            scheme = m.group(1).lower()
            rest = rest[m.end() :]
            params: dict[str, str] = {}
            while True:
                pm = _CHALLENGE_PARAM.match(rest)
                if not pm or not pm.group(0).strip():
                    break
                raw = pm.group(2)
                if raw.startswith('"'):
                    raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
                params[pm.group(1).lower()] = raw
                rest = rest[pm.end() :]
            out.append((scheme, params))
            rest = rest.lstrip(", ")
    return out


# -- HTTP ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Response:
    status: int
    headers: Message
    body: bytes
    url: str


class _NoRaise(urllib.request.HTTPErrorProcessor):
    """Hand every status back to us instead of raising HTTPError (redirects are
    still followed: the redirect handler runs before this processor sees 3xx)."""

    def http_response(
        self, request: urllib.request.Request, response: http.client.HTTPResponse
    ) -> http.client.HTTPResponse:
        if response.status in (301, 302, 303, 307, 308):
            return super().http_response(request, response)  # type: ignore[no-any-return]
        return response

    https_response = http_response


def _error_text(body: bytes) -> str:
    """The registry's own error message(s), from the distribution error JSON."""
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        text = body.decode("utf-8", "replace").strip()
        return text[:200]
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(errors, list):
        return ""
    parts = []
    for err in errors:
        if isinstance(err, dict):
            code = err.get("code", "")
            message = err.get("message", "")
            parts.append(f"{code}: {message}" if code else str(message))
    return "; ".join(parts)


class RegistryStore:
    """One repository in a registry, as a :class:`~gitguard.images.oci.Store`."""

    def __init__(
        self,
        registry: str,
        repository: str,
        *,
        insecure: bool = False,
        ca_file: str | None = None,
        push: bool = False,
        timeout: float = 30.0,
        docker_config: Path | None = None,
    ) -> None:
        self.registry = registry
        self.repository = repository
        self.push = push
        self.timeout = timeout
        self._docker_config = docker_config
        self._credentials: Credentials | None = None
        self._credentials_loaded = False
        self._authorization: str | None = None
        if insecure and not is_loopback(registry):
            raise RegistryError(
                f"--allow-insecure-registry is only for loopback registries (127.0.0.1, "
                f"[::1], localhost); {registry} must be reached over TLS (use "
                "SSL_CERT_FILE or --registry-cacert for a private CA)"
            )
        scheme = "http" if insecure else "https"
        self._base = f"{scheme}://{api_host(registry)}/v2/{repository}"
        context = ssl.create_default_context()
        if ca_file:
            try:
                context.load_verify_locations(cafile=ca_file)
            except (OSError, ssl.SSLError) as e:
                raise RegistryError(f"cannot load CA certificates from {ca_file}: {e}") from None
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=context), _NoRaise()
        )

    @property
    def where(self) -> str:
        return f"{self.registry}/{self.repository}"

    # -- plumbing -------------------------------------------------------------------

    def _open(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]
    ) -> _Response:
        # Only http(s) URLs built from the registry name or its token realm get here.
        request = urllib.request.Request(url, data=body, method=method)  # noqa: S310
        request.add_header("User-Agent", _USER_AGENT)
        for key, value in headers.items():
            if key.lower() == "authorization":
                request.add_unredirected_header(key, value)
            else:
                request.add_header(key, value)
        what = f"{method} {url}"
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                data = response.read(MAX_MANIFEST * 32 + 1)
                return _Response(response.status, response.headers, data, response.url)
        except ssl.SSLCertVerificationError as e:
            raise RegistryError(
                f"cannot reach registry {self.registry}: TLS certificate not trusted "
                f"({e.verify_message}); for a private CA set SSL_CERT_FILE or "
                "--registry-cacert"
            ) from None
        except ssl.SSLError as e:
            raise RegistryError(
                f"cannot reach registry {self.registry}: TLS failed ({e.reason or e}); "
                "a plain-HTTP registry on this machine needs --allow-insecure-registry"
            ) from None
        except urllib.error.HTTPError as e:  # a redirect we may not follow, and the like
            with e:
                return _Response(e.code, e.headers, e.read(MAX_MANIFEST), e.url or url)
        except urllib.error.URLError as e:
            reason = e.reason
            if isinstance(reason, ssl.SSLError):
                raise RegistryError(
                    f"cannot reach registry {self.registry}: TLS failed ({reason}); "
                    "a plain-HTTP registry on this machine needs --allow-insecure-registry"
                ) from None
            text = getattr(reason, "strerror", None) or str(reason)
            raise RegistryError(
                f"cannot reach registry {self.registry} ({what}): {text}", retryable=True
            ) from None
        except TimeoutError:
            raise RegistryError(
                f"registry {self.registry} did not answer within {self.timeout:g} s ({what})",
                retryable=True,
            ) from None
        except (http.client.HTTPException, ConnectionError, OSError) as e:
            raise RegistryError(
                f"connection to registry {self.registry} failed ({what}): {e}", retryable=True
            ) from None

    def _creds(self) -> Credentials | None:
        if not self._credentials_loaded:
            self._credentials = find_credentials(self.registry, self._docker_config)
            self._credentials_loaded = True
        return self._credentials

    def _scopes(self, challenge: Mapping[str, str]) -> list[str]:
        actions = "pull,push" if self.push else "pull"
        scopes = [f"repository:{self.repository}:{actions}"]
        for scope in challenge.get("scope", "").split():
            if scope not in scopes and not scope.startswith(f"repository:{self.repository}:"):
                scopes.append(scope)
        return scopes

    def _token(self, challenge: Mapping[str, str]) -> str:
        realm = challenge.get("realm", "")
        parsed = urllib.parse.urlsplit(realm)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise RegistryError(f"registry {self.registry} sent a bad token realm {realm!r}")
        if parsed.scheme == "http" and not is_loopback(parsed.netloc):
            raise RegistryError(
                f"registry {self.registry} wants tokens from {realm} over plain HTTP; refusing "
                "to send credentials there"
            )
        creds = self._creds()
        scopes = self._scopes(challenge)
        service = challenge.get("service")
        headers: dict[str, str] = {"Accept": "application/json"}
        if creds is not None and creds.identity_token:
            form: list[tuple[str, str]] = [
                ("grant_type", "refresh_token"),
                ("refresh_token", creds.identity_token),
                ("client_id", _USER_AGENT),
                ("scope", " ".join(scopes)),
            ]
            if service:
                form.append(("service", service))
            body = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            response = self._open("POST", realm, body, headers)
        else:
            query: list[tuple[str, str]] = [("scope", s) for s in scopes]
            if service:
                query.insert(0, ("service", service))
            if creds is not None and creds.username:
                raw = f"{creds.username}:{creds.password or ''}".encode()
                headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
            sep = "&" if parsed.query else "?"
            response = self._open("GET", realm + sep + urllib.parse.urlencode(query), None, headers)
        if response.status in (401, 403):
            who = (
                f"the credentials from {creds.source}"
                if creds is not None
                else "anonymous access (no credentials configured in "
                f"{self._docker_config or docker_config_path()})"
            )
            raise RegistryError(
                f"token server {realm} refused {who} for {self.where} "
                f"(HTTP {response.status}) {_error_text(response.body)}".rstrip()
            )
        if response.status != 200:
            raise RegistryError(
                f"token server {realm} answered HTTP {response.status} for {self.where}",
                retryable=response.status >= 500 or response.status == 429,
            )
        try:
            doc = json.loads(response.body)
            token = doc.get("token") or doc.get("access_token")
        except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"token server {realm} answered without a token")
        return token

    def _authenticate(self, response: _Response) -> bool:
        """Set ``self._authorization`` from a 401 answer; False if we cannot."""
        challenges = parse_challenges(response.headers.get_all("WWW-Authenticate") or [])
        for scheme, params in challenges:
            if scheme == "bearer":
                creds = self._creds()
                if creds is not None and creds.registry_token:
                    self._authorization = f"Bearer {creds.registry_token}"
                else:
                    self._authorization = f"Bearer {self._token(params)}"
                return True
        for scheme, _ in challenges:
            if scheme == "basic":
                creds = self._creds()
                if creds is None or not creds.username:
                    return False
                raw = f"{creds.username}:{creds.password or ''}".encode()
                self._authorization = "Basic " + base64.b64encode(raw).decode()
                return True
        return False

    def _request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> _Response:
        headers = dict(headers or {})
        tried_auth = False
        while True:
            if self._authorization:
                headers["Authorization"] = self._authorization
            response = self._open(method, url, body, headers)
            if response.status != 401 or tried_auth:
                break
            tried_auth = True
            if not self._authenticate(response):
                break
        if response.status == 401:
            creds = self._creds()
            if creds is None:
                raise RegistryError(
                    f"registry {self.registry} requires authentication for {self.where} and "
                    f"no credentials for it are in {self._docker_config or docker_config_path()} "
                    f"(`docker login {self.registry}` or `skopeo login --authfile … "
                    f"{self.registry}` writes them)"
                )
            raise RegistryError(
                f"registry {self.registry} refused the credentials from {creds.source} for "
                f"{self.where} (HTTP 401) {_error_text(response.body)}".rstrip()
            )
        if response.status == 403:
            raise RegistryError(
                f"registry {self.registry} denied {method} on {self.where} (HTTP 403): "
                f"{_error_text(response.body) or 'access denied'}"
            )
        if response.status == 429 or response.status >= 500:
            raise RegistryError(
                f"registry {self.registry} answered HTTP {response.status} to {method} {url} "
                f"{_error_text(response.body)}".rstrip(),
                retryable=True,
            )
        return response

    def _unexpected(self, response: _Response, what: str) -> RegistryError:
        text = _error_text(response.body)
        return RegistryError(
            f"registry {self.registry}: {what} failed: HTTP {response.status}"
            + (f" ({text})" if text else "")
        )

    # -- Store ------------------------------------------------------------------------

    def get_manifest(self, reference: str) -> Manifest | None:
        url = f"{self._base}/manifests/{reference}"
        response = self._request("GET", url, headers={"Accept": ", ".join(ACCEPTED_TYPES)})
        if response.status == 404:
            return None
        if response.status != 200:
            raise self._unexpected(response, f"reading manifest {self.where}:{reference}")
        if len(response.body) > MAX_MANIFEST:
            raise RegistryError(f"{self.where}:{reference}: manifest larger than 4 MiB")
        digest = digest_of(response.body)
        if reference.startswith("sha256:") and digest != reference:
            raise RegistryError(
                f"registry {self.registry} returned a manifest for {self.where}@{reference} "
                f"whose digest is {digest}: refusing it"
            )
        claimed = response.headers.get("Docker-Content-Digest")
        if claimed and claimed.startswith("sha256:") and claimed != digest:
            raise RegistryError(
                f"registry {self.registry}: manifest {self.where}:{reference} has digest "
                f"{digest} but the registry says {claimed}"
            )
        media_type = media_type_of(response.body, response.headers.get("Content-Type"))
        return Manifest(response.body, media_type, digest)

    def get_blob(self, digest: str, max_size: int) -> bytes:
        url = f"{self._base}/blobs/{digest}"
        response = self._request("GET", url)
        if response.status == 404:
            raise RegistryError(
                f"registry {self.registry}: blob {digest} not found in {self.where}"
            )
        if response.status != 200:
            raise self._unexpected(response, f"reading blob {digest}")
        if len(response.body) > max_size:
            raise RegistryError(f"{self.where}: blob {digest} is larger than {max_size} bytes")
        if digest_of(response.body) != digest:
            raise RegistryError(
                f"registry {self.registry} returned blob {digest} with different content"
            )
        return response.body

    def put_blob(self, data: bytes) -> str:
        digest = digest_of(data)
        head = self._request("HEAD", f"{self._base}/blobs/{digest}")
        if head.status == 200:
            return digest
        start = self._request("POST", f"{self._base}/blobs/uploads/", body=b"")
        if start.status != 202:
            raise self._unexpected(start, f"starting a blob upload to {self.where}")
        location = start.headers.get("Location")
        if not location:
            raise RegistryError(f"registry {self.registry} started an upload without a Location")
        url = urllib.parse.urljoin(start.url, location)
        sep = "&" if urllib.parse.urlsplit(url).query else "?"
        url = f"{url}{sep}digest={urllib.parse.quote(digest)}"
        done = self._request(
            "PUT",
            url,
            body=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        if done.status not in (201, 204):
            raise self._unexpected(done, f"uploading blob {digest} to {self.where}")
        return digest

    def put_manifest(self, tag: str, data: bytes, media_type: str) -> str:
        url = f"{self._base}/manifests/{tag}"
        response = self._request("PUT", url, body=data, headers={"Content-Type": media_type})
        if response.status not in (200, 201, 202):
            raise self._unexpected(response, f"pushing manifest {self.where}:{tag}")
        return digest_of(data)

    def lock(self, digest: str) -> contextlib.AbstractContextManager[None]:
        return _registry_lock(self.registry, self.repository, digest)


@contextlib.contextmanager
def _registry_lock(registry: str, repository: str, digest: str) -> Iterator[None]:
    """Serialize signers of one digest on this machine (a registry has no locks)."""
    import hashlib

    base = Path(tempfile.gettempdir()) / f"gitguard-{os.getuid()}"
    base.mkdir(mode=0o700, exist_ok=True)
    st = base.lstat()
    if st.st_uid != os.getuid() or st.st_mode & 0o077 or not base.is_dir() or base.is_symlink():
        raise RegistryError(f"{base} is not a private directory of this user; remove it")
    key = hashlib.sha256(f"{registry}/{repository}@{digest}".encode()).hexdigest()[:32]
    with file_lock(base / f"{key}.lock"):
        yield
