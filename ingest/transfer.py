"""HTTP transfer of one product archive into a ``.part`` file, resumable with ``Range``.

Redirects are followed by hand: requests drops the ``Authorization`` header when a redirect leaves
the host, but CDSE redirects ``catalogue.dataspace.copernicus.eu/odata/v1/Products(<Id>)/$value`` to
its download host and needs the bearer token there too (CDSE's own example uses
``curl --location-trusted`` for this).
Errors are classified so the scheduler knows whether to retry, wait, switch mirror or give up.
"""

from __future__ import annotations

from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urljoin

import requests

from ingest.auth import Auth

MAX_REDIRECTS = 10


class TransferError(Exception):
    """A transfer failed; the ``.part`` file is kept so the next attempt resumes."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Throttled(TransferError):
    """HTTP 429 (or 503 with Retry-After): wait ``retry_after`` seconds before asking this mirror again."""

    def __init__(self, reason: str, retry_after: float) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Offline(TransferError):
    """The product is in the long-term archive; the request triggered its retrieval (HTTP 202)."""


class Gone(TransferError):
    """The mirror does not have the product (404/410): no point retrying there."""


def retry_after_seconds(value: str | None, default: float = 30.0) -> float:
    """Retry-After as seconds (it may be a number of seconds or an HTTP date)."""
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from datetime import UTC, datetime

        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return default


def open_url(session: requests.Session, url: str, headers: dict[str, str], auth: Auth, timeout: float):
    for _ in range(MAX_REDIRECTS):
        response = session.get(
            url, headers=headers, auth=auth.basic(), stream=True, timeout=timeout, allow_redirects=False
        )
        if response.status_code in (301, 302, 303, 307, 308) and "Location" in response.headers:
            url = urljoin(url, response.headers["Location"])
            response.close()
            continue
        return response
    raise TransferError(f"more than {MAX_REDIRECTS} redirects")


def fetch(
    session: requests.Session,
    url: str,
    part: Path,
    auth: Auth,
    *,
    timeout: float,
    chunk_bytes: int,
    expected_size: int | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> int:
    """Download ``url`` into ``part`` (resuming what is there); return the final size in bytes."""
    existing = part.stat().st_size if part.exists() else 0
    if expected_size and existing > expected_size:
        part.unlink()
        existing = 0
    if expected_size and existing == expected_size:
        return existing
    try:
        for attempt in range(2):
            headers = dict(auth.headers())
            if existing:
                headers["Range"] = f"bytes={existing}-"
            response = open_url(session, url, headers, auth, timeout)
            if response.status_code == 401 and attempt == 0:
                response.close()
                auth.refresh()  # expired token: get a new one once
                continue
            break
        status = response.status_code
        if status == 429 or (status == 503 and "Retry-After" in response.headers):
            raise Throttled(f"HTTP {status}", retry_after_seconds(response.headers.get("Retry-After")))
        if status == 202:
            raise Offline("offline product, retrieval triggered (HTTP 202)")
        if status in (404, 410):
            raise Gone(f"HTTP {status}")
        if status == 416 and existing:
            part.unlink()
            raise TransferError("HTTP 416 on resume; restarting from zero")
        if status not in (200, 206):
            raise TransferError(f"HTTP {status}")
        if status == 200 and existing:
            existing = 0  # the server ignored Range: start over
        if on_bytes and existing:
            on_bytes(existing)
        announced = response.headers.get("Content-Length")
        written = 0
        with part.open("ab" if status == 206 else "wb") as out:
            for block in response.iter_content(chunk_bytes):
                out.write(block)
                written += len(block)
                if on_bytes:
                    on_bytes(len(block))
        if announced is not None and written != int(announced):
            raise TransferError(f"connection closed after {written} of {announced} bytes")
        return existing + written
    except requests.RequestException as exc:
        raise TransferError(f"{type(exc).__name__}: {str(exc)[:160]}") from None
