"""Minimal ``patches`` rows (ids, CRS, footprint; no pixels) for tests, the bench and the demo step.

The label joins read only patch_id, tile, epsg and footprint, so a patches table with empty pixel
columns is enough to exercise them; the rows are cast to the real PATCHES schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pyarrow as pa
import shapely

from s2lake.sentinel2 import PATCH_SIZE_M
from s2lake.tables.schemas import PATCHES


def patch_table(rows: Sequence[tuple[str, str, int, float, float]]) -> pa.Table:
    """``rows`` of (patch_id, tile, epsg, ulx, uly) → a PATCHES-schema table of 1200 m squares."""

    n = len(rows)
    ulx = [r[3] for r in rows]
    uly = [r[4] for r in rows]
    boxes = shapely.box(ulx, [y - PATCH_SIZE_M for y in uly], [x + PATCH_SIZE_M for x in ulx], uly)
    data = {name: pa.nulls(n, PATCHES.schema.field(name).type) for name in PATCHES.schema.names}
    data.update(
        patch_id=pa.array([r[0] for r in rows], pa.string()),
        product_id=pa.array([f"synthetic_{r[1]}" for r in rows], pa.string()),
        tile=pa.array([r[1] for r in rows], pa.string()),
        epsg=pa.array([r[2] for r in rows], pa.int32()),
        row=pa.array([0] * n, pa.int32()),
        col=pa.array([0] * n, pa.int32()),
        ulx=pa.array(ulx, pa.float64()),
        uly=pa.array(uly, pa.float64()),
        lrx=pa.array([x + PATCH_SIZE_M for x in ulx], pa.float64()),
        lry=pa.array([y - PATCH_SIZE_M for y in uly], pa.float64()),
        footprint=pa.array(shapely.to_wkb(boxes), pa.binary()),
        sensing_time=pa.array([datetime(2024, 6, 1, tzinfo=UTC)] * n, pa.timestamp("us", tz="UTC")),
        has_nodata=pa.array([False] * n),
    )
    return pa.table(data, schema=PATCHES.schema)
