"""``s2lake ben import``: a BigEarthNet dataset (v1 or v2 layout) into ``patches``, ``ben_metadata`` and
``reference_map_polygons``.

Parallel with bounded memory: the patch folders are cut into tasks of about one product each
(:mod:`s2lake.ben.patch_files`); a worker process reads a task 32 patches at a time (GeoTIFFs through
:mod:`s2lake.ben.geotiff_reader`, statistics with numpy) and writes the rows as Parquet files into the
table's folder itself, handing back only the files' descriptions; at most :data:`IN_FLIGHT_PER_WORKER`
tasks per worker are submitted ahead, so memory does not grow with the dataset. Each table gets ONE
commit per run (:mod:`s2lake.ben.table_writer`), replacing its rows with the same patch ids
(``ben_metadata``: the same patch id and source), in the order patches, reference maps, metadata. Files
written but not committed (an error, an interrupt, a worker that died) are deleted. Delta has no
multi-table transaction: a run that stops between two commits leaves the committed tables complete and
the others as they were, and rerunning the import converges, because every commit replaces by key. A
run that stops before its first commit leaves no version behind.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pyarrow as pa

from s2lake.ben.layout import find_patch_folders
from s2lake.ben.metadata import read_v2_metadata, v1_rows, v1_to_v2
from s2lake.ben.patch_files import TaskResult, tasks, write_patches
from s2lake.ben.patch_reader import configure_worker
from s2lake.ben.reference_maps import find_reference_maps, polygonise, read_geoparquet
from s2lake.ben.table_writer import StagedReplace
from s2lake.errors import ProductError
from s2lake.locks import table_locks
from s2lake.tables.schemas import BEN_METADATA, PATCHES, REFERENCE_MAP_POLYGONS
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.patches.writer import STATS_COLUMNS

log = logging.getLogger("s2lake.ben")

#: Reference map rasters per worker call.
MAP_CHUNK = 128
#: Tasks submitted ahead per worker: keeps the workers busy while the parent writes, bounds memory.
IN_FLIGHT_PER_WORKER = 2

T = TypeVar("T")
Progress = Callable[[str, int, int], None]


@dataclass
class ImportReport:
    patches: int = 0
    v1_folders: int = 0
    v2_folders: int = 0
    metadata_rows: int = 0
    reference_polygons: int = 0
    problems: list[str] = field(default_factory=list)
    #: Ids of the patches read from the dataset's folders (`s2lake ben report` covers exactly these).
    patch_ids: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _ordered(pool: ProcessPoolExecutor, fn: Callable, chunks: Sequence, window: int, *args) -> Iterator:
    """``fn(chunk, *args)`` for each chunk in order, never more than ``window`` submitted ahead."""
    pending: deque[Future] = deque()
    for chunk in chunks:
        pending.append(pool.submit(fn, chunk, *args))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def import_dataset(
    dataset: Path,
    warehouse: Warehouse,
    metadata: Path | None = None,
    reference_maps: Path | None = None,
    workers: int = 2,
    on_progress: Progress | None = None,
) -> ImportReport:
    """Import ``dataset`` (see the module doc). Input that cannot be used at all raises
    :class:`ProductError` before anything is written; patches and maps that can be read only in part
    land with what could be read and their problems are listed in the report."""
    started = time.monotonic()
    report = ImportReport()
    layout = find_patch_folders(dataset)
    report.problems += layout.problems
    report.v1_folders = sum(f.version == 1 for f in layout.folders)
    report.v2_folders = len(layout.folders) - report.v1_folders
    v2_meta = read_v2_metadata(metadata) if metadata is not None else None
    rasters, parquets = find_reference_maps(reference_maps) if reference_maps is not None else ([], [])
    polygons = [read_geoparquet(p) for p in parquets]  # small, and refused whole before any write
    if not layout.folders and v2_meta is None:
        raise ProductError(
            f"no BigEarthNet patch folders under {dataset}",
            where=str(dataset),
            fix="give the folder a BigEarthNet archive was unpacked to: v2 <product>/<patch_id>/<patch_id>_B01.tif "
            "or v1 <name>/<name>_B01.tif; names must be v2 patch ids or v1 patch names",
        )
    mapping = v1_to_v2(v2_meta) if v2_meta is not None else {}
    store = TableStore(warehouse)
    tables = [PATCHES.name, BEN_METADATA.name, REFERENCE_MAP_POLYGONS.name]
    with table_locks(warehouse, tables, "ben import"):
        context = multiprocessing.get_context("spawn")  # no fork: the parent runs delta-rs threads
        with ProcessPoolExecutor(workers, mp_context=context, initializer=configure_worker) as pool:
            v1_found = _import_patches(pool, workers, layout.folders, mapping, store, report, on_progress)
            _import_maps(pool, workers, rasters, polygons, store, report, on_progress)
        rows = [t for t in (v2_meta, v1_rows(v1_found) if v1_found else None) if t is not None]
        if rows:
            table = pa.concat_tables(rows)
            store.upsert(BEN_METADATA, table)
            report.metadata_rows = table.num_rows
    report.seconds = time.monotonic() - started
    rate = report.patches / report.seconds if report.seconds else 0.0
    log.info("ben import: %d patches in %.1f s (%.1f patches/s)", report.patches, report.seconds, rate)
    return report


def _import_patches(
    pool: ProcessPoolExecutor,
    workers: int,
    folders: list,
    mapping: dict[str, str],
    store: TableStore,
    report: ImportReport,
    on_progress: Progress | None,
) -> list[dict]:
    staged = StagedReplace(store, PATCHES, STATS_COLUMNS, group="product_id")
    v1_found: list[dict] = []
    done = 0
    try:
        jobs = tasks(folders, mapping, workers)
        window = workers * IN_FLIGHT_PER_WORKER
        for job, result in zip(jobs, _ordered(pool, write_patches, jobs, window, staged.target), strict=True):
            result: TaskResult
            staged.add(result.files, result.ids)
            report.patch_ids += result.ids
            v1_found += result.v1_metadata
            report.problems += result.problems
            done += len(job.folders)
            if on_progress:
                on_progress("patches", done, len(folders))
        report.patches = staged.commit() if folders else 0
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # no worker writes a file after the clean-up
        staged.abort()
        raise
    return v1_found


def _import_maps(
    pool: ProcessPoolExecutor,
    workers: int,
    rasters: list[Path],
    polygons: list[pa.Table],
    store: TableStore,
    report: ImportReport,
    on_progress: Progress | None,
) -> None:
    if not rasters and not polygons:
        return
    staged = StagedReplace(store, REFERENCE_MAP_POLYGONS, ("patch_id",))
    done = 0
    try:
        for table in polygons:
            for batch in table.to_batches():
                staged.write(batch)
            report.reference_polygons += table.num_rows
        chunks = _chunks([str(p) for p in rasters], MAP_CHUNK)
        for table, problems in _ordered(pool, polygonise, chunks, workers * IN_FLIGHT_PER_WORKER):
            for batch in table.to_batches():
                staged.write(batch)
            report.reference_polygons += table.num_rows
            report.problems += problems
            done += MAP_CHUNK
            if on_progress:
                on_progress("reference maps", min(done, len(rasters)), len(rasters))
        staged.commit()
    except BaseException:
        staged.abort()
        raise
