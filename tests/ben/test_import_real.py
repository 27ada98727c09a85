"""The 6 real BigEarthNet v1 patches (../shared/data) import with their pixels, georeference, ids and labels."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
import shapely

from s2lake.ben.importer import import_dataset
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from tests.ben.independent import assert_row_matches

#: v1 name -> v2 id, from each patch's tile_source (tile, orbit); the two short-hour names gain their
#: leading zero, and 94161 (61 seconds) is clamped to 59 as BigEarthNet v2's own parser does.
V2_IDS = {
    "S2A_MSIL2A_20170613T101031_87_48": "S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP_87_48",
    "S2A_MSIL2A_20170617T113321_36_85": "S2A_MSIL2A_20170617T113321_N9999_R080_T29UPU_36_85",
    "S2A_MSIL2A_20170617T113321_4_55": "S2A_MSIL2A_20170617T113321_N9999_R080_T29UPU_04_55",
    "S2A_MSIL2A_20171221T112501_56_35": "S2A_MSIL2A_20171221T112501_N9999_R037_T29SND_56_35",
    "S2B_MSIL2A_20170924T93020_69_24": "S2B_MSIL2A_20170924T093020_N9999_R136_T35VPK_69_24",
    "S2B_MSIL2A_20180204T94161_57_38": "S2B_MSIL2A_20180204T094159_N9999_R036_T35VPK_57_38",
}


@pytest.fixture
def real_dataset(shared_data: Path, tmp_path: Path) -> Path:
    with tarfile.open(shared_data / "bigearthnet" / "BigEarthNet-S2-Example.tar.bz2") as tar:
        tar.extractall(tmp_path / "data", filter="data")
    return tmp_path / "data"


def test_real_v1_patches_land_as_read_by_rasterio(real_dataset: Path, warehouse: Warehouse) -> None:
    report = import_dataset(real_dataset, warehouse, workers=2)
    assert (report.patches, report.v1_folders, report.problems) == (6, 6, [])
    store = TableStore(warehouse)
    rows = {r["patch_id"]: r for r in store.read("patches").to_pylist()}
    assert set(rows) == set(V2_IDS.values())
    folders = {f.name: f for f in real_dataset.glob("*/*") if f.is_dir()}
    for name, pid in V2_IDS.items():
        row = rows[pid]
        assert_row_matches(row, folders[name])
        meta = json.loads((folders[name] / f"{name}_labels_metadata.json").read_text())
        c = meta["coordinates"]
        assert shapely.from_wkb(row["footprint"]).bounds == (c["ulx"], c["lry"], c["lrx"], c["uly"])
        assert row["tile"] == pid.split("_")[5][1:] and row["product_id"] == pid.rsplit("_", 2)[0]
    metadata = {r["patch_id"]: r for r in store.read("ben_metadata").to_pylist()}
    assert set(metadata) == set(V2_IDS.values())
    peat = metadata[V2_IDS["S2B_MSIL2A_20170924T93020_69_24"]]
    assert peat["labels"] == [
        "Coniferous forest",
        "Mixed forest",
        "Transitional woodland/shrub",
        "Peatbogs",
        "Water bodies",
    ]
    assert peat["clc_codes"] == ["312", "313", "324", "412", "512"] and peat["unknown_labels"] == []
    assert peat["ben19_labels"] == [
        "Coniferous forest",
        "Inland waters",
        "Inland wetlands",
        "Mixed forest",
        "Transitional woodland, shrub",
    ]
    assert (peat["epsg"], peat["tile"], peat["v1_name"]) == (32635, "35VPK", "S2B_MSIL2A_20170924T93020_69_24")
    assert str(peat["acquisition_time"]) == "2017-09-24 09:30:20+00:00"


def test_reimport_replaces_instead_of_duplicating(real_dataset: Path, warehouse: Warehouse) -> None:
    import_dataset(real_dataset, warehouse, workers=1)
    import_dataset(real_dataset, warehouse, workers=1)
    store = TableStore(warehouse)
    assert store.count("patches") == 6 and store.count("ben_metadata") == 6
