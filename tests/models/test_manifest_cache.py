"""dbt's parsed project is kept between builds and warehouses (s2lake/dbt/manifest_cache.py): a build on a fresh
warehouse skips parsing and builds the same marts; what parsing reads changes the key, this run's paths do not,
and a manifest holding this run's paths is never kept."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from deltalake import DeltaTable

from s2lake.config.models import ModelsSettings
from s2lake.dbt import manifest_cache
from s2lake.dbt.runner import PROJECT_DIR, build
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.synth.warehouse import generate


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "s2lake" / "dbt-manifests"


def test_a_build_on_a_fresh_warehouse_reuses_the_parsed_project(tmp_path: Path, cache: Path) -> None:
    results = []
    for name in ("first", "second"):
        warehouse = generate(Warehouse.at(tmp_path / name), tiles=1, grid=6).warehouse
        results.append((warehouse, build(ModelsSettings(), warehouse, quiet=True)))
    assert len(list(cache.iterdir())) == 1  # kept by the first build, used by the second
    (first, first_result), (second, second_result) = results
    # dbt parsed for the first build only (parsing writes partial_parse.msgpack), and the second still has the
    # manifest.json the marts' plugin reads its column docs from
    assert (first_result.state_dir / "target" / "partial_parse.msgpack").is_file()
    assert not (second_result.state_dir / "target" / "partial_parse.msgpack").exists()
    assert (second_result.state_dir / "target" / "manifest.json").is_file()
    assert sorted((n.node, n.status) for n in first_result.nodes) == sorted(
        (n.node, n.status) for n in second_result.nodes
    )
    for mart in ("season_stats", "patch_validation", "band_stats"):
        one, two = (_rows(w, mart) for w in (first, second))  # the marts' row order is the engine's
        assert one.equals(two), mart
        assert _schema(first, mart) == _schema(second, mart)  # column comments from the manifest included


def test_the_key_follows_what_parsing_reads_not_this_runs_paths(tmp_path: Path) -> None:
    project = tmp_path / "models"
    shutil.copytree(PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))

    def key(root: str, stats_list: str = "", environment: dict | None = None) -> str:
        project_vars = {"source_root": f"{root}/tables", "stats_list": stats_list, "report_scope": f"{root}/s.csv.gz"}
        env = {"S2LAKE_DBT_WAREHOUSE": root, "S2LAKE_DBT_SPARK_FILE_FORMAT": "delta", **(environment or {})}
        return manifest_cache.manifest_key(
            project, "duckdb", project_vars, env, [root, f"{root}/tables", stats_list, f"{root}/s.csv.gz"]
        )

    base = key("/data/one")
    assert key("/tmp/another-warehouse") == base
    assert key("/data/one", stats_list="/lists/train.csv.gz") != base  # enables listed_band_stats
    assert key("/data/one", environment={"S2LAKE_DBT_SPARK_FILE_FORMAT": "parquet"}) != base
    model = project / "transform" / "marts" / "season_stats.sql"
    model.write_text(model.read_text() + "\n-- changed\n")
    assert key("/data/one") != base


def test_a_manifest_holding_this_runs_paths_is_not_kept(tmp_path: Path, cache: Path) -> None:
    from dbt.contracts.graph.manifest import Manifest

    target = tmp_path / "target"
    target.mkdir()
    (target / "manifest.json").write_text('{"nodes": {"m": {"config": {"location_root": "/data/lake/tables"}}}}')
    assert not manifest_cache.store("k1", Manifest(), target, ["/data/lake"])
    assert not cache.exists() or not any(cache.iterdir())
    (target / "manifest.json").write_text('{"nodes": {}}')
    assert manifest_cache.store("k2", Manifest(), target, ["/data/lake"])
    elsewhere = tmp_path / "elsewhere"
    assert isinstance(manifest_cache.load("k2", elsewhere), Manifest)
    assert (elsewhere / "manifest.json").read_text() == '{"nodes": {}}'
    (cache / "k2" / "manifest.msgpack").write_bytes(b"\xc1 not msgpack")  # damaged: parse again, entry dropped
    assert manifest_cache.load("k2", elsewhere) is None
    assert not (cache / "k2").exists()


def _rows(warehouse: Warehouse, mart: str) -> pd.DataFrame:
    frame = TableStore(warehouse).read(mart).to_pandas()
    order = frame.astype(str).sort_values(list(frame.columns)).index  # list columns do not sort themselves
    return frame.loc[order].reset_index(drop=True).astype(str)


def _schema(warehouse: Warehouse, mart: str) -> str:
    return DeltaTable(warehouse.table_uri(mart)).schema().to_json()
