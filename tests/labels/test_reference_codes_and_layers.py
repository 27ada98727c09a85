"""CLC codes outside the 44 classes, null codes and multi-layer sources are never loaded silently."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from s2lake.cli.main import app
from s2lake.errors import ReferenceDataError
from s2lake.warehouse import Warehouse
from sedona_jobs.reference import load_reference
from sedona_jobs.reference.geoparquet import require_table
from sedona_jobs.synth.reference_layers import synth_clc

BBOX = (4_500_000.0, 2_800_000.0, 4_520_000.0, 2_820_000.0)
runner = CliRunner()


def _clc(codes: dict[int, str | None], count: int = 40) -> gpd.GeoDataFrame:
    """A CLC-like layer spelled like the official file (Code_18), with the given codes at the given rows."""
    gdf = synth_clc(BBOX, count, seed=11).rename(columns={"code_18": "Code_18"})
    gdf["Code_18"] = gdf["Code_18"].astype(object)
    for row, code in codes.items():
        gdf.loc[row, "Code_18"] = code
    return gdf


def _gpkg(gdf: gpd.GeoDataFrame, path: Path, layer: str = "U2018_CLC2018_V2020_20u1") -> Path:
    gdf.to_file(path, driver="GPKG", layer=layer)
    return path


BAD_CODES = {0: "9999", 1: "9999", 2: "7", 3: None, 4: "999", 5: "990", 6: "995"}


def test_unknown_and_null_codes_refuse_the_load_and_keep_the_previous_table(
    tmp_path: Path, warehouse: Warehouse
) -> None:
    load_reference("clc", _gpkg(_clc({}), tmp_path / "good.gpkg"), warehouse)
    before = pq.read_table(require_table(warehouse, "clc"))
    with pytest.raises(ReferenceDataError) as err:
        load_reference("clc", _gpkg(_clc(BAD_CODES), tmp_path / "bad.gpkg"), warehouse)
    message = err.value.message
    assert "4 of 40 features" in message and "outside the 44 CLC 2018 classes" in message
    listing = message.split("classes: ")[1].split(". Fix")[0]
    assert listing == "'9999' (2 features), '7' (1 feature), NULL (1 feature)"  # 999/990/995 are not refused
    assert "--allow-unknown-codes" in message
    assert pq.read_table(require_table(warehouse, "clc")).equals(before)


def test_allow_unknown_codes_keeps_unknown_codes_drops_nulls_and_counts_both(
    tmp_path: Path, warehouse: Warehouse
) -> None:
    report = load_reference("clc", _gpkg(_clc(BAD_CODES), tmp_path / "bad.gpkg"), warehouse, allow_unknown_codes=True)
    assert (report.null_codes, report.unknown_codes, report.nodata_codes) == (1, 3, 3)
    assert report.unknown_code_values == {"7": 1, "9999": 2}
    assert report.features_read == 40 and report.features_written == 39
    assert report.dropped_ids == ["row 3 (code_18=NULL)"]
    stored = gpd.read_parquet(require_table(warehouse, "clc"))
    assert stored.code_18.notna().all()
    assert {"9999", "7", "999", "990", "995"} <= set(stored.code_18)
    manifest = json.loads((Path(require_table(warehouse, "clc")).parent / "_manifest.json").read_text())
    assert manifest["unknown_code_values"] == {"7": 1, "9999": 2} and manifest["null_codes"] == 1


def test_nodata_codes_load_without_the_flag_and_are_counted(tmp_path: Path, warehouse: Warehouse) -> None:
    report = load_reference("clc", _gpkg(_clc({0: "999", 1: "990", 2: "995"}), tmp_path / "c.gpkg"), warehouse)
    assert (report.null_codes, report.unknown_codes, report.nodata_codes) == (0, 0, 3)
    assert report.features_written == 40


def test_numeric_code_columns_are_read_as_class_codes(tmp_path: Path, warehouse: Warehouse) -> None:
    gdf = synth_clc(BBOX, 20, seed=2)
    gdf["code_18"] = gdf.code_18.astype(float)  # e.g. a GeoJSON or GeoParquet with numbers: 211.0
    path = tmp_path / "numeric.parquet"
    gdf.to_parquet(path)
    report = load_reference("clc", path, warehouse)
    assert report.unknown_codes == 0
    stored = gpd.read_parquet(require_table(warehouse, "clc"))
    assert set(stored.code_18) == {str(int(c)) for c in gdf.code_18}


def _two_polygon_layers(path: Path, driver: str) -> Path:
    clc = synth_clc(BBOX, 30, seed=3)
    clc.to_file(path, driver=driver, layer="clc2018", promote_to_multi=True)  # FileGDB: one type per layer
    clc.iloc[:12].to_file(path, driver=driver, layer="clc2012", mode="a", promote_to_multi=True)
    clc.set_geometry(clc.centroid).to_file(path, driver=driver, layer="labels", mode="a")
    return path


@pytest.mark.parametrize(("name", "driver"), [("clc.gpkg", "GPKG"), ("clc.gdb", "OpenFileGDB")])
def test_two_polygon_layers_need_the_layer_flag(tmp_path: Path, warehouse: Warehouse, name: str, driver: str) -> None:
    path = _two_polygon_layers(tmp_path / name, driver)
    with pytest.raises(ReferenceDataError) as err:
        load_reference("clc", path, warehouse)
    message = err.value.message
    assert "holds 2 polygon layers" in message
    assert "clc2018 (MultiPolygon, 30 features)" in message and "clc2012 (MultiPolygon, 12 features)" in message
    assert "labels" not in message.split("Fix:")[0]  # the point layer is not a candidate
    assert "--layer clc2018" in message
    assert not Path(warehouse.reference_uri("clc")).exists()
    assert load_reference("clc", path, warehouse, layer="clc2012").features_written == 12


def test_the_only_polygon_layer_loads_even_when_it_is_not_the_first(tmp_path: Path, warehouse: Warehouse) -> None:
    clc = synth_clc(BBOX, 30, seed=3)
    path = tmp_path / "mixed.gpkg"
    clc.set_geometry(clc.centroid).to_file(path, driver="GPKG", layer="centroids")
    clc.to_file(path, driver="GPKG", layer="clc2018", mode="a")
    assert load_reference("clc", path, warehouse).features_written == 30


def test_cli_reports_code_counts_and_refuses_without_the_flag(tmp_path: Path, warehouse: Warehouse) -> None:
    path = _gpkg(_clc(BAD_CODES), tmp_path / "bad.gpkg")
    wh = ["--warehouse", warehouse.root]
    result = runner.invoke(app, [*wh, "reference", "load", "clc", str(path)])
    assert result.exit_code == 2 and "'9999' (2 features)" in result.output, result.output
    result = runner.invoke(
        app, [*wh, "reference", "load", "clc", str(path), "--allow-unknown-codes", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout.strip().splitlines()[-1])[0]
    assert (row["null_codes"], row["unknown_codes"], row["nodata_codes"]) == (1, 3, 3)
    result = runner.invoke(app, [*wh, "reference", "load", "nuts", str(path), "--allow-unknown-codes"])
    assert result.exit_code == 2 and "applies to clc only" in result.output
