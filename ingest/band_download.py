"""Band-level downloads (``--bands patches``): only the files ``patches build`` reads of an L2A product.

A whole L2A archive is ~1 GB, of which the patch job never reads TCI, AOT, WVP, the resampled copies of
every band, the QI and auxiliary data. The catalogues give single files: the OData ``Nodes(...)`` path of
DHuS and CDSE (:meth:`~ingest.catalogues.base.Catalogue.file_url`) and STAC file assets. One product
holds one connection of its mirror, like a whole product, and its files come one after the other:

1. ``manifest.safe``: every file of the product with its size and MD5 or SHA3-256. The archive's own
   checksum says nothing about single files, so the manifest is what each file is checked against.
2. ``MTD_MSIL2A.xml`` (checked) names the granule and the band files; the files the patch job reads
   are picked by the reader's own rule (:func:`sedona_jobs.safe.files_read`), not by a second list.
3. ``MTD_TL.xml`` and the 13 band files, each checked as soon as it has arrived, largest first. They are
   put on a :class:`SharedFiles` list the scheduler shows to idle connections: at the end of a run, when
   no product is left to start, a free connection on any mirror offering the product takes the next file
   of a product still under way, so the last products do not run on one connection each while the
   others stand idle. Every file is checked against the same ``manifest.safe`` whichever mirror sent it.
4. When no file is left to take, an idle connection takes over the end of the transfer that would finish
   last (:mod:`ingest.endgame`): the file comes in pieces, joined and checked once by the connection
   that took it.

Files are written below ``<state>/bands/<product>/<product>.SAFE/`` as ``<file>.part`` and take their
name only once they match the manifest, so an interrupted or failed attempt leaves verified files and
resumable ``.part`` files (HTTP ``Range``, :func:`~ingest.transfer.fetch`) and nothing that looks checked
but is not. The scheduler lands the folder (one rename) only when every file is there and verified.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from ingest.catalogues import Catalogue
from ingest.endgame import Piece, Speeds, Transfer
from ingest.products import Offer
from ingest.transfer import Gone, TransferLimits, fetch
from ingest.verify import CorruptArchive, file_digest
from s2lake.contained_paths import inside
from s2lake.errors import DownloadError, ProductError, UnsafePathError
from sedona_jobs.manifest import MANIFEST, Listed, parse_manifest
from sedona_jobs.safe import files_read, parse_product_metadata

#: One part of a file's path as it goes into a ``Nodes(...)`` URL: ESA's names only (no quotes, slashes,
#: parentheses or ``..``), so a hostile manifest or metadata file cannot shape the request or the path.
NAME_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
PART_SUFFIX = ".part"
T = TypeVar("T")
log = logging.getLogger(__name__)


class NoFileAccess(Gone):
    """The mirror does not serve this product's files one by one (no ``manifest.safe`` node): the product
    is fetched whole from it instead, without counting as a failed attempt."""


@dataclass(frozen=True)
class FetchedFiles:
    """A staged partial SAFE whose every file matched ``manifest.safe``."""

    folder: Path
    files: int
    bytes: int


class SharedFiles:
    """The files of one product still to fetch, taken by its own connection and by idle ones (helpers).

    A file a helper failed on goes back to the list for the product's own connection only, which then
    meets the error itself (retries and benching stay the scheduler's). Once the owner fails, helpers get
    nothing more and the owner waits for the files they are fetching before it gives up, so no helper is
    left writing into a folder the next attempt uses.
    """

    def __init__(self, cond: threading.Condition, folder: Path, listed: dict[str, Listed], files: list[str]) -> None:
        self.cond = cond  # the scheduler's: a file put here wakes idle workers
        self.folder = folder
        self.listed = listed
        self.pending = sorted(files, key=lambda rel: -(listed[rel].size or 0) if rel in listed else 0)
        self.owner_only: set[str] = set()
        self.running = 0
        self.closed = False
        self.transfers: dict[str, Transfer] = {}  # files on their way, whose ends idle connections may take

    def take(self, helper: Callable[[str], bool] | None = None) -> str | None:
        """The next file (under ``cond``); a helper passes which files it can fetch."""
        for rel in self.pending:
            if helper is None or (not self.closed and rel not in self.owner_only and helper(rel)):
                self.pending.remove(rel)
                self.running += 1
                return rel
        return None

    def slowest(self) -> float:
        """Seconds until this product's last running transfer ends (under ``cond``)."""
        now = time.monotonic()
        return max((t.slowest(now) for t in self.transfers.values()), default=0.0)

    def steal(self, helper: Callable[[str], bool], mirror: str, rate: float | None) -> tuple[Transfer, Piece] | None:
        """The end of the transfer that would finish last, for an idle connection of ``mirror`` (under ``cond``)."""
        if self.closed:
            return None
        now = time.monotonic()
        for transfer in sorted(self.transfers.values(), key=lambda t: -t.slowest(now)):
            if helper(transfer.rel) and (piece := transfer.split(mirror, rate, now)) is not None:
                return transfer, piece
        return None

    def finish(self, rel: str, ok: bool) -> None:
        with self.cond:
            self.running -= 1
            if not ok:
                self.pending.append(rel)
                self.owner_only.add(rel)
            self.cond.notify_all()


@dataclass
class FileFetcher:
    """Fetches and checks the patch job's files of one product from one mirror."""

    catalogue: Catalogue
    offer: Offer
    product_id: str
    staging: Path  # <state>/bands/<product>: the SAFE folder is staged inside
    timeout: float
    chunk_bytes: int
    limits: TransferLimits
    on_bytes: Callable[[int], None] | None = None
    #: Where the scheduler offers this product's files to idle connections (None: this connection only).
    share: Callable[[SharedFiles | None], None] | None = None
    cond: threading.Condition = field(default_factory=threading.Condition)
    speeds: Speeds = field(default_factory=Speeds)  # the scheduler's, shared by every connection

    @property
    def safe_name(self) -> str:
        return f"{self.product_id}.SAFE"

    def run(self) -> FetchedFiles:
        folder = inside(self.staging, self.safe_name)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            manifest = self._file(folder, MANIFEST, None)
        except Gone as exc:
            raise NoFileAccess(f"no per-file access ({exc.what} for {MANIFEST})") from None
        listed = self._parse(manifest, lambda data: parse_manifest(data, self._where(MANIFEST)))
        mtd = self._file(folder, "MTD_MSIL2A.xml", listed)
        meta = self._parse(mtd, lambda data: parse_product_metadata(data, self._where("MTD_MSIL2A.xml")))
        if meta.processing_level != "L2A":
            raise ProductError(
                f"band-level download of a {meta.processing_level} product",
                where=self._where("MTD_MSIL2A.xml"),
                fix="only L2A products are patched: fetch other levels whole (--bands all)",
            )
        wanted = files_read(meta, self._where("MTD_MSIL2A.xml"))
        self._fetch_shared(folder, listed, wanted[1:])
        paths = [manifest, mtd] + [inside(folder, rel) for rel in wanted[1:]]
        _drop_others(folder, set(paths))
        return FetchedFiles(folder, len(paths), sum(p.stat().st_size for p in paths))

    def _fetch_shared(self, folder: Path, listed: dict[str, Listed], files: list[str]) -> None:
        """Fetch ``files`` on this connection while idle connections may take some (see :class:`SharedFiles`)."""
        work = SharedFiles(self.cond, folder, listed, files)
        if self.share is not None:
            self.share(work)
        try:
            while True:
                with self.cond:
                    rel = work.take()
                    if rel is None:
                        if not work.running:
                            return
                        self.cond.wait()
                        continue
                try:
                    self._file(folder, rel, listed, work)
                except BaseException:
                    with self.cond:
                        work.closed = True
                    work.finish(rel, ok=True)  # not put back: this attempt is over
                    with self.cond:
                        while work.running:
                            self.cond.wait()
                    raise
                work.finish(rel, ok=True)
        finally:
            if self.share is not None:
                self.share(None)

    def fetch_for(self, work: SharedFiles, rel: str) -> None:
        """Fetch one file of another connection's product into its folder (a helper's task)."""
        try:
            self._file(work.folder, rel, work.listed, work)
        except Exception as exc:  # the owner fetches it again and meets the error itself
            work.finish(rel, ok=False)
            log.info("helper fetch of %s from %s failed: %s", rel, self.catalogue.name, exc)
            return
        work.finish(rel, ok=True)

    def fetch_piece(self, transfer: Transfer, piece: Piece) -> None:
        """Fetch the end of another connection's file transfer (a helper's endgame task); if it fails the
        connection that took the file fetches the piece itself and meets the error."""
        ok = False
        try:
            piece.path.unlink(missing_ok=True)  # a killed run's piece may end elsewhere: never resumed
            url = self.catalogue.file_url(self.offer, self.safe_name, transfer.rel)
            if url:
                self._fetch(url, piece.path, transfer.size, piece)
                ok = True
        except Exception as exc:
            log.info("helper fetch of %s from byte %d failed: %s", transfer.rel, piece.start, exc)
        finally:
            with self.cond:
                piece.state = "done" if ok else "failed"
                self.cond.notify_all()

    def _in_pieces(self, work: SharedFiles, transfer: Transfer, url: str) -> None:
        """Fetch ``transfer``'s file while idle connections may take pieces off its end; wait for them, fetch
        again here any piece whose helper failed, and join them into the first piece's ``.part`` file."""
        with work.cond:
            work.transfers[transfer.rel] = transfer
            work.cond.notify_all()  # an idle connection may take the end of this one
        try:
            self._fetch(url, transfer.pieces[0].path, transfer.size, transfer.pieces[0])
            with work.cond:
                transfer.closed = True
                while transfer.running():
                    work.cond.wait()
            for piece in sorted(transfer.pieces[1:], key=lambda p: p.start):
                if piece.state != "done" or _size(piece.path) != piece.stop - piece.start:
                    self._fetch(url, piece.path, transfer.size, piece)
                if _size(piece.path) != piece.stop - piece.start:
                    raise DownloadError(f"{transfer.rel}: bytes {piece.start}-{piece.stop - 1} did not all arrive")
            transfer.join()
        except BaseException:
            with work.cond:
                transfer.closed = True
                while transfer.running():
                    work.cond.wait()
            transfer.discard()
            raise
        finally:
            with work.cond:
                work.transfers.pop(transfer.rel, None)

    def _fetch(self, url: str, path: Path, size: int | None, piece: Piece | None = None) -> None:
        """One HTTP transfer into ``path``: the whole file, or ``piece`` of it; measures this mirror's speed."""
        before, started = _size(path), time.monotonic()
        after = fetch(
            self.catalogue.session,
            url,
            path,
            timeout=self.timeout,
            chunk_bytes=self.chunk_bytes,
            limits=self.limits,
            expected_size=size,
            on_bytes=self.on_bytes,
            offset=piece.start if piece else 0,
            bound=piece,
        )
        self.speeds.record(self.catalogue.name, after - before, time.monotonic() - started)

    def _where(self, rel: str) -> str:
        return f"{self.catalogue.name}: {self.safe_name}/{rel}"

    def _parse(self, path: Path, parse: Callable[[bytes], T]) -> T:
        """A metadata file that does not parse is a corrupt download: removed, fetched again next time."""
        try:
            return parse(path.read_bytes())
        except ProductError as exc:
            path.unlink(missing_ok=True)
            raise CorruptArchive(exc.what, where=exc.where) from None

    def _file(self, folder: Path, rel: str, listed: dict[str, Listed] | None, work: SharedFiles | None = None) -> Path:
        """``rel`` below ``folder``, fetched (or resumed) and checked against the manifest entry; with ``work``,
        idle connections may take over the end of the transfer (:meth:`_in_pieces`)."""
        parts = rel.split("/")
        if not all(NAME_PART.fullmatch(p) and p not in (".", "..") for p in parts):
            raise UnsafePathError(
                f"file name {rel[:200]!r} is not a SAFE file name",
                where=self._where(MANIFEST if listed is None else "MTD_MSIL2A.xml"),
                fix="this mirror's metadata is unusable: fetch the product whole (--bands all) or from another mirror",
            )
        expected = listed.get(rel) if listed is not None else None
        if listed is not None and expected is None:
            raise CorruptArchive(
                f"{rel} has no checksum in {MANIFEST}, so it cannot be checked", where=self._where(MANIFEST)
            )
        final = inside(folder, rel)
        if final.is_file():  # renamed only after it matched: a resumed attempt keeps it unless the size differs
            if expected is None or expected.size in (None, final.stat().st_size):
                return final
            final.unlink()
        final.parent.mkdir(parents=True, exist_ok=True)
        part = final.with_name(final.name + PART_SUFFIX)
        url = self.catalogue.file_url(self.offer, self.safe_name, rel)
        if not url:
            raise Gone(f"no per-file access to {rel}")
        if work is not None and expected is not None and expected.size:
            head = Piece(0, expected.size, part, self.catalogue.name)
            self._in_pieces(work, Transfer(rel, expected.size, [head]), url)
        else:
            self._fetch(url, part, expected.size if expected else None)
        if expected is not None:
            digest = file_digest(part, expected.algorithm)
            size = part.stat().st_size
            if digest != expected.digest or expected.size not in (None, size):
                part.unlink()  # never resume from bytes that are not the product's
                raise CorruptArchive(
                    f"{rel} does not match {MANIFEST}: {expected.algorithm} {digest}, listed {expected.digest}"
                    + (f"; {size} bytes, listed {expected.size}" if expected.size not in (None, size) else ""),
                    where=self._where(rel),
                )
        part.replace(final)
        return final


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _drop_others(folder: Path, keep: set[Path]) -> None:
    """Remove files an earlier attempt left that this product's file list does not name (e.g. after the
    mirror's manifest changed), so the landed folder holds exactly the checked files."""
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_file() and path not in keep:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
