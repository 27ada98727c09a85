"""The CLC-like / NUTS-like generator: a gap-free partition with shared borders, holes and multipolygons."""

from __future__ import annotations

import pytest
import shapely

from s2lake.errors import ReferenceDataError
from sedona_jobs.reference.codelists import clc_codes
from sedona_jobs.synth.reference_layers import synth_clc, synth_nuts

BBOX = (4_300_000.0, 2_900_000.0, 4_340_000.0, 2_940_000.0)
BOX_AREA = 40_000.0 * 40_000.0


def test_clc_like_layer_partitions_the_box() -> None:
    gdf = synth_clc(BBOX, 1000, vertices=48, seed=7)
    geoms = gdf.geometry.values
    assert len(gdf) == 1000 and gdf.crs.to_epsg() == 3035
    assert shapely.is_valid(geoms).all()
    # Shared borders: the areas add up to the box, and so does their union (no gaps, no overlaps).
    assert abs(shapely.area(geoms).sum() / BOX_AREA - 1) < 1e-6
    assert abs(shapely.union_all(geoms).area / BOX_AREA - 1) < 1e-6
    assert shapely.total_bounds(geoms).tolist() == pytest.approx(list(BBOX))
    # Realistic shapes: tens of vertices, holes (islands cut out), multipolygons (island pairs).
    assert 30 < shapely.get_num_coordinates(geoms).mean() < 120
    assert (shapely.get_num_interior_rings(shapely.get_parts(geoms)) > 0).sum() >= 50
    assert (gdf.geom_type == "MultiPolygon").sum() >= 40
    assert set(gdf.code_18) <= set(clc_codes()) and len(set(gdf.code_18)) > 30


def test_same_seed_same_layer() -> None:
    a, b = synth_clc(BBOX, 50, seed=3), synth_clc(BBOX, 50, seed=3)
    assert shapely.equals_exact(a.geometry.values, b.geometry.values).all() and (a.code_18 == b.code_18).all()
    assert not shapely.equals_exact(synth_clc(BBOX, 50, seed=4).geometry.values, a.geometry.values).all()


def test_nuts_like_levels_nest_and_cover_the_box() -> None:
    gdf = synth_nuts(BBOX, 40, countries=3, seed=1)
    assert set(gdf.levl_code) == {0, 1, 2, 3}
    for level in (0, 1, 2, 3):
        part = gdf[gdf.levl_code == level].geometry.values
        assert abs(shapely.area(part).sum() / BOX_AREA - 1) < 1e-6, level
    level0 = gdf[gdf.levl_code == 0]
    assert sorted(level0.nuts_id) == sorted(level0.cntr_code) and len(level0) == 3
    for row in gdf[gdf.levl_code == 3].itertuples():
        assert row.nuts_id.startswith(row.cntr_code) and len(row.nuts_id) == 5
    assert gdf.nuts_id.is_unique


def test_bad_generator_input() -> None:
    with pytest.raises(ReferenceDataError, match="not in EPSG:3035"):
        synth_clc((10.0, 45.0, 11.0, 46.0), 10)  # lon/lat, not metres
    with pytest.raises(ReferenceDataError, match="empty"):
        synth_clc((4_300_000.0, 2_900_000.0, 4_200_000.0, 3_000_000.0), 10)
    with pytest.raises(ReferenceDataError, match="at least 1"):
        synth_nuts(BBOX, 0)
