"""``s2lake export ben``: a BigEarthNet v2 dataset (see :mod:`.ben_layout`) from any ``patches`` table.

Atomic: everything is written below ``.<OUT>.partial-<pid>`` next to ``OUT`` and renamed to ``OUT`` as
the very last step, so ``OUT`` either does not exist or is complete; any error removes the partial
folder. ``OUT`` must not exist (an export never mixes with, or overwrites, an earlier one).

Bounded memory: the selected rows stream out of the Delta table (delta-rs's DataFusion reader yields
record batches) in chunks of :data:`CHUNK_PATCHES` patches; at most ``2 x workers`` chunks are in flight.
Parallel: one reader (this process; reading is ~20x faster than writing) hands each chunk as an Arrow IPC
buffer to a pool of worker processes (:mod:`.patch_writer`). Processes, not threads: profiling 200 patches
put most of a file's cost in Python and rasterio bookkeeping that holds the GIL (a GDAL environment and
dataset per file, path checks, per-patch conversions), which threads cannot overlap; a chunk is ~10 MB
to copy for seconds of writing.

Deterministic: every file's bytes depend only on the patch's row (no timestamps), ``metadata.parquet``
is sorted by patch id, and zipped partitions (:mod:`.zip_parts`) hold fixed, sorted id ranges.
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, as_completed, wait
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import QueryBuilder

from s2lake.errors import ExportError, QueryError
from s2lake.sentinel2 import BANDS
from s2lake.tables.schemas import PATCHES
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.export.ben_layout import METADATA_FILE, check_patch_id
from sedona_jobs.export.ben_metadata import metadata_table
from sedona_jobs.export.patch_writer import start_worker, to_ipc, write_chunk, write_ipc_chunk
from sedona_jobs.export.reference_maps import ReferenceMaps
from sedona_jobs.export.zip_parts import zip_partitions

log = logging.getLogger("s2lake.export")

#: Patches handed to a writer thread at once (~0.3 MB of pixels each).
CHUNK_PATCHES = 32
#: Columns an export reads; the statistics and SCL stay in the table.
_PLACE = ["patch_id", "tile", "epsg", "ulx", "uly", "lrx", "lry"]
_COLUMNS = [*_PLACE, *(b.column for b in BANDS)]

#: Called with (patches written, patches in total).
ExportProgress = Callable[[int, int], None]


@dataclass
class ExportReport:
    out: Path
    patches: int
    reference_maps: int
    zips: int


def export_ben(
    warehouse: Warehouse,
    out: Path,
    where: str | None = None,
    *,
    workers: int = 2,
    zip_per: int | None = None,
    on_progress: ExportProgress | None = None,
) -> ExportReport:
    """Write the patches selected by ``where`` (a SQL condition on ``patches``) as a v2 dataset at ``out``."""
    out = Path(out)
    if out.exists():
        raise ExportError(
            f"{out} already exists", where=str(out), fix="choose a new output folder, or remove the old export first"
        )
    store = TableStore(warehouse)
    table = store.require(PATCHES.name)
    selected = selected_patches(table, where)
    ids = selected.column("patch_id").to_pylist()
    if not ids:
        raise ExportError(
            f"no patch matches {where!r}" if where else "the patches table is empty",
            where=store.uri(PATCHES.name),
            fix="check the --where condition (SQL on the patches columns, e.g. \"tile = '33UUU'\")",
        )
    maps = ReferenceMaps.open(warehouse, store, selected)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        mapped = _write_patches(table, where, partial, maps, len(ids), workers, on_progress)
        pq.write_table(metadata_table(store, ids), partial / METADATA_FILE, compression="zstd")
        zips = 0
        if zip_per is not None:
            zips = zip_partitions(partial, ids, zip_per, workers=workers)
        partial.rename(out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return ExportReport(out, len(ids), mapped, zips)


def _query(table: object, select: str, where: str | None) -> pa.RecordBatchReader:
    sql = f"SELECT {select} FROM patches" + (f" WHERE {where}" if where else "")
    try:
        # delta-rs answers with arro3 objects; the Arrow C stream hands them to pyarrow without a copy
        return pa.RecordBatchReader.from_stream(QueryBuilder().register("patches", table).execute(sql))
    except Exception as exc:  # DataFusion reports a bad condition as a generic error
        raise QueryError(
            f"the --where condition cannot be run: {exc}",
            where=where,
            fix="write an SQL condition on the patches columns, e.g. \"tile = '33UUU' AND NOT has_nodata\"",
        ) from None


def selected_patches(table: object, where: str | None) -> pa.Table:
    """Ids and places of the selected patches, sorted by id; a duplicated id would make two patches share files."""
    selected = pa.table(_query(table, ", ".join(f'"{c}"' for c in _PLACE), where).read_all())
    selected = selected.cast(pa.schema([PATCHES.schema.field(c) for c in _PLACE])).sort_by("patch_id")
    ids = selected.column("patch_id").to_pylist()
    for a, b in itertools.pairwise(ids):
        if a == b:
            raise ExportError(
                f"patch id {a} occurs more than once in the selection",
                where="patches",
                fix="remove the duplicate rows (rebuild the product with `patches build --replace`) or narrow --where",
            )
    for patch_id in ids:
        check_patch_id(patch_id)
    return selected


def _write_patches(
    table: object,
    where: str | None,
    root: Path,
    maps: ReferenceMaps | None,
    total: int,
    workers: int,
    on_progress: ExportProgress | None,
) -> int:
    """Stream the rows to the writers; returns how many reference maps were written."""
    reader = _query(table, ", ".join(f'"{c}"' for c in _COLUMNS), where)
    chunks = (
        batch.slice(start, CHUNK_PATCHES) for batch in reader for start in range(0, batch.num_rows, CHUNK_PATCHES)
    )
    workers = min(workers, -(-total // CHUNK_PATCHES))  # no process for a chunk that does not exist
    counts = [0, 0]  # patches, reference maps

    def collect(written: tuple[int, int]) -> None:
        counts[0], counts[1] = counts[0] + written[0], counts[1] + written[1]
        if on_progress:
            on_progress(counts[0], total)

    if workers <= 1:  # in this process: a small export would wait longer for a pool than for its files
        for chunk in chunks:
            collect(write_chunk(pa.table(chunk), root, maps))
    else:
        # spawn, not fork: the parent runs delta-rs's and the progress bar's threads
        context = get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=start_worker, initargs=(root, maps)) as pool:
            pending: set[Future[tuple[int, int]]] = set()
            try:
                for chunk in chunks:
                    if len(pending) >= 2 * workers:  # bounded memory: at most 2 chunks per worker in flight
                        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for future in finished:
                            collect(future.result())  # re-raises a writer's error here
                    pending.add(pool.submit(write_ipc_chunk, to_ipc(chunk)))
                for future in as_completed(pending):
                    collect(future.result())
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)  # no writer may still add files to the partial folder
                raise
    done, mapped = counts
    if done != total:  # the table changed between the two reads: the dataset would not match its metadata
        raise ExportError(
            f"{done} patches were written but {total} were selected: the patches table changed during the export",
            where="patches",
            fix="rerun the export when no `patches build` is writing the table",
        )
    return mapped
