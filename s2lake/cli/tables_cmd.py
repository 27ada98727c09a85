"""``s2lake tables``: the warehouse's Delta tables and reference tables, with rows, versions and sizes."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated, Any

import typer

from s2lake.cli.context import FormatOption, JsonFlag, app_context, emit, friendly_errors, output_format
from s2lake.errors import WarehouseError
from s2lake.logs import console

log = logging.getLogger("s2lake.tables")

if TYPE_CHECKING:
    import pyarrow as pa

    from s2lake.tables.store import TableStore

REFERENCE_PREFIX = "ref_"


@friendly_errors
def tables(
    ctx: typer.Context,
    fmt: FormatOption = "table",
    json_flag: JsonFlag = False,
    schema: Annotated[
        str | None,
        typer.Option(help="Show the columns (types, comments) of this table, e.g. patches or ref_clc."),
    ] = None,
) -> None:
    """List the tables of the warehouse: Delta tables (rows, version, partitioning, files, size) and
    reference tables (ref_<name>, GeoParquet), each under the name SQL queries use.

    Examples:

      s2lake tables

      s2lake tables --schema patches

      s2lake tables --schema ref_clc --json
    """
    from s2lake.tables.store import TableStore

    fmt = output_format(fmt, json_flag)
    store = TableStore(app_context(ctx).warehouse)
    if schema:
        emit(_columns(store, schema), fmt, title=schema, columns=["column", "type", "nullable", "comment"])
        return
    rows = [*_delta_rows(store), *_reference_rows(store)]
    emit(rows, fmt, title=f"warehouse {store.warehouse.root}", columns=list(ROW_COLUMNS))
    _warn_pending_label_runs(store)


ROW_COLUMNS = ("table", "kind", "rows", "version", "partitioned_by", "files", "size_mb")


def _columns(store: TableStore, name: str) -> list[dict[str, Any]]:
    """One row per column; types as Arrow names them (``string``, ``list<element: uint16>``)."""
    import pyarrow as pa

    if name.startswith(REFERENCE_PREFIX) and name[len(REFERENCE_PREFIX) :] in store.reference_names():
        arrow_schema = _reference_dataset(store, name[len(REFERENCE_PREFIX) :]).schema
    else:
        arrow_schema = pa.schema(store.require(name).schema().to_arrow())
    return [
        {
            "column": field.name,
            "type": str(field.type),
            "nullable": field.nullable,
            "comment": (field.metadata or {}).get(b"comment", b"").decode() or None,
        }
        for field in arrow_schema
    ]


def _delta_rows(store: TableStore) -> list[dict[str, Any]]:
    import pyarrow as pa

    rows = []
    for name in store.names():
        try:
            table = store.require(name)
        except WarehouseError as exc:  # one broken table must not hide the others
            log.warning("skipping table %s: %s", name, exc.message)
            continue
        add_table = pa.table(table.get_add_actions(flatten=True))
        rows.append(
            {
                "table": name,
                "kind": "delta",
                "rows": store.count(name),
                "version": table.version(),
                "partitioned_by": ",".join(table.metadata().partition_columns),
                "files": add_table.num_rows,
                "size_mb": round(sum(add_table.column("size_bytes").to_pylist()) / 1e6, 1),
            }
        )
    return rows


def _reference_dataset(store: TableStore, name: str) -> pa.dataset.Dataset:
    import pyarrow.dataset as ds

    from s2lake.warehouse_fs import arrow_fs

    fs, root = arrow_fs(store.warehouse.reference_uri(name))
    return ds.dataset(root, filesystem=fs, format="parquet")


def _reference_rows(store: TableStore) -> list[dict[str, Any]]:
    """Reference tables (GeoParquet, not Delta: no version), counted from the Parquet footers."""
    rows = []
    for name in store.reference_names():
        dataset = _reference_dataset(store, name)
        fragments = list(dataset.get_fragments())
        rows.append(
            {
                "table": REFERENCE_PREFIX + name,
                "kind": "reference",
                "rows": sum(fragment.metadata.num_rows for fragment in fragments),
                "version": None,
                "partitioned_by": "",
                "files": len(fragments),
                "size_mb": round(sum(dataset.filesystem.get_file_info(f.path).size for f in fragments) / 1e6, 1),
            }
        )
    return rows


def _warn_pending_label_runs(store: TableStore) -> None:
    """Say so when the label tables hold rows of a run that is not complete (readers skip them)."""
    from sedona_jobs.labels.runs import pending_runs

    current, pending = pending_runs(store)
    for run in pending:
        console.print(
            f"[yellow]label run {run['run_id']} (started {run['started']:%Y-%m-%d %H:%M:%S} UTC) is {run['status']}"
            f"{' (under way, or killed before its last commit)' if run['status'] == 'running' else ''}: "
            f"readers use {'complete run ' + current if current else 'no labels (no complete run yet)'}[/]",
            highlight=False,
            soft_wrap=True,
        )
