"""Loading official-format reference files: CRS checks, repair, column mapping, GeoParquet layout."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pyarrow.parquet as pq
import pytest
import shapely

from s2lake.errors import ReferenceDataError
from s2lake.warehouse import Warehouse
from sedona_jobs.reference import load_reference
from sedona_jobs.reference.geoparquet import ROW_GROUP_ROWS, require_table
from sedona_jobs.synth.reference_layers import synth_clc, synth_nuts

BBOX = (4_500_000.0, 2_800_000.0, 4_560_000.0, 2_860_000.0)


def _clc_gpkg(tmp_path: Path, count: int = 300, crs: int = 3035) -> Path:
    """A CLC-like GeoPackage spelled like the official file (Code_18), with one bow-tie polygon."""
    gdf = synth_clc(BBOX, count, seed=5).rename(columns={"code_18": "Code_18"})
    bowtie = shapely.Polygon([(BBOX[0], BBOX[1]), (BBOX[0] + 10, BBOX[1] + 10), (BBOX[0] + 10, BBOX[1]),
                              (BBOX[0], BBOX[1] + 10)])  # fmt: skip
    gdf.loc[len(gdf)] = {"Code_18": "999", "geometry": bowtie}
    gdf = gdf.set_crs(3035, allow_override=True).to_crs(crs)
    path = tmp_path / "U2018_CLC2018_V2020_20u1.gpkg"
    gdf.to_file(path, driver="GPKG", layer="U2018_CLC2018_V2020_20u1")
    return path


def test_clc_gpkg_becomes_sorted_geoparquet_11_with_bbox_covering(tmp_path: Path, warehouse: Warehouse) -> None:
    report = load_reference("clc", _clc_gpkg(tmp_path, count=20_000), warehouse)
    assert report.features_read == 20_001 and report.features_written == 20_001
    assert report.repaired == 1 and report.dropped_empty == 0 and not report.reprojected
    data = require_table(warehouse, "clc")
    meta = pq.read_metadata(data)
    geo = json.loads(meta.metadata[b"geo"])
    assert geo["version"] == "1.1.0"
    assert geo["columns"]["geometry"]["covering"]["bbox"]["xmin"] == ["bbox", "xmin"]
    assert meta.num_row_groups == -(-20_001 // ROW_GROUP_ROWS)
    table = pq.read_table(data)
    assert table.column_names[:1] == ["code_18"] and "bbox" in table.column_names
    assert all(shapely.is_valid(shapely.from_wkb(table.column("geometry").to_pylist())))
    # Hilbert order: row groups cover compact parts of the box (in random order each would cover all of it).
    box_area = (BBOX[2] - BBOX[0]) * (BBOX[3] - BBOX[1])
    covered = []
    for i in range(meta.num_row_groups):
        stats = {meta.row_group(i).column(j).path_in_schema: meta.row_group(i).column(j).statistics
                 for j in range(meta.num_columns)}  # fmt: skip
        w = stats["bbox.xmax"].max - stats["bbox.xmin"].min
        h = stats["bbox.ymax"].max - stats["bbox.ymin"].min
        covered.append(w * h / box_area)
    assert sum(covered) / len(covered) < 0.7, covered


def test_clc_in_another_crs_is_rejected(tmp_path: Path, warehouse: Warehouse) -> None:
    with pytest.raises(ReferenceDataError, match=r"EPSG:4326.*accepted in EPSG:3035") as err:
        load_reference("clc", _clc_gpkg(tmp_path, crs=4326), warehouse)
    assert "ogr2ogr" in err.value.message
    assert not Path(warehouse.reference_uri("clc")).exists()


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_source_without_crs_needs_the_crs_flag(tmp_path: Path, warehouse: Warehouse) -> None:
    gdf = synth_clc(BBOX, 50, seed=1)
    path = tmp_path / "clc.shp"
    gdf.set_crs(None, allow_override=True).to_file(path)
    with pytest.raises(ReferenceDataError, match="has no CRS") as err:
        load_reference("clc", path, warehouse)
    assert "--crs" in err.value.message
    assert load_reference("clc", path, warehouse, crs="EPSG:3035").features_written == 50


def test_nuts_geojson_in_4326_is_reprojected_and_mapped(tmp_path: Path, warehouse: Warehouse) -> None:
    nuts = synth_nuts(BBOX, 30, countries=2, seed=2)
    official = nuts.rename(columns={"nuts_id": "NUTS_ID", "levl_code": "LEVL_CODE", "cntr_code": "CNTR_CODE",
                                    "name_latn": "NAME_LATN"}).to_crs(4326)  # fmt: skip
    path = tmp_path / "NUTS_RG_01M_2021_4326.geojson"
    official.to_file(path, driver="GeoJSON")
    report = load_reference("nuts", path, warehouse)
    assert report.reprojected and report.source_crs == "EPSG:4326"
    stored = gpd.read_parquet(require_table(warehouse, "nuts"))
    assert list(stored.columns[:4]) == ["nuts_id", "levl_code", "cntr_code", "name_latn"]
    assert stored.crs.to_epsg() == 3035
    # Big outlines are stored in pieces (ST_Subdivide-like); per region, the pieces add up to it.
    assert report.pieces_written > report.features_written == len(nuts)
    level0 = stored[stored.levl_code == 0].dissolve("nuts_id").sort_index()
    original = nuts[nuts.levl_code == 0].set_index("nuts_id").sort_index()
    # GeoJSON keeps 7 decimals (~1 cm): the round trip through lon/lat keeps areas to 1e-6.
    assert (abs(level0.area / original.area - 1) < 1e-6).all()
    assert (stored.geometry.apply(lambda g: len(g.exterior.coords) if g.geom_type == "Polygon" else 0) <= 257).all()


def test_missing_column_and_empty_source_are_clear_errors(tmp_path: Path, warehouse: Warehouse) -> None:
    gdf = synth_clc(BBOX, 20, seed=1).rename(columns={"code_18": "landcover"})
    path = tmp_path / "wrong.gpkg"
    gdf.to_file(path, driver="GPKG")
    with pytest.raises(ReferenceDataError, match="no column CODE_18"):
        load_reference("clc", path, warehouse)
    empty = tmp_path / "empty.gpkg"
    gdf.iloc[:0].to_file(empty, driver="GPKG")
    with pytest.raises(ReferenceDataError, match="holds no features"):
        load_reference("clc", empty, warehouse)
    with pytest.raises(ReferenceDataError, match="does not exist"):
        load_reference("clc", tmp_path / "nope.gpkg", warehouse)


def test_null_geometries_are_counted_not_silently_dropped(tmp_path: Path, warehouse: Warehouse) -> None:
    gdf = synth_clc(BBOX, 20, seed=1)
    gdf.loc[3, "geometry"] = None
    path = tmp_path / "holes.parquet"
    gdf.to_parquet(path)
    report = load_reference("clc", path, warehouse)
    assert (report.features_read, report.features_written, report.dropped_empty) == (20, 19, 1)
    assert report.dropped_ids == ["row 3 (code_18=" + gdf.loc[3, "code_18"] + ")"]


def test_failed_reload_keeps_the_previous_table(tmp_path: Path, warehouse: Warehouse) -> None:
    load_reference("clc", _clc_gpkg(tmp_path), warehouse)
    before = pq.read_table(require_table(warehouse, "clc"))
    with pytest.raises(ReferenceDataError):
        other = tmp_path / "other"
        other.mkdir()
        load_reference("clc", _clc_gpkg(other, crs=4326), warehouse)
    assert pq.read_table(require_table(warehouse, "clc")).equals(before)
    assert [p.name for p in Path(warehouse.reference_uri("")).iterdir()] == ["clc"]  # no staging left


def test_natural_earth_countries_from_the_official_zip(shared_data: Path, warehouse: Warehouse) -> None:
    zip_path = shared_data / "countries" / "ne_10m_admin_0_countries_deu.zip"
    report = load_reference("countries", zip_path, warehouse)
    assert report.features_read == 250 and report.reprojected
    assert report.dropped_outside_area > 100  # the Americas, Asia, Oceania
    stored = gpd.read_parquet(require_table(warehouse, "countries"))
    codes = {name: set(group) for name, group in stored.groupby("name").iso_a2}
    assert codes["Kosovo"] == {"XK"}  # ISO_A2 is -99, ISO_A2_EH is XK
    assert codes["France"] == {"FR"} and codes["Norway"] == {"NO"} and codes["Germany"] == {"DE"}
    assert stored.geometry.is_valid.all()
    assert (shapely.get_num_coordinates(stored.geometry.values) <= 256 * 2).all()  # subdivided
