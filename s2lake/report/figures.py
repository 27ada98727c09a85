"""What the report shows, aggregated in SQL over temp table ``selected`` (:mod:`.selection`).

The distributions count the selection's *dataset* patches (those passing every check), exactly as the marts
season_stats, label_stats and band_stats count the whole dataset, so an unfiltered report repeats the marts'
numbers; the split, the validation checks and the map cover every selected patch. Long lists (products,
tiles) are cut at :data:`TABLE_ROWS` and the page says so, to keep the file small for 100,000 patches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from s2lake.sentinel2 import BANDS

TABLE_ROWS = 200
CHECKS = ("wrong_size", "contains_nodata", "missing_product", "not_part_of_dataset", "unlabelled")


@dataclass
class Table:
    columns: list[str]
    rows: list[tuple]
    total: int  # rows before the cut at TABLE_ROWS


@dataclass
class Figures:
    warehouse_patches: int
    selected: int
    in_dataset: int
    splits: list[tuple[str, int]]
    seasons: list[tuple[str, int]]
    labels: list[tuple[str, int]]
    countries: list[tuple[str, int]]
    validation: list[tuple[str, int]]
    bands: list[tuple[str, float, float]]  # band, mean, std of the valid pixels
    products: Table
    tiles: Table
    missing_tables: list[str] = field(default_factory=list)


def collect(con: duckdb.DuckDBPyConnection) -> Figures:
    def rows(sql: str) -> list[tuple]:
        return con.execute(sql).fetchall()

    dataset = "FROM selected WHERE in_dataset"
    return Figures(
        warehouse_patches=rows("SELECT count(*) FROM patches")[0][0],
        selected=rows("SELECT count(*) FROM selected")[0][0],
        in_dataset=rows(f"SELECT count(*) {dataset}")[0][0],
        splits=rows("SELECT split, count(*) FROM selected GROUP BY split ORDER BY split"),
        seasons=rows(
            "SELECT s.season, count(p.patch_id) FROM (SELECT DISTINCT season, season_order FROM report_seasons) AS s "
            "LEFT JOIN (SELECT * FROM selected WHERE in_dataset) AS p ON p.season = s.season "
            "GROUP BY s.season, s.season_order ORDER BY s.season_order"
        ),
        labels=rows(
            f"SELECT label, count(*) AS n FROM (SELECT unnest(labels) AS label {dataset}) GROUP BY label "
            "ORDER BY n DESC, label"
        ),
        countries=rows(
            "SELECT country_code || coalesce(' ' || any_value(country_name), ''), count(*) AS n "
            f"{dataset} GROUP BY country_code ORDER BY n DESC, country_code"
        ),
        validation=_validation(con),
        bands=_band_moments(con),
        products=_table(
            con,
            ["product", "tile", "sensing date", "season", "cloud cover %", "patches"],
            "SELECT product_id, tile, strftime(min(sensing_time), '%Y-%m-%d'), any_value(season), "
            "round(any_value(cloud_cover), 2), count(*) FROM selected GROUP BY product_id, tile "
            "ORDER BY tile, product_id",
        ),
        tiles=_table(
            con,
            ["tile", "products", "seasons", "mean cloud cover %", "patches"],
            "SELECT tile, count(DISTINCT product_id), string_agg(DISTINCT season, ', ' ORDER BY season), "
            "round(avg(cloud_cover), 2), count(*) FROM selected GROUP BY tile ORDER BY tile",
        ),
    )


def _validation(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    """The checks of mart patch_validation_summary, counted over the selected patches."""
    sums = ", ".join(f"count(*) FILTER (WHERE v.{check})" for check in CHECKS)
    row = con.execute(
        f"SELECT {sums}, count(*) FILTER (WHERE NOT s.in_dataset), count(*) FILTER (WHERE s.in_dataset), count(*) "
        "FROM selected AS s LEFT JOIN patch_validation AS v ON v.patch_id = s.patch_id"
    ).fetchone()
    return list(zip((*CHECKS, "any_problem", "in_dataset", "total"), row, strict=True))


def _band_moments(con: duckdb.DuckDBPyConnection) -> list[tuple[str, float, float]]:
    """Mean and population standard deviation of the valid pixels per band, from the exact integer sums each
    patch stores (the formula of dbt macro s2lake_band_moments, over the selection's dataset patches)."""
    found = con.execute(
        "WITH b AS (SELECT unnest(p.band_stats) AS s FROM patches AS p "
        "JOIN selected AS d ON d.patch_id = p.patch_id WHERE d.in_dataset), "
        "sums AS (SELECT s.band AS band, sum(s.valid_count::HUGEINT) AS n, sum(s.sum::HUGEINT) AS total, "
        "sum(s.sum_sq::HUGEINT) AS total_sq FROM b WHERE s.band <> 'SCL' GROUP BY s.band) "
        "SELECT band, total::DOUBLE / n::DOUBLE, sqrt((n * total_sq - total * total)::DOUBLE) / n::DOUBLE "
        "FROM sums WHERE n > 0"
    ).fetchall()
    by_band = {band: (mean, std) for band, mean, std in found}
    return [(b.name, *by_band[b.name]) for b in BANDS if b.name in by_band]


def _table(con: duckdb.DuckDBPyConnection, columns: list[str], sql: str) -> Table:
    total = con.execute(f"SELECT count(*) FROM ({sql})").fetchone()[0]
    return Table(columns, con.execute(f"{sql} LIMIT {TABLE_ROWS}").fetchall(), total)
