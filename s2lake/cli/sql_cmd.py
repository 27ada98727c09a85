"""``s2lake sql``: run SQL on the embedded engine (DuckDB) over the warehouse's tables, or open its shell."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from s2lake.cli.context import FormatOption, JsonFlag, app_context, emit, friendly_errors, output_format
from s2lake.errors import ConfigError

#: Rows a table shows when --limit is not given; scripts (json, csv) get every row unless they ask.
TABLE_ROWS = 100


@friendly_errors
def sql(
    ctx: typer.Context,
    query: Annotated[
        str | None,
        typer.Argument(
            help="SQL to run (several statements separated by ';'), '-' to read them from stdin, or a .sql "
            "file. Without it: the interactive shell.",
            show_default=False,
        ),
    ] = None,
    fmt: FormatOption = "table",
    json_flag: JsonFlag = False,
    limit: Annotated[
        int | None,
        typer.Option(
            help=f"Rows printed at most per result, in every format (0 = all). Default: {TABLE_ROWS} "
            "in a table, all in json/csv.",
            show_default=False,
        ),
    ] = None,
    safe: Annotated[
        bool,
        typer.Option(
            "--safe",
            help="Read the warehouse only: SELECT statements, no other file, no ATTACH, INSTALL/LOAD or SET "
            "(for wrapping the command as a service).",
        ),
    ] = False,
) -> None:
    """Query the warehouse with DuckDB SQL (spatial functions included), or open the SQL shell.

    Every Delta table is a view by its name (patches, products, patch_labels, ...), every reference table
    a view ref_<name> (ref_clc, ref_countries, ...). Without a query, on a terminal, an interactive shell
    opens: statements end with ';' and may span lines, .tables lists the tables, .describe NAME shows
    columns, .quit leaves; history is kept between sessions.

    Without --safe this is a local tool with your own rights: DuckDB can read and write any file you can
    (read_text, read_csv, COPY ... TO, ATTACH, EXPORT DATABASE). --safe allows only SELECT statements,
    confines file access to the warehouse's tables/ and reference/ folders and locks DuckDB's settings;
    use it whenever the SQL comes from someone else.

    Examples:

      s2lake sql "SELECT tile, count(*) AS patches FROM patches GROUP BY tile" --json

      s2lake sql queries/season_counts.sql --format csv > seasons.csv

      echo "SELECT * FROM ref_clc LIMIT 5;" | s2lake sql -

      s2lake sql            # the shell
    """
    from s2lake.sql_session import SqlSession

    fmt = output_format(fmt, json_flag)
    with SqlSession(app_context(ctx).warehouse, safe=safe) as session:
        if query is None and sys.stdin.isatty():
            from s2lake.cli.sql_shell import run_shell

            run_shell(session)
            return
        text = _statements(query)
        per_result = limit if limit is not None else (TABLE_ROWS if fmt == "table" else 0)
        for result in session.run(text, limit=per_result):
            if result.truncated:
                typer.echo(f"(first {per_result} rows shown; --limit 0 prints all)", err=True)
            emit(result.rows, fmt, columns=result.columns)


def _statements(query: str | None) -> str:
    """The SQL text: the argument itself, stdin ('-' or piped), or the file the argument names."""
    if query is None or query == "-":
        return sys.stdin.read()
    path = Path(query)
    if query.endswith(".sql") or ("\n" not in query and path.is_file()):
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read SQL file {path}: {exc}", fix="give a readable UTF-8 .sql file") from None
    return query
