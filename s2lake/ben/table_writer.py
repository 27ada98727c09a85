"""Stream rows into a Delta table and commit them, in ONE transaction, in place of the table's rows with
the same ``patch_id``.

Why not :class:`~s2lake.tables.store.TableStore` (``write_deltalake``): delta-rs collects its whole input
in memory before writing (see :mod:`sedona_jobs.patches.writer`), and an import of the 549,488-patch
BigEarthNet v2 holds ~170 GB of pixels. Why not ``commit_product``: an import spans many products and
tiles and must land as one version. So, as ``commit_product`` does, the Parquet files are written here
with pyarrow (one row group per batch; a file per partition and ``group`` value, closed after
:data:`FILE_BYTES`), and the transaction is made by hand against the version read before writing:

* old files holding none of the new ids (by their ``patch_id`` min/max, then their ``patch_id`` column)
  stay; old files holding only new ids are removed; old files holding both are rewritten without the
  new ids (streamed row group by row group) -- so re-importing a patch replaces it, and importing a
  second subset of a product keeps the first;
* a concurrent commit in between makes the transaction fail (:meth:`TableStore.committing`);
* on any error every file written is deleted; a killed run leaves only files no version refers to.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import time
import uuid
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from s2lake.tables.schemas import TableSpec
from s2lake.tables.store import TableStore
from s2lake.warehouse_fs import arrow_fs
from sedona_jobs.patches.writer import json_value

#: Start a new data file after this many bytes (compressed).
FILE_BYTES = 256 * 1024 * 1024
#: Files kept open at once (each holds only Parquet footer state); the oldest is closed beyond that.
OPEN_FILES = 32


@dataclass
class _File:
    rel: str
    partition: dict[str, str]
    writer: pq.ParquetWriter | None = None
    sink: pa.NativeFile | None = None
    rows: int = 0
    low: dict[str, object] = field(default_factory=dict)
    high: dict[str, object] = field(default_factory=dict)
    nulls: dict[str, int] = field(default_factory=dict)


class StagedReplace:
    """New files of one table, committed by :meth:`commit` in place of the rows with the same patch_id."""

    def __init__(self, store: TableStore, spec: TableSpec, stats_columns: tuple[str, ...], group: str | None = None):
        self.store, self.spec, self.stats_columns, self.group = store, spec, stats_columns, group
        self.table = store.snapshot(spec)  # the read version of the commit
        self.fs, self.root = arrow_fs(store.uri(spec.name))
        self.file_schema = pa.schema([f for f in spec.schema if f.name not in spec.partition_by])
        self.open: dict[tuple, _File] = {}
        self.written: list[_File] = []
        self.ids: set[str] = set()
        self.rewritten: list[_File] = []  # old rows kept (files rewritten without the new ids)

    def write(self, batch: pa.RecordBatch) -> None:
        """Add ``batch`` (in the table's schema), split by partition and group value."""
        keys = [*self.spec.partition_by, *([self.group] if self.group else [])]
        self.ids.update(batch.column("patch_id").to_pylist())
        if not keys:
            self._write_part((), {}, batch)
            return
        table = pa.Table.from_batches([batch])
        combos = table.select(keys).group_by(keys).aggregate([]).to_pylist()
        for combo in combos:
            mask = None
            for k in keys:
                eq = pc.equal(table.column(k), combo[k])
                mask = eq if mask is None else pc.and_(mask, eq)
            part = {k: combo[k] for k in self.spec.partition_by}
            for piece in table.filter(mask).to_batches():
                self._write_part(tuple(combo[k] for k in keys), part, piece)

    def _write_part(self, key: tuple, partition: dict[str, str], batch: pa.RecordBatch) -> None:
        file = self.open.get(key)
        if file is not None and file.sink.tell() >= FILE_BYTES:
            self._close(self.open.pop(key))
            file = None
        if file is None:
            if len(self.open) >= OPEN_FILES:
                self._close(self.open.pop(next(iter(self.open))))
            file = self._new_file(partition)
            self.open[key] = file
        self._append(file, batch)

    def _new_file(self, partition: dict[str, str]) -> _File:
        folder = "/".join(f"{k}={v}" for k, v in partition.items())
        rel = f"{folder + '/' if folder else ''}part-{uuid.uuid4()}.zstd.parquet"
        if folder:
            self.fs.create_dir(f"{self.root}/{folder}")
        file = _File(rel, partition)
        self.written.append(file)
        file.sink = self.fs.open_output_stream(f"{self.root}/{rel}")
        file.writer = pq.ParquetWriter(
            file.sink, self.file_schema, compression="zstd", write_statistics=list(self.stats_columns)
        )
        return file

    def _append(self, file: _File, batch: pa.RecordBatch) -> None:
        data = pa.RecordBatch.from_arrays([batch.column(n) for n in self.file_schema.names], schema=self.file_schema)
        file.writer.write_batch(data, row_group_size=max(data.num_rows, 1))
        file.rows += batch.num_rows
        for name in self.stats_columns:
            column = batch.column(name)
            file.nulls[name] = file.nulls.get(name, 0) + column.null_count
            bounds = pc.min_max(column)
            low, high = bounds["min"].as_py(), bounds["max"].as_py()
            if low is not None and (name not in file.low or low < file.low[name]):
                file.low[name] = low
            if high is not None and (name not in file.high or high > file.high[name]):
                file.high[name] = high

    @staticmethod
    def _close(file: _File) -> None:
        if file.writer is not None:
            file.writer.close()
            file.sink.close()
            file.writer = file.sink = None

    def abort(self) -> None:
        """Delete every file written (none is part of a version)."""
        for file in self.open.values():
            with contextlib.suppress(Exception):
                self._close(file)
        for file in self.written:
            with contextlib.suppress(FileNotFoundError):
                self.fs.delete_file(f"{self.root}/{file.rel}")

    def commit(self) -> int:
        """One transaction: the new files in, the old rows with the same patch_ids out. Returns rows added."""
        from deltalake.transaction import AddAction

        try:
            removes = self._replace_old()
            for file in self.open.values():
                self._close(file)
            self.open.clear()
            now = int(time.time() * 1000)
            infos = self.fs.get_file_info([f"{self.root}/{f.rel}" for f in self.written])
            adds = [
                AddAction(
                    path=f.rel,
                    size=info.size,
                    partition_values=f.partition,
                    modification_time=now,
                    data_change=True,
                    stats=self._stats_json(f),
                )
                for f, info in zip(self.written, infos, strict=True)
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
        return sum(f.rows for f in self.written) - sum(f.rows for f in self.rewritten)

    def _stats_json(self, file: _File) -> str:
        return json.dumps(
            {
                "numRecords": file.rows,
                "minValues": {k: json_value(v) for k, v in file.low.items()},
                "maxValues": {k: json_value(v) for k, v in file.high.items()},
                "nullCount": {k: file.nulls.get(k, 0) for k in self.stats_columns},
            }
        )

    def _replace_old(self) -> list:
        """Remove actions for old files holding new ids; old files also holding other ids are rewritten
        without the new ones first (their rewrites join the new files)."""
        from deltalake.transaction import RemoveAction

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
            path = f"{self.root}/{row['path']}"
            with self.fs.open_input_file(path) as handle:
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
        file = self._new_file(partition)
        with self.fs.open_input_file(path) as handle:
            source = pq.ParquetFile(handle)
            for i in range(source.num_row_groups):
                group = source.read_row_group(i)
                rest = group.filter(pc.invert(pc.is_in(group.column("patch_id"), value_set=keep)))
                for name, value in partition.items():
                    rest = rest.append_column(name, pa.array([value] * rest.num_rows, pa.string()))
                for batch in rest.select(self.spec.schema.names).cast(self.spec.schema).to_batches():
                    self._append(file, batch)
        self._close(file)
        self.rewritten.append(file)
