"""Credentials and authentication plugins.

Credentials are resolved from the places the mirror's configuration names (environment variables,
a netrc host, the configuration file), in that order. They are held in :class:`Credentials`, whose
repr and str never show the password, so they cannot leak into logs, tables or error messages.
"""

from __future__ import annotations

import netrc
import os
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse

import requests

from s2lake.config.ingest import MirrorSettings
from s2lake.errors import CatalogueError

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


class Auth:
    """Adds whatever a mirror needs to a request; ``refresh`` is called after a 401."""

    def headers(self) -> dict[str, str]:
        return {}

    def basic(self) -> tuple[str, str] | None:
        return None

    def refresh(self) -> None:
        return None


class BasicAuth(Auth):
    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials

    def basic(self) -> tuple[str, str] | None:
        return (self._credentials.username, self._credentials.password)


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

    def __init__(self, token_url: str, client_id: str, credentials: Credentials, timeout: float = 30.0) -> None:
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

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    def refresh(self) -> None:
        with self._lock:
            self._access = None


def auth_for(mirror: MirrorSettings) -> Auth:
    """The authentication plugin a mirror needs, from its configuration."""
    credentials = resolve_credentials(mirror)
    if credentials is None:
        return Auth()
    if mirror.token_url:
        return KeycloakAuth(mirror.token_url, mirror.client_id, credentials)
    return BasicAuth(credentials)
