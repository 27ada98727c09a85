"""Round trip: a SAFE product (the project's synthesiser) -> `patches build` -> `labels build` (generated CLC
layer) -> `export ben` -> `ben import` into a second warehouse gives, row by row, the same patch ids,
pixels, per-band statistics, georeference, labels, countries and reference-map classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely

from s2lake.ben.importer import import_dataset
from s2lake.config.patches import PatchesSettings
from s2lake.sentinel2 import BANDS
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.export.ben_export import export_ben
from sedona_jobs.patches import build_products
from sedona_jobs.synth.l2a import write_l2a

#: Columns that must survive the trip unchanged (pixels, georeference, identity). product_id does not: the v2
#: tree names a product by the patch id's prefix only (no generation time), so that is what comes back; nor
#: do the NO_DATA counts, which lose the SCL layer (BigEarthNet ships none).
SAME = ("tile", "epsg", "row", "col", "ulx", "uly", "lrx", "lry")


@pytest.fixture(scope="module")
def trip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Warehouse, Warehouse]:
    # lazy: sedona_jobs.labels loads numba (~1 s); only the labelled warehouse needs it
    from s2lake.shipped_data import SHIPPED_COUNTRIES
    from sedona_jobs.labels import build_labels
    from sedona_jobs.reference import load_reference, write_synthetic
    from sedona_jobs.synth.reference_layers import synth_clc
    from tests.labels.conftest import rows_bbox_3035

    root = tmp_path_factory.mktemp("trip")
    product = write_l2a(root / "products", pixels=360, nodata_fraction=0.1, seed=7, workers=1)
    source = Warehouse.at(root / "source")
    (outcome,) = build_products([product], source, PatchesSettings(workers=1))
    assert outcome.status == "patched", outcome.reason
    rows = TableStore(source).read("patches", ["patch_id", "tile", "epsg", "ulx", "uly"]).to_pylist()
    write_synthetic(synth_clc(rows_bbox_3035([tuple(r.values()) for r in rows]), 60, seed=5), source, "clc")
    load_reference("countries", SHIPPED_COUNTRIES, source)
    assert build_labels(source).patches == len(rows) == 9
    out = root / "export"
    export_ben(source, out, workers=1)
    target = Warehouse.at(root / "target")
    report = import_dataset(out, target, out / "metadata.parquet", out / "Reference_Maps", workers=1)
    assert report.problems == [] and report.patches == len(rows)
    return source, target


def test_pixels_georeference_and_ids_are_identical(trip: tuple[Warehouse, Warehouse]) -> None:
    source, target = (TableStore(w) for w in trip)
    before = {r["patch_id"]: r for r in source.read("patches").to_pylist()}
    after = {r["patch_id"]: r for r in target.read("patches").to_pylist()}
    assert set(after) == set(before)
    assert any(r["has_nodata"] for r in before.values())
    for patch_id, b in before.items():
        a = after[patch_id]
        for column in (*SAME, *(band.column for band in BANDS)):
            assert a[column] == b[column], (patch_id, column)
        assert b["product_id"].startswith(a["product_id"]) and a["product_id"] == patch_id.rsplit("_", 2)[0]
        assert a["sensing_time"].replace(microsecond=0) == b["sensing_time"].replace(microsecond=0)
        assert shapely.from_wkb(a["footprint"]).equals(shapely.from_wkb(b["footprint"]))
        # the same statistics for the 12 bands (BigEarthNet ships no SCL)
        stats = {s["band"]: s for s in b["band_stats"] if s["band"] != "SCL"}
        assert {s["band"]: s for s in a["band_stats"]} == stats
        nodata = sum(s["height"] * s["width"] - s["valid_count"] for s in stats.values())
        assert (a["nodata_pixels"], a["has_nodata"]) == (nodata, nodata > 0)


def test_labels_countries_and_reference_classes_are_identical(trip: tuple[Warehouse, Warehouse]) -> None:
    source, target = (TableStore(w) for w in trip)
    labels: dict[str, set[str]] = {}
    codes: dict[str, set[str]] = {}
    for r in source.read("patch_landcover", ["patch_id", "clc_code", "ben19_label", "area_m2"]).to_pylist():
        labels.setdefault(r["patch_id"], set())
        if r["ben19_label"] and r["area_m2"] > 0:
            labels[r["patch_id"]].add(r["ben19_label"])
        if r["clc_code"] is not None and r["area_m2"] > 0:
            codes.setdefault(r["patch_id"], set()).add(r["clc_code"])
    country = {r["patch_id"]: r["country_name"] for r in source.read("patch_country").to_pylist()}
    metadata = {r["patch_id"]: r for r in target.read("ben_metadata").to_pylist()}
    assert set(metadata) == set(country)
    assert any(len(v) > 1 for v in labels.values())
    for patch_id, row in metadata.items():
        assert row["source"] == "metadata.parquet"
        assert sorted(row["labels"]) == sorted(labels.get(patch_id, set())), patch_id
        assert row["ben19_labels"] == sorted(labels.get(patch_id, set())) and row["unknown_labels"] == []
        assert row["country"] == country[patch_id]
    # Reference maps: the exported raster holds the classes covering a pixel centre (a sliver can vanish, as in
    # any rasterised map); the imported polygons hold exactly the raster's classes and tile the patch.
    imported: dict[str, set[str]] = {}
    area: dict[str, float] = {}
    for r in target.read("reference_map_polygons", ["patch_id", "clc_code", "geometry"]).to_pylist():
        area[r["patch_id"]] = area.get(r["patch_id"], 0.0) + shapely.from_wkb(r["geometry"]).area
        if r["clc_code"] != "0":  # 0 = NO_DATA of the exported map where no CLC polygon lies
            imported.setdefault(r["patch_id"], set()).add(r["clc_code"])
    out = Path(trip[1].root).parent / "export" / "Reference_Maps"
    for path in out.rglob("*_reference_map.tif"):
        patch_id = path.name.removesuffix("_reference_map.tif")
        with rasterio.open(path) as src:
            raster = {str(c) for c in np.unique(src.read(1)) if c}
        assert imported.get(patch_id, set()) == raster and raster <= codes[patch_id], patch_id
        assert area[patch_id] == 1200 * 1200
    assert set(imported) == set(codes)
