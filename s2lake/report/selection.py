"""The patches a report describes: one DuckDB temp table ``selected`` over the warehouse's views.

``report_patches`` joins each patch's own row with what the labels and the marts say about it (season,
split, validation, labels, country, its product's cloud cover); ``--where`` is a condition on those
columns, so a user filters by names they see on the page. Tables not built yet (no labels, no marts)
stand in as empty views: the page then shows what exists and says what is missing.

The condition is user SQL pasted into a query, so the connection is first locked down as ``s2lake sql
--safe`` locks it (:mod:`s2lake.duckdb_safe_mode`: no file outside the warehouse, SELECT only, no ``delta_scan`` or
``query()`` calls), and DuckDB's own parser must find exactly one SELECT statement.
"""

from __future__ import annotations

import duckdb

from s2lake.dbt.runner import PROJECT_DIR
from s2lake.duckdb_safe_mode import check_read_only, lock_down
from s2lake.duckdb_session import connect
from s2lake.errors import ConfigError, QueryError
from s2lake.tables.store import sql_literal
from s2lake.warehouse import Warehouse

#: The columns ``--where`` may use, with their meaning (printed by ``--help`` and in docs/report.md).
COLUMNS = {
    "patch_id": "patch id",
    "product_id": "product the patch was cut from",
    "tile": "MGRS tile, e.g. 33UUU",
    "sensing_time": "sensing start (UTC timestamp)",
    "season": "winter, spring, summer or fall (seed seasons.csv)",
    "split": "train, validation, test or 'not in dataset' (mart geographic_split)",
    "in_dataset": "passes every check of mart patch_validation",
    "labels": "BigEarthNet-19 labels (list, mart patch_labels)",
    "dominant_label": "label with the largest area in the patch, else its first label, else 'no label'",
    "country_code": "country of the patch, 'none' for sea or no coverage",
    "country_name": "country name",
    "cloud_cover": "cloud cover % of its product (products table)",
}
WHERE_FIX = "a SQL condition on " + ", ".join(COLUMNS) + "; e.g. --where \"tile = '33UUU' and season = 'summer'\""

#: Tables the report reads besides ``patches``, as empty stand-ins when absent: (columns, command that writes it).
_OPTIONAL = {
    "products": ("product_id VARCHAR, cloud_cover DOUBLE", "s2lake ingest"),
    "label_runs": ("run_id VARCHAR, status VARCHAR", "s2lake labels build"),
    "patch_landcover": (
        "patch_id VARCHAR, ben19_label VARCHAR, fraction DOUBLE, run_id VARCHAR",
        "s2lake labels build",
    ),
    "patch_country": (
        "patch_id VARCHAR, country_code VARCHAR, country_name VARCHAR, run_id VARCHAR",
        "s2lake labels build",
    ),
    "geographic_split": ("patch_id VARCHAR, split VARCHAR", "s2lake models build"),
    "patch_validation": (
        "patch_id VARCHAR, wrong_size BOOLEAN, contains_nodata BOOLEAN, missing_product BOOLEAN, "
        "not_part_of_dataset BOOLEAN, unlabelled BOOLEAN, in_dataset BOOLEAN",
        "s2lake models build",
    ),
    "patch_labels": ("patch_id VARCHAR, labels VARCHAR[]", "s2lake models build"),
}

# Labels and country come from the latest complete labels run, as the dbt staging models read them
# (macro s2lake_label_run); the dominant label is the one with the largest summed area, ties by name.
_REPORT_PATCHES = """
CREATE TEMP VIEW report_patches AS
WITH run AS (SELECT max(run_id) AS run_id FROM label_runs WHERE status = 'complete'),
fractions AS (
    SELECT l.patch_id, l.ben19_label AS label, sum(l.fraction) AS fraction
    FROM patch_landcover AS l JOIN run ON l.run_id = run.run_id
    WHERE l.ben19_label IS NOT NULL AND l.fraction > 0
    GROUP BY ALL
),
dominant AS (SELECT DISTINCT ON (patch_id) patch_id, label FROM fractions ORDER BY patch_id, fraction DESC, label),
country AS (SELECT c.* FROM patch_country AS c JOIN run ON c.run_id = run.run_id)
SELECT
    p.patch_id, p.product_id, p.tile, p.sensing_time, s.season, s.season_order,
    coalesce(g.split, 'not in dataset') AS split,
    coalesce(v.in_dataset, false) AS in_dataset,
    coalesce(pl.labels, []::VARCHAR[]) AS labels,
    coalesce(d.label, pl.labels[1], 'no label') AS dominant_label,
    coalesce(c.country_code, 'none') AS country_code,
    c.country_name,
    pr.cloud_cover,
    p.epsg, p.ulx, p.uly, p.lrx, p.lry
FROM patches AS p
JOIN report_seasons AS s ON s.month = month(p.sensing_time)
LEFT JOIN geographic_split AS g ON g.patch_id = p.patch_id
LEFT JOIN patch_validation AS v ON v.patch_id = p.patch_id
LEFT JOIN patch_labels AS pl ON pl.patch_id = p.patch_id
LEFT JOIN dominant AS d ON d.patch_id = p.patch_id
LEFT JOIN country AS c ON c.patch_id = p.patch_id
LEFT JOIN products AS pr ON pr.product_id = p.product_id
"""


def select_patches(warehouse: Warehouse, where: str | None) -> tuple[duckdb.DuckDBPyConnection, list[str]]:
    """A locked-down connection holding temp table ``selected`` (the report's patches, pixels left out), and
    the tables that were missing (the commands that write them)."""
    con = connect(warehouse)
    present = {row[0] for row in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    if "patches" not in present:
        raise ConfigError(
            "the warehouse has no patches table to report on",
            where=warehouse.root,
            fix="cut products first (`s2lake patches build PRODUCT.SAFE`), or run `s2lake demo`",
        )
    missing = []
    for name, (columns, command) in _OPTIONAL.items():
        if name not in present:
            nulls = ", ".join(f"NULL::{c.split(' ', 1)[1]} AS {c.split(' ', 1)[0]}" for c in columns.split(", "))
            con.execute(f"CREATE VIEW {name} AS SELECT {nulls} WHERE false")
            missing.append(f"{name} ({command})")
    con.execute("SET TimeZone = 'UTC'")  # seasons of the UTC sensing date, as the marts count them
    seasons = sql_literal(str(PROJECT_DIR / "seeds" / "seasons.csv"))
    con.execute(f"CREATE TEMP TABLE report_seasons AS SELECT * FROM read_csv({seasons}, header = true)")
    con.execute(_REPORT_PATCHES)
    lock_down(con, warehouse)
    query = "SELECT * FROM report_patches" + (f" WHERE ({where})" if where is not None else "")
    if where is not None:
        _check_where(con, where, query)
    try:
        con.execute(f"CREATE TEMP TABLE selected AS {query}")
    except duckdb.Error as exc:
        raise QueryError(f"--where {where!r} is not a valid condition: {_first_line(exc)}", fix=WHERE_FIX) from None
    if where is not None and con.execute("SELECT count(*) FROM selected").fetchone()[0] == 0:
        raise QueryError(f"--where {where!r} matches no patch", fix="loosen the condition; " + WHERE_FIX)
    return con, missing


def _check_where(con: duckdb.DuckDBPyConnection, where: str, query: str) -> None:
    """One read-only SELECT, or a QueryError naming the condition (never the --safe wording of duckdb_safe_mode)."""
    try:
        statements = con.extract_statements(query)
        if len(statements) != 1:
            raise QueryError("holds more than one statement")
        check_read_only(con, query)
    except (QueryError, duckdb.Error) as exc:
        reason = exc.what if isinstance(exc, QueryError) else _first_line(exc)
        reason = reason.replace("refused in --safe mode: ", "").replace("query failed: ", "")
        raise QueryError(f"--where {where!r} is not a valid condition: {reason}", fix=WHERE_FIX) from None


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
