"""`s2lake reference` / `s2lake labels` commands and the demo's labelling step."""

from __future__ import annotations

import json
import time

from typer.testing import CliRunner

from s2lake.cli.main import app
from s2lake.shipped_data import SHIPPED_COUNTRIES
from s2lake.tables.schemas import PATCHES
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.labels import build_labels
from sedona_jobs.labels.demo_labels import demo_step
from sedona_jobs.labels.patch_rows import patch_table
from sedona_jobs.reference import load_reference
from tests.labels.conftest import grid

runner = CliRunner()


def test_reference_and_labels_commands(labelled_warehouse: Warehouse) -> None:
    wh = ["--warehouse", labelled_warehouse.root]
    result = runner.invoke(app, [*wh, "reference", "load", "countries", str(SHIPPED_COUNTRIES), "--format", "json"])
    assert result.exit_code == 0, result.output
    loaded = json.loads(result.stdout.strip().splitlines()[-1])[0]
    assert loaded["features_written"] == 75 and loaded["reprojected"] is True

    result = runner.invoke(app, [*wh, "labels", "build", "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])[0]
    assert report["patches"] == 40 and report["countries"] == "AT:40" and report["engine"] == "sedonadb"

    result = runner.invoke(app, [*wh, "labels", "build", "--engine", "duckdb"])
    assert result.exit_code == 2 and "--engine: Input should be 'sedonadb' or 'spark'" in result.output


def test_reference_synth_and_errors(warehouse: Warehouse) -> None:
    wh = ["--warehouse", warehouse.root]
    result = runner.invoke(app, [*wh, "reference", "synth", "nuts", "--count", "12", "--countries", "2"])
    assert result.exit_code == 0, result.output
    assert "nuts-like features" in result.output
    result = runner.invoke(app, [*wh, "reference", "synth", "clc", "--bbox", "10", "45", "11", "46"])
    assert result.exit_code == 2 and "not in EPSG:3035" in result.output
    result = runner.invoke(app, [*wh, "reference", "load", "clc", str(SHIPPED_COUNTRIES)])
    assert result.exit_code == 2 and "accepted in EPSG:3035" in result.output


def test_demo_step_labels_tile_33uuu_in_germany(warehouse: Warehouse) -> None:
    # The demo's synthetic product is tile 33UUU (EPSG:32633, upper-left 300000/5900040).
    rows = grid("33UUU", 32633, 300_000.0, 5_900_040.0, 5, 5)
    TableStore(warehouse).overwrite(PATCHES, patch_table(rows))
    report = demo_step(warehouse)
    assert report.countries == {"DE": 25} and report.patches_without_clc == 0
    landcover = TableStore(warehouse).read("patch_landcover").to_pylist()
    per_patch: dict[str, float] = {}
    for row in landcover:
        per_patch[row["patch_id"]] = per_patch.get(row["patch_id"], 0) + row["fraction"]
    assert len(per_patch) == 25 and all(abs(v - 1) < 1e-6 for v in per_patch.values())


def test_labels_build_speed_counts_the_delta_writes(labelled_warehouse: Warehouse) -> None:
    # patches_per_s is what a user waits for: the joins *and* the commits of the run, not the joins alone.
    load_reference("countries", SHIPPED_COUNTRIES, labelled_warehouse)
    started = time.perf_counter()
    report = build_labels(labelled_warehouse, engine="sedonadb")
    wall = time.perf_counter() - started
    run = TableStore(labelled_warehouse).read("label_runs", ["started", "finished"]).to_pylist()[0]
    commits = (run["finished"] - run["started"]).total_seconds()  # first to last commit, as recorded
    assert 0 < commits <= report.write_seconds < report.seconds <= wall
    assert report.seconds > 0.9 * wall
    assert report.patches_per_second == report.patches / report.seconds
