"""`s2lake run` (the installed command, as cron runs it) against stand-in catalogues on 127.0.0.1.

The products are real Level-2A SAFE folders from the synthesiser, zipped and served by the CDSE stand-in;
the reference data is a generated CLC layer around them and the shipped Natural Earth countries.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pyproj import Transformer

from ingest.scheduler import state_dir
from s2lake.locks import hold
from s2lake.shipped_data import SHIPPED_COUNTRIES
from s2lake.tables.store import TableStore
from s2lake.testing.standin_catalogues import FakeProduct, StandInServer, product_from_safe
from s2lake.tiling_grid import tile_info
from s2lake.warehouse import Warehouse
from sedona_jobs.reference import write_synthetic
from sedona_jobs.reference.loader import load_reference
from sedona_jobs.synth.l2a import write_l2a
from sedona_jobs.synth.reference_layers import synth_clc
from tests.ingest.conftest import PASSWORD, USER, mirror_for

S2LAKE = str(Path(sys.executable).parent / "s2lake")
TILE, PIXELS = "33UUP", 240  # 2 x 2 patches of 1200 m per product
DATES = ("2021-03-10", "2021-07-01", "2021-10-20")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[StandInServer, list[FakeProduct]]]:
    """Three synthetic products of one tile served by a CDSE stand-in."""
    fakes = [
        product_from_safe(write_l2a(tmp_path / "src", tile=TILE, date=d, pixels=PIXELS, seed=i, workers=1))
        for i, d in enumerate(DATES)
    ]
    server = StandInServer("cdse", fakes).start()
    yield server, fakes
    server.stop()


def _setup(tmp_path: Path, server: StandInServer, bands: str = "patches") -> tuple[Warehouse, Path, Path]:
    """A warehouse with reference data, the s2lake configuration and a job file for the tile in 2021."""
    warehouse = Warehouse.at(tmp_path / "warehouse")
    mirror = mirror_for(server, "cdse").model_dump(exclude_none=True, mode="json")
    config = tmp_path / "s2lake.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "warehouse": warehouse.root,
                "ingest": {
                    "mirrors": [mirror],
                    "bands": bands,
                    "scheduler": {"timeout_seconds": 5.0, "chunk_bytes": 65536},
                },
                "patches": {"workers": 1},
            }
        )
    )
    job = tmp_path / "tile.yaml"
    job.write_text(yaml.safe_dump({"aoi": TILE, "start": "2021-01-01", "end": "2021-12-31", "select": "all"}))
    return warehouse, config, job


def _load_reference(warehouse: Warehouse) -> None:
    info = tile_info(TILE)
    to_3035 = Transformer.from_crs(info.epsg, 3035, always_xy=True)
    extent = PIXELS * 10
    xs, ys = to_3035.transform([info.ulx, info.ulx + extent] * 2, [info.uly] * 2 + [info.uly - extent] * 2)
    bbox = (min(xs) - 2000, min(ys) - 2000, max(xs) + 2000, max(ys) + 2000)
    write_synthetic(synth_clc(bbox, 200, seed=1), warehouse, "clc")
    load_reference("countries", SHIPPED_COUNTRIES, warehouse)


def _run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"TEST_MIRROR_USER": USER, "TEST_MIRROR_PASSWORD": PASSWORD, "COLUMNS": "200"}
    return subprocess.run(
        [S2LAKE, "--config", str(config), "run", *args], capture_output=True, text=True, timeout=900, env=env
    )


def _versions(warehouse: Warehouse) -> dict[str, int]:
    store = TableStore(warehouse)
    return {name: store.require(name).version() for name in store.names()}


def test_run_twice_lands_patches_labels_builds_then_does_nothing(served, tmp_path: Path) -> None:
    server, fakes = served
    warehouse, config, job = _setup(tmp_path, server)
    _load_reference(warehouse)

    first = _run(config, str(job), "--json")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    steps = summary["steps"]
    assert sorted(steps["ingest"]["landed"]) == sorted(f.name for f in fakes)
    assert sorted(steps["patches"]["products"]) == sorted(f.name for f in fakes)
    assert steps["patches"]["patches"] == 12 and steps["labels"]["patches"] == 12
    assert steps["marts"]["status"] == "done" and summary["failures"] == [] and not summary["nothing_new"]

    store = TableStore(warehouse)
    products = store.read("products", ["product_id", "status", "patch_count"]).to_pylist()
    assert {(p["status"], p["patch_count"]) for p in products} == {("patched", 4)} and len(products) == 3
    assert store.count("patches") == 12
    assert store.count("patch_country") == 12 and store.count("patch_landcover") >= 12
    assert store.count("patch_overlaps") > 0  # three dates of one tile: the same ground, pair by pair
    assert store.count("label_runs") == 1
    assert store.count("patch_labels") > 0  # a dbt mart

    before = _versions(warehouse)
    downloads = sum(server.stats.completed.values())
    second = _run(config, str(job))
    assert second.returncode == 0, second.stderr
    assert "nothing new" in second.stdout
    assert _versions(warehouse) == before  # no new Delta version of any table, marts included
    assert sum(server.stats.completed.values()) == downloads


def test_a_product_failing_to_patch_is_reported_and_the_others_flow_through(served, tmp_path: Path) -> None:
    server, fakes = served
    broken = fakes[1]
    # Bytes of one band changed at the source, under the manifest's checksum: it lands, then cannot be cut.
    src = tmp_path / "src" / f"{broken.name}.SAFE"
    b03 = next(src.rglob("*_B03_10m.jp2"))
    data = bytearray(b03.read_bytes())
    data[len(data) // 2] ^= 0xFF
    b03.write_bytes(bytes(data))
    server.products[broken.uuid] = product_from_safe(src)  # same name, same id
    # Whole products: with band-level downloads the damaged band would be refused at download (ingest),
    # and this test is about a product that lands and then fails to patch.
    warehouse, config, job = _setup(tmp_path, server, bands="all")
    _load_reference(warehouse)

    result = _run(config, str(job), "--json")
    assert result.returncode == 1, result.stderr
    summary = json.loads(result.stdout)
    [failure] = summary["failures"]
    assert failure["step"] == "patches" and failure["item"] == broken.name
    assert "band B03 does not match the checksum manifest.safe lists" in failure["reason"]
    good = sorted(f.name for f in fakes if f is not broken)
    assert sorted(summary["steps"]["patches"]["products"]) == good
    assert summary["steps"]["labels"]["patches"] == 8 and summary["steps"]["marts"]["status"] == "done"
    store = TableStore(warehouse)
    rows = {r["product_id"]: r for r in store.read("products", ["product_id", "status", "status_reason"]).to_pylist()}
    assert rows[broken.name]["status"] == "failed" and "B03" in rows[broken.name]["status_reason"]
    assert set(store.read("patch_country", ["patch_id"]).column(0).to_pylist()) == set(
        store.read("patches", ["patch_id"]).column(0).to_pylist()
    )
    assert store.count("patch_labels") > 0


def test_without_reference_data_labels_and_marts_are_skipped(served, tmp_path: Path) -> None:
    server, _ = served
    warehouse, config, job = _setup(tmp_path, server)

    result = _run(config, str(job))
    assert result.returncode == 0, result.stderr
    assert "labels: skipped: no reference data (clc, nuts or countries not loaded)" in result.stderr
    assert "marts: skipped: no labels yet" in result.stderr
    assert TableStore(warehouse).count("patches") == 12
    assert TableStore(warehouse).open("label_runs") is None


def test_one_run_at_a_time_and_bad_job_files(tmp_path: Path) -> None:
    warehouse = Warehouse.at(tmp_path / "warehouse")
    config = tmp_path / "s2lake.yaml"
    config.write_text(yaml.safe_dump({"warehouse": warehouse.root}))
    job = tmp_path / "tile.yaml"
    job.write_text(yaml.safe_dump({"aoi": TILE, "days_back": 3}))
    with hold(state_dir(warehouse) / "locks" / "pipeline.lock", "test", "run"):
        locked = _run(config, str(job))
    assert locked.returncode == 3 and "another run holds the lock" in locked.stderr
    assert not Path(warehouse.table_uri("products")).exists()

    job.write_text(yaml.safe_dump({"aoi": TILE}))
    bad = _run(config, str(job))
    assert bad.returncode == 2 and "give start and end dates, or days_back" in bad.stderr
