"""End to end: a CLC GeoPackage with gaps and codes outside the classes, through `reference load`,
`labels build` and `dbt build`, leaves its unlabelled patches named in patch_validation."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import shapely
from pyproj import Transformer

from s2lake.config.models import ModelsSettings
from s2lake.dbt.runner import build
from s2lake.shipped_data import SHIPPED_COUNTRIES
from s2lake.tables.schemas import PATCHES, PRODUCTS
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.labels import build_labels
from sedona_jobs.labels.patch_rows import patch_table
from sedona_jobs.reference import load_reference
from tests.labels.conftest import ORIGIN_33, grid


def _footprint_3035(row: tuple) -> shapely.Polygon:
    _, _, epsg, ulx, uly = row
    t = Transformer.from_crs(epsg, 3035, always_xy=True)
    corners = [(ulx, uly), (ulx + 1200, uly), (ulx + 1200, uly - 1200), (ulx, uly - 1200)]
    return shapely.Polygon([t.transform(x, y) for x, y in corners])


def test_patches_outside_every_class_are_flagged_unlabelled(tmp_path: Path, warehouse: Warehouse) -> None:
    rows = grid("33UUP", 32633, *ORIGIN_33, 5, 1)
    ids = [r[0] for r in rows]
    # Shrunk by 1 m so no polygon reaches into the neighbouring patch.
    feet = [_footprint_3035(r).buffer(-1.0, join_style="mitre") for r in rows]
    x_mid = feet[4].centroid.x
    left, right = (shapely.box(x_mid - 5000, 0, x_mid, 1e8), shapely.box(x_mid, 0, x_mid + 5000, 1e8))
    clc = gpd.GeoDataFrame(
        {"Code_18": ["211", "9999", "999", None, "311", "9999"]},
        geometry=[feet[0], feet[1], feet[2], feet[3], feet[4] & left, feet[4] & right],
        crs=3035,
    )
    source = tmp_path / "clc.gpkg"
    clc.to_file(source, driver="GPKG", layer="clc")
    report = load_reference("clc", source, warehouse, allow_unknown_codes=True)
    assert (report.null_codes, report.unknown_codes, report.nodata_codes) == (1, 2, 1)

    store = TableStore(warehouse)
    store.overwrite(PATCHES, patch_table(rows))
    store.overwrite(PRODUCTS, PRODUCTS.schema.empty_table())
    load_reference("countries", SHIPPED_COUNTRIES, warehouse)
    build_labels(warehouse)
    build(ModelsSettings(), warehouse, quiet=True)

    got = {r["patch_id"]: r for r in store.read("patch_validation").to_pylist()}
    assert {pid: r["unlabelled_reason"] for pid, r in got.items()} == {
        ids[0]: None,
        ids[1]: "unknown_clc_code",
        ids[2]: "clc_nodata",
        ids[3]: "no_clc_coverage",  # its polygon had no code and was dropped
        ids[4]: None,
    }
    assert [got[pid]["unlabelled"] for pid in ids] == [False, True, True, True, False]
    assert [got[pid]["clc_codes_without_class"] for pid in ids] == [[], ["9999"], ["999"], [], ["9999"]]
    summary = store.read("patch_validation_summary").to_pandas()
    assert dict(zip(summary.check_name, summary.patches, strict=True))["unlabelled"] == 3
