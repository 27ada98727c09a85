"""Every command on an ``hdfs://`` warehouse (the local cluster's HDFS), with no JVM in the s2lake process.

The embedded engine reaches HDFS through hdfs-native (files) and delta-rs (Delta tables). Each command runs
as a user runs it, in a child process, once on a local warehouse and once on HDFS, and every table must
hold the same rows on both. Where the embedded engine cannot serve a command on HDFS (dbt-duckdb), the
command must say which engine to use, with its exit code, not a traceback.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from s2lake.cli.main import app
from s2lake.shipped_data import SHIPPED_COUNTRIES
from s2lake.spark.cluster import ClusterState
from s2lake.tables.store import TableStore
from s2lake.testing.standin_catalogues import FakeProduct, StandInServer, generate_products
from s2lake.warehouse import Warehouse
from s2lake.warehouse_fs import fsspec_fs
from sedona_jobs.labels.demo_labels import patches_bbox_3035
from sedona_jobs.synth.l2a import write_l2a
from tests.cluster.conftest import s2lake
from tests.ingest.conftest import AREA, PASSWORD, USER, mirror_for

#: Columns that hold the time a command ran, which two runs cannot share.
#: Columns that record when (and as which run) rows were written: they differ between the two runs.
RUN_TIME_COLUMNS = {"ingestion_time", "run_id", "started", "finished"}


def _hdfs_warehouse(cluster: ClusterState) -> Warehouse:
    return Warehouse.at(f"{cluster.addresses['hdfs']}/s2lake-{uuid.uuid4().hex[:12]}")


def _ok(*args: str) -> str:
    done = s2lake(*args)
    assert done.returncode == 0, f"s2lake {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr
    return done.stdout


def _json(warehouse: Warehouse, *args: str) -> list[dict]:
    return json.loads(_ok("-w", warehouse.root, *args, "--format", "json"))


def _label(warehouse: Warehouse, bbox: tuple[float, ...]) -> None:
    """The demo's reference layers (generated CLC, the shipped countries), then labels build."""
    _ok("-w", warehouse.root, "reference", "synth", "clc", "--bbox", *map(str, bbox), "--count", "300", "--seed", "1")
    _ok("-w", warehouse.root, "reference", "load", "countries", str(SHIPPED_COUNTRIES))
    _ok("-w", warehouse.root, "labels", "build", "--country-source", "countries")


def _rows_digest(warehouse: Warehouse, view: str) -> tuple[int, str]:
    """Row count and a hash of the sorted rows of ``view``, read with `s2lake sql`."""
    rows = _json(warehouse, "sql", f"SELECT * FROM {view}", "--limit", "0")
    lines = sorted(
        json.dumps({k: v for k, v in row.items() if k not in RUN_TIME_COLUMNS}, sort_keys=True, default=str)
        for row in rows
    )
    return len(rows), hashlib.sha256("\n".join(lines).encode()).hexdigest()


def test_patches_labels_tables_and_sql_on_hdfs_give_the_local_rows(cluster: ClusterState, tmp_path: Path) -> None:
    product = write_l2a(tmp_path / "products", pixels=360, nodata_fraction=0.1, seed=7, workers=1)
    local, hdfs = Warehouse.at(tmp_path / "local"), _hdfs_warehouse(cluster)
    for warehouse in (local, hdfs):
        _ok("-w", warehouse.root, "patches", "build", str(product), "--workers", "1")
    bbox = patches_bbox_3035(local)
    for warehouse in (local, hdfs):
        _label(warehouse, bbox)

    fs, root = fsspec_fs(hdfs.table_uri("patches"))
    assert fs.exists(f"{root}/_delta_log/00000000000000000000.json")  # the table is on HDFS

    listed = {w.root: {t["table"]: t["rows"] for t in _json(w, "tables")} for w in (local, hdfs)}
    assert listed[hdfs.root] == listed[local.root]
    assert set(listed[hdfs.root]) == {
        "patches",
        "products",
        "patch_landcover",
        "patch_country",
        "patch_overlaps",
        "label_runs",
        "ref_clc",
        "ref_countries",
    }
    assert listed[hdfs.root]["patches"] == 9

    counted = _json(hdfs, "sql", "SELECT count(*) AS n, count(DISTINCT tile) AS tiles FROM patches")
    assert counted == [{"n": 9, "tiles": 1}]
    for view in listed[hdfs.root]:
        assert _rows_digest(hdfs, view) == _rows_digest(local, view), view
    # the table a model would read: land-cover labels for every patch, on HDFS
    assert TableStore(hdfs).count("patch_landcover") > 0

    # --safe on HDFS: the warehouse's views are readable, a file outside it is not
    safe = _json(hdfs, "sql", "--safe", "SELECT count(*) AS n FROM patch_country")
    assert safe == [{"n": 9}]
    outside = s2lake("-w", hdfs.root, "sql", "--safe", f"SELECT * FROM read_parquet('{cluster.addresses['hdfs']}/x')")
    assert outside.returncode == 2 and "Traceback" not in outside.stderr

    # dbt-duckdb reads its sources with DuckDB's delta_scan, which cannot reach HDFS: it says what to use
    models = s2lake("-w", hdfs.root, "models", "build", "--target", "duckdb")
    assert models.returncode == 4, models.stdout + models.stderr
    assert "use --target spark" in models.stderr and "Traceback" not in models.stderr


def test_a_product_patched_again_on_hdfs_is_replaced_in_one_commit(cluster: ClusterState, tmp_path: Path) -> None:
    product = write_l2a(tmp_path / "products", pixels=240, seed=3, workers=1)
    hdfs = _hdfs_warehouse(cluster)
    for _ in range(2):
        _ok("-w", hdfs.root, "patches", "build", str(product), "--workers", "1", "--replace")
    table = TableStore(hdfs).require("patches")
    # version 0 creates the empty table (the read version of the first commit), then one commit per build
    assert table.version() == 2 and TableStore(hdfs).count("patches") == 4
    fs, root = fsspec_fs(hdfs.table_uri("patches"))
    data = [p for p in fs.find(root) if p.endswith(".parquet")]
    assert len(data) == 2 and len(table.file_uris()) == 1  # the old file is removed from the version, not lost


@pytest.fixture
def hdfs_config(
    cluster: ClusterState, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, Warehouse, list[FakeProduct]]]:
    """A stand-in DHuS mirror with two products, and a configuration landing them on HDFS."""
    monkeypatch.setenv("TEST_MIRROR_USER", USER)
    monkeypatch.setenv("TEST_MIRROR_PASSWORD", PASSWORD)
    fakes = generate_products(2, ["32UNA"], payload=48 * 1024)
    dhus = StandInServer("dhus", fakes).start()
    warehouse = _hdfs_warehouse(cluster)
    config = tmp_path / "s2lake.yaml"
    mirror = mirror_for(dhus, "dhus").model_dump(exclude_none=True, mode="json")
    scheduler = {"timeout_seconds": 5.0, "bench_seconds": 0.3, "lta_poll_seconds": 0.1, "chunk_bytes": 16384}
    config.write_text(
        yaml.safe_dump({"warehouse": warehouse.root, "ingest": {"mirrors": [mirror], "scheduler": scheduler}})
    )
    try:
        yield config, warehouse, fakes
    finally:
        dhus.stop()


def test_ingest_get_lands_products_and_the_products_table_on_hdfs(hdfs_config, tmp_path: Path) -> None:
    config, warehouse, fakes = hdfs_config
    aoi = tmp_path / "aoi.wkt"
    aoi.write_text(AREA)
    runner = CliRunner()
    search = ["ingest", "search", str(aoi), "--from", "2021-01-01", "--to", "2021-12-31", "--json"]
    found = runner.invoke(app, ["--config", str(config), *search])
    assert found.exit_code == 0, found.output
    (tmp_path / "found.json").write_text(found.stdout)

    got = runner.invoke(app, ["--config", str(config), "ingest", "get", str(tmp_path / "found.json"), "--json"])
    assert got.exit_code == 0, got.output
    landed = json.loads(got.stdout)["landed"]
    assert sorted(landed) == sorted(f.name for f in fakes)

    rows = TableStore(warehouse).read("products").to_pylist()
    assert {r["product_id"] for r in rows} == set(landed) and {r["status"] for r in rows} == {"landed"}
    fs, landing = fsspec_fs(warehouse.landing_uri)
    for row in rows:
        assert row["storage_path"].startswith(warehouse.landing_uri + "/")
        assert fs.exists(fsspec_fs(row["storage_path"])[1])
    assert not [p for p in fs.ls(landing, detail=False) if ".partial-" in p]  # no half-copied product left
    listed = {t["table"]: t["rows"] for t in _json(warehouse, "tables")}
    assert listed["products"] == len(fakes)
