"""dbt reads the label tables of the latest complete label run only: a run stopped between its commits
changes no mart, and `label_runs` shows it as running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa

from s2lake.tables.schemas import PATCH_COUNTRY, PATCH_LANDCOVER, PATCH_OVERLAPS
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.labels.runs import LabelRun
from sedona_jobs.synth.warehouse import generate

S2LAKE = str(Path(sys.executable).parent / "s2lake")


def test_models_read_the_latest_complete_label_run(tmp_path: Path) -> None:
    warehouse = Warehouse.at(tmp_path / "wh")
    generate(warehouse, tiles=1, grid=4, dates_per_tile=(1,))
    store = TableStore(warehouse)
    base = [S2LAKE, "-w", warehouse.root]

    def patch_labels() -> list[tuple[str, tuple[str, ...]]]:
        # 16 patches cannot meet the split's share tolerance: widen it, it is not what this test is about.
        env = os.environ | {"S2LAKE_MODELS__SPLIT_SHARE_TOLERANCE": "1"}
        built = subprocess.run([*base, "models", "build", "--quiet"], capture_output=True, env=env)
        assert built.returncode == 0, built.stderr.decode()[-3000:]
        rows = store.read("patch_labels", ["patch_id", "labels"]).to_pylist()
        return sorted((r["patch_id"], tuple(r["labels"] or ())) for r in rows)

    original = patch_labels()
    assert len(original) == 16 and any(labels != ("Arable land",) for _, labels in original)

    # A new run through the library: every patch all arable land. It stops after two of its three
    # commits, as a run killed there would.
    country, overlaps = (store.read(t).drop_columns(["run_id"]) for t in ("patch_country", "patch_overlaps"))
    arable = pa.table(
        {
            "patch_id": country["patch_id"],
            "tile": country["tile"],
            "clc_code": ["211"] * country.num_rows,
            "clc_name": ["Non-irrigated arable land"] * country.num_rows,
            "ben19_label": ["Arable land"] * country.num_rows,
            "area_m2": [1_440_000.0] * country.num_rows,
            "fraction": [1.0] * country.num_rows,
            "no_clc_coverage": [False] * country.num_rows,
        }
    )
    run = LabelRun(store, "sedonadb", "nuts")
    run.begin()
    run.commit(PATCH_LANDCOVER, arable)
    run.commit(PATCH_COUNTRY, country)

    assert patch_labels() == original
    statuses = subprocess.run(
        [*base, "sql", "SELECT status, count(*) AS n FROM label_runs GROUP BY status ORDER BY status", "-f", "json"],
        capture_output=True,
        text=True,
    )
    assert json.loads(statuses.stdout) == [{"status": "complete", "n": 1}, {"status": "running", "n": 1}]

    run.commit(PATCH_OVERLAPS, overlaps)
    run.complete()
    assert patch_labels() == [(patch_id, ("Arable land",)) for patch_id, _ in original]
