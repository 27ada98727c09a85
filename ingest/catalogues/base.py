"""The interface every catalogue backend implements, and what they share."""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

from ingest.auth import Auth, MirrorSession, auth_for
from ingest.products import Offer, Product
from s2lake.config.ingest import MirrorSettings

#: Product types of Sentinel-2 MSI by processing level (DHuS producttype, CDSE productType).
PRODUCT_TYPES = {"L1C": "S2MSI1C", "L2A": "S2MSI2A"}


@dataclass(frozen=True)
class SearchQuery:
    """A search: an area (WKT lon/lat) and/or MGRS tiles, a time window, a level and a cloud ceiling."""

    start: datetime
    end: datetime
    geometry_wkt: str | None = None
    tiles: tuple[str, ...] = ()
    level: str = "L2A"
    max_cloud: float = 100.0

    def accepts(self, product: Product) -> bool:
        """Client-side filter so every backend returns the same answer for the same query."""
        if self.tiles and product.tile not in self.tiles:
            return False
        if product.level and product.level != self.level:
            return False
        return product.cloud_cover is None or product.cloud_cover <= self.max_cloud


class RateLimiter:
    """At most ``rate`` requests per second to one mirror, shared by every thread using it."""

    def __init__(self, rate: float | None) -> None:
        self._interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self._interval:
            return
        with self._lock:
            now = time.monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + self._interval
        if delay > 0:
            time.sleep(delay)


class Catalogue(ABC):
    """A mirror's search side, and the :class:`MirrorSession` its downloads (:mod:`ingest.transfer`) go through."""

    def __init__(self, mirror: MirrorSettings) -> None:
        self.mirror = mirror
        self.name = mirror.name
        self.limiter = RateLimiter(mirror.rate_limit)
        self._auth: Auth | None = None
        self._session: MirrorSession | None = None
        self._lock = threading.Lock()

    @property
    def auth(self) -> Auth:
        """Resolved on first use, so a mirror with missing credentials fails its own requests only."""
        with self._lock:
            if self._auth is None:
                self._auth = auth_for(self.mirror)
            return self._auth

    @property
    def session(self) -> MirrorSession:
        """One session per mirror (shared by the threads using it), carrying its credentials where allowed."""
        auth = self.auth
        with self._lock:
            if self._session is None:
                self._session = MirrorSession(auth)
            return self._session

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None

    @abstractmethod
    def search(self, query: SearchQuery) -> list[Product]:
        """Every product matching the query, each with this mirror's :class:`Offer`."""

    @abstractmethod
    def count_all(self, level: str) -> int:
        """Total products of the level the mirror offers (for ranking)."""

    def is_online(self, offer: Offer) -> bool:
        """Whether an offline product's retrieval finished; default: ask by downloading again."""
        return True

    def file_url(self, offer: Offer, product_name: str, rel: str) -> str | None:
        """URL of one file of the product (``rel`` below the SAFE root), or None when the mirror offers
        no per-file access to it; default: none."""
        return None

    def quicklook_url(self, offer: Offer) -> str | None:
        """URL of the product's quicklook image, or None when this catalogue has none; default: what search
        found (STAC assets)."""
        return offer.quicklook

    def prepare(self, offer: Offer) -> Offer:
        """Last-minute details of an offer before download (checksum, online flag); default: as found."""
        return offer
