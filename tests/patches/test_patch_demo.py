"""`s2lake demo`: generates a product, builds its patches, answers a SQL query; a rerun reuses the product."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse

S2LAKE = str(Path(sys.executable).parent / "s2lake")


def test_demo_runs_offline_and_reports(tmp_path: Path) -> None:
    command = [S2LAKE, "-w", str(tmp_path / "wh"), "demo", "--pixels", "1200", "--workdir", str(tmp_path / "demo")]
    first = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    assert "SELECT scene_class, count(*) AS patches" in first.stdout
    assert "VEGETATION" in first.stdout  # the query's answer, from the Delta table
    assert "patches written" in first.stdout and "table patches" in first.stdout
    [product] = (tmp_path / "demo" / "products" / "1200px").glob("*.SAFE")

    second = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    assert list((tmp_path / "demo" / "products" / "1200px").glob("*.SAFE")) == [product]  # reused, not regenerated
    store = TableStore(Warehouse.at(tmp_path / "wh"))
    assert store.count("patches") == 100 and store.require("patches").version() == 2  # created, built, replaced
