"""``s2lake sql``: run SQL on the embedded engine (DuckDB) over the warehouse's tables."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from s2lake.cli.context import app_context, emit, friendly_errors
from s2lake.errors import S2LakeError


@friendly_errors
def sql(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="SQL to run. Tables are views by name: patches, products, ...")],
    fmt: Annotated[Literal["table", "json", "csv"], typer.Option("--format", "-f", help="Output format.")] = "table",
    limit: Annotated[int, typer.Option(help="Rows printed at most in table format (0 = all).")] = 100,
) -> None:
    """Query the warehouse with DuckDB SQL (spatial functions included).

    Example: s2lake sql "SELECT tile, count(*) FROM patches GROUP BY tile" --format json
    """
    import duckdb

    from s2lake.duck import connect

    con = connect(app_context(ctx).warehouse)
    try:
        result = con.sql(query)
    except duckdb.Error as exc:
        raise S2LakeError(f"query failed: {exc}", fix="check the SQL; `s2lake tables` lists the tables") from None
    if result is None:
        return
    columns = result.columns
    rows = [dict(zip(columns, values, strict=True)) for values in result.fetchall()]
    if fmt == "table" and limit and len(rows) > limit:
        typer.echo(f"(showing {limit} of {len(rows)} rows)", err=True)
        rows = rows[:limit]
    emit(rows, fmt)
