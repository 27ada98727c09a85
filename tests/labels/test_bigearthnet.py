"""The 6 real BigEarthNet patches land in the right Natural Earth country (needs ../shared/data)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
import rasterio
from pyproj import CRS

from s2lake.shipped_data import SHIPPED_COUNTRIES
from s2lake.tables.schemas import PATCHES
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.labels import build_labels
from sedona_jobs.labels.patch_rows import patch_table
from sedona_jobs.reference import load_reference, write_synthetic
from sedona_jobs.synth.reference_layers import synth_clc
from tests.labels.conftest import rows_bbox_3035

#: BigEarthNet v1 covers 10 countries; these 6 patches come from tiles over Austria (33UUP),
#: Ireland (29UPU), Portugal (29SND) and Finland (35VPK).
EXPECTED = {
    "S2A_MSIL2A_20170613T101031_87_48": "AT",
    "S2A_MSIL2A_20170617T113321_36_85": "IE",
    "S2A_MSIL2A_20170617T113321_4_55": "IE",
    "S2A_MSIL2A_20171221T112501_56_35": "PT",
    "S2B_MSIL2A_20170924T93020_69_24": "FI",
    "S2B_MSIL2A_20180204T94161_57_38": "FI",
}


def _ben_patches(shared_data: Path, tmp_path: Path) -> list[tuple]:
    with tarfile.open(shared_data / "bigearthnet" / "BigEarthNet-S2-Example.tar.bz2") as tar:
        tar.extractall(tmp_path, filter="data")
    rows = []
    for meta_path in sorted(tmp_path.glob("*/*/*_labels_metadata.json")):
        meta = json.loads(meta_path.read_text())
        name = meta_path.parent.name
        epsg = CRS.from_wkt(meta["projection"]).to_epsg()
        tile = meta["tile_source"].split("_")[5][1:]
        c = meta["coordinates"]
        with rasterio.open(meta_path.parent / f"{name}_B02.tif") as band:  # the GeoTIFF agrees with the JSON
            assert (band.crs.to_epsg(), band.bounds.left, band.bounds.top) == (epsg, c["ulx"], c["uly"])
        rows.append((name, tile, epsg, float(c["ulx"]), float(c["uly"])))
    return rows


@pytest.mark.parametrize("layer", ["shipped", "official"])
def test_real_patches_land_in_the_right_country(
    shared_data: Path, tmp_path: Path, warehouse: Warehouse, layer: str
) -> None:
    rows = _ben_patches(shared_data, tmp_path)
    assert {r[0] for r in rows} == set(EXPECTED)
    TableStore(warehouse).overwrite(PATCHES, patch_table(rows))
    write_synthetic(synth_clc(rows_bbox_3035(rows[:1]), 20, seed=0), warehouse, "clc")
    source = SHIPPED_COUNTRIES if layer == "shipped" else shared_data / "countries" / "ne_10m_admin_0_countries_deu.zip"
    load_reference("countries", source, warehouse)
    report = build_labels(warehouse)
    got = {r["patch_id"]: r for r in TableStore(warehouse).read("patch_country").to_pylist()}
    assert {k: v["country_code"] for k, v in got.items()} == EXPECTED
    assert all(abs(v["fraction"] - 1) < 1e-9 for v in got.values())  # well inside their countries
    assert report.patches_without_clc == 5  # the CLC-like layer covers only the Austrian patch
