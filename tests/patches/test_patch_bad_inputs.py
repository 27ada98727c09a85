"""Bad inputs: each product fails with a clear reason, the others go on, no Delta version holds part of one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from s2lake.config.patches import PatchesSettings
from s2lake.errors import WarehouseError
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.patches import build_products
from sedona_jobs.safe import open_product
from sedona_jobs.synth.l2a import write_l2a
from tests.patches.conftest import garble_tile

S2LAKE = str(Path(sys.executable).parent / "s2lake")


def _band(safe: Path, name: str) -> Path:
    return next(safe.glob(f"GRANULE/*/IMG_DATA/R*m/*_{name}_*m.jp2"))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("bad")
    made = {
        "corrupt": write_l2a(out, pixels=1200, seed=1, date="2019-04-01"),
        "good": write_l2a(out, pixels=600, seed=2, date="2019-04-02"),
        "missing_band": write_l2a(out, pixels=600, seed=3, date="2019-04-03"),
        "wrong_size": write_l2a(out, pixels=600, seed=4, date="2019-04-04"),
    }
    garble_tile(_band(made["corrupt"], "B02"), tile=2)
    _band(made["missing_band"], "B8A").unlink()
    b05 = _band(made["wrong_size"], "B05")
    with rasterio.open(b05) as raster:
        profile = raster.profile | {"width": 100, "height": 100}
    b05.unlink()
    with rasterio.open(b05, "w", **profile) as raster:
        raster.write(np.full((1, 100, 100), 500, dtype=np.uint16))
    l1c = out / "S2A_MSIL1C_20190405T100031_N0207_R122_T33UUU_20190405T121500.SAFE"
    l1c.mkdir()
    (l1c / "MTD_MSIL1C.xml").write_text(
        '<?xml version="1.0"?><n1:Level-1C_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/'
        'User_Product_Level-1C.xsd"><n1:General_Info/></n1:Level-1C_User_Product>'
    )
    other = out / "holiday_photos"
    other.mkdir()
    with rasterio.open(
        other / "photo.tif",
        "w",
        driver="GTiff",
        width=8,
        height=8,
        count=1,
        dtype="uint8",
        crs="EPSG:4326",
        transform=from_origin(0, 0, 1, 1),
    ) as raster:
        raster.write(np.zeros((1, 8, 8), dtype=np.uint8))
    made |= {"l1c": l1c, "not_s2": other}
    return made


def _delta_versions(warehouse: str, table: str) -> list[int]:
    return sorted(int(p.stem) for p in (Path(warehouse) / "tables" / table / "_delta_log").glob("*.json"))


def test_bad_products_fail_alone_and_leave_no_partial_version(inputs: dict[str, Path], tmp_path: Path) -> None:
    warehouse = str(tmp_path / "wh")
    order = ["corrupt", "missing_band", "good", "wrong_size", "l1c", "not_s2"]
    run = subprocess.run(
        [S2LAKE, "-w", warehouse, "patches", "build", "--workers", "2", "--no-verify-checksums", "--format", "json"]
        + [str(inputs[k]) for k in order],
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ | {"S2LAKE_PATCHES__STRIP_ROWS": "3"},
    )
    assert run.returncode == 1, run.stderr  # ExitCode.PARTIAL
    summary = dict(zip(order, json.loads(run.stdout), strict=True))
    assert {k: v["status"] for k, v in summary.items()} == {k: "failed" for k in order} | {"good": "patched"}

    reasons = {k: v["reason"] for k, v in summary.items()}
    assert "cannot decode band B02" in reasons["corrupt"] and str(_band(inputs["corrupt"], "B02")) in reasons["corrupt"]
    assert "band file of B8A is missing" in reasons["missing_band"]
    assert "B05 is 100x100 px" in reasons["wrong_size"] and "_B05_20m.jp2" in reasons["wrong_size"]
    assert "Level-1C" in reasons["l1c"] and "sen2cor" in reasons["l1c"]
    assert "not a Sentinel-2" in reasons["not_s2"] and str(inputs["not_s2"]) in reasons["not_s2"]
    assert all("Fix:" in r for k, r in reasons.items() if k != "good")

    # The corrupt product came first and failed after its first strips had been written: the only
    # patches version after the empty table's creation (0) is the good product's commit, holding exactly
    # its 25 patches, and the corrupt product's data files are gone.
    assert _delta_versions(warehouse, "patches") == [0, 1]
    store = TableStore(Warehouse.at(warehouse))
    ids = store.read("patches", ["product_id"]).column("product_id").unique().to_pylist()
    assert ids == [open_product(inputs["good"]).product_id] and store.count("patches") == 25
    on_disk = {p.name for p in Path(warehouse, "tables", "patches").rglob("*.parquet")}
    committed = {Path(p).name for p in store.require("patches").file_uris()}
    assert on_disk == committed

    products = {r["product_id"]: r for r in store.read("products").to_pylist()}
    corrupt_id = open_product(inputs["corrupt"], verify_checksums=False).product_id
    assert products[corrupt_id]["status"] == "failed" and "B02" in products[corrupt_id]["status_reason"]
    assert products[corrupt_id]["tile"] == "33UUU" and products[corrupt_id]["patch_count"] is None
    assert products["holiday_photos"]["status"] == "failed"
    assert sum(r["status"] == "failed" for r in products.values()) == 5

    # Rebuilding after the failure: the good product is skipped (already loaded), nothing new is written.
    again = build_products([inputs["good"]], Warehouse.at(warehouse), PatchesSettings(workers=1))
    assert again[0].status == "skipped" and _delta_versions(warehouse, "patches") == [0, 1]


def test_unwritable_warehouse_is_a_clear_error(inputs: dict[str, Path], tmp_path: Path) -> None:
    # Tests may run as root, which ignores permission bits: a warehouse root that is a regular file
    # is unwritable for everyone.
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    with pytest.raises(WarehouseError, match="not writable"):
        build_products([inputs["good"]], Warehouse.at(blocker), PatchesSettings(workers=1))
    run = subprocess.run(
        [S2LAKE, "-w", str(blocker), "patches", "build", str(inputs["good"])], capture_output=True, text=True
    )
    assert run.returncode == 4  # ExitCode.FAILED: nothing could be done
    assert "not writable" in run.stderr and "--warehouse" in run.stderr


def test_product_mode_reports_a_worker_failure_and_commits_the_rest(inputs: dict[str, Path], tmp_path: Path) -> None:
    warehouse = Warehouse.at(tmp_path / "wh")
    settings = PatchesSettings(mode="product", workers=2, strip_rows=3, verify_checksums=False)
    corrupt, good = build_products([inputs["corrupt"], inputs["good"]], warehouse, settings)
    assert (corrupt.status, good.status, good.patches) == ("failed", "patched", 25)
    assert "cannot decode band B02" in corrupt.reason
    assert _delta_versions(warehouse.root, "patches") == [0, 1]  # created empty, then the good product
    assert TableStore(warehouse).count("patches") == 25
