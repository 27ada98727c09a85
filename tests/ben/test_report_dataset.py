"""`s2lake ben report DATASET_DIR` over dataset FILES: it imports the dataset, builds the marts over that
dataset's patches only, and every printed figure equals an independent computation over the files
(tests/ben/file_truth.py: rasterio and numpy, no table read).

Datasets: generated v1 (with a metadata.parquet that overrides some json labels: two ben_metadata rows per
patch) and v2 (wrong sizes, NO_DATA, patches missing from metadata, overlapping footprints, reference maps),
reported one after the other into ONE warehouse; and BigEarthNet's 6 real v1 patches (../shared).
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from s2lake.cli.main import app
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.synth.bigearthnet import Dataset, generate_v1, generate_v2
from tests.ben import file_truth
from tests.ben.expected import read_split_csv
from tests.ben.test_import_real import V2_IDS


def _report(warehouse: Warehouse, dataset_dir: Path, *extra: str):
    result = CliRunner().invoke(app, ["-w", warehouse.root, "ben", "report", str(dataset_dir), *extra])
    assert result.exit_code == 0, result.output
    return result


def _maps(ds: Dataset) -> dict[str, Path]:
    if ds.reference_maps is None:
        return {}
    return {p.name.removesuffix("_reference_map.tif"): p for p in ds.reference_maps.rglob("*_reference_map.tif")}


@pytest.fixture(scope="module")
def shared_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    return Warehouse.at(tmp_path_factory.mktemp("wh") / "warehouse")


@pytest.fixture(scope="module")
def v1(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    ds = generate_v1(tmp_path_factory.mktemp("v1") / "BigEarthNet-v1", 20, defect_every=5)
    # v2's metadata.parquet for a few v1 patches (as BigEarthNet v2 maps s2v1_name): their labels win
    with_json = [(pid, f) for pid, f in ds.folders.items() if pid not in ds.defects.not_in_metadata][:4]
    pq.write_table(
        pa.table(
            {
                "patch_id": [pid for pid, _ in with_json],
                "labels": [["Arable land", "Pastures", "Urban fabric", "Mixed forest"][: 1 + i] for i in range(4)],
                "split": ["train"] * 4,
                "country": ["Austria"] * 4,
                "s1_name": [f"S1_{i}" for i in range(4)],
                "s2v1_name": [f.name for _, f in with_json],
                "contains_seasonal_snow": [False] * 4,
                "contains_cloud_or_shadow": [True] * 4,
            }
        ),
        ds.root / "metadata.parquet",
    )
    return ds


@pytest.fixture(scope="module")
def v2(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return generate_v2(tmp_path_factory.mktemp("v2") / "BigEarthNet-v2", 24, per_product=8, defect_every=6)


@pytest.fixture(scope="module")
def v1_run(shared_warehouse: Warehouse, v1: Dataset):
    return _report(shared_warehouse, v1.root)


@pytest.fixture(scope="module")
def v2_run(shared_warehouse: Warehouse, v2: Dataset, v1_run):
    """Reported after v1 into the same warehouse: v1's patches stay in the tables and out of the figures."""
    stats = file_truth.write_id_list(v2.root.parent / "stats.csv.gz", v2.patch_ids[::3])
    split_out = v2.root.parent / "split.csv"
    return _report(shared_warehouse, v2.root, "--stats-list", str(stats), "--split-out", str(split_out))


def test_v1_figures_equal_the_files(v1: Dataset, v1_run) -> None:
    want = file_truth.figures(v1.root, v1.folders, {})
    assert v1_run.stdout.splitlines() == [f"{name}: {value}" for name, value in want]
    figures = dict(want)
    assert all(int(figures[k]) > 0 for k in ("wrong-size", "with-no-data", "not-part-of-dataset"))
    assert figures["maximum-num-labels"] == "4"  # a metadata.parquet row's 4 labels, not its json's


def test_v2_figures_equal_the_files_and_cover_only_v2(shared_warehouse: Warehouse, v1: Dataset, v2: Dataset, v2_run):
    want = file_truth.figures(v2.root, v2.folders, _maps(v2), set(v2.patch_ids[::3]))
    assert v2_run.stdout.splitlines() == [f"{name}: {value}" for name, value in want]
    figures = dict(want)
    for name in ("wrong-size", "with-no-data", "not-part-of-dataset", "geom-num-overlaps"):
        assert int(figures[name]) > 0, name
    assert figures["geom-average-num-labels"] != "0.00"
    # both datasets stay in the warehouse, each once
    assert TableStore(shared_warehouse).count("patches") == len(v1.patch_ids) + len(v2.patch_ids)


def test_v2_split_and_html_hold_the_dataset_patches_only(v2: Dataset, v2_run) -> None:
    columns = read_split_csv(v2.root.parent / "split.csv")
    everyone = columns["train"] + columns["test"]
    assert len(everyone) == len(set(everyone))
    assert set(everyone) == file_truth.dataset_ids(v2.root, v2.folders)
    page = (v2.root.parent / "BigEarthNet-v2-report.html").read_text(encoding="utf-8")
    map_svg = page[page.index('<svg id="map"') : page.index("</svg>", page.index('<svg id="map"'))]
    assert map_svg.count("<rect") == len(v2.patch_ids)
    assert all(pid in map_svg for pid in v2.patch_ids)


def test_real_patches_figures_equal_the_files(shared_data: Path, tmp_path: Path) -> None:
    with tarfile.open(shared_data / "bigearthnet" / "BigEarthNet-S2-Example.tar.bz2") as tar:
        tar.extractall(tmp_path / "data", filter="data")
    folders = {V2_IDS[f.name]: f for f in (tmp_path / "data").glob("*/*") if f.is_dir()}
    (dataset_dir,) = {f.parent for f in folders.values()}
    listed = sorted(folders)[:3]
    stats = file_truth.write_id_list(tmp_path / "stats.csv.gz", listed)
    result = _report(Warehouse.at(tmp_path / "warehouse"), dataset_dir, "--stats-list", str(stats))
    want = file_truth.figures(dataset_dir, folders, {}, set(listed))
    assert result.stdout.splitlines() == [f"{name}: {value}" for name, value in want]
    assert dict(want)["average-num-labels"] != "0.00"
