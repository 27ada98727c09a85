"""``export ben`` writes the BigEarthNet v2 tree of SAFE-derived patches; read back with rasterio it equals
the patches table (pixels and georeference), and a failed export leaves nothing that looks complete."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import rasterio
import shapely
from typer.testing import CliRunner

from s2lake.cli.main import app
from s2lake.errors import ExportError, QueryError, UnsafePathError
from s2lake.sentinel2 import BANDS
from s2lake.tables.schemas import PATCHES
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.export import ben_export
from sedona_jobs.export.ben_export import export_ben
from sedona_jobs.export.ben_metadata import METADATA_SCHEMA
from sedona_jobs.labels.patch_rows import patch_table
from tests.export.conftest import patch_rows


def _product(patch_id: str) -> str:
    return patch_id.rsplit("_", 2)[0]


def test_tree_equals_patches_table(patched_warehouse: Warehouse, fresh_out: Path) -> None:
    rows = patch_rows(patched_warehouse)
    progress: list[tuple[int, int]] = []
    report = export_ben(patched_warehouse, fresh_out, on_progress=lambda d, t: progress.append((d, t)))
    assert report.patches == len(rows) == 25 and progress[-1] == (25, 25)
    expected = {f"BigEarthNet-S2/{_product(pid)}/{pid}/{pid}_{b.name}.tif" for pid in rows for b in BANDS} | {
        "metadata.parquet"
    }
    found = {str(p.relative_to(fresh_out)) for p in fresh_out.rglob("*") if p.is_file()}
    assert found == expected
    for patch_id, row in rows.items():
        for band in BANDS:
            path = fresh_out / "BigEarthNet-S2" / _product(patch_id) / patch_id / f"{patch_id}_{band.name}.tif"
            with rasterio.open(path) as tif:
                assert (tif.count, tif.dtypes[0], tif.nodata) == (1, "uint16", 0)
                assert tif.compression.name == "deflate"
                assert tif.block_shapes == [(band.patch_pixels, band.patch_pixels)]  # one strip per file
                assert tif.crs.to_epsg() == row["epsg"]
                assert tif.transform == rasterio.Affine(band.resolution, 0, row["ulx"], 0, -band.resolution, row["uly"])
                assert tuple(tif.bounds) == (row["ulx"], row["lry"], row["lrx"], row["uly"])
                side = band.patch_pixels
                np.testing.assert_array_equal(tif.read(1), np.array(row[band.column]).reshape(side, side))
    assert any(row["has_nodata"] for row in rows.values())  # NO_DATA pixels went through as 0 (tagged)
    meta = pq.read_table(fresh_out / "metadata.parquet")
    assert meta.schema.equals(METADATA_SCHEMA)
    assert meta.column("patch_id").to_pylist() == sorted(rows)
    assert meta.column("labels").to_pylist() == [[]] * 25  # no labels tables: empty lists, nulls elsewhere
    for name in METADATA_SCHEMA.names[2:]:
        assert meta.column(name).null_count == 25
    assert [p.name for p in fresh_out.parent.iterdir()] == ["out"]  # no partial folder left behind


def test_where_selects_and_export_is_deterministic(
    patched_warehouse: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same bytes whether written in this process (1 worker) or by a pool of processes (2 chunks each)."""
    monkeypatch.setattr(ben_export, "CHUNK_PATCHES", 2)
    where = "row = 1 AND NOT has_nodata"
    wanted = {pid for pid, r in patch_rows(patched_warehouse).items() if r["row"] == 1 and not r["has_nodata"]}
    first = export_ben(patched_warehouse, tmp_path / "a", where, workers=1)
    second = export_ben(patched_warehouse, tmp_path / "b", where, workers=2)
    assert first.patches == second.patches == len(wanted) > 0
    assert set(pq.read_table(tmp_path / "a" / "metadata.parquet").column("patch_id").to_pylist()) == wanted
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_labels_split_country_and_reference_maps(labelled_warehouse: Warehouse, fresh_out: Path) -> None:
    # lazy: geopandas costs ~2 s to import; only this test reads the maps back
    import geopandas as gpd

    store = TableStore(labelled_warehouse)
    landcover = store.read("patch_landcover", ["patch_id", "clc_code", "ben19_label", "area_m2"]).to_pylist()
    country = {r["patch_id"]: r["country_name"] for r in store.read("patch_country").to_pylist()}
    labels: dict[str, set[str]] = {pid: set() for pid in country}
    for r in landcover:
        if r["ben19_label"] and r["area_m2"] > 0:
            labels[r["patch_id"]].add(r["ben19_label"])
    report = export_ben(labelled_warehouse, fresh_out)
    meta = {r["patch_id"]: r for r in pq.read_table(fresh_out / "metadata.parquet").to_pylist()}
    assert {pid: r["country"] for pid, r in meta.items()} == country and set(country.values()) - {None}
    assert {pid: r["labels"] for pid, r in meta.items()} == {pid: sorted(v) for pid, v in labels.items()}
    assert any(len(v) > 1 for v in labels.values())
    covered = {r["patch_id"] for r in landcover if r["clc_code"] is not None}
    assert report.reference_maps == len(covered) > 0
    clc = gpd.read_parquet(Path(labelled_warehouse.root) / "reference" / "clc" / "part-00000.parquet")
    rows = patch_rows(labelled_warehouse)
    for patch_id in sorted(covered)[:5]:
        row = rows[patch_id]
        path = fresh_out / "Reference_Maps" / _product(patch_id) / patch_id / f"{patch_id}_reference_map.tif"
        with rasterio.open(path) as tif:
            assert (tif.width, tif.height, tif.dtypes[0], tif.nodata, tif.crs.to_epsg()) == (
                120,
                120,
                "uint16",
                0,
                32633,
            )
            assert tif.transform == rasterio.Affine(10, 0, row["ulx"], 0, -10, row["uly"])
            codes = tif.read(1)
        # independently: the CLC polygon under a few pixel centres, located in EPSG:3035
        rng = np.random.default_rng(0)
        local = clc.to_crs(epsg=row["epsg"])
        checked = 0
        for r, c in rng.integers(0, 120, size=(20, 2)):
            centre = shapely.Point(row["ulx"] + 10 * c + 5, row["uly"] - 10 * r - 5)
            under = local[local.covers(centre)]
            if len(under) == 1:
                assert codes[r, c] == int(under.iloc[0]["code_18"]), (patch_id, r, c)
                checked += 1
        assert checked >= 15
        present = {str(v) for v in np.unique(codes) if v}
        assert present <= {r["clc_code"] for r in landcover if r["patch_id"] == patch_id}


def test_failures_leave_nothing(patched_warehouse: Warehouse, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ExportError, match="already exists"):
        export_ben(patched_warehouse, out)
    out.rmdir()
    with pytest.raises(QueryError, match="--where"):
        export_ben(patched_warehouse, out, "no_such_column = 1")
    with pytest.raises(ExportError, match="no patch matches"):
        export_ben(patched_warehouse, out, "tile = 'nothing'")
    assert list(tmp_path.iterdir()) == []


def _with_rows(warehouse: Warehouse, tmp_path: Path, rows: pa.Table) -> Warehouse:
    copy = Warehouse.at(shutil.copytree(warehouse.root, tmp_path / "wh"))
    TableStore(copy).append(PATCHES, rows)
    return copy


def _out_of_range(warehouse: Warehouse) -> pa.Table:
    """A copy of a real row under a new id whose B05 holds one value a uint16 cannot."""
    row = dict(min(patch_rows(warehouse).items())[1])
    row["patch_id"] = "S2A_MSIL2A_20180510T094148_N0510_R094_T33UUU_9_9"
    row["b05"] = [*row["b05"][:-1], 70_000]
    return pa.Table.from_pylist([row], schema=PATCHES.schema)


@pytest.mark.parametrize(
    ("bad_row", "reason"),
    [
        (lambda _: patch_table([("S2A_MSIL2A_20180510T094148_N0510_R094_T33UUU_9_9", "33UUU", 32633, 3e5, 5.5e6)]),
         "S2A_MSIL2A_20180510T094148_N0510_R094_T33UUU_9_9 has no B01 pixels"),
        (_out_of_range, "S2A_MSIL2A_20180510T094148_N0510_R094_T33UUU_9_9 band B05 has values outside 0..65535"),
    ],
)  # fmt: skip
def test_bad_patch_aborts_the_whole_export(
    patched_warehouse: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad_row: object, reason: str
) -> None:
    """A bad row among good ones fails the run in a worker process after other patches were written: the
    error names the patch, and there is no OUT and no partial folder."""
    monkeypatch.setattr(ben_export, "CHUNK_PATCHES", 4)
    warehouse = _with_rows(patched_warehouse, tmp_path, bad_row(patched_warehouse))
    with pytest.raises(ExportError, match=reason):
        export_ben(warehouse, tmp_path / "export" / "out", workers=2)
    assert list((tmp_path / "export").iterdir()) == []


def test_hostile_patch_id_is_refused(patched_warehouse: Warehouse, tmp_path: Path) -> None:
    bad = patch_table([("../../escaped_1_1", "33UUU", 32633, 300000.0, 5500000.0)])
    warehouse = _with_rows(patched_warehouse, tmp_path, bad)
    with pytest.raises(UnsafePathError, match="cannot name a file"):
        export_ben(warehouse, tmp_path / "export" / "out")
    assert not (tmp_path / "export").exists() or list((tmp_path / "export").iterdir()) == []


def test_cli_export_and_extract(patched_warehouse: Warehouse, tmp_path: Path) -> None:
    runner = CliRunner()
    wh = ["--warehouse", patched_warehouse.root]
    zips = tmp_path / "zips"
    result = runner.invoke(app, [*wh, "export", "ben", str(zips), "--where", "col = 0", "--zip-per", "2"])
    assert result.exit_code == 0, result.output
    assert "5 patches" in result.output and "3 zips" in result.output
    result = runner.invoke(app, ["export", "extract", str(zips), str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "out" / "BigEarthNet-S2").glob("*/*/*_B8A.tif"))) == 5
    result = runner.invoke(app, [*wh, "export", "ben", str(tmp_path / "x"), "--where", "nonsense ="])
    assert result.exit_code == 2 and "--where" in result.output
