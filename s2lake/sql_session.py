"""One DuckDB session over the warehouse, as `s2lake sql` and its interactive shell use it.

The command line, scripts read from a file or stdin, and the shell all run SQL the same way: every
statement of a text in turn, ``--safe`` checks before anything runs, at most ``limit`` rows fetched per
result (the rest never leaves DuckDB, so ``SELECT * FROM patches`` in a shell does not pull every pixel).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from s2lake.duckdb_safe_mode import SAFE_FIX, check_read_only, lock_down
from s2lake.duckdb_session import connect, sql_identifier
from s2lake.errors import QueryError
from s2lake.warehouse import Warehouse

QUERY_FIX = "check the SQL; `s2lake tables` lists the tables"


@dataclass(frozen=True)
class ResultSet:
    """The rows one statement returned; ``truncated`` when more rows existed than were fetched."""

    statement: str
    columns: list[str]
    rows: list[dict[str, Any]]
    truncated: bool


class SqlSession:
    """DuckDB with the warehouse's tables as views (and, with ``safe``, nothing else reachable)."""

    def __init__(self, warehouse: Warehouse, safe: bool = False) -> None:
        self.warehouse = warehouse
        self.safe = safe
        self.con = connect(warehouse)
        if safe:
            lock_down(self.con, warehouse)

    def __enter__(self) -> SqlSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close DuckDB before the interpreter exits: on an ``hdfs://`` warehouse its views scan Arrow datasets
        whose reads run on native threads, and a connection left for the interpreter's teardown to destroy
        could end the process with ``terminate called without an active exception`` (exit -6) after the
        results were printed (seen once in CI)."""
        self.con.close()

    def run(self, text: str, limit: int | None = None) -> list[ResultSet]:
        """Run every statement of ``text``; the results of those that return rows, in order.

        ``limit`` caps the rows fetched per result (``None`` or 0: all). A failing statement stops the
        run with a :class:`QueryError` naming it; statements before it have run (as in any SQL shell).
        """
        if self.safe:
            check_read_only(self.con, text)
        try:
            statements = self.con.extract_statements(text)
        except duckdb.Error as exc:
            raise QueryError(f"query failed: {exc}", fix=self._fix()) from None
        results = []
        for number, statement in enumerate(statements, 1):
            query = statement.query.strip().rstrip(";")
            try:
                relation = self.con.sql(query)
                if relation is None:
                    continue
                columns = list(relation.columns)
                fetched = relation.fetchmany(limit + 1) if limit else relation.fetchall()
            except duckdb.Error as exc:
                where = f" (statement {number} of {len(statements)}: {_short(query)})" if len(statements) > 1 else ""
                raise QueryError(f"query failed{where}: {exc}", fix=self._fix()) from None
            truncated = bool(limit) and len(fetched) > limit
            rows = [dict(zip(columns, values, strict=True)) for values in fetched[: limit or None]]
            results.append(ResultSet(query, columns, rows, truncated))
        return results

    def tables(self) -> list[dict[str, Any]]:
        """The views a query can use: warehouse Delta tables and ``ref_*`` reference tables."""
        rows = self.con.sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY table_name"
        ).fetchall()
        return [{"table": name, "kind": "reference" if name.startswith("ref_") else "delta"} for (name,) in rows]

    def words(self) -> list[str]:
        """DuckDB's own keywords and function names (spatial ones included), for completion."""
        rows = self.con.sql(
            "SELECT upper(keyword_name) FROM duckdb_keywords() "
            "UNION SELECT DISTINCT function_name FROM duckdb_functions()"
        ).fetchall()
        return sorted(word for (word,) in rows)

    def describe(self, name: str) -> list[dict[str, Any]]:
        """Columns and SQL types of one table or view, as DuckDB sees them."""
        known = {row["table"] for row in self.tables()}
        if name not in known:
            raise QueryError(
                f"no table named {name!r} in warehouse {self.warehouse.root}",
                fix="list the tables with .tables (shell) or `s2lake tables`",
            )
        relation = self.con.sql(f"DESCRIBE {sql_identifier(name)}")
        return [{"column": col, "type": typ, "nullable": null == "YES"} for col, typ, null, *_ in relation.fetchall()]

    def _fix(self) -> str:
        return QUERY_FIX + (f"; {SAFE_FIX}" if self.safe else "")


def _short(query: str, width: int = 60) -> str:
    flat = " ".join(query.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
