"""Labelling only the new patches gives the tables a full run gives, and does nothing when nothing is new."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from s2lake.shipped_data import SHIPPED_COUNTRIES
from s2lake.tables.schemas import PATCHES
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.labels import build_labels, build_new_labels
from sedona_jobs.labels.patch_rows import patch_table
from sedona_jobs.labels.runs import LABEL_TABLES
from sedona_jobs.reference import write_synthetic
from sedona_jobs.reference.loader import load_reference
from sedona_jobs.synth.reference_layers import synth_clc
from tests.labels.conftest import ORIGIN_33, grid, patch_rows, rows_bbox_3035

S2LAKE = str(Path(sys.executable).parent / "s2lake")
#: Labelled first: a 6x6 grid of tile 33UUP.
FIRST = grid("33UUP", 32633, *ORIGIN_33, 6, 6)
#: Landed later: 2x2 patches of zone 32 over the first grid (overlaps with labelled patches) and a 3x3 grid
#: of tile 33UUQ shifted by half a patch (overlaps with both: new x labelled and new x new pairs).
LATER = patch_rows()[36:] + grid("33UUQ", 32633, ORIGIN_33[0] + 600, ORIGIN_33[1] - 600, 3, 3)


def _warehouse(root: Path, rows: list[tuple]) -> Warehouse:
    warehouse = Warehouse.at(root)
    TableStore(warehouse).overwrite(PATCHES, patch_table(rows))
    write_synthetic(synth_clc(rows_bbox_3035(FIRST + LATER), 400, seed=3), warehouse, "clc")
    load_reference("countries", SHIPPED_COUNTRIES, warehouse)
    return warehouse


def _tables(warehouse: Warehouse) -> dict[str, list[dict]]:
    """Every label table's rows without the run id, in a fixed order."""
    store = TableStore(warehouse)
    out = {}
    for spec in LABEL_TABLES:
        table = store.read(spec.name).drop_columns(["run_id"])
        keys = [c for c in ("patch_id", "clc_code", "patch_id_a", "patch_id_b") if c in table.column_names]
        out[spec.name] = table.sort_by([(k, "ascending") for k in keys]).to_pylist()
    return out


def _versions(warehouse: Warehouse) -> dict[str, int]:
    store = TableStore(warehouse)
    return {name: store.require(name).version() for name in store.names()}


def test_new_patches_only_equal_a_full_run(tmp_path: Path) -> None:
    incremental = _warehouse(tmp_path / "incremental", FIRST)
    build_labels(incremental, country_source="countries")
    TableStore(incremental).overwrite(PATCHES, patch_table(FIRST + LATER))
    report = build_new_labels(incremental)
    assert report is not None and report.patches == len(LATER) and report.carried_over == len(FIRST)

    full = _warehouse(tmp_path / "full", FIRST + LATER)
    build_labels(full, country_source="countries")
    got, want = _tables(incremental), _tables(full)
    assert len(want["patch_country"]) == len(FIRST + LATER)
    # New x labelled and new x new overlaps are both there, and no pair is counted twice.
    assert any(r["tile_a"] == "32UQU" and r["tile_b"] == "33UUQ" for r in want["patch_overlaps"])
    assert any({r["tile_a"], r["tile_b"]} == {"33UUP", "33UUQ"} for r in want["patch_overlaps"])
    assert got == want

    # Readers see one run: the incremental run holds every patch's rows.
    runs = TableStore(incremental).read("label_runs").to_pylist()
    latest = max(r["run_id"] for r in runs if r["status"] == "complete")
    assert {r["run_id"] for r in TableStore(incremental).read("patch_country", ["run_id"]).to_pylist()} == {latest}

    before = _versions(incremental)
    assert build_new_labels(incremental) is None
    again = subprocess.run(
        [S2LAKE, "-w", incremental.root, "labels", "build", "--new-only"], capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0 and "nothing to do" in again.stderr
    assert _versions(incremental) == before


def test_reloaded_reference_relabels_everything(tmp_path: Path) -> None:
    warehouse = _warehouse(tmp_path / "w", FIRST)
    build_labels(warehouse, country_source="countries")
    load_reference("countries", SHIPPED_COUNTRIES, warehouse)
    report = build_new_labels(warehouse)
    assert report is not None and report.patches == len(FIRST) and report.carried_over == 0
