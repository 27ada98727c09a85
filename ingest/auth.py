"""Credentials, authentication plugins, and the session that keeps credentials on allowed hosts.

Credentials are resolved from the places the mirror's configuration names (environment variables,
a netrc host, the configuration file), in that order. They are held in :class:`Credentials`, whose
repr and str never show the password, so they cannot leak into logs, tables or error messages.

Mirrors are servers s2lake does not control: a catalogue may list a download anywhere, and a server
may redirect anywhere. So an :class:`Auth` is a ``requests`` auth plugin that adds its header only to
requests for the origins (scheme, host, port) the mirror's configuration allows
(:meth:`~s2lake.config.ingest.MirrorSettings.credential_origins`), and :class:`MirrorSession` asks it
again on every redirect hop instead of requests' own rule (which keeps the header on the same host and
adds ``~/.netrc`` entries of the new one); a hop from https to http never gets it.
"""

from __future__ import annotations

import netrc
import os
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from s2lake.config.ingest import MirrorSettings, origin
from s2lake.errors import CatalogueError

#: Redirects followed for one request (requests' default, 30, is more than any mirror needs).
MAX_REDIRECTS = 10

#: Refresh a bearer token this many seconds before it expires (CDSE access tokens live 600 s).
TOKEN_MARGIN_SECONDS = 30.0


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)

    def __str__(self) -> str:
        return f"Credentials(username={self.username!r}, password=***)"

    __repr__ = __str__


def resolve_credentials(mirror: MirrorSettings) -> Credentials | None:
    """Credentials of a mirror from env, netrc or config; None when it needs none."""
    user = os.environ.get(mirror.username_env) if mirror.username_env else None
    password = os.environ.get(mirror.password_env) if mirror.password_env else None
    if user and password:
        return Credentials(user, password)
    host = mirror.netrc_host
    if host or not (mirror.username_env or mirror.username):
        host = host or urlparse(mirror.url).hostname
        try:
            entry = netrc.netrc().authenticators(host) if host else None
        except (FileNotFoundError, netrc.NetrcParseError):
            entry = None
        if entry and entry[0] and entry[2]:
            return Credentials(entry[0], entry[2])
    if mirror.username and mirror.password is not None:
        return Credentials(mirror.username, mirror.password.get_secret_value())
    if mirror.username_env or mirror.password_env or mirror.netrc_host:
        raise CatalogueError(
            f"mirror `{mirror.name}` names credentials that are not set",
            where=f"env {mirror.username_env}/{mirror.password_env}, netrc host {mirror.netrc_host}",
            fix="export the named variables or add a ~/.netrc entry for the host",
        )
    return None


class Auth(AuthBase):
    """Adds a mirror's credentials to requests for its allowed ``origins``; ``refresh`` is called after a 401.

    This base class has no credentials and adds nothing (it still keeps requests from reading ~/.netrc
    for whatever host a catalogue names).
    """

    def __init__(self, origins: frozenset[tuple[str, str, int]] = frozenset()) -> None:
        self.origins = origins

    def allows(self, url: str) -> bool:
        return origin(url) in self.origins

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if request.url and self.allows(request.url):
            self.authorize(request)
        return request

    def authorize(self, request: requests.PreparedRequest) -> None:
        """Add the credentials (the request goes to an allowed origin)."""

    def refresh(self) -> None:
        return None


class BasicAuth(Auth):
    def __init__(self, credentials: Credentials, origins: frozenset[tuple[str, str, int]]) -> None:
        super().__init__(origins)
        self._credentials = credentials

    def __repr__(self) -> str:
        return f"BasicAuth(user={self._credentials.username!r})"

    def authorize(self, request: requests.PreparedRequest) -> None:
        HTTPBasicAuth(self._credentials.username, self._credentials.password)(request)


class KeycloakAuth(Auth):
    """OpenID Connect password grant with refresh tokens (CDSE's Keycloak).

    As CDSE documents it (APIs/Token.html, APIs/OData.html "Product Download"): a form POST to
    ``…/auth/realms/CDSE/protocol/openid-connect/token`` with ``grant_type=password``, ``username``,
    ``password`` and ``client_id=cdse-public``; then ``grant_type=refresh_token`` with the
    ``refresh_token`` and the same client id. Access tokens live about 10 minutes (``expires_in``),
    so a long download session refreshes them, and falls back to a new password grant when the
    refresh token has expired too (``refresh_expires_in``). Keycloak answers a wrong password with
    401 and a stale refresh token with 400 (``invalid_grant``).
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        credentials: Credentials,
        origins: frozenset[tuple[str, str, int]] = frozenset(),
        timeout: float = 30.0,
    ) -> None:
        super().__init__(origins)
        self._token_url = token_url
        self._client_id = client_id
        self._credentials = credentials
        self._timeout = timeout
        self._lock = threading.Lock()
        self._access: str | None = None
        self._access_expiry = 0.0
        self._refresh: str | None = None
        self._refresh_expiry = 0.0

    def __repr__(self) -> str:
        return f"KeycloakAuth(token_url={self._token_url!r}, user={self._credentials.username!r})"

    def _grant(self, data: dict[str, str]) -> None:
        now = time.monotonic()
        response = requests.post(self._token_url, data=data, timeout=self._timeout)
        if response.status_code in (400, 401):
            raise CatalogueError(
                f"token endpoint refused the {data['grant_type']} grant (HTTP {response.status_code})",
                where=self._token_url,
                fix="check the mirror's user name and password (env, netrc or config)",
            )
        response.raise_for_status()
        body = response.json()
        self._access = body["access_token"]
        self._access_expiry = now + float(body.get("expires_in", 600))
        self._refresh = body.get("refresh_token")
        self._refresh_expiry = now + float(body.get("refresh_expires_in", 3600))

    def token(self) -> str:
        with self._lock:
            now = time.monotonic()
            if self._access and now < self._access_expiry - TOKEN_MARGIN_SECONDS:
                return self._access
            if self._refresh and now < self._refresh_expiry - TOKEN_MARGIN_SECONDS:
                try:
                    self._grant(
                        {"grant_type": "refresh_token", "refresh_token": self._refresh, "client_id": self._client_id}
                    )
                    assert self._access is not None
                    return self._access
                except CatalogueError:
                    self._refresh = None
            self._grant(
                {
                    "grant_type": "password",
                    "username": self._credentials.username,
                    "password": self._credentials.password,
                    "client_id": self._client_id,
                }
            )
            assert self._access is not None
            return self._access

    def authorize(self, request: requests.PreparedRequest) -> None:
        request.headers["Authorization"] = f"Bearer {self.token()}"

    def refresh(self) -> None:
        with self._lock:
            self._access = None


def auth_for(mirror: MirrorSettings) -> Auth:
    """The authentication plugin a mirror needs, from its configuration."""
    credentials = resolve_credentials(mirror)
    origins = mirror.credential_origins()
    if credentials is None:
        return Auth(origins)
    if mirror.token_url:
        return KeycloakAuth(mirror.token_url, mirror.client_id, credentials, origins)
    return BasicAuth(credentials, origins)


class MirrorSession(requests.Session):
    """A session whose every request, redirects included, carries the mirror's credentials only where allowed.

    requests applies an auth object to the first request only; on a redirect its ``rebuild_auth`` keeps
    or strips the header by host and then adds the new host's ~/.netrc entry. Here every hop drops the
    header and :class:`Auth` decides again for the new URL, except after the chain went from https to
    http: from then on no hop gets credentials (they would cross the network in clear).
    """

    def __init__(self, auth: Auth) -> None:
        super().__init__()
        self.auth = auth
        self.max_redirects = MAX_REDIRECTS
        #: Origins that answered a permanent redirect (301, 308) to the same path on another origin allowed
        #: to receive the credentials: old origin URL -> new one (see :meth:`moved`).
        self._moves: dict[str, str] = {}

    def moved(self, url: str) -> str:
        """``url`` on the origin its origin permanently redirected to, so the next request skips the hop.

        CDSE's catalogue host answers every ``…/Nodes(…)/$value`` with a 301 to its download host, one
        round trip more for each of the ~16 files of a band-level download. Only a move that kept the path
        and query, went to an origin the mirror's credentials may go to and did not leave https is
        remembered, so a request sent straight there gets what the redirect chain would have given it."""
        parts = urlparse(url)
        new = self._moves.get(f"{parts.scheme}://{parts.netloc}")
        return url if new is None else new + url[len(f"{parts.scheme}://{parts.netloc}") :]

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        prepared_request.headers.pop("Authorization", None)
        previous = response.request
        # The flag travels on each hop's request: requests sends the prepared request built here as is.
        downgraded = getattr(previous, "s2lake_downgraded", False) or (
            urlparse(previous.url).scheme == "https" and urlparse(prepared_request.url).scheme != "https"
        )
        prepared_request.s2lake_downgraded = downgraded  # type: ignore[attr-defined]
        old, new = urlparse(previous.url), urlparse(prepared_request.url)
        if (
            response.status_code in (301, 308)
            and not downgraded
            and (old.path, old.query) == (new.path, new.query)
            and old.netloc != new.netloc
            and self.auth is not None
            and self.auth.allows(prepared_request.url)
        ):
            self._moves[f"{old.scheme}://{old.netloc}"] = f"{new.scheme}://{new.netloc}"
        if not downgraded and self.auth is not None:
            self.auth(prepared_request)
