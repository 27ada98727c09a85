"""A `labels build` killed between its commits: readers keep seeing the previous complete run, whole, and
`label_runs` shows the interrupted one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from s2lake.shipped_data import SHIPPED_COUNTRIES
from s2lake.tables.schemas import PATCHES
from s2lake.tables.store import TableStore, sql_literal
from s2lake.warehouse import Warehouse
from sedona_jobs.labels.patch_rows import patch_table
from tests.labels.conftest import ORIGIN_33, grid, patch_rows

S2LAKE = str(Path(sys.executable).parent / "s2lake")
LABEL_TABLES = ("patch_landcover", "patch_country", "patch_overlaps")


def _cli(warehouse: Warehouse, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([S2LAKE, "-w", warehouse.root, *args], capture_output=True, text=True, timeout=600)


def _versions(warehouse: Warehouse, table: str) -> int:
    return len(list(Path(warehouse.table_uri(table), "_delta_log").glob("*.json")))


def _current(store: TableStore) -> tuple[str, dict[str, set[str]]]:
    """What a reader sees (the dbt staging filter): the latest complete run and its patches per table."""
    runs = store.read("label_runs", ["run_id"], where="status = 'complete'").column("run_id").to_pylist()
    run = max(runs)
    where = f"run_id = {sql_literal(run)}"
    seen = {t: set(store.read(t, ["patch_id"], where=where).column(0).to_pylist()) for t in LABEL_TABLES[:2]}
    pairs = store.read("patch_overlaps", ["patch_id_a", "patch_id_b"], where=where)
    seen["patch_overlaps"] = set(pairs.column(0).to_pylist()) | set(pairs.column(1).to_pylist())
    return run, seen


def test_killed_between_commits_leaves_the_previous_run_in_force(labelled_warehouse: Warehouse) -> None:
    warehouse, store = labelled_warehouse, TableStore(labelled_warehouse)
    assert _cli(warehouse, "reference", "load", "countries", str(SHIPPED_COUNTRIES)).returncode == 0
    first = _cli(warehouse, "labels", "build")
    assert first.returncode == 0, first.stderr
    first_run, first_seen = _current(store)
    assert len(first_seen["patch_country"]) == 40 and first_seen["patch_landcover"] == first_seen["patch_country"]

    # New inputs, so a mix of runs would show: 9 more patches.
    store.overwrite(PATCHES, patch_table(patch_rows() + grid("33UUQ", 32633, ORIGIN_33[0] + 9000, ORIGIN_33[1], 3, 3)))
    before = _versions(warehouse, "patch_landcover")
    build = subprocess.Popen([S2LAKE, "-w", warehouse.root, "labels", "build"], stderr=subprocess.PIPE, text=True)
    while build.poll() is None and _versions(warehouse, "patch_landcover") == before:
        time.sleep(0.002)
    os.kill(build.pid, signal.SIGKILL)  # right after its first commit (or, at worst, after it finished)
    build.wait()

    runs = {r["run_id"]: r for r in store.read("label_runs").to_pylist()}
    assert len(runs) == 2
    second = max(runs)
    run, seen = _current(store)
    # Whatever the moment of the kill, the run readers see is whole: all three tables from one run.
    assert seen["patch_landcover"] == seen["patch_country"] and seen["patch_overlaps"] <= seen["patch_country"]
    if runs[second]["status"] == "running":  # killed between its commits (the usual case)
        assert run == first_run and seen == first_seen
        assert runs[second]["finished"] is None
    else:
        assert runs[second]["status"] == "complete" and run == second and len(seen["patch_country"]) == 49

    again = _cli(warehouse, "labels", "build")
    assert again.returncode == 0, again.stderr
    runs = {r["run_id"]: r["status"] for r in store.read("label_runs").to_pylist()}
    latest, seen = _current(store)
    assert runs[latest] == "complete" and len(seen["patch_country"]) == 49
    # Once complete, the run removed every older run's rows (the killed one's included).
    for table in LABEL_TABLES:
        assert set(store.read(table, ["run_id"]).column(0).to_pylist()) == {latest}
