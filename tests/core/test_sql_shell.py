"""`s2lake sql`: folder names never become SQL, broken tables are left out, and --safe reads the warehouse only."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from s2lake.cli.main import app
from s2lake.duckdb_safe_mode import lock_down
from s2lake.duckdb_session import connect
from s2lake.tables.schemas import PRODUCTS
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse

pytestmark = pytest.mark.usefixtures("clean_env")

CRAFTED = "x\" AS SELECT 1; COPY (SELECT 42) TO 'pwned.csv'; --"


@pytest.fixture
def filled(warehouse: Warehouse) -> Warehouse:
    """A warehouse with two Delta tables (products, copy) and a reference table (ref_clc)."""
    now = datetime(2024, 1, 1, tzinfo=UTC)
    rows = [{"product_id": p, "status": "patched", "ingestion_time": now, "tile": "33UUU"} for p in ("a", "b")]
    TableStore(warehouse).upsert(PRODUCTS, pa.Table.from_pylist(rows, schema=PRODUCTS.schema))
    shutil.copytree(warehouse.table_uri("products"), warehouse.table_uri("copy"))
    (Path(warehouse.reference_uri("clc"))).mkdir(parents=True)
    pq.write_table(pa.table({"code": ["111", "112"]}), Path(warehouse.reference_uri("clc")) / "part-0.parquet")
    return warehouse


def _sql(warehouse: Warehouse, query: str, *flags: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["-w", warehouse.root, "sql", "--format", "json", *flags, query])
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def test_a_crafted_table_folder_name_runs_no_sql_and_is_named(filled: Warehouse, tmp_path: Path) -> None:
    (Path(filled.table_uri(CRAFTED)) / "_delta_log").mkdir(parents=True)
    code, out, err = _sql(filled, "SELECT count(*) AS n FROM products")
    assert code == 0 and json.loads(out) == [{"n": 2}]
    assert not (tmp_path / "pwned.csv").exists()  # the COPY in the folder name never ran (cwd is tmp_path)
    assert "skipping table folder" in err and "COPY (SELECT 42)" in err and "rename or remove" in err


def test_a_crafted_reference_folder_name_is_skipped(filled: Warehouse, tmp_path: Path) -> None:
    folder = Path(filled.reference_uri(CRAFTED))
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"a": [1]}), folder / "part-0.parquet")
    code, out, err = _sql(filled, "SELECT count(*) AS n FROM ref_clc")
    assert code == 0 and json.loads(out) == [{"n": 2}]
    assert not (tmp_path / "pwned.csv").exists() and "skipping reference folder" in err


@pytest.mark.parametrize("damage", ["empty log", "corrupt log"])
def test_a_broken_table_is_skipped_with_one_warning_and_the_others_work(filled: Warehouse, damage: str) -> None:
    log = Path(filled.table_uri("broken")) / "_delta_log"
    if damage == "empty log":
        log.mkdir(parents=True)
    else:
        shutil.copytree(filled.table_uri("products"), filled.table_uri("broken"))
        next(log.glob("*.json")).write_text("not json\n")
    code, out, err = _sql(filled, "SELECT (SELECT count(*) FROM products) + (SELECT count(*) FROM copy) AS n")
    assert code == 0 and json.loads(out) == [{"n": 4}]
    assert err.count("skipping table broken") == 1 and "restore its _delta_log" in err

    tables = CliRunner().invoke(app, ["-w", filled.root, "tables", "--format", "json"])
    assert tables.exit_code == 0 and {r["table"] for r in json.loads(tables.stdout)} == {"copy", "products", "ref_clc"}
    assert "skipping table broken" in tables.stderr


def test_missing_data_files_fail_only_queries_of_that_table(filled: Warehouse) -> None:
    for part in Path(filled.table_uri("copy")).glob("*.parquet"):
        part.unlink()
    code, _, err = _sql(filled, "SELECT * FROM copy")
    assert code == 2 and "query failed" in err and ".parquet" in err and "Traceback" not in err
    code, out, _ = _sql(filled, "SELECT count(*) AS n FROM products")
    assert code == 0 and json.loads(out) == [{"n": 2}]


def test_safe_mode_reads_every_table(filled: Warehouse) -> None:
    query = "SELECT (SELECT count(*) FROM products) + (SELECT count(*) FROM copy) + (SELECT count(*) FROM ref_clc) AS n"
    code, out, err = _sql(filled, query, "--safe")
    assert code == 0, err
    assert json.loads(out) == [{"n": 6}]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELECT * FROM read_text('/etc/passwd')", 'Cannot access file "/etc/passwd"'),
        ("COPY (SELECT 42) TO '{tmp}/x.csv'", "COPY statements are not allowed"),
        ("COPY (SELECT 42) TO '{wh}/tables/products/_delta_log/00000000000000000009.json'", "COPY statements"),
        ("ATTACH '{tmp}/other.db' AS other", "ATTACH statements are not allowed"),
        ("INSTALL httpfs", "LOAD statements are not allowed"),
        ("LOAD httpfs", "LOAD statements are not allowed"),
        ("SET enable_external_access = true", "SET statements are not allowed"),
        ("SELECT 1; COPY (SELECT 42) TO '{tmp}/x.csv'", "COPY statements are not allowed"),
        ("SELECT * FROM delta_scan('{tmp}/elsewhere')", "the query calls delta_scan"),
        ("SELECT * FROM query('SELECT 1')", "the query calls query"),
    ],
)
def test_safe_mode_refuses_everything_but_reading_the_warehouse(
    filled: Warehouse, tmp_path: Path, query: str, message: str
) -> None:
    code, out, err = _sql(filled, query.format(tmp=tmp_path, wh=filled.root), "--safe")
    assert code == 2 and out == ""
    assert message in err and "--safe mode runs SELECT statements" in err and "Traceback" not in err
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "other.db").exists()
    assert not (Path(filled.table_uri("products")) / "_delta_log" / "00000000000000000009.json").exists()


def test_default_mode_is_a_local_tool_with_the_users_rights(filled: Warehouse, tmp_path: Path) -> None:
    """What --help and docs/sql.md say: without --safe, files outside the warehouse are reachable."""
    code, _, err = _sql(filled, f"COPY (SELECT 42 AS n) TO '{tmp_path}/x.csv'")
    assert code == 0, err
    assert (tmp_path / "x.csv").read_text().split() == ["n", "42"]


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM read_text('/etc/passwd')",
        "COPY (SELECT 42) TO '{tmp}/x.csv'",
        "ATTACH '{tmp}/other.db' AS other",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "SET allowed_directories = ['/']",
        "SET lock_configuration = false",
    ],
)
def test_locked_connection_refuses_on_its_own(filled: Warehouse, tmp_path: Path, statement: str) -> None:
    """DuckDB's own guard holds even for a statement that got past the read-only check."""
    con = connect(filled)
    lock_down(con, filled)
    with pytest.raises(duckdb.Error, match=r"disabled|locked"):
        con.execute(statement.format(tmp=tmp_path))
    assert con.sql("SELECT count(*) FROM products").fetchone() == (2,)
