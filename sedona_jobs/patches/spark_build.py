"""``patches build --engine spark``: cut the products on Spark executors, write them in one Delta commit.

The driver has already opened and checked every product (:func:`sedona_jobs.patches.build._prepare`),
so executors get the product metadata and patch grid and only read the band files: paths must be
readable by every executor (local paths in local and standalone mode on one machine, later hdfs://).

Why two phases: a run is one Delta commit that replaces the products' old rows and adds the new ones
(``replaceWhere`` on tile and product id), and a product that fails must keep its old rows. Which
products failed is only known once every task has run, so the rows are first computed and persisted
(``DISK_ONLY``: spills to the executors' local disks, not the heap), failures come back through an
accumulator, and only then is the commit written, from the persisted rows of the products that
succeeded. No version ever holds part of a product; if nothing succeeded there is no commit at all.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from s2lake.config.patches import PatchesSettings
from s2lake.errors import ProductError, S2LakeError
from s2lake.tables.schemas import PATCHES
from s2lake.tables.store import TableStore
from sedona_jobs.patches.spark_tasks import PIECE_SCHEMA, BandPieces, Failure, ProductRows, merge_rows

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from sedona_jobs.patches.build import BuildOutcome, ProgressHook, _Job

log = logging.getLogger("s2lake.patches")


def build_on_spark(
    store: TableStore,
    jobs: list[tuple[int, _Job]],
    outcomes: list[BuildOutcome],
    settings: PatchesSettings,
    on_progress: ProgressHook | None,
    spark: SparkSession | None = None,
) -> None:
    """Cut ``jobs`` on Spark and commit them; fills in their ``outcomes`` and their ``products`` rows."""
    from pyspark import StorageLevel

    from sedona_jobs.patches.build import product_row, record_products

    started = time.perf_counter()
    spark = spark or _session()
    items = [(job.product, job.grid) for _, job in jobs]
    failures = spark.sparkContext.accumulator([], _ListParam())
    rows = _rows(spark, items, failures, settings).persist(StorageLevel.DISK_ONLY)
    try:
        counts = {r["product_id"]: r["count"] for r in rows.groupBy("product_id").count().collect()}
        failed = _first_failures(failures.value)
        done = [job for n, (_, job) in enumerate(jobs) if n not in failed]
        write_error = _write(spark, store.uri(PATCHES.name), rows, done) if done else None
    finally:
        rows.unpersist()
    seconds = time.perf_counter() - started
    records = []
    for n, (index, job) in enumerate(jobs):
        outcome = outcomes[index]
        error = failed.get(n) or write_error
        if error is None:
            outcome.patches = counts.get(job.product.product_id, 0)
            outcome.seconds = seconds
            records.append(product_row(job.product, job, "patched", None, outcome.patches))
        else:
            outcome.status, outcome.reason, outcome.patches = "failed", error.message, 0
            log.error("%s failed: %s", outcome.product_id, error.message)
            records.append(product_row(job.product, job, "failed", error.message, None))
        if on_progress:
            on_progress(job.product.product_id, job.grid.rows, job.grid.rows)
    record_products(store, records)
    total = sum(o.patches for o in outcomes)
    log.info("spark: %d patches in %.1f s (%.1f patches/s)", total, seconds, total / seconds if seconds else 0.0)


def _session() -> SparkSession:
    from s2lake.spark import delta_session, start_session

    return start_session(lambda: delta_session("s2lake-patches"), "Delta Lake")


def _rows(spark: SparkSession, items: list, failures: Any, settings: PatchesSettings) -> DataFrame:
    """The patch rows of every product as a DataFrame in the table's schema (lazy)."""
    from pyspark.sql.functions import col

    schema = spark_schema(PATCHES.schema)
    if settings.mode == "product":
        tasks = spark.range(len(items), numPartitions=len(items))
        return tasks.mapInArrow(ProductRows(items, failures, settings.strip_rows, settings.drop_nodata), schema)
    from sedona_jobs.patches.workers import layer_groups

    groups = layer_groups(settings.workers)
    tasks = spark.range(len(items) * len(groups), numPartitions=len(items) * len(groups))
    pieces = tasks.mapInArrow(BandPieces(items, failures, groups, settings.strip_rows), spark_schema(PIECE_SCHEMA))
    return pieces.groupBy(col("job"), col("row")).applyInArrow(
        merge_rows(items, failures, settings.drop_nodata), schema
    )


def spark_schema(schema: pa.Schema) -> StructType:
    """The Spark schema of an Arrow schema, nullability and column comments included, so a table Spark
    creates has the very schema delta-rs writes for the embedded engine."""
    from pyspark.sql.pandas.types import from_arrow_schema
    from pyspark.sql.types import StructField, StructType

    fields = from_arrow_schema(schema).fields
    return StructType(
        [
            StructField(f.name, f.dataType, f.nullable, {"comment": a.metadata[b"comment"].decode()})
            if a.metadata and b"comment" in a.metadata
            else f
            for f, a in zip(fields, schema, strict=True)
        ]
    )


def _write(spark: SparkSession, uri: str, rows: DataFrame, done: list[_Job]) -> S2LakeError | None:
    """One commit: the rows of ``done`` replace whatever the table held for those products."""
    from pyspark.sql.functions import col

    from s2lake.tables.store import sql_literal

    ids = sorted({job.product.product_id for job in done})
    tiles = sorted({job.product.tile for job in done})
    predicate = f"tile IN ({', '.join(map(sql_literal, tiles))}) AND product_id IN ({', '.join(map(sql_literal, ids))})"
    try:
        _ensure_table(spark, uri)
        (
            rows.where(col("product_id").isin(ids))
            .write.format("delta")
            .mode("overwrite")
            .option("replaceWhere", predicate)
            .save(uri)
        )
    except Exception as exc:  # disk full, permissions, a concurrent commit: no version was written
        return ProductError(
            f"writing the patches failed: {str(exc).splitlines()[0][:500]}",
            where=uri,
            fix="check the warehouse (space, permissions) and rerun these products",
        )
    return None


def _ensure_table(spark: SparkSession, uri: str) -> None:
    """Create the table empty, with the exact schema, when it does not exist yet.

    A separate (empty) first version because Delta makes every column nullable when a DataFrame write
    creates the table; the DDL path keeps the ``NOT NULL`` columns and comments delta-rs writes.
    """
    from delta.tables import DeltaTable

    if DeltaTable.isDeltaTable(spark, uri):
        return
    (
        DeltaTable.createIfNotExists(spark)
        .location(uri)
        .addColumns(spark_schema(PATCHES.schema))
        .partitionedBy(*PATCHES.partition_by)
        .comment(PATCHES.description)
        .execute()
    )


def _first_failures(reported: list[Failure]) -> dict[int, ProductError]:
    """One error per failed product: its most direct cause (a read error before the rows it left incomplete)."""
    best: dict[int, Failure] = {}
    for failure in reported:
        if failure.job not in best or failure.rank < best[failure.job].rank:
            best[failure.job] = failure
    return {job: ProductError(f.what, where=f.where, fix=f.fix) for job, f in best.items()}


class _ListParam:
    """Accumulator of lists (pyspark's AccumulatorParam interface; its module has no list parameter)."""

    def zero(self, value: list) -> list:
        return []

    def addInPlace(self, left: list, right: list) -> list:
        left.extend(right)
        return left
