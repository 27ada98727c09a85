"""The report's marts on a generated BigEarthNet warehouse (tables in the import's schemas, written directly):
every figure equals an independent numpy/pandas computation (tests/ben/expected.py) over the same tables.
The command over dataset files (import, scope, CLI) is tested in test_report_dataset.py."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from s2lake.ben_report.figures import Report, report
from s2lake.cli.ben_report_cmd import html_path
from s2lake.cli.main import app
from s2lake.config.models import ModelsSettings
from s2lake.errors import ModelsError
from s2lake.tables.store import TableStore
from tests.ben import expected
from tests.ben.ben_gen import BenDataset, generate_ben

FIGURE_LINE = re.compile(r"^(spring|summer|fall|winter|[a-z-]+|B(0[1-9]|1[12]|8A) (mean|std-dev)): (\d+|\d+\.\d\d)$")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> BenDataset:
    return generate_ben(tmp_path_factory.mktemp("ben"))


@pytest.fixture(scope="module")
def run(dataset: BenDataset) -> tuple[Report, Path, Path]:
    dataset_dir = Path(dataset.warehouse.root).parent / "BigEarthNet-S2"
    split_out = dataset_dir.parent / "split.csv"
    result = report(
        dataset.warehouse,
        ModelsSettings(),
        stats_list=dataset.stats_list,
        split_out=split_out,
        html_out=html_path(dataset_dir),
    )
    return result, dataset_dir, split_out


def test_printed_block_equals_independent_computation(dataset, run):
    result, _, _ = run
    lines = result.text().splitlines()
    want = expected.figures(dataset)
    assert lines == [f"{name}: {value}" for name, value in want]
    assert all(FIGURE_LINE.match(line) for line in lines)
    # The generated data really holds every defect the figures count.
    figures = dict(want)
    for name in ("wrong-size", "with-no-data", "not-part-of-dataset", "geom-num-overlaps"):
        assert int(figures[name]) > 0, name
    # The shifted patch overlaps a neighbour in its own place, touching edges never count.
    assert int(figures["geom-num-overlaps"]) < dataset.patches.num_rows


def test_split_csv_holds_every_dataset_patch_once(dataset, run):
    _, _, split_out = run
    columns = expected.read_split_csv(split_out)
    assert list(columns) == ["train", "test"]
    everyone = columns["train"] + columns["test"]
    assert len(everyone) == len(set(everyone))
    assert set(everyone) == expected.dataset_ids(dataset)


def test_html_report_is_self_contained_beside_the_dataset(dataset, run):
    dataset_dir = run[1]
    html = dataset_dir.parent / "BigEarthNet-S2-report.html"
    page = html.read_text(encoding="utf-8")
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert page.count("<rect") >= dataset.patches.num_rows
    for split in ("train", "validation", "test", "not in dataset"):
        assert split in page
    assert "geom-num-overlaps" in page and "Dataset patches per season" in page
    assert not list(dataset_dir.parent.glob(".*.partial-*"))


def test_cloud_and_snow_flags_from_metadata_or_scl(dataset, run):
    got = TableStore(dataset.warehouse).read("patch_cloud_snow").to_pylist()
    flags = {r["patch_id"]: (r["contains_cloud_or_shadow"], r["contains_seasonal_snow"]) for r in got}
    want = expected.cloud_snow(dataset)
    assert flags == want
    sources = {r["flag_source"] for r in got}
    assert sources == {"metadata", "scl", None}


def test_stats_list_that_is_not_gzip_is_refused_before_the_build(dataset, tmp_path):
    plain = tmp_path / "list.csv.gz"
    plain.write_text("patch_id\nS2A_x\n")
    dataset_dir = tmp_path / "ds"
    dataset_dir.mkdir()
    result = CliRunner().invoke(
        app, ["-w", dataset.warehouse.root, "ben", "report", str(dataset_dir), "--stats-list", str(plain)]
    )
    assert result.exit_code == 2
    assert "not a gzip-compressed" in result.output
    assert not (tmp_path / "ds-report.html").exists()


def test_listed_patch_missing_from_the_warehouse_fails_the_build(dataset, tmp_path):
    listed = tmp_path / "unknown.csv.gz"
    with gzip.open(listed, "wt") as f:
        f.write("S2A_MSIL2A_20990101T000000_N9999_R001_T99XXX_0_0\n")
    html = tmp_path / "ds-report.html"
    with pytest.raises(ModelsError, match="relationships_int_stats_list_patch_id"):
        report(dataset.warehouse, ModelsSettings(), stats_list=listed, html_out=html)
    assert not html.exists()
