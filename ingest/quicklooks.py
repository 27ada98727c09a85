"""Quicklooks of a product list (``s2lake ingest describe --quicklooks DIR``): one small preview image per
product, to look at a selection before downloading gigabytes.

Each catalogue says where its quicklook is (:meth:`~ingest.catalogues.base.Catalogue.quicklook_url`):
DHuS ``Products('<uuid>')/Products('Quicklook')/$value``, CDSE the ``QUICKLOOK`` asset of
``Products(<Id>)/Assets``, STAC the item's ``thumbnail`` or ``rendered_preview`` asset. The bytes come
through the mirror's session (its credentials, only to its allowed origins) with the bounds of a
download (:func:`~ingest.transfer.fetch`), under the same per-mirror and global connection limits; a
failed attempt goes to another mirror offering the product, up to ``max_attempts``.

A quicklook is written as ``.<product>.quicklook.part`` and renamed to ``<product>.jpg`` or ``.png`` only
once every byte is there and its first bytes say which of the two it is (the server's Content-Type is
not trusted: a 200 answer may be an HTML error page), so a file with the final name is always whole.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ingest.catalogues import Catalogue, open_catalogue
from ingest.products import Product
from ingest.transfer import Gone, Refused, Throttled, TransferLimits, fetch
from s2lake.config.ingest import IngestSettings, MirrorSettings
from s2lake.contained_paths import inside
from s2lake.errors import CatalogueError, DownloadError, S2LakeError, UnsafePathError
from s2lake.product_names import ProductName

log = logging.getLogger(__name__)

#: Largest quicklook accepted; Sentinel-2's are 20 KB-1 MB (a 343 px JPEG on CDSE).
MAX_QUICKLOOK_BYTES = 16 << 20
#: (first bytes, last bytes, suffix) of the image formats catalogues serve quicklooks in: a JPEG ends with its
#: EOI marker, a PNG with its IEND chunk, so an image cut short at the source (whose length the server
#: announced as it is) is refused too.
SIGNATURES = ((b"\xff\xd8\xff", b"\xff\xd9", ".jpg"), (b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82", ".png"))


@dataclass
class QuicklookReport:
    saved: dict[str, str] = field(default_factory=dict)  # product -> file written
    missing: dict[str, str] = field(default_factory=dict)  # product -> why there is none to save
    failed: dict[str, str] = field(default_factory=dict)  # product -> last reason

    def as_dict(self) -> dict[str, dict[str, str]]:
        return {"saved": self.saved, "missing": self.missing, "failed": self.failed}


class Slots:
    """Connection slots: at most ``limits[mirror]`` on a mirror and ``total`` over all of them."""

    def __init__(self, limits: dict[str, int], total: int) -> None:
        self._free = dict(limits)
        self._total = total
        self._cond = threading.Condition()

    def acquire(self, names: list[str]) -> str:
        """The first of ``names`` with a free slot (waiting until one frees up), now held."""
        with self._cond:
            while True:
                if self._total > 0:
                    for name in names:
                        if self._free[name] > 0:
                            self._free[name] -= 1
                            self._total -= 1
                            return name
                self._cond.wait()

    def release(self, name: str) -> None:
        with self._cond:
            self._free[name] += 1
            self._total += 1
            self._cond.notify_all()


def image_suffix(path: Path) -> str | None:
    """``.jpg`` or ``.png`` by the file's first and last bytes, None when it is neither or is cut short."""
    data = path.read_bytes()  # at most MAX_QUICKLOOK_BYTES
    tail = data[-16:].rstrip(b"\x00\r\n ")  # some encoders pad after the end marker
    return next((suffix for head, end, suffix in SIGNATURES if data.startswith(head) and tail.endswith(end)), None)


class QuicklookFetcher:
    """Saves the quicklooks of products into one folder; see the module docstring."""

    def __init__(self, settings: IngestSettings, mirrors: list[MirrorSettings], folder: Path) -> None:
        self.cfg = settings.scheduler
        self.folder = folder
        self.catalogues: dict[str, Catalogue] = {m.name: open_catalogue(m) for m in mirrors if m.enabled}
        self.slots = Slots({m.name: m.max_connections for m in mirrors if m.enabled}, self.cfg.max_connections)
        self.limits = dataclasses.replace(TransferLimits.from_settings(self.cfg), max_bytes=MAX_QUICKLOOK_BYTES)
        self.refused: dict[str, str] = {}  # mirror -> why its credentials are not usable (for every product)
        self.report = QuicklookReport()
        self._lock = threading.Lock()

    def run(self, products: list[Product]) -> QuicklookReport:
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            with ThreadPoolExecutor(max_workers=self.cfg.max_connections, thread_name_prefix="quicklook") as pool:
                for _ in pool.map(self._product, products):
                    pass
        finally:
            for catalogue in self.catalogues.values():
                catalogue.close()
        return self.report

    def _product(self, product: Product) -> None:
        pid = product.product_id
        try:
            ProductName.require(pid, where="the product list's product id")
        except UnsafePathError as exc:  # the id names the file: a hostile one never reaches the disk
            self._record(self.report.failed, pid, exc.message)
            return
        part = inside(self.folder, f".{pid}.quicklook.part")
        try:
            outcome = self._attempts(product, part)
        finally:
            part.unlink(missing_ok=True)  # saved (renamed away) or given up: no partial file stays behind
        if outcome is None:
            return
        kind, reason = outcome
        self._record(self.report.missing if kind == "missing" else self.report.failed, pid, reason)

    def _attempts(self, product: Product, part: Path) -> tuple[str, str] | None:
        """Try the mirrors offering the product until one gives the image; None when saved, else
        ("missing" | "failed", reason)."""
        pid = product.product_id
        mirrors = [m for m in product.offers if m in self.catalogues]
        if not mirrors:
            return "missing", "no configured mirror offers this product"
        without: list[str] = []  # mirrors whose catalogue has no quicklook of it
        failures: dict[str, int] = {}
        attempts, last, pause = 0, "", 0.0
        while attempts < self.cfg.max_attempts:
            time.sleep(pause)  # a 429's Retry-After, waited without holding a connection slot
            pause = 0.0
            candidates = [m for m in mirrors if m not in without and m not in self.refused]
            if not candidates:
                break
            # Mirrors it failed on least come first, then the configured order.
            candidates.sort(key=lambda m: failures.get(m, 0))
            name = self.slots.acquire(candidates)
            try:
                if self._save(product, name, part):
                    return None
                without.append(name)
            except Gone:
                without.append(name)
            except Throttled as exc:
                last, pause = f"{name}: {exc.what}", min(exc.retry_after, self.cfg.max_retry_after_seconds)
                attempts += 1
            except Refused as exc:
                self._refuse(name, f"{name} refused the credentials ({exc.what}): check its user name and password")
            except CatalogueError as exc:  # the token endpoint refused them, or they are not set
                self._refuse(name, f"{name}: {exc.message}")
            except S2LakeError as exc:  # a dropped, stalled, oversize or non-image transfer
                last = f"{name}: {exc.what}"
                log.info("quicklook of %s failed on %s: %s", pid, name, exc.what)
                failures[name] = failures.get(name, 0) + 1
                attempts += 1
            finally:
                self.slots.release(name)
        refused = [self.refused[m] for m in mirrors if m in self.refused]
        if attempts >= self.cfg.max_attempts:
            return "failed", f"gave up after {attempts} attempts; last: {last}"
        if refused:
            return "failed", "; ".join(refused)
        if last:
            return "failed", last
        return "missing", f"no quicklook in the catalogue of {', '.join(without)}"

    def _save(self, product: Product, name: str, part: Path) -> bool:
        """Fetch the quicklook from mirror ``name`` and give it its final name; False when that catalogue has
        none. The part file starts empty: another mirror's image may differ, so its bytes are never resumed."""
        catalogue = self.catalogues[name]
        catalogue.limiter.wait()
        url = catalogue.quicklook_url(product.offers[name])
        if url is None:
            return False
        part.unlink(missing_ok=True)
        catalogue.limiter.wait()
        fetch(
            catalogue.session,
            url,
            part,
            timeout=self.cfg.timeout_seconds,
            chunk_bytes=self.cfg.chunk_bytes,
            limits=self.limits,
        )
        suffix = image_suffix(part)
        if suffix is None:
            raise DownloadError("the answer is not a whole JPEG or PNG image")
        final = inside(self.folder, product.product_id + suffix)
        part.replace(final)  # one rename: the final name only ever holds a whole image
        self._record(self.report.saved, product.product_id, str(final))
        return True

    def _refuse(self, mirror: str, reason: str) -> None:
        with self._lock:
            if mirror not in self.refused:
                log.warning("mirror %s: %s", mirror, reason)
                self.refused[mirror] = reason

    def _record(self, where: dict[str, str], pid: str, value: str) -> None:
        with self._lock:
            where[pid] = value


def save_quicklooks(
    products: list[Product], settings: IngestSettings, mirrors: list[MirrorSettings], folder: Path
) -> QuicklookReport:
    """Save every product's quicklook into ``folder`` (see the module docstring)."""
    return QuicklookFetcher(settings, mirrors, folder).run(products)
