"""The join results against an independent shapely + pyproj computation, and the table contracts."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import shapely
from pyproj import Transformer

from s2lake.shipped_data import SHIPPED_COUNTRIES
from s2lake.tables.schemas import PATCH_COUNTRY, PATCH_LANDCOVER, PATCH_OVERLAPS, PATCHES
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.labels import build_labels
from sedona_jobs.labels.patch_rows import patch_table
from sedona_jobs.reference import load_reference
from sedona_jobs.reference.codelists import clc_classes
from tests.labels.conftest import ORIGIN_33, patch_rows


def _footprints_3035(store: TableStore) -> dict[str, tuple[str, shapely.Geometry]]:
    patches = store.read("patches", columns=["patch_id", "tile", "epsg", "footprint"]).to_pylist()
    out = {}
    transformers = {e: Transformer.from_crs(e, 3035, always_xy=True) for e in {p["epsg"] for p in patches}}
    for p in patches:
        geom = shapely.from_wkb(p["footprint"])
        t = transformers[p["epsg"]]
        out[p["patch_id"]] = (p["tile"], shapely.transform(geom, lambda c, t=t: np.column_stack(t.transform(*c.T))))
    return out


@pytest.fixture(scope="module")
def built(module_warehouse: Warehouse) -> Warehouse:
    load_reference("countries", SHIPPED_COUNTRIES, module_warehouse)
    build_labels(module_warehouse, engine="sedonadb")
    return module_warehouse


def test_landcover_equals_independent_shapely_computation(built: Warehouse) -> None:
    store = TableStore(built)
    clc = pq.read_table(built.reference_uri("clc") + "/part-00000.parquet", columns=["code_18", "geometry"])
    polys = shapely.from_wkb(clc.column("geometry").to_pylist())
    codes = clc.column("code_18").to_pylist()
    tree = shapely.STRtree(polys)
    expected: dict[tuple[str, str], float] = defaultdict(float)
    for pid, (_, fp) in _footprints_3035(store).items():
        for i in tree.query(fp, predicate="intersects"):
            area = shapely.intersection(fp, polys[i]).area
            if area > 0:
                expected[(pid, codes[i])] += area
    got = {(r["patch_id"], r["clc_code"]): r for r in store.read("patch_landcover").to_pylist()}
    assert set(got) == set(expected)
    assert max(abs(got[k]["area_m2"] - v) for k, v in expected.items()) < 1.0  # within 1 m2
    # Fractions of a fully covered patch add up to 1 (the CLC-like layer is a partition).
    per_patch = defaultdict(float)
    for (pid, _), row in got.items():
        per_patch[pid] += row["fraction"]
    assert all(abs(total - 1) < 1e-6 for total in per_patch.values())


def test_landcover_names_and_19_class_labels(built: Warehouse) -> None:
    rows = TableStore(built).read("patch_landcover").to_pylist()
    names = {r["clc_code"]: (r["clc_name"], r["ben19_label"]) for r in clc_classes().to_pylist()}
    for row in rows:
        assert (row["clc_name"], row["ben19_label"]) == names[row["clc_code"]]
    assert names["211"] == ("Non-irrigated arable land", "Arable land")
    assert names["423"][1] is None  # intertidal flats have no 19-class target


def test_country_and_overlaps_equal_independent_computation(built: Warehouse) -> None:
    store = TableStore(built)
    fps = _footprints_3035(store)
    country = store.read("patch_country").to_pylist()
    assert len(country) == len(fps) == 40
    assert {r["country_code"] for r in country} == {"AT"}
    assert all(r["source"] == "natural_earth" and r["country_name"] == "Austria" for r in country)

    expected = {}
    ids = sorted(fps)
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            ga, gb = fps[a][1], fps[b][1]
            if shapely.intersection(ga, gb).area > 1.0:  # real overlaps here are >> 1 m2
                expected[(a, b)] = shapely.intersection(ga, gb).area
    got = {(r["patch_id_a"], r["patch_id_b"]): r for r in store.read("patch_overlaps").to_pylist()}
    assert set(got) == set(expected)
    assert max(abs(got[k]["area_m2"] - v) for k, v in expected.items()) < 1.0
    # Neighbours in one tile only touch: every pair crosses the two UTM zones.
    assert all(r["tile_a"] != r["tile_b"] for r in got.values())
    assert len(got) >= 4


def test_tables_follow_the_core_schemas(built: Warehouse) -> None:
    store = TableStore(built)
    for spec in (PATCH_LANDCOVER, PATCH_COUNTRY, PATCH_OVERLAPS):
        table = store.open(spec.name)
        assert table.version() == 1  # created empty (0), then the run's one commit
        assert [f.name for f in table.schema().to_arrow()] == spec.schema.names
        assert list(table.metadata().partition_columns) == list(spec.partition_by)


def test_patch_without_coverage_is_kept_and_flagged(warehouse: Warehouse) -> None:
    # One patch inside the CLC-like layer, one 50 km east (no CLC) and one in the North Sea (no country).
    x, y = Transformer.from_crs(4326, 32632, always_xy=True).transform(6.0, 55.0)
    rows = [
        ("P_IN", "33UUP", 32633, *ORIGIN_33),
        ("P_EAST", "33UUP", 32633, ORIGIN_33[0] + 50_000, ORIGIN_33[1]),
        ("P_SEA", "32UKF", 32632, round(x), round(y)),
    ]
    TableStore(warehouse).overwrite(PATCHES, patch_table(rows))
    from sedona_jobs.reference import write_synthetic
    from sedona_jobs.synth.reference_layers import synth_clc
    from tests.labels.conftest import rows_bbox_3035

    write_synthetic(synth_clc(rows_bbox_3035(rows[:1], margin=500), 30, seed=1), warehouse, "clc")
    load_reference("countries", SHIPPED_COUNTRIES, warehouse)
    report = build_labels(warehouse)
    store = TableStore(warehouse)
    lc = store.read("patch_landcover")
    flagged = lc.filter(pc.field("no_clc_coverage")).to_pylist()
    assert sorted(r["patch_id"] for r in flagged) == ["P_EAST", "P_SEA"]
    assert all(r["clc_code"] is None and r["area_m2"] == 0 and r["fraction"] == 0 for r in flagged)
    assert report.patches_without_clc == 2
    countries = {r["patch_id"]: r for r in store.read("patch_country").to_pylist()}
    assert countries["P_SEA"]["country_code"] is None and countries["P_SEA"]["area_m2"] == 0
    assert countries["P_SEA"]["source"] == "natural_earth"
    assert countries["P_IN"]["country_code"] == countries["P_EAST"]["country_code"] == "AT"


def test_patch_rows_fixture_spans_two_utm_zones() -> None:
    assert {r[2] for r in patch_rows()} == {32632, 32633}


def test_shared_edges_across_tiles_are_not_overlaps(warehouse: Warehouse) -> None:
    """Edges shared by two tiles' patches, reprojected from different vertices, cross by noise only."""
    x, y = ORIGIN_33
    rows = [
        ("A_T33UUP_0_0", "33UUP", 32633, x, y),
        ("B_T33UUQ_0_0", "33UUQ", 32633, x + 1200, y - 400),  # shares 800 m of A's right edge
        ("C_T33UUQ_1_0", "33UUQ", 32633, x, y - 400),  # overlaps A by 1200 m x 800 m
        ("D_T33UUP_1_0", "33UUP", 32633, x + 1200, y),  # A's neighbour in its own tile
    ]
    TableStore(warehouse).overwrite(PATCHES, patch_table(rows))
    from sedona_jobs.reference import write_synthetic
    from sedona_jobs.synth.reference_layers import synth_clc
    from tests.labels.conftest import rows_bbox_3035

    write_synthetic(synth_clc(rows_bbox_3035(rows), 10, seed=1), warehouse, "clc")
    load_reference("countries", SHIPPED_COUNTRIES, warehouse)
    build_labels(warehouse)
    pairs = {
        (r["patch_id_a"], r["patch_id_b"]): r["area_m2"]
        for r in TableStore(warehouse).read("patch_overlaps").to_pylist()
    }
    fps = _footprints_3035(TableStore(warehouse))
    assert set(pairs) == {("A_T33UUP_0_0", "C_T33UUQ_1_0"), ("B_T33UUQ_0_0", "D_T33UUP_1_0")}
    for (a, b), area in pairs.items():
        assert abs(area - shapely.intersection(fps[a][1], fps[b][1]).area) < 1.0
        assert 950_000 < area < 970_000  # 1200 m x 800 m, times EPSG:3035's scale here
