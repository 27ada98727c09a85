"""The download scheduler behind ``s2lake ingest get``.

Each product moves queued → downloading → verifying → extracting → landed, or failed(reason); every
transition is committed to the state store first, so a killed run resumes where it stopped.

Choices, and why:

* Most widely available products go first: they have the most mirrors to choose from, so taking
  them early keeps every mirror busy while rare products still have their only mirror free later.
* A product goes to the best-ranked mirror that has a free connection, preferring mirrors it has not
  failed on yet; global and per-mirror connection limits are never exceeded.
* A mirror failing ``bench_after`` times in a row rests for ``bench_seconds``; 429 pauses only that
  mirror for the Retry-After; an offline (LTA) product waits ``lta_poll_seconds`` and is asked again.
* A corrupt archive is deleted and the product re-queued (on another mirror if there is one), whether
  verification or extraction (a member's CRC) finds it; a partial extraction is removed with it.
* A transfer that sends more than declared, stalls or overruns its deadline (:mod:`ingest.transfer`)
  is a mirror fault like a dropped connection: retried, and it counts towards benching the mirror.
* With ``bands: patches`` (the default) an L2A product whose mirror gives single files is fetched file
  by file (:mod:`ingest.band_download`) instead of whole: the same connection slot, retries and
  benching, each file checked against ``manifest.safe``, and landed only when all are there.
* When no product can start on a mirror with a free connection (at the end of a run), that connection
  takes the next file of a product under way that the mirror offers (:class:`ingest.band_download.SharedFiles`),
  so the last products are not left to one connection each while the others stand idle. Such a helper
  holds a connection slot like any transfer: the per-mirror and global limits stay exact.
* When no file is left to take either, the idle connection takes over the end of the file transfer that
  would finish last (:mod:`ingest.endgame`, with ``Range``), split by measured speeds so both end together;
  the fastest mirror with a free connection goes first. The file is still checked once, whole.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import threading
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from ingest.band_download import FetchedFiles, FileFetcher, NoFileAccess, SharedFiles
from ingest.catalogues import Catalogue, open_catalogue
from ingest.endgame import Piece, Speeds, Transfer
from ingest.extract import UnsafeArchive, extract_archive
from ingest.landing import known_products, land_tree, upsert_products, warm_product_rows
from ingest.products import Offer, Product
from ingest.state import DOWNLOADING, EXTRACTING, FAILED, LANDED, QUEUED, VERIFYING, StateStore
from ingest.transfer import Gone, Offline, Throttled, TransferLimits, fetch
from ingest.verify import CorruptArchive, verify_archive
from s2lake.config.ingest import IngestSettings, MirrorSettings
from s2lake.contained_paths import inside
from s2lake.errors import ArchiveError, DownloadError, S2LakeError, UnsafePathError
from s2lake.product_names import ProductName
from s2lake.warehouse import Warehouse

log = logging.getLogger(__name__)

#: Longest idle wait of a worker; it is woken earlier whenever a slot frees up.
IDLE_WAIT_SECONDS = 0.5
#: 429 answers to one product that count as one failed attempt.
THROTTLES_PER_ATTEMPT = 10
#: Archives extracted at once (processes), while downloads go on.
LANDING_WORKERS = 2
#: What a landed product's row records: ("all" or "patches", files, bytes).
Fetched = tuple[str, int | None, int]


@dataclass
class MirrorState:
    settings: MirrorSettings
    catalogue: Catalogue
    score: float
    active: int = 0
    consecutive_failures: int = 0
    benched_until: float = 0.0
    paused_until: float = 0.0  # Retry-After of a 429

    def usable(self, now: float) -> bool:
        return self.benched_until <= now and self.paused_until <= now and self.active < self.settings.max_connections


@dataclass
class Lease:
    """One connection slot on a mirror, held from the start of a transfer to its end."""

    mirror: MirrorState
    released: bool = False


@dataclass
class Job:
    product: Product
    attempts: int = 0
    not_before: float = 0.0
    first_offline: float | None = None
    failures: dict[str, int] = field(default_factory=dict)  # mirror -> failures of this product there
    excluded: set[str] = field(default_factory=set)  # mirrors that cannot serve this product
    whole: set[str] = field(default_factory=set)  # mirrors that do not serve this product's files one by one
    last_reason: str | None = None
    throttled: int = 0


@dataclass
class Help:
    """One file of a product under way, fetched by an idle connection of ``lease``'s mirror."""

    job: Job
    work: SharedFiles
    rel: str
    fetcher: FileFetcher
    piece: tuple[Transfer, Piece] | None = None  # the end of a transfer under way, instead of a whole file


@dataclass
class GetReport:
    landed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    bytes: int = 0
    seconds: float = 0.0  # the whole run, landing in the products table included
    transfer_seconds: float = 0.0  # from the first transfer's start to the last one's end


class Scheduler:
    def __init__(
        self,
        settings: IngestSettings,
        warehouse: Warehouse,
        ranks: dict[str, float] | None = None,
        progress: object | None = None,
        mirrors: list[MirrorSettings] | None = None,
    ) -> None:
        self.settings = settings
        self.cfg = settings.scheduler
        self.warehouse = warehouse
        self.state = StateStore(state_dir(warehouse) / "ingest.sqlite")
        self.parts = state_dir(warehouse) / "downloads"
        self.parts.mkdir(parents=True, exist_ok=True)
        self.staging = state_dir(warehouse) / "staging"
        self.bands = state_dir(warehouse) / "bands"  # partial SAFEs of band-level downloads, kept to resume
        configured = mirrors if mirrors is not None else settings.mirrors
        ranks = ranks or {}
        self.mirrors: dict[str, MirrorState] = {}
        for position, mirror in enumerate(m for m in configured if m.enabled):
            # Unranked mirrors keep their configured order, below every ranked one.
            score = ranks.get(mirror.name, -1.0 - position * 1e-3)
            self.mirrors[mirror.name] = MirrorState(mirror, open_catalogue(mirror), score)
        self.progress = progress
        self._limits = TransferLimits.from_settings(self.cfg)
        self._cond = threading.Condition()
        self._queue: list[Job] = []
        self._in_flight = 0  # attempts under way (downloading, verifying or extracting)
        self._downloads = 0  # open connections over all mirrors
        self._report = GetReport()
        self._overall: int | None = None
        self._first_transfer = 0.0
        self._last_transfer = 0.0
        self._pool: ProcessPoolExecutor | None = None  # extraction processes, started with the first archive
        self._shared: dict[str, tuple[Job, SharedFiles]] = {}  # products whose files idle connections may take
        self._speeds = Speeds()  # bytes/s of one connection per mirror, for endgame splits

    # -- public -----------------------------------------------------------------------------------
    def run(self, products: list[Product]) -> GetReport:
        started = time.monotonic()
        queued = self.state.enqueue(products)
        queued_ids = {p.product_id for p in queued}
        self._report.skipped = [p.product_id for p in products if p.product_id not in queued_ids]
        self._queue = [Job(p) for p in queued if self._named_safely(p)]
        # Most widely available first; then by name for a stable order.
        self._queue.sort(key=lambda j: (-len(j.product.offers), j.product.product_id))
        if self.progress is not None:
            self._overall = self.progress.add_task("products", total=len(self._queue))
        threading.Thread(target=warm_product_rows, args=(queued,), name="grid", daemon=True).start()
        if self.settings.bands == "all":
            self._extractor()  # every product is an archive: its processes start while the first transfers run
        self._landers = ThreadPoolExecutor(max_workers=LANDING_WORKERS, thread_name_prefix="landing")
        try:
            workers = [
                threading.Thread(target=self._worker, name=f"ingest-{i}", daemon=True)
                # One more than the connections: a worker verifying an archive holds no connection.
                for i in range(min(self.cfg.max_connections + 1, max(1, len(self._queue))))
            ]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
        finally:
            self._landers.shutdown(wait=True)
            if self._pool is not None:
                self._pool.shutdown(wait=True)
            for mirror in self.mirrors.values():
                mirror.catalogue.close()
        # Rows for what this run did, plus products a killed run landed but never wrote to the table;
        # products already in the table are left alone (a later stage may have marked them patched).
        missing = set(self._report.skipped) - known_products(self.warehouse)
        ids = queued_ids | missing
        done = [s for s in self.state.all() if s.product.product_id in ids and s.status in (LANDED, FAILED)]
        upsert_products(self.warehouse, done)
        self.state.close()
        self._report.seconds = time.monotonic() - started
        if self._first_transfer and self._last_transfer:
            self._report.transfer_seconds = self._last_transfer - self._first_transfer
        return self._report

    def _named_safely(self, product: Product) -> bool:
        """Whether the product's name may name files; if not it fails now, before any byte is fetched.

        Its id becomes the download, staging and landing names, so a catalogue answering ``../../x``
        (or anything else that is not a Sentinel-2 product name) must not get that far; the refusal is
        the product's failure reason and the other products go on.
        """
        try:
            ProductName.require(product.product_id, where="the catalogue's product id or title")
        except UnsafePathError as exc:
            log.warning("refused product %r: %s", product.product_id[:200], exc.message)
            self._fail(Job(product), exc.message)
            return False
        return True

    # -- picking work -------------------------------------------------------------------------------
    def _candidates(self, job: Job) -> list[MirrorState]:
        found = []
        for name, offer in job.product.offers.items():
            mirror = self.mirrors.get(name)
            if mirror is None or name in job.excluded:
                continue
            if offer.url or self._by_files(job, mirror, offer):
                found.append(mirror)
        return found

    def _by_files(self, job: Job, mirror: MirrorState, offer: Offer) -> bool:
        """Whether to fetch the patch job's files only: ``bands: patches``, an L2A product (the level the
        patch job reads) and a mirror that gives this product's files one by one."""
        product = job.product
        parts = ProductName.parse(product.product_id)
        return (
            self.settings.bands == "patches"
            and mirror.settings.name not in job.whole
            and parts is not None
            and parts.level == "L2A"
            and bool(mirror.catalogue.file_url(offer, product.name, "manifest.safe"))
        )

    def _take(self) -> tuple[Job | Help, MirrorState] | None:
        """Next (product, mirror) pair, or a file to help with, waiting while everything is busy; None when
        all work is done."""
        with self._cond:
            while True:
                now = time.monotonic()
                for job in list(self._queue) if self._downloads < self.cfg.max_connections else []:
                    candidates = self._candidates(job)
                    if not candidates:
                        self._queue.remove(job)
                        self._fail(job, self._no_mirror_reason(job))
                        continue
                    if job.not_before > now:
                        continue
                    free = [m for m in candidates if m.usable(now)]
                    if not free:
                        continue
                    best = min(free, key=lambda m: (job.failures.get(m.settings.name, 0), -m.score))
                    self._queue.remove(job)
                    best.active += 1
                    self._downloads += 1
                    self._in_flight += 1
                    return job, best
                if self._downloads < self.cfg.max_connections and (task := self._help(now)) is not None:
                    return task
                if not self._queue and self._in_flight == 0:
                    self._cond.notify_all()
                    return None
                self._cond.wait(self._next_wakeup(now))

    def _help(self, now: float) -> tuple[Help, MirrorState] | None:
        """A file of a product under way for a free connection no queued product can use, else the end of
        the transfer that would finish last (under ``_cond``)."""
        for job, work in self._shared.values():
            for mirror in sorted(self._candidates(job), key=lambda m: -m.score):
                if (serves := self._serves(job, mirror, now)) is None:
                    continue
                if (rel := work.take(helper=serves)) is not None:
                    return self._helper(job, work, rel, mirror), mirror
        for job, work in sorted(self._shared.values(), key=lambda shared: -shared[1].slowest()):
            # The fastest connection first: it takes the largest share of the rest.
            for mirror in sorted(self._candidates(job), key=lambda m: -(self._speeds.get(m.settings.name) or 0)):
                if (serves := self._serves(job, mirror, now)) is None:
                    continue
                if (piece := work.steal(serves, mirror.settings.name, self._speeds.get(mirror.settings.name))) is None:
                    continue
                help = self._helper(job, work, piece[0].rel, mirror)
                help.piece = piece
                return help, mirror
        return None

    def _serves(self, job: Job, mirror: MirrorState, now: float) -> Callable[[str], bool] | None:
        """Which files of ``job`` a free connection of ``mirror`` can fetch, or None when it can take none."""
        offer = job.product.offers[mirror.settings.name]
        if not mirror.usable(now) or not self._by_files(job, mirror, offer):
            return None
        catalogue, name = mirror.catalogue, job.product.name
        return lambda rel: bool(catalogue.file_url(offer, name, rel))

    def _helper(self, job: Job, work: SharedFiles, rel: str, mirror: MirrorState) -> Help:
        """A helper's task on a connection of ``mirror``, whose slot it takes now (under ``_cond``)."""
        mirror.active += 1
        self._downloads += 1
        fetcher = FileFetcher(
            mirror.catalogue,
            job.product.offers[mirror.settings.name],
            job.product.product_id,
            inside(self.bands, job.product.product_id),
            self.cfg.timeout_seconds,
            self.cfg.chunk_bytes,
            self._limits,
            cond=self._cond,
            speeds=self._speeds,
        )
        return Help(job, work, rel, fetcher)

    def _share(self, job: Job) -> Callable[[SharedFiles | None], None]:
        """Show (or, with None, withdraw) a product's remaining files to idle connections."""

        def share(work: SharedFiles | None) -> None:
            with self._cond:
                if work is None:
                    self._shared.pop(job.product.product_id, None)
                else:
                    self._shared[job.product.product_id] = (job, work)
                self._cond.notify_all()

        return share

    def _next_wakeup(self, now: float) -> float:
        times = [j.not_before for j in self._queue if j.not_before > now]
        times += [m.benched_until for m in self.mirrors.values() if m.benched_until > now]
        times += [m.paused_until for m in self.mirrors.values() if m.paused_until > now]
        return max(0.01, min([IDLE_WAIT_SECONDS, *(t - now for t in times)]))

    def _no_mirror_reason(self, job: Job) -> str:
        if job.excluded:
            return f"no usable mirror left; last: {job.last_reason}"
        return "no configured mirror offers a download for it"

    # -- doing work ---------------------------------------------------------------------------------
    def _extractor(self) -> ProcessPoolExecutor | None:
        """The extraction processes (None when archives are kept as zips), started on the first call: at the
        start of a ``bands: all`` run, else when the first archive transfer starts. A run that fetches only
        single files never starts them (on two cores, idle start-ups slow everything else down)."""
        if not self.cfg.extract:
            return None
        with self._cond:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(max_workers=LANDING_WORKERS, mp_context=get_context("spawn"))
                self._pool.submit(int)
            return self._pool

    def _worker(self) -> None:
        while (task := self._take()) is not None:
            job, mirror = task
            lease = Lease(mirror)
            if isinstance(job, Help):
                try:
                    if job.piece is not None:
                        job.fetcher.fetch_piece(*job.piece)
                    else:
                        job.fetcher.fetch_for(job.work, job.rel)
                finally:
                    self._release(lease)
                continue
            handed_off = False
            try:
                handed_off = self._attempt(job, lease)
            except Exception as exc:  # a bug in one attempt must not stop the other workers
                log.exception("unexpected error for %s", job.product.product_id)
                self._retry(job, mirror, f"{type(exc).__name__}: {exc}", mirror_fault=False)
            finally:
                self._release(lease)
                if not handed_off:
                    with self._cond:
                        self._in_flight -= 1
                        self._cond.notify_all()

    def _release(self, lease: Lease) -> None:
        """Give the connection back (once) as soon as the transfer ends, before verify and extract."""
        with self._cond:
            if not lease.released:
                lease.released = True
                lease.mirror.active -= 1
                self._downloads -= 1
                self._cond.notify_all()

    def _attempt(self, job: Job, lease: Lease) -> bool:
        """Download and verify; True when the archive was handed to a landing thread."""
        mirror = lease.mirror
        pid = job.product.product_id
        name = mirror.settings.name
        self.state.transition(pid, DOWNLOADING, mirror=name)
        part = inside(self.parts, f"{pid}.{name}.zip.part")
        task = None
        try:
            mirror.catalogue.limiter.wait()
            offer: Offer = mirror.catalogue.prepare(job.product.offers[name])
            if offer != job.product.offers[name]:  # e.g. DHuS: size and checksum asked for only now
                job.product.offers[name] = offer
                self.state.save_product(job.product)  # the products table row shows them
            if job.first_offline is not None and not mirror.catalogue.is_online(offer):
                raise Offline("still in the long-term archive")
            by_files = self._by_files(job, mirror, offer)
            if self.progress is not None:
                task = self.progress.add_task(f"{pid[:44]} @ {name}", total=None if by_files else offer.size or None)
            with self._cond:
                self._first_transfer = self._first_transfer or time.monotonic()
            if by_files:
                fetched = FileFetcher(
                    mirror.catalogue,
                    offer,
                    pid,
                    inside(self.bands, pid),
                    self.cfg.timeout_seconds,
                    self.cfg.chunk_bytes,
                    self._limits,
                    self._bytes_callback(task),
                    share=self._share(job),
                    cond=self._cond,
                    speeds=self._speeds,
                ).run()
                self._release(lease)
                with self._cond:
                    self._last_transfer = time.monotonic()
                self.state.transition(pid, EXTRACTING, mirror=name)  # checked file by file: landing is left
                self._landers.submit(self._finish_files, job, mirror, fetched)
                return True
            extractor = self._extractor()
            size = fetch(
                mirror.catalogue.session,
                offer.url,
                part,
                timeout=self.cfg.timeout_seconds,
                chunk_bytes=self.cfg.chunk_bytes,
                limits=self._limits,
                expected_size=offer.size,
                on_bytes=self._bytes_callback(task),
            )
            self._release(lease)
            with self._cond:
                self._last_transfer = time.monotonic()
            self.state.transition(pid, VERIFYING, mirror=name)
            try:
                verify_archive(part, offer.size, offer.checksum, offer.checksum_algorithm, extracting=self.cfg.extract)
            except CorruptArchive:
                part.unlink(missing_ok=True)  # never resume from corrupt bytes
                raise
            self.state.transition(pid, EXTRACTING, mirror=name)
            self._landers.submit(self._finish_archive, job, mirror, part, size, extractor)
            return True
        except Throttled as exc:
            with self._cond:
                mirror.paused_until = time.monotonic() + min(exc.retry_after, self.cfg.max_retry_after_seconds)
            job.throttled += 1
            if job.throttled % THROTTLES_PER_ATTEMPT == 0:  # a mirror that only ever says "later" is failing
                self._retry(job, mirror, f"{name}: throttled {job.throttled} times", mirror_fault=True)
            else:
                self._requeue(job, f"{name}: {exc.what}, retry after {exc.retry_after:.0f}s")
            return False
        except Offline as exc:
            now = time.monotonic()
            job.first_offline = job.first_offline or now
            if now - job.first_offline > self.cfg.lta_timeout_seconds:
                self._fail(job, f"{name}: still offline after {self.cfg.lta_timeout_seconds:.0f}s")
                return False
            job.not_before = now + self.cfg.lta_poll_seconds
            self._requeue(job, f"{name}: {exc.what}")
            return False
        except NoFileAccess as exc:  # e.g. a DHuS without the Nodes API: the archive, right away
            job.whole.add(name)
            self._requeue(job, f"{name}: {exc.what}; fetching the whole archive")
            return False
        except Gone as exc:
            job.excluded.add(name)
            self._retry(job, mirror, f"{name}: {exc.what}", mirror_fault=False)
            return False
        except DownloadError as exc:  # a dropped, short, oversize, stalled or corrupt transfer
            self._retry(job, mirror, f"{name}: {exc.what}", mirror_fault=True)
            return False
        except S2LakeError as exc:  # e.g. the token endpoint refused the credentials, or unusable metadata
            job.excluded.add(name)
            self._retry(job, mirror, f"{name}: {exc.message}", mirror_fault=True)
            return False
        finally:
            if task is not None:
                self.progress.remove_task(task)

    def _finish_archive(
        self, job: Job, mirror: MirrorState, part: Path, size: int, extractor: ProcessPoolExecutor | None
    ) -> None:
        """Extract and land a verified archive (on a landing thread, so downloads go on meanwhile)."""

        def land() -> tuple[str, Fetched]:
            members = _member_count(part)
            return self._land(job.product.product_id, part, extractor), ("all", members, size)

        self._finish(job, mirror, land)

    def _finish_files(self, job: Job, mirror: MirrorState, fetched: FetchedFiles) -> None:
        """Land a partial SAFE whose every file matched ``manifest.safe`` (one rename on a local warehouse);
        if that fails, the checked files stay staged for the next attempt."""

        def land() -> tuple[str, Fetched]:
            storage = land_tree(self.warehouse, fetched.folder, job.product.name)
            return storage, ("patches", fetched.files, fetched.bytes)

        self._finish(job, mirror, land)

    def _finish(self, job: Job, mirror: MirrorState, land: Callable[[], tuple[str, Fetched]]) -> None:
        pid = job.product.product_id
        name = mirror.settings.name
        try:
            storage, fetched = land()
        except UnsafeArchive as exc:
            job.excluded.add(name)
            self._retry(job, mirror, f"{name}: {exc.what}", mirror_fault=False)
            return
        except CorruptArchive as exc:  # a member failed its CRC: a corrupt download, fetched again
            self._retry(job, mirror, f"{name}: {exc.what}", mirror_fault=True)
            return
        except ArchiveError as exc:  # over the size limits (a zip bomb): another mirror may have it whole
            # After CorruptArchive, which is an ArchiveError too but a fault of this one transfer.
            job.excluded.add(name)
            self._retry(job, mirror, f"{name}: {exc.message}", mirror_fault=False)
            return
        except Exception as exc:  # a failed extraction or copy: try again (from another mirror if any)
            log.exception("landing %s failed", pid)
            self._retry(job, mirror, f"landing failed: {type(exc).__name__}: {exc}", mirror_fault=False)
            return
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()
        self._landed(job, mirror, storage, fetched)

    def _landed(self, job: Job, mirror: MirrorState, storage: str, fetched: Fetched) -> None:
        pid = job.product.product_id
        self.state.transition(pid, LANDED, mirror=mirror.settings.name, storage_path=storage, fetched=fetched)
        for leftover in self.parts.glob(f"{pid}.*.part"):
            leftover.unlink(missing_ok=True)
        shutil.rmtree(inside(self.bands, pid), ignore_errors=True)
        with self._cond:
            mirror.consecutive_failures = 0
            self._report.landed.append(pid)
            self._report.bytes += fetched[2]
        self._advance()

    def _land(self, pid: str, part: Path, extractor: ProcessPoolExecutor | None) -> str:
        if extractor is None:
            staged = inside(self.parts, f"{pid}.zip")
            part.replace(staged)
            return land_tree(self.warehouse, staged, f"{pid}.zip")
        target = inside(self.staging, pid)
        if target.exists():
            shutil.rmtree(target)  # leftovers of a killed extraction
        try:
            tops = extractor.submit(extract_archive, str(part), str(target), self.settings.archive_limits).result()
        except Exception as exc:
            shutil.rmtree(target, ignore_errors=True)  # never leave a partial extraction behind
            if isinstance(exc, (UnsafeArchive, CorruptArchive, ArchiveError)):
                part.unlink(missing_ok=True)  # bad bytes: the next attempt downloads again
            raise
        safe = f"{pid}.SAFE"
        staged = target / safe if tops == [safe] else target
        uri = land_tree(self.warehouse, staged, safe)
        if target.exists() and not any(target.iterdir()):
            target.rmdir()
        part.unlink(missing_ok=True)
        return uri

    def _bytes_callback(self, task: int | None) -> Callable[[int], None] | None:
        if task is None:
            return None
        return lambda n: self.progress.advance(task, n)

    # -- outcomes -----------------------------------------------------------------------------------
    def _advance(self) -> None:
        if self.progress is not None and self._overall is not None:
            self.progress.advance(self._overall, 1)

    def _requeue(self, job: Job, detail: str) -> None:
        self.state.transition(job.product.product_id, QUEUED, reason=detail)
        with self._cond:
            self._queue.append(job)
            self._queue.sort(key=lambda j: (-len(j.product.offers), j.product.product_id))
            self._cond.notify_all()

    def _retry(self, job: Job, mirror: MirrorState, reason: str, *, mirror_fault: bool) -> None:
        name = mirror.settings.name
        log.info("%s failed on %s: %s", job.product.product_id, name, reason)
        job.attempts += 1
        job.failures[name] = job.failures.get(name, 0) + 1
        job.last_reason = reason
        if mirror_fault:
            with self._cond:
                mirror.consecutive_failures += 1
                if mirror.consecutive_failures >= self.cfg.bench_after:
                    mirror.benched_until = time.monotonic() + self.cfg.bench_seconds
                    mirror.consecutive_failures = 0
                    log.warning("mirror %s benched for %.0f s after repeated failures", name, self.cfg.bench_seconds)
        if job.attempts >= self.cfg.max_attempts:
            self._fail(job, f"gave up after {job.attempts} attempts; last: {reason}", attempt=True)
            return
        self.state.transition(job.product.product_id, QUEUED, reason=reason, attempt=True)
        with self._cond:
            self._queue.append(job)
            self._queue.sort(key=lambda j: (-len(j.product.offers), j.product.product_id))
            self._cond.notify_all()

    def _fail(self, job: Job, reason: str, attempt: bool = False) -> None:
        self.state.transition(job.product.product_id, FAILED, reason=reason, attempt=attempt)
        self._report.failed[job.product.product_id] = reason
        self._advance()


def _member_count(archive: Path) -> int | None:
    """Files in a verified zip (its central directory only), for the ``products`` table; None when it
    cannot be read (extraction then says why)."""

    try:
        with zipfile.ZipFile(archive) as members:
            return sum(1 for info in members.infolist() if not info.is_dir())
    except (zipfile.BadZipFile, OSError):
        return None


def state_dir(warehouse: Warehouse) -> Path:
    """Local folder of the scheduler's state (SQLite needs a local file system)."""
    if warehouse.is_local:
        return Path(warehouse.state_uri)

    digest = hashlib.sha256(warehouse.root.encode()).hexdigest()[:16]
    return Path.home() / ".cache" / "s2lake" / "state" / digest
