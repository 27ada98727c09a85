"""Reading and writing Delta tables with delta-rs (``deltalake``).

Every write here is one Delta commit: a product's patches are replaced with
``overwrite`` + ``predicate`` (one transaction removes the old files and adds the new ones), rows
of small tables are upserted with ``MERGE``. A failed write leaves no version behind, because
delta-rs writes the data files first and the log entry last.

Concurrent writers (optimistic concurrency, the guarantee that holds where no file lock reaches):
every commit is made against the snapshot the writer read (:meth:`TableStore.snapshot`) and carries a
Delta application transaction ``s2lake:<table>``. delta-rs checks a commit that lost the race against
the winning commits, and two commits carrying the same application id always conflict, so whichever
writer read a stale version is rejected with :class:`~s2lake.errors.WriteConflictError` instead of
adding its rows next to the winner's. Plain appends would not conflict on their own (delta-rs lets
blind appends through). A missing table is first created empty, because delta-rs does not check a
table-creating commit at all: two creations racing both succeed, the second retried as an append.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

import pyarrow as pa
from deltalake import DeltaTable, QueryBuilder, Schema, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError
from deltalake.transaction import CommitProperties, Transaction

from s2lake.errors import WarehouseError, WriteConflictError
from s2lake.tables.schemas import TableSpec
from s2lake.warehouse import Warehouse
from s2lake.warehouse_fs import fsspec_fs

log = logging.getLogger("s2lake.tables")

#: What a table folder must be called to be listed as a table (and become a SQL view of that name).
#: Folder names come from the file system, where anyone who can write the warehouse can create one, and
#: end up in SQL and in logs: letters, digits and underscores only, so no quote, semicolon, space or
#: control character ever gets that far.
TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
#: What to do about a table whose log or files cannot be read.
BROKEN_TABLE_FIX = "restore its _delta_log and data files from a backup, or remove the folder and rebuild the table"
#: MERGE upserts are retried this many times on a conflict: they are keyed, so redoing one against the
#: newer snapshot gives the result a serial run would (unlike a replace decided on what was read).
UPSERT_ATTEMPTS = 5

T = TypeVar("T")


def sql_literal(value: str) -> str:
    """Quote a string for a delta-rs predicate (single quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


class TableStore:
    """Delta tables of one warehouse."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    def uri(self, name: str) -> str:
        return self.warehouse.table_uri(name)

    def open(self, name: str) -> DeltaTable | None:
        try:
            return DeltaTable(self.uri(name), storage_options=self.warehouse.storage_options())
        except TableNotFoundError:
            return None
        except DeltaError as exc:
            raise WarehouseError(
                f"table `{name}` cannot be read: {str(exc).splitlines()[0]}",
                where=self.uri(name),
                fix=BROKEN_TABLE_FIX,
            ) from None

    def require(self, name: str) -> DeltaTable:
        table = self.open(name)
        if table is None:
            raise WarehouseError(
                f"table `{name}` does not exist in warehouse {self.warehouse.root}",
                fix="build it first (see `s2lake --help`) or point --warehouse at the right folder",
            )
        return table

    def names(self) -> list[str]:
        """Names of the Delta tables under ``tables/`` (local warehouses, or via fsspec).

        A folder holding a ``_delta_log`` whose name is not a :data:`TABLE_NAME` is left out with a
        warning naming it: it was not written by s2lake, and its name cannot be used in SQL as it is.
        """
        return _named_folders(self.warehouse.path("tables"), "_delta_log", "table")

    def reference_names(self) -> list[str]:
        """Names of the GeoParquet reference tables under ``reference/`` (their SQL views are ``ref_<name>``),
        by the same naming rule as :meth:`names`."""
        return _named_folders(self.warehouse.reference_uri(""), "*.parquet", "reference")

    def snapshot(self, spec: TableSpec) -> DeltaTable:
        """The table as it is now, the read version of the next commit; created empty when missing."""
        table = self.open(spec.name)
        if table is not None:
            return self._with_new_columns(table, spec)
        return DeltaTable.create(
            self.uri(spec.name),
            spec.schema,
            mode="ignore",  # another writer may create it first; both creations hold no rows
            partition_by=list(spec.partition_by) or None,
            name=spec.name,
            description=spec.description,
            storage_options=self.warehouse.storage_options(),
        )

    def _with_new_columns(self, table: DeltaTable, spec: TableSpec) -> DeltaTable:
        """Add the (nullable) columns ``spec`` has gained since the table was created, in one commit, so
        a warehouse written by an older s2lake takes the new rows; existing rows read them as null."""
        present = set(table.schema().to_arrow().names)
        added = [f for f in spec.schema if f.name not in present]
        if not added:
            return table

        fields = Schema.from_arrow(pa.schema(added)).fields
        self.committing(
            table, spec.name, lambda properties: table.alter.add_columns(fields, commit_properties=properties)
        )
        log.info("table %s: added columns %s", spec.name, ", ".join(f.name for f in added))
        return self.open(spec.name) or table

    def commit_properties(self, table: DeltaTable, name: str) -> CommitProperties:
        """The application transaction that makes concurrent s2lake commits to ``name`` conflict."""
        now = int(time.time() * 1000)
        return CommitProperties(app_transactions=[Transaction(f"s2lake:{name}", table.version() + 1, now)])

    def committing(self, table: DeltaTable, name: str, commit: Callable[[CommitProperties], T]) -> T:
        """Run ``commit`` with the table's commit properties; a lost race becomes :class:`WriteConflictError`."""
        try:
            return commit(self.commit_properties(table, name))
        except CommitFailedError as exc:
            raise WriteConflictError(
                f"another run committed to table `{name}` after this run read its version {table.version()}; "
                f"this run's commit was rejected and wrote nothing ({exc})",
                where=self.uri(name),
                fix="rerun once the other run has finished (only one writer per table at a time)",
            ) from exc

    def replace_where(self, spec: TableSpec, data: pa.Table | Iterable[pa.RecordBatch], predicate: str) -> None:
        """Atomically replace the rows matching ``predicate`` with ``data`` (one commit)."""
        self._write(spec, self.snapshot(spec), _as_reader(spec.schema, data), "overwrite", predicate=predicate)

    def upsert(self, spec: TableSpec, rows: pa.Table, update: Sequence[str] | None = None) -> None:
        """Insert or update rows by the table's key (one MERGE commit). With ``update``, matched rows
        change only those columns and keep the others (what another step wrote there). A MERGE that
        lost a race is redone on the newer version (see :data:`UPSERT_ATTEMPTS`)."""
        rows = rows.select(spec.schema.names).cast(spec.schema)
        on = " AND ".join(f"t.{k} = s.{k}" for k in spec.key)
        for attempt in range(1, UPSERT_ATTEMPTS + 1):
            table = self.snapshot(spec)

            def merge(properties: CommitProperties, table: DeltaTable = table) -> None:
                builder = table.merge(
                    rows, predicate=on, source_alias="s", target_alias="t", commit_properties=properties
                )
                if update is None:
                    builder = builder.when_matched_update_all()
                else:
                    builder = builder.when_matched_update({c: f"s.{c}" for c in update})
                builder.when_not_matched_insert_all().execute()

            try:
                self.committing(table, spec.name, merge)
                return
            except WriteConflictError:
                if attempt == UPSERT_ATTEMPTS:
                    raise
                time.sleep(0.1 * attempt)

    def overwrite(self, spec: TableSpec, data: pa.Table | Iterable[pa.RecordBatch]) -> None:
        """Replace the whole table (one commit)."""
        self._write(spec, self.snapshot(spec), _as_reader(spec.schema, data), "overwrite", schema_mode="overwrite")

    def append(self, spec: TableSpec, data: pa.Table | Iterable[pa.RecordBatch]) -> None:
        """Add ``data`` to the table (one commit)."""
        self._write(spec, self.snapshot(spec), _as_reader(spec.schema, data), "append")

    def delete(self, spec: TableSpec, predicate: str) -> None:
        """Delete the rows matching ``predicate`` (one commit; none when nothing matches)."""
        table = self.snapshot(spec)
        self.committing(table, spec.name, lambda properties: table.delete(predicate, commit_properties=properties))

    def _write(
        self,
        spec: TableSpec,
        table: DeltaTable,
        data: pa.Table | pa.RecordBatchReader,
        mode: str,
        **options: object,
    ) -> None:
        """One ``write_deltalake`` commit, read version ``table``, with the table's partitioning and metadata."""
        self.committing(
            table,
            spec.name,
            lambda properties: write_deltalake(
                table,
                data,
                mode=mode,
                partition_by=list(spec.partition_by) or None,
                description=spec.description,
                name=spec.name,
                commit_properties=properties,
                **options,
            ),
        )

    def read(self, name: str, columns: list[str] | None = None, where: str | None = None) -> pa.Table:
        """Read a table into Arrow, with the table's own column types: optionally some columns and a
        SQL ``where`` (DataFusion syntax)."""
        table = self.require(name)
        schema = pa.schema(table.schema().to_arrow())
        if columns is not None:
            schema = pa.schema([schema.field(c) for c in columns])
        result = _query(table, ", ".join(f'"{c}"' for c in schema.names), where)
        # DataFusion answers with view types (Utf8View, ...), which many pyarrow kernels lack.
        return result.cast(schema)

    def count(self, name: str) -> int:
        return _query(self.require(name), "count(*) AS n", None).column("n")[0].as_py()


def _named_folders(uri: str, holding: str, kind: str) -> list[str]:
    """Sub-folders of ``uri`` that hold ``holding`` (a name or glob) and are called a :data:`TABLE_NAME`."""
    fs, root = fsspec_fs(uri)
    if not fs.isdir(root):
        return []
    out = []
    for entry in fs.ls(root, detail=False):
        name = entry.rstrip("/").rsplit("/", 1)[-1]
        if not fs.glob(f"{entry}/{holding}"):
            continue
        if TABLE_NAME.fullmatch(name):
            out.append(name)
        else:
            log.warning(
                "skipping %s folder %r in %s: a table name has only letters, digits and '_'. "
                "Fix: rename or remove that folder",
                kind,
                name,
                root,
            )
    return sorted(out)


def _query(table: DeltaTable, select: str, where: str | None) -> pa.Table:
    """Run one SELECT over a Delta table with delta-rs's own engine (DataFusion).

    Deliberately not ``DeltaTable.to_pyarrow_dataset()``: its scanner threads can outlive the
    interpreter and abort the process at exit ("terminate called without an active exception",
    delta-rs issue 2184), which turns a successful command into exit code 134.
    """
    sql = f"SELECT {select} FROM t" + (f" WHERE {where}" if where else "")
    return pa.table(QueryBuilder().register("t", table).execute(sql).read_all())


def _as_reader(schema: pa.Schema, data: pa.Table | Iterable[pa.RecordBatch]) -> pa.RecordBatchReader:
    if isinstance(data, pa.Table):
        return data.select(schema.names).cast(schema).to_reader()

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in data:
            yield pa.Table.from_batches([batch]).select(schema.names).cast(schema).to_batches()[0]

    return pa.RecordBatchReader.from_batches(schema, batches())
