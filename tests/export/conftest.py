"""Fixtures of the export tests: a warehouse of real SAFE-derived patches (the synthesiser's JPEG 2000
product cut by ``patches build``), labelled against a generated CLC layer and the shipped countries."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from s2lake.config.patches import PatchesSettings
from s2lake.tables.schemas import PATCHES
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.patches import build_products
from sedona_jobs.synth.l2a import write_l2a

#: 600 px at 10 m: 5 x 5 patches, 10 % of them touched by a NO_DATA swath.
PIXELS = 600


def patch_rows(warehouse: Warehouse) -> dict[str, dict]:
    """The patches table as patch_id -> row (pixels included)."""
    rows = TableStore(warehouse).read(PATCHES.name).to_pylist()
    return {row["patch_id"]: row for row in rows}


@pytest.fixture(scope="session")
def patched_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """Read-only: 25 patches of one synthesised product; no labels."""
    root = tmp_path_factory.mktemp("export")
    product = write_l2a(root / "products", pixels=PIXELS, nodata_fraction=0.1, seed=7, workers=1)
    warehouse = Warehouse.at(root / "warehouse")
    (outcome,) = build_products([product], warehouse, PatchesSettings(workers=1))
    assert outcome.status == "patched", outcome.reason
    return warehouse


@pytest.fixture(scope="session")
def labelled_warehouse(patched_warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """Read-only: a copy of ``patched_warehouse`` with a labels run over a generated CLC layer."""
    # lazy: sedona_jobs.labels loads numba (~1 s); only the labelled warehouse needs it
    from s2lake.shipped_data import SHIPPED_COUNTRIES
    from sedona_jobs.labels import build_labels
    from sedona_jobs.reference import load_reference, write_synthetic
    from sedona_jobs.synth.reference_layers import synth_clc
    from tests.labels.conftest import rows_bbox_3035

    warehouse = Warehouse.at(shutil.copytree(patched_warehouse.root, tmp_path_factory.mktemp("labelled") / "wh"))
    rows = [(r["patch_id"], r["tile"], r["epsg"], r["ulx"], r["uly"]) for r in patch_rows(warehouse).values()]
    write_synthetic(synth_clc(rows_bbox_3035(rows), 60, seed=5), warehouse, "clc")
    load_reference("countries", SHIPPED_COUNTRIES, warehouse)
    report = build_labels(warehouse)
    assert report.patches == len(rows)
    return warehouse


@pytest.fixture
def fresh_out(tmp_path: Path) -> Path:
    return tmp_path / "out"
