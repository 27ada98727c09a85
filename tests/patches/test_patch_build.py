"""`patches build` end to end on synthetic L2A products (real SAFE layout, JPEG 2000 bands, Delta log)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import rasterio
import shapely

from s2lake.config.patches import PatchesSettings
from s2lake.sentinel2 import ALL_LAYERS, BANDS, SCL_CLASSES
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.patches import PatchId, build_products
from sedona_jobs.safe import open_product
from sedona_jobs.synth.l2a import write_l2a

PIXELS = 1200  # 10 x 10 patches: small enough for CI, big enough for several strips and JP2 tiles
S2LAKE = str(Path(sys.executable).parent / "s2lake")


@pytest.fixture(scope="module")
def products(small_l2a: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The shared 1200 px product (10 % NO_DATA) and a second one of another mission and date."""
    out = tmp_path_factory.mktemp("l2a")
    return [small_l2a, write_l2a(out, pixels=PIXELS, seed=6, date="2018-07-02", mission="S2B")]


@pytest.fixture(scope="module")
def built(products: list[Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Warehouse, pa.Table]:
    """Both products built in band mode over two workers, strips of 3 patch rows (4 strips)."""
    warehouse = Warehouse.at(tmp_path_factory.mktemp("wh") / "warehouse")
    outcomes = build_products(products, warehouse, PatchesSettings(mode="band", workers=2, strip_rows=3))
    assert [(o.status, o.patches) for o in outcomes] == [("patched", 100), ("patched", 100)]
    return warehouse, TableStore(warehouse).read("patches").sort_by("patch_id")


def test_counts_shapes_bbox_and_ids(products: list[Path], built: tuple[Warehouse, pa.Table]) -> None:
    _, table = built
    assert table.num_rows == 200
    for path in products:
        product = open_product(path)
        rows = table.filter(pc.field("product_id") == product.product_id).to_pylist()
        assert len(rows) == 100
        assert {(r["row"], r["col"]) for r in rows} == {(r, c) for r in range(10) for c in range(10)}
        for r in rows:
            assert (r["ulx"], r["uly"]) == (product.ulx + r["col"] * 1200, product.uly - r["row"] * 1200)
            assert (r["lrx"], r["lry"]) == (r["ulx"] + 1200, r["uly"] - 1200)
            assert shapely.from_wkb(r["footprint"]).bounds == (r["ulx"], r["lry"], r["lrx"], r["uly"])
            pid = PatchId.parse(r["patch_id"])
            assert (pid.col, pid.row, pid.tile, pid.mission) == (r["col"], r["row"], product.tile, product.mission)
            assert (pid.datatake, pid.baseline, pid.relative_orbit) == (
                product.datatake,
                product.processing_baseline,
                product.relative_orbit,
            )
            assert r["epsg"] == product.epsg and r["tile"] == product.tile
            assert r["sensing_time"] == product.sensing_start
            for band in BANDS:
                assert len(r[band.column]) == band.patch_pixels**2
            assert len(r["scl"]) == 60 * 60
            assert [s["band"] for s in r["band_stats"]] == [b.name for b in ALL_LAYERS]


def test_pixels_and_stats_match_an_independent_read(products: list[Path], built: tuple[Warehouse, pa.Table]) -> None:
    """Whole-band rasterio reads + per-patch numpy slicing, compared with every stored patch."""
    _, table = built
    product = open_product(products[0])
    rows = table.filter(pc.field("product_id") == product.product_id).to_pylist()
    full = {}
    for layer in ALL_LAYERS:
        with rasterio.open(product.bands[layer.name].path) as raster:
            full[layer.name] = raster.read(1)
    seen_nodata = False
    for r in rows:
        nodata = 0
        for layer, stats in zip(ALL_LAYERS, r["band_stats"], strict=True):
            px = layer.patch_pixels
            patch = full[layer.name][r["row"] * px : (r["row"] + 1) * px, r["col"] * px : (r["col"] + 1) * px]
            stored = r["scl"] if layer.name == "SCL" else r[layer.column]
            assert np.array_equal(np.asarray(stored), patch.reshape(-1).astype(np.int64)), (r["patch_id"], layer)
            valid = patch[patch != 0].astype(np.int64)
            nodata += patch.size - valid.size
            assert (stats["height"], stats["width"]) == (px, px)
            assert stats["valid_count"] == valid.size
            assert stats["sum"] == int(valid.sum()) and stats["sum_sq"] == int((valid**2).sum())
            if valid.size:
                assert (stats["min"], stats["max"]) == (int(valid.min()), int(valid.max()))
                assert stats["mean"] == pytest.approx(valid.mean(), rel=1e-12)
            else:
                assert stats["min"] is None and stats["mean"] is None
        scl = full["SCL"][r["row"] * 60 : (r["row"] + 1) * 60, r["col"] * 60 : (r["col"] + 1) * 60]
        assert r["scene_classes"] == sorted(SCL_CLASSES[int(v)] for v in np.unique(scl))
        assert r["nodata_pixels"] == nodata and r["has_nodata"] == (nodata > 0)
        seen_nodata |= nodata > 0
    assert seen_nodata, "the product was generated with NO_DATA areas"


def test_band_and_product_mode_give_identical_rows(
    products: list[Path], built: tuple[Warehouse, pa.Table], tmp_path: Path
) -> None:
    _, band_mode = built
    for settings in (PatchesSettings(mode="product", workers=2), PatchesSettings(mode="band", workers=1)):
        warehouse = Warehouse.at(tmp_path / settings.mode / str(settings.workers))
        outcomes = build_products(products, warehouse, settings)
        assert [o.status for o in outcomes] == ["patched", "patched"]
        other = TableStore(warehouse).read("patches").sort_by("patch_id")
        assert other.equals(band_mode), f"{settings.mode} mode with {settings.workers} workers differs"


def test_drop_nodata_keeps_only_complete_patches(products: list[Path], built, tmp_path: Path) -> None:
    _, table = built
    warehouse = Warehouse.at(tmp_path / "wh")
    [outcome] = build_products(products[:1], warehouse, PatchesSettings(workers=1, drop_nodata=True))
    kept = TableStore(warehouse).read("patches")
    expected = table.filter(
        (pc.field("product_id") == outcome.product_id) & (pc.field("has_nodata") == pa.scalar(False))
    )
    assert 0 < kept.num_rows == expected.num_rows == outcome.patches < 100
    assert not any(kept.column("has_nodata").to_pylist())


def _versions(warehouse: Warehouse, table: str) -> list[int]:
    log = Path(warehouse.table_uri(table)) / "_delta_log"
    return sorted(int(p.stem) for p in log.glob("*.json"))


def test_second_run_skips_and_replace_is_one_commit(products: list[Path], tmp_path: Path) -> None:
    warehouse = Warehouse.at(tmp_path / "wh")
    settings = PatchesSettings(workers=2)
    build_products(products[:1], warehouse, settings)
    store = TableStore(warehouse)
    # Version 0 is the empty table's creation (TableStore.snapshot), 1 the product's commit.
    assert (store.count("patches"), _versions(warehouse, "patches")) == (100, [0, 1])

    [again] = build_products(products[:1], warehouse, settings)
    assert again.status == "skipped" and "--replace" in again.reason and again.product_id in again.reason
    assert (store.count("patches"), _versions(warehouse, "patches")) == (100, [0, 1])

    [replaced] = build_products(products[:1], warehouse, settings, replace=True)
    assert replaced.status == "patched"
    assert (store.count("patches"), _versions(warehouse, "patches")) == (100, [0, 1, 2])
    commit = [
        json.loads(line)
        for line in (Path(warehouse.table_uri("patches")) / "_delta_log")
        .joinpath("00000000000000000002.json")
        .read_text()
        .splitlines()
    ]
    assert any("remove" in action for action in commit) and any("add" in action for action in commit)
    assert store.read("products", ["status", "patch_count"]).to_pylist() == [{"status": "patched", "patch_count": 100}]


def test_cli_build_sql_and_tables(products: list[Path], tmp_path: Path) -> None:
    warehouse = str(tmp_path / "wh")
    run = subprocess.run(
        [S2LAKE, "-w", warehouse, "patches", "build", str(products[1]), "--workers", "2", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    [summary] = json.loads(run.stdout)
    assert summary["status"] == "patched" and summary["patches"] == 100

    query = "SELECT count(*) AS n, count(DISTINCT patch_id) AS ids, min(len(b02)) AS px FROM patches"
    sql = subprocess.run([S2LAKE, "-w", warehouse, "sql", query, "--format", "json"], capture_output=True, text=True)
    assert sql.returncode == 0, sql.stderr
    assert json.loads(sql.stdout) == [{"n": 100, "ids": 100, "px": 14400}]

    tables = subprocess.run([S2LAKE, "-w", warehouse, "tables", "--format", "json"], capture_output=True, text=True)
    listed = {t["table"]: t for t in json.loads(tables.stdout)}
    assert listed["patches"]["rows"] == 100 and listed["patches"]["version"] == 1
    assert listed["patches"]["partitioned_by"] == "tile"
    assert listed["products"]["rows"] == 1

    again = subprocess.run(
        [S2LAKE, "-w", warehouse, "patches", "build", str(products[1]), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0
    assert "already loaded" in again.stderr and "--replace" in again.stderr


def test_zipped_product_gives_the_same_rows(
    products: list[Path], built: tuple[Warehouse, pa.Table], zip_l2a, tmp_path: Path
) -> None:
    """A .zip as the hubs deliver it is read in place (GDAL /vsizip/), with the same result."""
    _, table = built
    archive = zip_l2a(products[0])
    warehouse = Warehouse.at(tmp_path / "wh")
    [outcome] = build_products([archive], warehouse, PatchesSettings(workers=2))
    assert outcome.status == "patched" and outcome.patches == 100
    rows = TableStore(warehouse).read("patches").sort_by("patch_id")
    expected = table.filter(pc.field("product_id") == outcome.product_id)
    assert rows.equals(expected)
    stored = TableStore(warehouse).read("products", ["storage_path"]).column(0).to_pylist()
    assert stored == [str(archive.resolve())]


def test_replace_after_compaction_leaves_no_duplicates(products: list[Path], tmp_path: Path) -> None:
    """OPTIMIZE may merge products into one file; replacing one of them then rewrites that file."""
    warehouse = Warehouse.at(tmp_path / "wh")
    build_products(products, warehouse, PatchesSettings(workers=1))
    store = TableStore(warehouse)
    store.require("patches").optimize.compact()
    assert len(store.require("patches").file_uris()) == 1  # both products in one file now
    [outcome] = build_products(products[:1], warehouse, PatchesSettings(workers=1), replace=True)
    assert outcome.status == "patched"
    ids = store.read("patches", ["patch_id"]).column(0)
    assert len(ids) == 200 and len(ids.unique()) == 200
