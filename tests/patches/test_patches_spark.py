"""`patches build --engine spark` (local[2] with Delta Lake) against the embedded engine on the same products.

Rows are compared byte for byte (a hash of every row after sorting by patch_id), the Delta schema as
delta-rs reads it from the log, and the log itself: one data commit per run. Spark start-up is paid
once per test session (the ``spark`` fixture), so there are few, broad tests.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable
from typer.testing import CliRunner

from s2lake.cli.main import app
from s2lake.config.patches import PatchesSettings
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.patches import build_products
from sedona_jobs.safe import open_product
from sedona_jobs.synth.l2a import write_l2a
from tests.patches.conftest import garble_tile


@pytest.fixture(scope="module")
def two_products(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("spark_l2a")
    return [
        write_l2a(out, pixels=600, seed=11, nodata_fraction=0.1, workers=1),
        write_l2a(out, pixels=600, seed=12, date="2018-07-02", mission="S2B", workers=1),
    ]


def row_hashes(table: pa.Table) -> list[str]:
    """SHA-256 of every row (all columns, values as Python objects), in patch_id order."""
    return [hashlib.sha256(repr(row).encode()).hexdigest() for row in table.sort_by("patch_id").to_pylist()]


def patches(warehouse: Warehouse) -> pa.Table:
    return TableStore(warehouse).read("patches")


def commits(warehouse: Warehouse) -> list[dict[str, list[dict]]]:
    """The patches table's log: per version, its actions grouped by kind (commitInfo, add, remove, ...)."""
    out = []
    for path in sorted(Path(warehouse.table_uri("patches"), "_delta_log").glob("*.json")):
        actions: dict[str, list[dict]] = {}
        for line in path.read_text().splitlines():
            ((kind, body),) = json.loads(line).items()
            actions.setdefault(kind, []).append(body)
        out.append(actions)
    return out


def spark_build(warehouse: Warehouse, products: list[Path], *flags: str) -> tuple[int, list[dict]]:
    """`s2lake patches build --engine spark` in this process (the CLI gets the session fixture's Spark)."""
    args = ["--warehouse", warehouse.root, "patches", "build", "--engine", "spark", "--format", "json"]
    result = CliRunner().invoke(app, [*args, *flags, *map(str, products)])
    return result.exit_code, json.loads(result.stdout[result.stdout.index("[") :])


def test_spark_product_and_band_modes_write_the_embedded_rows_in_one_commit_per_run(
    spark: object, two_products: list[Path], tmp_path: Path
) -> None:
    embedded = Warehouse.at(tmp_path / "embedded")
    build_products(two_products, embedded, PatchesSettings(workers=1))
    expected = patches(embedded)
    assert expected.num_rows == 50

    on_spark = Warehouse.at(tmp_path / "spark")
    code, summary = spark_build(on_spark, two_products, "--mode", "product")
    assert code == 0 and [(r["status"], r["patches"]) for r in summary] == [("patched", 25), ("patched", 25)]
    assert row_hashes(patches(on_spark)) == row_hashes(expected)
    # The schema delta-rs reads from the log (types, NOT NULL, comments) and the partitioning are the
    # embedded table's, so delta-rs, DuckDB and dbt read the table unchanged.
    mine, theirs = DeltaTable(on_spark.table_uri("patches")), DeltaTable(embedded.table_uri("patches"))
    assert mine.schema().to_json() == theirs.schema().to_json()
    assert mine.metadata().partition_columns == theirs.metadata().partition_columns == ["tile"]
    # Creating the table is an empty version of its own (a DataFrame write would make every column
    # nullable); the run's rows are one commit.
    create, first = commits(on_spark)
    assert create["commitInfo"][0]["operation"] == "CREATE TABLE" and "add" not in create
    assert first["commitInfo"][0]["operation"] == "WRITE" and "remove" not in first
    assert sum(json.loads(a["stats"])["numRecords"] for a in first["add"]) == 50

    # Band mode, rebuilding both products: one more commit that swaps all old files for new ones.
    code, summary = spark_build(on_spark, two_products, "--mode", "band", "--workers", "3", "--replace")
    assert code == 0 and [r["patches"] for r in summary] == [25, 25]
    versions = commits(on_spark)
    assert len(versions) == 3
    assert {r["path"] for r in versions[2]["remove"]} == {a["path"] for a in first["add"]}
    assert row_hashes(patches(on_spark)) == row_hashes(expected)
    products = TableStore(on_spark).read("products").to_pylist()
    assert sorted((p["status"], p["patch_count"]) for p in products) == [("patched", 25), ("patched", 25)]


def test_spark_bad_product_fails_alone_and_keeps_its_old_rows(spark: object, tmp_path: Path) -> None:
    good = write_l2a(tmp_path / "in", pixels=600, seed=2, date="2019-04-02", workers=1)
    bad = write_l2a(tmp_path / "in", pixels=1200, seed=1, date="2019-04-01", workers=1)
    warehouse = Warehouse.at(tmp_path / "warehouse")
    assert spark_build(warehouse, [bad, good], "--mode", "product")[0] == 0
    bad_id = open_product(bad).product_id
    before = patches(warehouse).filter(pc.field("product_id") == bad_id)
    assert before.num_rows == 100

    # Damage a JPEG 2000 tile of B02: the driver's checks pass, decoding fails on an executor after the
    # first strips. The bad product is failed with the reason; the good one is rebuilt in one commit,
    # and the bad one's previous rows are still there.
    (b02,) = bad.glob("GRANULE/*/IMG_DATA/R10m/*_B02_10m.jp2")
    garble_tile(b02, tile=2)
    # The manifest check would refuse the damaged band on the driver: off, so the decode fails on an executor.
    code, summary = spark_build(
        warehouse, [bad, good], "--mode", "band", "--workers", "2", "--replace", "--no-verify-checksums"
    )
    assert code == 1
    assert [(r["status"], r["patches"]) for r in summary] == [("failed", 0), ("patched", 25)]
    assert "cannot decode band B02" in summary[0]["reason"] and str(b02) in summary[0]["reason"]
    versions = commits(warehouse)
    assert len(versions) == 3 and sum(json.loads(a["stats"])["numRecords"] for a in versions[2]["add"]) == 25
    after = patches(warehouse)
    assert after.num_rows == 125
    assert row_hashes(after.filter(pc.field("product_id") == bad_id)) == row_hashes(before)
    products = {p["product_id"]: p for p in TableStore(warehouse).read("products").to_pylist()}
    assert products[bad_id]["status"] == "failed" and "B02" in products[bad_id]["status_reason"]
    assert products[open_product(good).product_id]["patch_count"] == 25
