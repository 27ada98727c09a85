"""Stream rows into a Delta table's folder as Parquet data files, from any process, and commit them in
ONE transaction in place of the table's rows with the same ``patch_id``.

Why not :class:`~s2lake.tables.store.TableStore` (``write_deltalake``): delta-rs collects its whole input
in memory before writing (see :mod:`sedona_jobs.patches.writer`), and an import of the 549,488-patch
BigEarthNet v2 holds ~170 GB of pixels. Why not ``commit_product``: an import spans many products and
tiles and must land as one version. So, as ``commit_product`` does, the Parquet files are written with
pyarrow (one row group per batch; a file per partition and ``group`` value, closed after
:data:`FILE_BYTES`), and the transaction is made by hand against the version read before writing.

Why the files are written by whoever holds the rows (:class:`FileWriter`, picklable :class:`FileTarget`):
the import's workers write their patches' files themselves and hand back only a :class:`DataFile` each
(path, size, partition, statistics), so ~250 kB of pixels per patch never cross a pipe and the parent,
which commits, is not a serial Parquet encoder that the workers wait for.

* old files holding none of the new ids (by their ``patch_id`` min/max, then their ``patch_id`` column)
  stay; old files holding only new ids are removed; old files holding both are rewritten without the
  new ids (streamed row group by row group) -- so re-importing a patch replaces it, and importing a
  second subset of a product keeps the first;
* a concurrent commit in between makes the transaction fail (:meth:`TableStore.committing`);
* on any error every file of the run is deleted: those reported, and, found by the run's token in their
  names, those a worker wrote but never reported (it was cancelled or died); a killed run leaves only
  files no version refers to.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake.transaction import AddAction, RemoveAction

from s2lake.tables.schemas import TableSpec
from s2lake.tables.store import TableStore
from s2lake.warehouse_fs import arrow_fs
from sedona_jobs.patches.writer import json_value

#: Start a new data file after this many bytes (compressed).
FILE_BYTES = 256 * 1024 * 1024
#: Files kept open at once (each holds only Parquet footer state); the oldest is closed beyond that.
OPEN_FILES = 32


@dataclass
class DataFile:
    """A data file written into the table's folder and not committed yet (returned by workers)."""

    rel: str
    partition: dict[str, str]
    rows: int = 0
    size: int = 0
    low: dict[str, object] = field(default_factory=dict)
    high: dict[str, object] = field(default_factory=dict)
    nulls: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FileTarget:
    """Where and how one run writes a table's data files; plain data, so a worker process gets it."""

    uri: str
    spec: TableSpec
    stats_columns: tuple[str, ...]
    group: str | None  # a file holds one value of this column (besides one partition)
    run: str  # in every file name of the run: how :meth:`StagedReplace.abort` finds unreported files

    def writer(self) -> FileWriter:
        return FileWriter(self)


class FileWriter:
    """Writes record batches into new data files of :attr:`FileTarget.uri`; :meth:`close` returns them."""

    def __init__(self, target: FileTarget):
        self.target = target
        self.fs, self.root = arrow_fs(target.uri)
        spec = target.spec
        self.file_schema = pa.schema([f for f in spec.schema if f.name not in spec.partition_by])
        self.keys = [*spec.partition_by, *([target.group] if target.group else [])]
        self.open: dict[tuple, tuple[DataFile, pa.NativeFile, pq.ParquetWriter]] = {}
        self.written: list[DataFile] = []

    def write(self, batch: pa.RecordBatch) -> None:
        """Add ``batch`` (in the table's schema), split by partition and group value."""
        if not self.keys:
            self._write_part((), {}, batch)
            return
        table = pa.Table.from_batches([batch])
        combos = table.select(self.keys).group_by(self.keys).aggregate([]).to_pylist()
        for combo in combos:
            piece = batch
            if len(combos) > 1:
                mask = None
                for k in self.keys:
                    eq = pc.equal(table.column(k), combo[k])
                    mask = eq if mask is None else pc.and_(mask, eq)
                piece = table.filter(mask).combine_chunks().to_batches()[0]
            part = {k: combo[k] for k in self.target.spec.partition_by}
            self._write_part(tuple(combo[k] for k in self.keys), part, piece)

    def _write_part(self, key: tuple, partition: dict[str, str], batch: pa.RecordBatch) -> None:
        entry = self.open.get(key)
        if entry is not None and entry[1].tell() >= FILE_BYTES:
            self.finish(self.open.pop(key))
            entry = None
        if entry is None:
            if len(self.open) >= OPEN_FILES:
                self.finish(self.open.pop(next(iter(self.open))))
            entry = self.open[key] = self.new_file(partition)
        self.append(entry, batch)

    def new_file(self, partition: dict[str, str]) -> tuple[DataFile, pa.NativeFile, pq.ParquetWriter]:
        folder = "/".join(f"{k}={v}" for k, v in partition.items())
        rel = f"{folder + '/' if folder else ''}part-{self.target.run}-{uuid.uuid4()}.zstd.parquet"
        if folder:
            self.fs.create_dir(f"{self.root}/{folder}")
        file = DataFile(rel, partition)
        self.written.append(file)
        sink = self.fs.open_output_stream(f"{self.root}/{rel}")
        writer = pq.ParquetWriter(
            sink, self.file_schema, compression="zstd", write_statistics=list(self.target.stats_columns)
        )
        return file, sink, writer

    def append(self, entry: tuple[DataFile, pa.NativeFile, pq.ParquetWriter], batch: pa.RecordBatch) -> None:
        file, _, writer = entry
        data = pa.RecordBatch.from_arrays([batch.column(n) for n in self.file_schema.names], schema=self.file_schema)
        writer.write_batch(data, row_group_size=max(data.num_rows, 1))
        file.rows += batch.num_rows
        for name in self.target.stats_columns:
            column = batch.column(name)
            file.nulls[name] = file.nulls.get(name, 0) + column.null_count
            bounds = pc.min_max(column)
            low, high = bounds["min"].as_py(), bounds["max"].as_py()
            if low is not None and (name not in file.low or low < file.low[name]):
                file.low[name] = low
            if high is not None and (name not in file.high or high > file.high[name]):
                file.high[name] = high

    @staticmethod
    def finish(entry: tuple[DataFile, pa.NativeFile, pq.ParquetWriter]) -> None:
        file, sink, writer = entry
        writer.close()
        file.size = sink.tell()
        sink.close()

    def close(self) -> list[DataFile]:
        """Close every open file; the files written, all complete."""
        while self.open:
            self.finish(self.open.pop(next(iter(self.open))))
        return self.written

    def discard(self) -> None:
        """Delete every file written (none is part of a version)."""
        for entry in self.open.values():
            with contextlib.suppress(Exception):
                entry[2].close()
                entry[1].close()
        self.open.clear()
        for file in self.written:
            with contextlib.suppress(FileNotFoundError):
                self.fs.delete_file(f"{self.root}/{file.rel}")


class StagedReplace:
    """New files of one table, committed by :meth:`commit` in place of the rows with the same patch_id.

    Rows come either through :meth:`write` (written here) or as files a worker wrote with
    :attr:`target` and reported to :meth:`add`."""

    def __init__(self, store: TableStore, spec: TableSpec, stats_columns: tuple[str, ...], group: str | None = None):
        self.store, self.spec = store, spec
        self.table = store.snapshot(spec)  # the read version of the commit
        self.target = FileTarget(store.uri(spec.name), spec, stats_columns, group, uuid.uuid4().hex[:12])
        self.local = self.target.writer()
        self.files: list[DataFile] = []  # reported by workers
        self.ids: set[str] = set()
        self.rewritten: list[DataFile] = []  # old rows kept (files rewritten without the new ids)

    def write(self, batch: pa.RecordBatch) -> None:
        self.ids.update(batch.column("patch_id").to_pylist())
        self.local.write(batch)

    def add(self, files: Iterable[DataFile], ids: Iterable[str]) -> None:
        """Files a worker wrote with :attr:`target`, holding the rows of ``ids``."""
        self.files.extend(files)
        self.ids.update(ids)

    def abort(self) -> None:
        """Delete every file of this run: written here, reported, or found by the run's token."""
        self.local.discard()
        fs, root = self.local.fs, self.local.root
        for file in self.files:
            with contextlib.suppress(FileNotFoundError):
                fs.delete_file(f"{root}/{file.rel}")
        with contextlib.suppress(FileNotFoundError):
            for info in fs.get_file_info(pafs.FileSelector(root, recursive=True)):
                if info.type == pafs.FileType.File and f"part-{self.target.run}-" in info.base_name:
                    fs.delete_file(info.path)

    def commit(self) -> int:
        """One transaction: the new files in, the old rows with the same patch_ids out. Returns rows added."""
        try:
            removes = self._replace_old()
            files = [*self.files, *self.local.close()]
            now = int(time.time() * 1000)
            adds = [
                AddAction(
                    path=f.rel,
                    size=f.size,
                    partition_values=f.partition,
                    modification_time=now,
                    data_change=True,
                    stats=self._stats_json(f),
                )
                for f in files
            ]
            actions = [*removes, *adds]
            if actions:
                self.store.committing(
                    self.table,
                    self.spec.name,
                    lambda properties: self.table.create_write_transaction(
                        actions,
                        mode="append",
                        schema=self.spec.schema,
                        partition_by=list(self.spec.partition_by) or None,
                        commit_properties=properties,
                    ),
                )
        except BaseException:
            self.abort()
            raise
        return sum(f.rows for f in files) - sum(f.rows for f in self.rewritten)

    def _stats_json(self, file: DataFile) -> str:
        return json.dumps(
            {
                "numRecords": file.rows,
                "minValues": {k: json_value(v) for k, v in file.low.items()},
                "maxValues": {k: json_value(v) for k, v in file.high.items()},
                "nullCount": {k: file.nulls.get(k, 0) for k in self.target.stats_columns},
            }
        )

    def _replace_old(self) -> list:
        """Remove actions for old files holding new ids; old files also holding other ids are rewritten
        without the new ones first (their rewrites join the new files)."""
        old = pa.table(self.table.get_add_actions(flatten=True)).to_pylist()
        ordered = sorted(self.ids)
        now = int(time.time() * 1000)
        removes = []
        for row in old:
            low, high = row.get("min.patch_id"), row.get("max.patch_id")
            if low is not None and high is not None:
                at = bisect.bisect_left(ordered, low)
                if at == len(ordered) or ordered[at] > high:
                    continue  # no new id inside the file's range
            path = f"{self.local.root}/{row['path']}"
            with self.local.fs.open_input_file(path) as handle:
                ids = pq.ParquetFile(handle).read(columns=["patch_id"]).column("patch_id")
            hit = pc.is_in(ids, value_set=pa.array(ordered, pa.string()))
            hits = pc.sum(hit).as_py() or 0
            if hits == 0:
                continue
            partition = {k: row[f"partition.{k}"] for k in self.spec.partition_by}
            if hits < len(ids):
                self._rewrite_without(path, partition)
            removes.append(
                RemoveAction(
                    path=row["path"],
                    data_change=True,
                    deletion_timestamp=now,
                    size=row["size_bytes"],
                    partition_values=partition or None,
                )
            )
        return removes

    def _rewrite_without(self, path: str, partition: dict[str, str]) -> None:
        keep = pa.array(sorted(self.ids), pa.string())
        entry = self.local.new_file(partition)
        with self.local.fs.open_input_file(path) as handle:
            source = pq.ParquetFile(handle)
            for i in range(source.num_row_groups):
                group = source.read_row_group(i)
                rest = group.filter(pc.invert(pc.is_in(group.column("patch_id"), value_set=keep)))
                for name, value in partition.items():
                    rest = rest.append_column(name, pa.array([value] * rest.num_rows, pa.string()))
                for batch in rest.select(self.spec.schema.names).cast(self.spec.schema).to_batches():
                    self.local.append(entry, batch)
        self.local.finish(entry)
        self.rewritten.append(entry[0])
