"""Build the ``patches`` of Level-2A products: one Delta commit per product, its outcome in ``products``.

The Python API behind ``s2lake patches build``. Every product is validated before any pixel is read
(reader: :func:`sedona_jobs.safe.open_product`), then its patches are streamed as record batches into
Parquet files and one atomic Delta commit removes the product's old rows and adds the new ones (see
:mod:`.writer`). An error while cutting aborts that write before its commit, so no Delta version
ever holds part of a product; the product is recorded as ``failed`` with the reason and the next
one goes on.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pyarrow as pa
import shapely
from pyproj import Transformer

from s2lake.config.patches import PatchesSettings
from s2lake.errors import (
    ArchiveError,
    ProductAlreadyLoaded,
    ProductError,
    S2LakeError,
    UnsafePathError,
    WriteConflictError,
)
from s2lake.locks import table_locks
from s2lake.product_names import strip_suffixes
from s2lake.sentinel2 import ALL_LAYERS
from s2lake.tables.schemas import PATCHES, PRODUCTS
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.patches.batches import strip_batches
from sedona_jobs.patches.patch_grid import PatchGrid, grid_of
from sedona_jobs.patches.stac_item import is_stac_item, open_item
from sedona_jobs.patches.workers import (
    band_parallel_strips,
    configure_gdal,
    local_strips,
    stage_product,
    staged_batches,
)
from sedona_jobs.patches.writer import commit_product
from sedona_jobs.safe import open_product

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from sedona_jobs.safe import L2AProduct

log = logging.getLogger("s2lake.patches")

#: Called with (product_id, patch rows done, patch rows in total); drives the progress bars.
ProgressHook = Callable[[str, int, int], None]


@dataclass
class BuildOutcome:
    """What happened to one product given on the command line."""

    source: str
    product_id: str
    status: Literal["patched", "failed", "skipped"]
    patches: int = 0
    reason: str | None = None
    seconds: float = 0.0


@dataclass
class _Job:
    source: str
    product: L2AProduct
    grid: PatchGrid
    shape10: tuple[int, int]  # B02 (height, width): the product footprint


def build_products(
    paths: Iterable[str | os.PathLike[str]],
    warehouse: Warehouse,
    settings: PatchesSettings | None = None,
    *,
    replace: bool = False,
    on_progress: ProgressHook | None = None,
    spark: SparkSession | None = None,
) -> list[BuildOutcome]:
    """Cut every product into patches and store them; returns one outcome per path, in order.

    Raises :class:`~s2lake.errors.WarehouseError` only when the warehouse itself cannot be written, and
    :class:`~s2lake.errors.LockedError` when another run writes the ``patches`` table (its lock is held, or
    its commit won the race, see :class:`~s2lake.errors.WriteConflictError`); every problem of a single
    product becomes that product's ``failed`` outcome instead. With
    ``settings.engine == "spark"`` the cutting runs on ``spark`` (default: a session started from
    ``spark-defaults.conf``, see :mod:`.spark_build`) and the run is one commit instead of one per product.
    """
    settings = settings or PatchesSettings()
    warehouse.ensure_writable()
    with table_locks(warehouse, [PATCHES.name], "patches build"):
        return _build_locked(paths, warehouse, settings, replace, on_progress, spark)


def _build_locked(
    paths: Iterable[str | os.PathLike[str]],
    warehouse: Warehouse,
    settings: PatchesSettings,
    replace: bool,
    on_progress: ProgressHook | None,
    spark: SparkSession | None,
) -> list[BuildOutcome]:
    """:func:`build_products` while holding the ``patches`` writer lock, so the "already loaded" check
    below and the commits cannot interleave with another run's."""
    store = TableStore(warehouse)
    patched = _patched_products(store)
    if not settings.verify_checksums:
        log.warning(
            "checksum verification is off (--no-verify-checksums): bands are not checked against manifest.safe, "
            "damaged bands that still decode go into the patches unnoticed"
        )
    outcomes: list[BuildOutcome] = []
    jobs: list[tuple[int, _Job]] = []
    for path in map(str, paths):
        try:
            job = _prepare(path, settings.verify_checksums)
            if job.product.product_id in patched and not replace:
                raise ProductAlreadyLoaded(
                    f"product {job.product.product_id} is already loaded ({patched[job.product.product_id]} patches)",
                    where=path,
                    fix="pass --replace to rebuild its patches in one commit, or leave it out",
                )
            outcomes.append(BuildOutcome(path, job.product.product_id, "patched"))
            jobs.append((len(outcomes) - 1, job))
        except ProductAlreadyLoaded as exc:
            log.warning("skipped: %s", exc.message)
            outcomes.append(BuildOutcome(path, _id_from_path(path), "skipped", reason=exc.message))
        except (ProductError, ArchiveError, UnsafePathError) as exc:  # e.g. a .zip over the archive limits
            outcomes.append(_fail(store, BuildOutcome(path, _id_from_path(path), "failed"), exc, None))
    if settings.engine == "spark" and jobs:
        from sedona_jobs.patches.spark_build import build_on_spark  # pyspark (optional extra); it imports this module

        build_on_spark(store, jobs, outcomes, settings, on_progress, spark)
    elif settings.mode == "product" and jobs:
        _build_product_mode(store, jobs, outcomes, settings, on_progress)
    else:
        for index, job in jobs:
            outcomes[index] = _build_band_mode(store, job, outcomes[index], settings, on_progress)
    return outcomes


def _prepare(path: str, verify_checksums: bool) -> _Job:
    """Open and check a product (metadata, band headers, checksums) or a STAC item of its COGs, and work out
    its patch grid."""

    product = open_item(path) if is_stac_item(path) else open_product(path, verify_checksums=verify_checksums)
    shapes = {layer.name: product.bands[layer.name].shape for layer in ALL_LAYERS}
    grid = grid_of(shapes, product.ulx, product.uly, where=path)
    return _Job(path, product, grid, shapes["B02"])


def _id_from_path(path: str) -> str:
    """The products key of a source that could not be opened: its name (a STAC item's without ``.json``)."""
    return strip_suffixes(Path(path.rstrip("/")).name).removesuffix(".json")


def _build_band_mode(
    store: TableStore, job: _Job, outcome: BuildOutcome, settings: PatchesSettings, on_progress: ProgressHook | None
) -> BuildOutcome:
    """One product at a time; its layers are decoded by ``settings.workers`` processes."""

    product, grid = job.product, job.grid
    started = time.perf_counter()
    if settings.workers > 1:
        strips = band_parallel_strips(product, grid, settings.strip_rows, settings.workers)
    else:
        configure_gdal()
        strips = local_strips(product, grid, settings.strip_rows)

    def batches() -> Iterator[pa.RecordBatch]:
        for r0, r1, strip in strips:
            yield from strip_batches(product, grid, r0, r1, strip, settings.drop_nodata)
            if on_progress:
                on_progress(product.product_id, r1, grid.rows)

    try:
        return _commit(store, job, outcome, batches(), started)
    finally:
        strips.close()  # stops the worker processes at once when the stream was aborted


def _commit(
    store: TableStore,
    job: _Job,
    outcome: BuildOutcome,
    batches: Generator[pa.RecordBatch, None, None],
    started: float,
) -> BuildOutcome:
    """Stream ``batches`` into one commit replacing the product; a failure anywhere leaves no version behind."""
    try:
        rows = commit_product(store, job.product.tile, job.product.product_id, batches)
    except WriteConflictError:
        raise  # another run wrote the table: not this product's fault, and its row is the winner's to write
    except S2LakeError as exc:
        return _fail(store, outcome, exc, job)
    except Exception as exc:  # disk full, permissions, a delta-rs commit conflict: reported per product
        error = ProductError(
            f"writing the patches failed: {exc}",
            where=store.uri(PATCHES.name),
            fix="check the warehouse (space, permissions) and rerun this product",
        )
        return _fail(store, outcome, error, job)
    finally:
        batches.close()
    outcome.patches = rows
    outcome.seconds = time.perf_counter() - started
    record_products(store, [product_row(job.product, job, "patched", None, outcome.patches)])
    rate = outcome.patches / outcome.seconds if outcome.seconds else 0.0
    log.info("%s: %d patches in %.1f s (%.1f patches/s)", outcome.product_id, outcome.patches, outcome.seconds, rate)
    return outcome


def _build_product_mode(
    store: TableStore,
    jobs: list[tuple[int, _Job]],
    outcomes: list[BuildOutcome],
    settings: PatchesSettings,
    on_progress: ProgressHook | None,
) -> None:
    """One product per worker process; the parent commits each staged product as soon as it is ready."""


    workers = min(settings.workers, len(jobs))
    staging = tempfile.mkdtemp(prefix="s2lake-patches-")
    started = time.perf_counter()
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {
                pool.submit(
                    stage_product,
                    job.product,
                    job.grid,
                    settings.strip_rows,
                    settings.drop_nodata,
                    os.path.join(staging, f"{i}.arrows"),
                ): (i, job)
                for i, job in jobs
            }
            for future in as_completed(futures):
                index, job = futures[future]
                outcome = outcomes[index]
                try:
                    staged = future.result()
                except Exception as exc:  # a worker process died (e.g. out of memory)
                    outcomes[index] = _fail(
                        store, outcome, ProductError(f"worker failed: {exc!r}", where=job.source), job
                    )
                    continue
                if staged.failure is not None:
                    error = ProductError(staged.failure.what, where=staged.failure.where, fix=staged.failure.fix)
                    outcomes[index] = _fail(store, outcome, error, job)
                    continue
                outcomes[index] = _commit(store, job, outcome, staged_batches(staged.path), started)
                os.remove(staged.path)
                if on_progress:
                    on_progress(job.product.product_id, job.grid.rows, job.grid.rows)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _fail(store: TableStore, outcome: BuildOutcome, error: S2LakeError, job: _Job | None) -> BuildOutcome:
    outcome.status = "failed"
    outcome.reason = error.message
    outcome.patches = 0
    log.error("%s failed: %s", outcome.product_id, error.message)
    try:
        row = product_row(job.product if job else None, job, "failed", error.message, None, outcome.product_id)
        record_products(store, [row])
    except Exception as exc:  # the warehouse may be the problem; the error above is already reported
        log.error("could not record the failure of %s in `products`: %s", outcome.product_id, exc)
    return outcome


def _patched_products(store: TableStore) -> dict[str, int]:
    """product_id -> patch_count of products whose patches are in the warehouse."""
    if store.open(PRODUCTS.name) is None:
        return {}
    rows = store.read(PRODUCTS.name, ["product_id", "patch_count"], where="status = 'patched'")
    return dict(zip(rows.column("product_id").to_pylist(), rows.column("patch_count").to_pylist(), strict=True))


def record_products(store: TableStore, rows: list[tuple[dict[str, object], list[str]]]) -> None:
    """Upsert products' rows (from :func:`product_row`, all knowing the same columns) in one commit; columns
    this step does not know (checksum, mirrors) keep their values."""
    table = pa.Table.from_pylist([row for row, _ in rows], schema=PRODUCTS.schema)
    store.upsert(PRODUCTS, table, update=rows[0][1])


def product_row(
    product: L2AProduct | None,
    job: _Job | None,
    status: str,
    reason: str | None,
    patch_count: int | None,
    product_id: str | None = None,
) -> tuple[dict[str, object], list[str]]:
    """The product's row in ``products`` and the columns this step knows (the others are left alone)."""
    known: dict[str, object] = {
        "product_id": product.product_id if product else product_id,
        "status": status,
        "status_reason": reason,
        "patch_count": patch_count,
        "ingestion_time": datetime.now(UTC),
    }
    if product is not None:
        known.update(
            product_name=product.product_name,
            mission=product.mission,
            processing_level=product.processing_level,
            tile=product.tile,
            epsg=product.epsg,
            sensing_start=product.sensing_start,
            processing_baseline=product.processing_baseline,
            relative_orbit=product.relative_orbit,
            cloud_cover=product.cloud_cover,
            size_bytes=product.size_bytes,
            storage_path=product.source if "://" in product.source else str(Path(product.source).resolve()),
        )
    if job is not None:
        known["footprint"] = _footprint_wgs84(product, job.shape10)
    return {name: known.get(name) for name in PRODUCTS.schema.names}, list(known)


def _footprint_wgs84(product: L2AProduct, shape10: tuple[int, int]) -> bytes:
    """The product's raster extent as a lon/lat polygon (edges densified: UTM lines curve in lon/lat)."""

    height, width = shape10
    box = shapely.segmentize(
        shapely.box(product.ulx, product.uly - height * 10, product.ulx + width * 10, product.uly), 5000
    )
    to_wgs84 = Transformer.from_crs(product.epsg, 4326, always_xy=True)
    lonlat = shapely.transform(box, lambda xy: np.column_stack(to_wgs84.transform(xy[:, 0], xy[:, 1])))
    return shapely.to_wkb(lonlat)
