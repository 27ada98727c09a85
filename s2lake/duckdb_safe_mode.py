"""``s2lake sql --safe``: the SQL shell locked down so that a service may wrap it.

By default ``s2lake sql`` is a local tool with its user's rights: DuckDB reads and writes any file the
user can (``read_text``, ``read_csv``, ``COPY ... TO``, ``ATTACH``, ``EXPORT DATABASE``). Safe mode
removes that in two layers, applied after the warehouse's views exist:

1. DuckDB's own guard (:func:`lock_down`): ``allowed_directories`` is set to the warehouse's ``tables/``
   and ``reference/`` folders, then ``enable_external_access = false`` (no other file, no INSTALL or
   LOAD, no ATTACH of a file) and ``lock_configuration = true``, so no statement can undo either.
   Switching external access off alone does not work: views are evaluated lazily, so ``delta_scan``
   must still open the warehouse's Parquet files when a query runs (checked on DuckDB 1.5).
2. Read-only statements (:func:`check_read_only`): DuckDB lets the allowed directories be written as
   well as read, so a ``COPY ... TO`` could forge a Delta commit in ``tables/``. Only SELECT statements
   pass, and they may not call ``delta_scan``, ``query`` or ``query_table`` themselves: the delta
   extension reads Delta logs with its own I/O, outside DuckDB's directory check, and ``query()`` runs a
   string this check never sees. The views call ``delta_scan``; a user's query never needs to.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import duckdb

from s2lake.errors import QueryError
from s2lake.tables.store import sql_literal
from s2lake.warehouse import REFERENCE_DIR, TABLES_DIR, Warehouse

READ_ONLY_STATEMENTS = frozenset({duckdb.StatementType.SELECT})
FORBIDDEN_FUNCTIONS = frozenset({"delta_scan", "query", "query_table"})
SAFE_FIX = "--safe mode runs SELECT statements on the warehouse's tables and views only (see `s2lake sql --help`)"


def lock_down(con: duckdb.DuckDBPyConnection, warehouse: Warehouse) -> None:
    """Confine ``con`` to reading the warehouse: the configuration is locked afterwards."""
    folders = ", ".join(sql_literal(warehouse.path(folder) + "/") for folder in (TABLES_DIR, REFERENCE_DIR))
    con.execute(f"SET allowed_directories = [{folders}]")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def check_read_only(con: duckdb.DuckDBPyConnection, query: str) -> None:
    """Refuse ``query`` unless every statement is a SELECT calling none of :data:`FORBIDDEN_FUNCTIONS`.

    Both checks use DuckDB's own parser (``extract_statements``, ``json_serialize_sql``), so what is
    checked is exactly what would run.
    """
    try:
        statements = con.extract_statements(query)
    except duckdb.Error as exc:
        raise QueryError(f"query failed: {exc}", fix="check the SQL; `s2lake tables` lists the tables") from None
    for statement in statements:
        if statement.type not in READ_ONLY_STATEMENTS:
            raise QueryError(f"refused in --safe mode: {statement.type.name} statements are not allowed", fix=SAFE_FIX)
    tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [query]).fetchone()[0])
    if tree.get("error"):
        raise QueryError(f"refused in --safe mode: {tree.get('error_message')}", fix=SAFE_FIX)
    called = sorted({name for name in _function_names(tree) if name in FORBIDDEN_FUNCTIONS})
    if called:
        raise QueryError(f"refused in --safe mode: the query calls {', '.join(called)}", fix=SAFE_FIX)


def _function_names(node: Any) -> Iterator[str]:
    """Every function a serialised statement calls, in any clause or subquery (lower case)."""
    if isinstance(node, dict):
        if isinstance(node.get("function_name"), str):
            yield node["function_name"].lower()
        for value in node.values():
            yield from _function_names(value)
    elif isinstance(node, list):
        for value in node:
            yield from _function_names(value)
