"""Warehouse writability, TableStore commits (one Delta version per write), `s2lake sql` and `s2lake tables`."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from s2lake.errors import WarehouseError
from s2lake.tables.schemas import PATCH_OVERLAPS, PRODUCTS
from s2lake.tables.store import TableStore, sql_literal
from s2lake.warehouse import Warehouse

S2LAKE = str(Path(sys.executable).parent / "s2lake")


def _log_versions(store: TableStore, name: str) -> list[int]:
    return sorted(int(p.stem) for p in (Path(store.uri(name)) / "_delta_log").glob("*.json"))


def _products(*rows: tuple[str, str]) -> pa.Table:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    data = [{"product_id": pid, "status": status, "ingestion_time": now, "tile": "33UUU"} for pid, status in rows]
    return pa.Table.from_pylist(data, schema=PRODUCTS.schema)


def test_local_warehouse_paths_are_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    warehouse = Warehouse.at("wh")
    assert warehouse.root == str(tmp_path / "wh") and warehouse.is_local
    assert warehouse.table_uri("patches") == str(tmp_path / "wh" / "tables" / "patches")
    assert Warehouse.at("file://" + str(tmp_path / "x")).root == str(tmp_path / "x")
    remote = Warehouse.at("s3://bucket/lake/")
    assert remote.root == "s3://bucket/lake" and not remote.is_local


def test_ensure_writable(tmp_path: Path) -> None:
    Warehouse.at(tmp_path / "new" / "wh").ensure_writable()
    assert (tmp_path / "new" / "wh" / "tables").is_dir()
    assert list((tmp_path / "new" / "wh" / "tables").iterdir()) == []  # the probe file is gone
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(WarehouseError) as err:
        Warehouse.at(blocker).ensure_writable()
    assert "not writable" in err.value.message and "--warehouse" in err.value.message


def test_upsert_is_one_commit_per_call_and_updates_by_key(warehouse: Warehouse) -> None:
    store = TableStore(warehouse)
    store.upsert(PRODUCTS, _products(("a", "landed"), ("b", "landed")))
    store.upsert(PRODUCTS, _products(("b", "patched"), ("c", "failed")))
    assert _log_versions(store, "products") == [0, 1, 2]  # 0: the empty table's creation (see TableStore.snapshot)
    rows = {r["product_id"]: r["status"] for r in store.read("products", ["product_id", "status"]).to_pylist()}
    assert rows == {"a": "landed", "b": "patched", "c": "failed"}
    assert store.read("products", ["product_id"], where="status = 'failed'").column(0).to_pylist() == ["c"]


def test_replace_where_replaces_only_matching_rows_in_one_commit(warehouse: Warehouse) -> None:
    store = TableStore(warehouse)
    schema = PATCH_OVERLAPS.schema

    def pairs(prefix: str, n: int) -> pa.Table:
        rows = [
            {"patch_id_a": f"{prefix}{i}", "patch_id_b": "z", "tile_a": prefix, "tile_b": "t", "area_m2": float(i)}
            | {"run_id": "r"}
            for i in range(n)
        ]
        return pa.Table.from_pylist(rows, schema=schema)

    store.replace_where(PATCH_OVERLAPS, pairs("x", 3), predicate="tile_a = 'x'")
    store.replace_where(PATCH_OVERLAPS, pairs("y", 2), predicate="tile_a = 'y'")
    store.replace_where(PATCH_OVERLAPS, iter(pairs("x", 4).to_batches(max_chunksize=1)), predicate="tile_a = 'x'")
    assert _log_versions(store, "patch_overlaps") == [0, 1, 2, 3]
    assert store.count("patch_overlaps") == 6
    tiles = store.read("patch_overlaps", ["tile_a"]).column(0).to_pylist()
    assert sorted(tiles) == ["x"] * 4 + ["y"] * 2


def test_a_failing_stream_leaves_no_version(warehouse: Warehouse) -> None:
    store = TableStore(warehouse)
    store.upsert(PRODUCTS, _products(("a", "landed")))

    def broken():
        yield _products(("b", "landed")).to_batches()[0]
        raise OSError("disk vanished")

    with pytest.raises(Exception, match="disk vanished"):
        store.replace_where(PRODUCTS, broken(), predicate="product_id = 'b'")
    assert _log_versions(store, "products") == [0, 1]
    assert store.count("products") == 1


def test_sql_literal_quotes() -> None:
    assert sql_literal("it's") == "'it''s'"


def test_require_missing_table_explains(warehouse: Warehouse) -> None:
    with pytest.raises(WarehouseError, match="does not exist"):
        TableStore(warehouse).require("patches")


def test_cli_sql_and_tables(warehouse: Warehouse) -> None:
    store = TableStore(warehouse)
    store.upsert(PRODUCTS, _products(("a", "patched"), ("b", "failed")))
    store.upsert(PRODUCTS, _products(("b", "patched")))
    base = [S2LAKE, "-w", warehouse.root]
    run = subprocess.run(
        [*base, "sql", "SELECT status, count(*) AS n FROM products GROUP BY status", "--format", "json"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == [{"status": "patched", "n": 2}]

    csv = subprocess.run([*base, "sql", "SELECT 1 AS one", "--format", "csv"], capture_output=True, text=True)
    assert csv.stdout.splitlines() == ["one", "1"]

    bad = subprocess.run([*base, "sql", "SELECT * FROM nowhere"], capture_output=True, text=True)
    assert bad.returncode != 0 and "query failed" in bad.stderr and "s2lake tables" in bad.stderr

    tables = subprocess.run([*base, "tables", "--format", "json"], capture_output=True, text=True)
    [row] = json.loads(tables.stdout)
    assert (row["table"], row["rows"], row["version"]) == ("products", 2, 2)  # 0: the empty creation

    schema = subprocess.run(
        [*base, "tables", "--schema", "products", "--format", "json"], capture_output=True, text=True
    )
    columns = {c["column"]: c for c in json.loads(schema.stdout)}
    assert columns["status"]["comment"] == "discovered, landed, patched or failed"
