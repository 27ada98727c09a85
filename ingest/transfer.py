"""HTTP transfer of one product archive into a ``.part`` file, resumable with ``Range``, bounded in size and time.

Requests go through the mirror's :class:`~ingest.auth.MirrorSession`, which follows redirects and
decides at every hop whether the credentials may go along (CDSE redirects its catalogue's ``$value``
to its download host, an origin its configuration allows; see :mod:`ingest.auth`).

A mirror is a server s2lake does not control, and ``get`` runs unattended, so every transfer is bounded:

* Size: never more bytes than declared — the catalogue's size, else the server's Content-Length, else
  ``max_download_bytes``. A longer body is an oversize download: the ``.part`` file is removed and the
  product retried, as for a corrupt one.
* Time: a transfer slower than ``stall_rate_bytes`` over ``stall_window_seconds`` is stalled, one
  running past ``deadline_base_seconds + size / deadline_rate_bytes`` is overdue; both abort, keep the
  ``.part`` file (its bytes are checked by size and checksum at the end) and count as a mirror fault.

Errors are :class:`~s2lake.errors.DownloadError` and its subclasses, classified so the scheduler knows
whether to retry, wait, switch mirror or give up.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Protocol

import requests
import urllib3

from ingest.auth import MirrorSession
from s2lake.config.ingest import SchedulerSettings
from s2lake.errors import DownloadError

#: Progress samples kept per stall window (the rate is measured over at least one window).
SAMPLES_PER_WINDOW = 32


class Throttled(DownloadError):
    """HTTP 429 (or 503 with Retry-After): wait ``retry_after`` seconds before asking this mirror again."""

    def __init__(self, reason: str, retry_after: float) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Offline(DownloadError):
    """The product is in the long-term archive; the request triggered its retrieval (HTTP 202)."""


class Gone(DownloadError):
    """The mirror does not have the product (404/410): no point retrying there."""


class Refused(DownloadError):
    """HTTP 401 (after one token refresh) or 403: the mirror does not accept these credentials."""


class Oversize(DownloadError):
    """The server sent more than was declared: the partial file is removed, never resumed."""


@dataclass(frozen=True)
class TransferLimits:
    """Bounds of one transfer (see the module docstring); defaults are :class:`SchedulerSettings`'."""

    stall_rate: int = 1024
    stall_window: float = 30.0
    deadline_base: float = 600.0
    deadline_rate: int = 100 * 1024
    max_bytes: int = 8 << 30

    @classmethod
    def from_settings(cls, cfg: SchedulerSettings) -> TransferLimits:
        return cls(
            stall_rate=cfg.stall_rate_bytes,
            stall_window=cfg.stall_window_seconds,
            deadline_base=cfg.deadline_base_seconds,
            deadline_rate=cfg.deadline_rate_bytes,
            max_bytes=cfg.max_download_bytes,
        )


class Pace:
    """Aborts a transfer that stalls or overruns its deadline.

    Written by hand: requests and urllib3 bound each socket read only, which a server sending a byte
    per read never trips, and offer no total deadline (curl's LOW_SPEED_LIMIT / LOW_SPEED_TIME is the
    model here). The body is read with ``read1`` so a check runs whenever any bytes arrive.
    """

    def __init__(self, limits: TransferLimits) -> None:
        self.limits = limits
        self.started = time.monotonic()
        self.deadline = self.started + limits.deadline_base
        self._samples: deque[tuple[float, int]] = deque([(self.started, 0)])

    def expect(self, size: int) -> None:
        """The transfer's size is known: its deadline scales with it."""
        self.deadline = self.started + self.limits.deadline_base + size / self.limits.deadline_rate

    def check(self, total: int) -> None:
        """``total`` bytes have arrived so far; raise :class:`DownloadError` if too slow or too late."""
        now = time.monotonic()
        if now > self.deadline:
            raise DownloadError(
                f"transfer overdue: {total} bytes after {now - self.started:.1f} s, deadline "
                f"{self.deadline - self.started:.1f} s"
            )
        window = self.limits.stall_window
        samples = self._samples
        if now - samples[-1][0] >= window / SAMPLES_PER_WINDOW:
            samples.append((now, total))
        while len(samples) > 1 and samples[1][0] <= now - window:
            samples.popleft()
        since, before = samples[0]
        if now - since >= window and (total - before) / (now - since) < self.limits.stall_rate:
            raise DownloadError(
                f"transfer stalled: {total - before} bytes in {now - since:.1f} s, "
                f"below {self.limits.stall_rate} bytes/s"
            )


class Bound(Protocol):
    """Where a transfer of part of a file has to stop; the end may move closer while it runs (another
    connection took over the rest, :mod:`ingest.endgame`)."""

    def clip(self, position: int, size: int) -> tuple[int, bool]:
        """Of ``size`` bytes arriving at file offset ``position``: how many to keep, and whether more are wanted."""
        ...


def retry_after_seconds(value: str | None, default: float = 30.0) -> float:
    """Retry-After as seconds (it may be a number of seconds or an HTTP date)."""
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:

        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return default


def classify(status: int, headers: Mapping[str, str]) -> None:
    """Raise the error a status other than 200 or 206 means (for a transfer or a request before one)."""
    if status == 429 or (status == 503 and "Retry-After" in headers):
        raise Throttled(f"HTTP {status}", retry_after_seconds(headers.get("Retry-After")))
    if status == 202:
        raise Offline("offline product, retrieval triggered (HTTP 202)")
    if status in (404, 410):
        raise Gone(f"HTTP {status}")
    if status in (401, 403):
        raise Refused(f"HTTP {status}: the mirror refused the credentials")
    if status not in (200, 206):
        raise DownloadError(f"HTTP {status}")


def _classify(response: requests.Response, part: Path, resuming: bool) -> None:
    """Raise the error a non-success status means."""
    if response.status_code == 416 and resuming:
        part.unlink()
        raise DownloadError("HTTP 416 on resume; restarting from zero")
    classify(response.status_code, response.headers)


def body_blocks(response: requests.Response, cap: int, pace: Pace, chunk_bytes: int) -> Iterator[bytes]:
    """The body as it arrives (``read1``: whatever bytes are there, so ``pace`` checks every arrival);
    :class:`Oversize` before a block would pass ``cap`` bytes."""
    received = 0
    while block := response.raw.read1(chunk_bytes, decode_content=True):
        received += len(block)
        if received > cap:
            raise Oversize(f"server sent more than the {cap} bytes expected")
        yield block
        pace.check(received)


def fetch(
    session: MirrorSession,
    url: str,
    part: Path,
    *,
    timeout: float,
    chunk_bytes: int,
    limits: TransferLimits | None = None,
    expected_size: int | None = None,
    on_bytes: Callable[[int], None] | None = None,
    offset: int = 0,
    bound: Bound | None = None,
) -> int:
    """Download ``url`` into ``part`` (resuming what is there); return the size of ``part`` in bytes.

    With ``offset``, ``part`` holds the file from that byte on (a piece another connection took over,
    asked for with ``Range``); with ``bound``, the transfer stops where the bound says, closing the
    connection, instead of at the end of the file.
    """
    limits = limits or TransferLimits()
    existing = part.stat().st_size if part.exists() else 0
    if expected_size and offset + existing > expected_size:
        part.unlink()
        existing = 0
    if expected_size and offset + existing == expected_size:
        return existing
    pace = Pace(limits)
    try:
        for attempt in range(2):
            start = offset + existing
            headers = {"Range": f"bytes={start}-"} if start else {}
            response = session.get(url, headers=headers, stream=True, timeout=timeout)
            if response.status_code == 401 and attempt == 0:
                response.close()
                session.auth.refresh()  # expired token: get a new one once
                continue
            break
        with response:
            _classify(response, part, resuming=bool(existing))
            if response.status_code == 200:
                if offset:
                    raise DownloadError(f"the server ignored the Range request for bytes {offset}- (HTTP 200)")
                existing = 0  # a whole body (also when the server ignored Range): start over
            if on_bytes and existing:
                on_bytes(existing)
            announced = response.headers.get("Content-Length")
            cap = (expected_size or limits.max_bytes) - offset - existing
            if announced is not None and int(announced) > cap:
                raise Oversize(f"server announces {int(announced)} bytes, {cap} expected")
            if announced is not None:
                cap = int(announced)
            pace.expect(cap)
            written = 0
            more = True
            with part.open("ab" if existing else "wb") as out:
                for block in body_blocks(response, cap, pace, chunk_bytes):
                    if bound is not None:
                        keep, more = bound.clip(offset + existing + written, len(block))
                        block = block[:keep]
                    out.write(block)
                    written += len(block)
                    if on_bytes:
                        on_bytes(len(block))
                    if not more:
                        break  # the rest is another connection's: closing the response drops this one
        if more and announced is not None and written != int(announced):
            raise DownloadError(f"connection closed after {written} of {announced} bytes")
        return existing + written
    except Oversize:
        part.unlink(missing_ok=True)  # bytes past the declared end: nothing here is worth resuming from
        raise
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        raise DownloadError(f"{type(exc).__name__}: {str(exc)[:160]}") from None
