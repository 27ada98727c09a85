"""``s2lake tables``: the warehouse's Delta tables with row counts and versions."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

import typer

from s2lake.cli.context import app_context, emit, friendly_errors
from s2lake.errors import WarehouseError

log = logging.getLogger("s2lake.tables")


@friendly_errors
def tables(
    ctx: typer.Context,
    fmt: Annotated[Literal["table", "json", "csv"], typer.Option("--format", "-f")] = "table",
    schema: Annotated[str | None, typer.Option(help="Show the columns (with comments) of this table.")] = None,
) -> None:
    """List the Delta tables of the warehouse: rows, version, partitioning, size on disk."""
    import pyarrow as pa

    from s2lake.tables.store import TableStore

    store = TableStore(app_context(ctx).warehouse)
    if schema:
        table = store.require(schema)
        rows = [
            {
                "column": f.name,
                "type": str(f.type),
                "nullable": f.nullable,
                "comment": (f.metadata or {}).get("comment"),
            }
            for f in table.schema().fields
        ]
        emit(rows, fmt, title=schema)
        return
    rows = []
    for name in store.names():
        try:
            table = store.require(name)
        except WarehouseError as exc:  # one broken table must not hide the others
            log.warning("skipping table %s: %s", name, exc.message)
            continue
        adds = table.get_add_actions(flatten=True)
        add_table = pa.table(adds)
        rows.append(
            {
                "table": name,
                "rows": store.count(name),
                "version": table.version(),
                "partitioned_by": ",".join(table.metadata().partition_columns),
                "files": add_table.num_rows,
                "size_mb": round(sum(add_table.column("size_bytes").to_pylist()) / 1e6, 1),
            }
        )
    emit(rows, fmt, title=f"warehouse {store.warehouse.root}")
