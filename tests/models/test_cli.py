"""`s2lake split export` and `s2lake models build` through the CLI."""

from __future__ import annotations

import csv

from typer.testing import CliRunner

from s2lake.cli.main import app
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse


def test_split_export_writes_train_test_columns(built_dir, tmp_path):
    split = TableStore(Warehouse.at(built_dir)).read("geographic_split", columns=["patch_id", "split"]).to_pylist()
    by_split = {s: sorted(r["patch_id"] for r in split if r["split"] == s) for s in ("train", "validation", "test")}
    runner = CliRunner()

    out = tmp_path / "split.csv"
    result = runner.invoke(app, ["-w", str(built_dir), "split", "export", str(out)])
    assert result.exit_code == 0, result.output
    with out.open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["train", "test"]
    train = [r[0] for r in rows[1:] if r[0]]
    test = [r[1] for r in rows[1:] if r[1]]
    assert train == sorted(by_split["train"] + by_split["validation"])  # merged by default
    assert test == by_split["test"]

    result = runner.invoke(app, ["-w", str(built_dir), "split", "export", str(out), "--validation", "column"])
    assert result.exit_code == 0, result.output
    with out.open() as f:
        columns = list(zip(*csv.reader(f), strict=True))
    assert [c[0] for c in columns] == ["train", "validation", "test"]
    assert [c for c in columns[1][1:] if c] == by_split["validation"]
    assert not list(tmp_path.glob(".split.csv.partial-*"))


def test_split_export_without_build_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(app, ["-w", str(tmp_path / "empty"), "split", "export", str(tmp_path / "x.csv")])
    assert result.exit_code == 4
    assert "geographic_split does not exist" in result.output and "s2lake models build" in result.output
    assert not (tmp_path / "x.csv").exists()


def test_models_build_cli_reports_bad_settings(tmp_path):
    result = CliRunner().invoke(
        app, ["-w", str(tmp_path / "wh"), "models", "build", "--split-method", "hexagons"], catch_exceptions=False
    )
    assert result.exit_code == 2
    assert "hexagons" in result.output
