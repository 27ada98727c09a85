"""Stream a product's patches into the ``patches`` Delta table in bounded memory, as one commit.

Why not ``write_deltalake``: delta-rs 1.6 collects the whole input stream in memory before it writes
the first file (measured: 840 MB of batches -> 1.4 GB peak RSS, every batch yielded before the first
file appears), and a full tile is ~2.7 GB of int32 pixels. So the Parquet data files are written here
with pyarrow, one row group per batch (one patch row, ~30 MB) and a new file every
:data:`FILE_BYTES`; then a single Delta transaction removes the product's previous files and adds the
new ones (delta-rs ``create_write_transaction`` with ``AddAction``/``RemoveAction``), made against the
version the old files were listed from, so a concurrent writer's commit makes it fail rather than
leave the product twice. Files that were written but never committed (an error mid-product, a lost
race) are not part of any version and are deleted.

The files go through a pyarrow file system (:func:`~s2lake.warehouse_fs.arrow_fs`), so the same streaming
write serves a local warehouse and an ``hdfs://`` one (hdfs-native, no JVM), and delta-rs commits to either.

Every file holds the patches of exactly one product, so "the product's previous files" are the files
whose ``product_id`` statistics are that product on both ends.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake import DeltaTable

from s2lake.tables.schemas import PATCHES
from s2lake.tables.store import TableStore, sql_literal
from s2lake.warehouse_fs import arrow_fs

log = logging.getLogger("s2lake.patches")

#: Start a new data file after this many bytes (compressed): a few files per full tile.
FILE_BYTES = 512 * 1024 * 1024
#: Columns with statistics in the Delta log (file skipping in DuckDB/Spark/delta-rs); pixel lists have none.
STATS_COLUMNS = (
    "patch_id",
    "product_id",
    "epsg",
    "row",
    "col",
    "ulx",
    "uly",
    "lrx",
    "lry",
    "sensing_time",
    "has_nodata",
    "nodata_pixels",
)
#: ZSTD for the table's columns, with Parquet statistics written only for :data:`STATS_COLUMNS` (min/max of
#: 14,400-value pixel lists cost more than the compression and nobody filters on them).
COMPRESSION = "zstd"
#: Pages of 16 MB instead of pyarrow's 1 MB: a 10 m pixel list column of a patch row is ~5 MB, and fewer pages
#: cost less to write (measured ~10 %).
DATA_PAGE_BYTES = 16 << 20
#: Batches cut ahead of the Parquet writer thread (each ~30 MB at full size).
_WRITE_AHEAD = 2

_FILE_SCHEMA = pa.schema([f for f in PATCHES.schema if f.name not in PATCHES.partition_by])
#: Pixel lists get no page compression: Parquet's dictionary encoding (on by default) already stores each DN
#: in ~14 bits, and ZSTD on top saved only ~5 % of the file for ~30 % of the writer's CPU time (measured on
#: the synthetic tile's pixel lists: 58.3 MB with, 61.1 MB without).
_COLUMN_COMPRESSION = {
    f.name: "none" if f.type in (pa.list_(pa.int32()), pa.list_(pa.int8())) else COMPRESSION for f in _FILE_SCHEMA
}


@dataclass
class _File:
    rel: str
    rows: int = 0
    low: dict[str, object] = field(default_factory=dict)
    high: dict[str, object] = field(default_factory=dict)


def json_value(value: object) -> object:
    """A statistics value as the Delta log writes it (timestamps in ISO 8601 with milliseconds, UTC as Z)."""
    if hasattr(value, "isoformat"):
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return value


class _FileStats:
    """Per-file numRecords/minValues/maxValues/nullCount, as the Delta protocol's ``stats`` JSON."""

    @staticmethod
    def update(file: _File, batch: pa.RecordBatch) -> None:
        file.rows += batch.num_rows
        for name in STATS_COLUMNS:
            bounds = pc.min_max(batch.column(name))
            low, high = bounds["min"].as_py(), bounds["max"].as_py()
            if name not in file.low or low < file.low[name]:
                file.low[name] = low
            if name not in file.high or high > file.high[name]:
                file.high[name] = high

    @staticmethod
    def json(file: _File) -> str:
        return json.dumps(
            {
                "numRecords": file.rows,
                "minValues": {k: json_value(v) for k, v in file.low.items()},
                "maxValues": {k: json_value(v) for k, v in file.high.items()},
                "nullCount": dict.fromkeys(STATS_COLUMNS, 0),
            }
        )


def commit_product(store: TableStore, tile: str, product_id: str, batches: Iterable[pa.RecordBatch]) -> int:
    """Write ``batches`` (all of one product and tile) and commit them in place of the product's old rows.

    Returns the number of rows committed. On any error the new files are deleted and nothing is
    committed, so the table's versions never hold part of the product.
    """
    found = _product_files(store, product_id)
    if _mixed(found):
        # Someone compacted the table across products: replace by predicate instead (delta-rs rewrites
        # the mixed files), at the price of delta-rs holding the product in memory.
        log.warning("patches table has files mixing products; replacing %s through delta-rs", product_id)
        counted = _Counter(batches)
        store.replace_where(
            PATCHES, counted, predicate=f"tile = {sql_literal(tile)} AND product_id = {sql_literal(product_id)}"
        )
        return counted.rows
    fs, root = arrow_fs(store.uri(PATCHES.name))
    partition = f"tile={tile}"
    written: list[_File] = []
    try:
        _write_files(fs, root, partition, batches, written)
        _commit(store, fs, root, tile, found, written)
    except BaseException:
        for file in written:
            with contextlib.suppress(FileNotFoundError):
                fs.delete_file(f"{root}/{file.rel}")
        raise
    return sum(f.rows for f in written)


class _Counter:
    def __init__(self, batches: Iterable[pa.RecordBatch]) -> None:
        self.batches, self.rows = batches, 0

    def __iter__(self):
        for batch in self.batches:
            self.rows += batch.num_rows
            yield batch


@dataclass
class _Listing:
    """The table as it was listed once per commit: its files, and masks of those holding only this
    product / possibly some of it."""

    table: DeltaTable
    files: pa.Table
    only: pa.Array
    maybe: pa.Array


def _product_files(store: TableStore, product_id: str) -> _Listing:
    table = store.snapshot(PATCHES)
    files = pa.table(table.get_add_actions(flatten=True))
    if files.num_rows == 0:
        return _Listing(table, files, pa.array([], pa.bool_()), pa.array([], pa.bool_()))
    low, high = files["min.product_id"], files["max.product_id"]
    only = pc.fill_null(pc.and_(pc.equal(low, product_id), pc.equal(high, product_id)), False)
    maybe = pc.fill_null(pc.and_(pc.less_equal(low, product_id), pc.greater_equal(high, product_id)), True)
    return _Listing(table, files, only, maybe)


def _mixed(listing: _Listing) -> bool:
    return pc.any(pc.and_(listing.maybe, pc.invert(listing.only))).as_py() or False


def _write_files(
    fs: pafs.FileSystem, root: str, partition: str, batches: Iterable[pa.RecordBatch], written: list[_File]
) -> None:
    """Write ``batches`` into Parquet files in a second thread, so that cutting the next batches (in this thread)
    overlaps with encoding and writing the last ones: pyarrow releases the GIL while it writes. At most
    ``_WRITE_AHEAD`` cut batches wait for the writer, which bounds memory; a write's error surfaces here."""
    fs.create_dir(f"{root}/{partition}")
    files = _RollingFiles(fs, root, partition, written)
    in_flight: deque[Future[None]] = deque()
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="s2lake-parquet") as writer_thread:
            try:
                for batch in batches:
                    in_flight.append(writer_thread.submit(files.write, batch))
                    if len(in_flight) > _WRITE_AHEAD:
                        in_flight.popleft().result()
                while in_flight:
                    in_flight.popleft().result()
            finally:
                for queued in in_flight:  # after an error: the batches not written yet never will be
                    queued.cancel()
    finally:
        files.close()  # the writer thread has ended: this thread owns the open file now


class _RollingFiles:
    """Parquet files of about ``FILE_BYTES`` each in ``partition``, each listed in ``written`` when opened
    (so that a failed commit deletes it too); used by one thread at a time."""

    def __init__(self, fs: pafs.FileSystem, root: str, partition: str, written: list[_File]) -> None:
        self.fs, self.root, self.partition, self.written = fs, root, partition, written
        self.writer: pq.ParquetWriter | None = None
        self.sink: pa.NativeFile | None = None

    def write(self, batch: pa.RecordBatch) -> None:
        if self.writer is None or self.sink is None or self.sink.tell() >= FILE_BYTES:
            self.close()
            file = _File(f"{self.partition}/part-{uuid.uuid4()}.{COMPRESSION}.parquet")
            self.written.append(file)
            self.sink = self.fs.open_output_stream(f"{self.root}/{file.rel}")
            self.writer = pq.ParquetWriter(
                self.sink,
                _FILE_SCHEMA,
                compression=_COLUMN_COMPRESSION,
                write_statistics=list(STATS_COLUMNS),
                data_page_size=DATA_PAGE_BYTES,
            )
        data = pa.RecordBatch.from_arrays([batch.column(name) for name in _FILE_SCHEMA.names], schema=_FILE_SCHEMA)
        self.writer.write_batch(data, row_group_size=data.num_rows)
        _FileStats.update(self.written[-1], batch)

    def close(self) -> None:
        writer, sink, self.writer, self.sink = self.writer, self.sink, None, None
        try:
            if writer is not None:
                writer.close()
        finally:
            if sink is not None:
                sink.close()


def _commit(
    store: TableStore, fs: pafs.FileSystem, root: str, tile: str, found: _Listing, written: list[_File]
) -> None:
    """One transaction against the version the files were listed from: a concurrent writer's commit in
    between makes it conflict (:meth:`TableStore.committing`) instead of leaving the product twice."""
    from deltalake.transaction import AddAction, RemoveAction

    now = int(time.time() * 1000)
    sizes = fs.get_file_info([f"{root}/{f.rel}" for f in written])
    adds = [
        AddAction(
            path=f.rel,
            size=info.size,
            partition_values={"tile": tile},
            modification_time=now,
            data_change=True,
            stats=_FileStats.json(f),
        )
        for f, info in zip(written, sizes, strict=True)
    ]
    removes = [
        RemoveAction(
            path=row["path"],
            data_change=True,
            deletion_timestamp=now,
            size=row["size_bytes"],
            partition_values={"tile": row["partition.tile"]},
        )
        for row in found.files.filter(found.only).select(["path", "size_bytes", "partition.tile"]).to_pylist()
    ]
    store.committing(
        found.table,
        PATCHES.name,
        lambda properties: found.table.create_write_transaction(
            [*removes, *adds], mode="append", schema=PATCHES.schema, partition_by=["tile"], commit_properties=properties
        ),
    )
