"""Fixtures of the label tests: small patches tables (no pixels) and reference layers."""

from __future__ import annotations

import pytest
from pyproj import Transformer

from s2lake.tables.schemas import PATCHES
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.labels.patch_rows import patch_table
from sedona_jobs.reference import write_synthetic
from sedona_jobs.synth.reference_layers import synth_clc

#: An area in Lower Austria, tile 33UUP (EPSG:32633), where a BigEarthNet patch lies.
ORIGIN_33 = (404_400.0, 5_342_400.0)


def grid(tile: str, epsg: int, ulx: float, uly: float, cols: int, rows: int) -> list[tuple]:
    return [
        (f"S2A_MSIL2A_20240601T100000_N0510_R022_T{tile}_{c}_{r}", tile, epsg, ulx + c * 1200, uly - r * 1200)
        for r in range(rows)
        for c in range(cols)
    ]


def patch_rows() -> list[tuple]:
    """A 6x6 grid in zone 33 and a 2x2 grid of zone 32 over it (other UTM zone, rotated in 3035)."""
    rows = grid("33UUP", 32633, *ORIGIN_33, 6, 6)
    x, y = Transformer.from_crs(32633, 32632, always_xy=True).transform(ORIGIN_33[0] + 1800, ORIGIN_33[1] - 1800)
    rows += grid("32UQU", 32632, round(x), round(y), 2, 2)
    return rows


def rows_bbox_3035(rows: list[tuple], margin: float = 3000) -> tuple[float, float, float, float]:
    xs, ys = [], []
    transformers = {epsg: Transformer.from_crs(epsg, 3035, always_xy=True) for epsg in {r[2] for r in rows}}
    for _, _, epsg, ulx, uly in rows:
        t = transformers[epsg]
        for px, py in ((ulx, uly), (ulx + 1200, uly - 1200), (ulx, uly - 1200), (ulx + 1200, uly)):
            x, y = t.transform(px, py)
            xs.append(x)
            ys.append(y)
    return (min(xs) - margin, min(ys) - margin, max(xs) + margin, max(ys) + margin)


def fill_warehouse(warehouse: Warehouse) -> Warehouse:
    """40 patches over two UTM zones and a CLC-like layer around them."""
    rows = patch_rows()
    TableStore(warehouse).overwrite(PATCHES, patch_table(rows))
    bbox = rows_bbox_3035(rows)
    write_synthetic(synth_clc(bbox, 400, seed=3), warehouse, "clc")
    return warehouse


@pytest.fixture
def labelled_warehouse(warehouse: Warehouse) -> Warehouse:
    return fill_warehouse(warehouse)


@pytest.fixture(scope="module")
def module_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """Like ``labelled_warehouse``, shared by a module's read-only tests (the joins run once)."""
    return fill_warehouse(Warehouse.at(tmp_path_factory.mktemp("labels") / "warehouse"))
