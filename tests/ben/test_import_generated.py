"""Generated v1 and v2 datasets with injected defects: every patch on disk lands, as rasterio reads it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import rasterio
import shapely
from rasterio.features import shapes

from s2lake.ben.importer import import_dataset
from s2lake.errors import ProductError
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.synth.bigearthnet import generate_v1, generate_v2
from tests.ben.independent import assert_row_matches


@pytest.fixture(scope="module")
def v2(tmp_path_factory: pytest.TempPathFactory):
    return generate_v2(tmp_path_factory.mktemp("v2"), 24, per_product=8, defect_every=6)


def test_v2_dataset_lands_whole_with_its_defects(v2, warehouse: Warehouse) -> None:
    report = import_dataset(v2.root, warehouse, v2.metadata, v2.reference_maps, workers=2)
    assert report.problems == [] and report.patches == len(v2.patch_ids) == 28  # 24 + 4 overlapping twins
    store = TableStore(warehouse)
    rows = {r["patch_id"]: r for r in store.read("patches").to_pylist()}
    assert set(rows) == set(v2.patch_ids)
    for pid, folder in v2.folders.items():
        assert_row_matches(rows[pid], folder)
    for pid in v2.defects.wrong_size:
        b05 = next(s for s in rows[pid]["band_stats"] if s["band"] == "B05")
        assert (b05["height"], b05["width"]) == (59, 60)
    assert {p for p, r in rows.items() if r["has_nodata"]} == v2.defects.nodata
    for pid in v2.defects.overlap:  # the twin shares interior with the original
        twin = next(
            p
            for p in rows
            if p != pid
            and p.endswith(pid[-6:])
            and p.split("_")[5] == pid.split("_")[5]
            and p.split("_")[2].startswith("2019")
        )
        a, b = shapely.from_wkb(rows[pid]["footprint"]), shapely.from_wkb(rows[twin]["footprint"])
        assert a.intersection(b).area == 600 * 1200
    meta = store.read("ben_metadata").to_pylist()
    listed = pq.read_table(v2.metadata).to_pylist()
    assert len(meta) == len(listed) and {m["patch_id"] for m in meta} == set(v2.patch_ids) - v2.defects.not_in_metadata
    by_id = {m["patch_id"]: m for m in meta}
    for src in listed:
        got = by_id[src["patch_id"]]
        assert (got["labels"], got["split"], got["country"], got["contains_cloud_or_shadow"]) == (
            src["labels"],
            src["split"],
            src["country"],
            src["contains_cloud_or_shadow"],
        )
        assert got["ben19_labels"] == sorted(src["labels"]) and got["unknown_labels"] == []
    polygons = store.read("reference_map_polygons").to_pylist()
    maps = sorted(v2.reference_maps.rglob("*_reference_map.tif"))
    assert len(maps) == 24 and report.reference_polygons == len(polygons)
    for path in maps[:5]:
        pid = path.name.removesuffix("_reference_map.tif")
        with rasterio.open(path) as src:
            truth = sorted(
                (str(int(v)), round(shapely.geometry.shape(g).area))
                for g, v in shapes(src.read(1).astype(np.int32), transform=src.transform)
            )
            epsg = src.crs.to_epsg()
        mine = sorted(
            (p["clc_code"], round(shapely.from_wkb(p["geometry"]).area)) for p in polygons if p["patch_id"] == pid
        )
        assert mine == truth and all(p["epsg"] == epsg for p in polygons if p["patch_id"] == pid)


def test_v1_dataset_maps_names_to_v2_ids(tmp_path: Path, warehouse: Warehouse) -> None:
    v1 = generate_v1(tmp_path / "v1", 20)
    report = import_dataset(v1.root, warehouse, workers=2)
    assert report.problems == [] and report.patches == 20
    store = TableStore(warehouse)
    rows = {r["patch_id"]: r for r in store.read("patches").to_pylist()}
    assert set(rows) == set(v1.patch_ids)
    for pid, folder in v1.folders.items():
        assert_row_matches(rows[pid], folder)
    for name in v1.defects.not_in_metadata:  # no json: the v1 name stays, the tile comes from the grid
        assert rows[name]["tile"] in {"33UUP", "29UPU"}
    meta = store.read("ben_metadata").to_pylist()
    assert len(meta) == 20 - len(v1.defects.not_in_metadata)
    assert all(m["clc_codes"] and not m["unknown_labels"] for m in meta)


def test_a_second_subset_of_a_product_keeps_the_first(v2, tmp_path: Path, warehouse: Warehouse) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    ids = sorted(v2.folders)
    for target, half in ((first, ids[:10]), (second, ids[5:])):
        for pid in half:
            shutil.copytree(v2.folders[pid], target / v2.folders[pid].parent.name / pid)
    import_dataset(first, warehouse, workers=1)
    import_dataset(second, warehouse, workers=1)
    got = TableStore(warehouse).read("patches", columns=["patch_id"]).column("patch_id").to_pylist()
    assert sorted(got) == ids  # ids[5:10] imported twice, once each in the table


def test_a_broken_band_lands_null_and_is_reported(v2, tmp_path: Path, warehouse: Warehouse) -> None:
    pid = sorted(v2.folders)[0]
    folder = tmp_path / "d" / "p" / pid
    shutil.copytree(v2.folders[pid], folder)
    (folder / f"{pid}_B03.tif").write_bytes(b"II*\x00 not a tiff")
    (folder / f"{pid}_B09.tif").unlink()
    report = import_dataset(tmp_path / "d", warehouse, workers=1)
    assert report.patches == 1 and len(report.problems) == 2
    assert any("B03.tif: band file unreadable" in p for p in report.problems)
    assert any("B09.tif: band file missing" in p for p in report.problems)
    row = TableStore(warehouse).read("patches").to_pylist()[0]
    assert row["b03"] is None and row["b09"] is None and row["b02"] is not None
    b09 = next(s for s in row["band_stats"] if s["band"] == "B09")
    assert (b09["height"], b09["width"], b09["valid_count"]) == (0, 0, 0)


def test_unusable_input_is_refused_before_any_write(v2, tmp_path: Path, warehouse: Warehouse) -> None:
    with pytest.raises(ProductError, match="is not a folder"):
        import_dataset(tmp_path / "missing", warehouse)
    bad = tmp_path / "metadata.parquet"
    pq.write_table(pq.read_table(v2.metadata).drop(["split"]), bad)
    with pytest.raises(ProductError, match=r"lacks the BigEarthNet v2 column.*split"):
        import_dataset(v2.root, warehouse, metadata=bad)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ProductError, match="no BigEarthNet patch folders"):
        import_dataset(tmp_path / "empty", warehouse)
    assert TableStore(warehouse).names() == []
