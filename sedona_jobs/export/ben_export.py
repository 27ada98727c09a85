"""``s2lake export ben``: a BigEarthNet v2 dataset (see :mod:`.ben_layout`) from any ``patches`` table.

Atomic: everything is written below ``.<OUT>.partial-<pid>`` next to ``OUT`` and renamed to ``OUT`` as
the very last step, so ``OUT`` either does not exist or is complete; any error removes the partial
folder. ``OUT`` must not exist (an export never mixes with, or overwrites, an earlier one).

Bounded memory: the selected rows stream out of the Delta table (delta-rs's DataFusion reader yields
record batches) in chunks of :data:`CHUNK_PATCHES` patches; at most ``2 x workers`` chunks are in flight.
Parallel: chunks are written by a thread pool. Threads rather than processes because the work is
GDAL's (DEFLATE compression and file writes, which rasterio runs without the GIL) and the chunks
would otherwise have to be copied to each process.

Deterministic: every file's bytes depend only on the patch's row (no timestamps), ``metadata.parquet``
is sorted by patch id, and zipped partitions (:mod:`.zip_parts`) hold fixed, sorted id ranges.
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from s2lake.errors import ExportError, QueryError
from s2lake.sentinel2 import BANDS, SATURATED_DN
from s2lake.tables.schemas import PATCHES
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.export.ben_layout import METADATA_FILE, band_file, check_patch_id, patch_dir, reference_map_file
from sedona_jobs.export.ben_metadata import metadata_table
from sedona_jobs.export.geotiff import patch_transform, write_raster
from sedona_jobs.export.reference_maps import RESOLUTION_M, ReferenceMaps

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
    selected = _selected(table, where)
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
            from sedona_jobs.export.zip_parts import zip_partitions

            zips = zip_partitions(partial, ids, zip_per, workers=workers)
        partial.rename(out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return ExportReport(out, len(ids), mapped, zips)


def _query(table: object, select: str, where: str | None) -> pa.RecordBatchReader:
    from deltalake import QueryBuilder

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


def _selected(table: object, where: str | None) -> pa.Table:
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
    """Stream the rows to a thread pool; returns how many reference maps were written."""
    reader = _query(table, ", ".join(f'"{c}"' for c in _COLUMNS), where)
    done, mapped = 0, 0
    lock = threading.Lock()
    pending: set[Future[tuple[int, int]]] = set()

    def collect(futures: set[Future[tuple[int, int]]]) -> None:
        nonlocal done, mapped
        for future in futures:
            written, maps_written = future.result()  # re-raises a writer's error here
            with lock:
                done += written
                mapped += maps_written
            if on_progress:
                on_progress(done, total)

    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="export") as pool:
        try:
            for batch in reader:
                for start in range(0, batch.num_rows, CHUNK_PATCHES):
                    if len(pending) >= 2 * max(1, workers):
                        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                        collect(finished)
                    chunk = pa.table(batch.slice(start, CHUNK_PATCHES))
                    pending.add(pool.submit(_write_chunk, chunk, root, maps))
            finished, pending = wait(pending)
            collect(finished)
        finally:
            for future in pending:
                future.cancel()
    if done != total:  # the table changed between the two reads: the dataset would not match its metadata
        raise ExportError(
            f"{done} patches were written but {total} were selected: the patches table changed during the export",
            where="patches",
            fix="rerun the export when no `patches build` is writing the table",
        )
    return mapped


def _pixels(column: pa.ChunkedArray, i: int, patch_id: str, band: str) -> np.ndarray:
    value = column[i]
    if not value.is_valid:
        raise ExportError(
            f"patch {patch_id} has no {band} pixels",
            where="patches",
            fix='export only patches with pixels (e.g. --where "b02 IS NOT NULL") or rebuild them',
        )
    pixels = value.values.to_numpy(zero_copy_only=False)
    if pixels.size and (pixels.min() < 0 or pixels.max() > SATURATED_DN):
        raise ExportError(
            f"patch {patch_id} band {band} has values outside 0..{SATURATED_DN}, which a uint16 GeoTIFF cannot hold",
            where="patches",
            fix="leave the patch out with --where or rebuild it from its product",
        )
    return pixels


def _write_chunk(chunk: pa.Table, root: Path, maps: ReferenceMaps | None) -> tuple[int, int]:
    """Write the GeoTIFFs (and reference maps) of a few patches; returns (patches, reference maps) written."""
    columns = {name: chunk.column(name) for name in chunk.column_names}
    mapped = 0
    for i in range(chunk.num_rows):
        patch_id, tile, epsg = (columns[c][i].as_py() for c in ("patch_id", "tile", "epsg"))
        ulx, uly, lrx = (columns[c][i].as_py() for c in ("ulx", "uly", "lrx"))
        patch_dir(root, patch_id).mkdir(parents=True, exist_ok=True)
        for band in BANDS:
            pixels = _pixels(columns[band.column], i, patch_id, band.name)
            side = band.patch_pixels
            if pixels.size != side * side:
                side = round(pixels.size**0.5)  # an imported wrong-size band: kept as stored
                if side * side != pixels.size:
                    raise ExportError(
                        f"patch {patch_id} band {band.name} has {pixels.size} pixels, not a square",
                        where="patches",
                        fix="leave the patch out with --where",
                    )
            transform = patch_transform(ulx, uly, (lrx - ulx) / side)
            grid = pixels.astype(np.uint16).reshape(side, side)
            write_raster(band_file(root, patch_id, band.name), grid, epsg, transform, band.name)
        if maps is not None:
            codes = maps.rasterise(patch_id, tile, epsg, ulx, uly)
            if codes is not None:
                path = reference_map_file(root, patch_id)
                path.parent.mkdir(parents=True, exist_ok=True)
                write_raster(path, codes, epsg, patch_transform(ulx, uly, RESOLUTION_M), "CLC code")
                mapped += 1
    return chunk.num_rows, mapped
