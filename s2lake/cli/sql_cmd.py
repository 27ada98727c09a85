"""``s2lake sql``: run SQL on the embedded engine (DuckDB) over the warehouse's tables."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from s2lake.cli.context import app_context, emit, friendly_errors
from s2lake.errors import QueryError


@friendly_errors
def sql(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="SQL to run. Tables are views by name: patches, products, ...")],
    fmt: Annotated[Literal["table", "json", "csv"], typer.Option("--format", "-f", help="Output format.")] = "table",
    limit: Annotated[int, typer.Option(help="Rows printed at most in table format (0 = all).")] = 100,
    safe: Annotated[
        bool,
        typer.Option(
            "--safe",
            help="Read the warehouse only: SELECT statements, no other file, no ATTACH, INSTALL/LOAD or SET "
            "(for wrapping the command as a service).",
        ),
    ] = False,
) -> None:
    """Query the warehouse with DuckDB SQL (spatial functions included).

    Without --safe this is a local tool with your own rights: DuckDB can read and write any file you can
    (read_text, read_csv, COPY ... TO, ATTACH, EXPORT DATABASE). --safe allows only SELECT statements,
    confines file access to the warehouse's tables/ and reference/ folders and locks DuckDB's settings;
    use it whenever the SQL comes from someone else.

    Example: s2lake sql "SELECT tile, count(*) FROM patches GROUP BY tile" --format json
    """
    import duckdb

    from s2lake.duck import connect
    from s2lake.duck_safe import SAFE_FIX, check_read_only, lock_down

    warehouse = app_context(ctx).warehouse
    con = connect(warehouse)
    if safe:
        lock_down(con, warehouse)
        check_read_only(con, query)
    try:
        result = con.sql(query)
        if result is None:
            return
        columns = result.columns
        rows = [dict(zip(columns, values, strict=True)) for values in result.fetchall()]
    except duckdb.Error as exc:
        fix = "check the SQL; `s2lake tables` lists the tables" + (f"; {SAFE_FIX}" if safe else "")
        raise QueryError(f"query failed: {exc}", fix=fix) from None
    if fmt == "table" and limit and len(rows) > limit:
        typer.echo(f"(showing {limit} of {len(rows)} rows)", err=True)
        rows = rows[:limit]
    emit(rows, fmt)
