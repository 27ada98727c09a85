"""Arrow record batches in the ``patches`` schema, one per patch row (91 patches, ~30 MB at full size).

Columns are built from whole numpy arrays (pixel lists are an offsets array over one flat values
buffer), so the only Python loop is over patches for the id strings and scene-class names.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from s2lake.ben_names import PatchId
from s2lake.sentinel2 import ALL_LAYERS, BANDS, SCL_CLASSES
from s2lake.tables.schemas import PATCHES
from sedona_jobs.patches.patch_grid import PatchGrid
from sedona_jobs.patches.strips import LayerStrip

if TYPE_CHECKING:
    from sedona_jobs.safe import L2AProduct

_STATS_TYPE: pa.StructType = PATCHES.schema.field("band_stats").type.value_type


def id_prefix(product: L2AProduct) -> str:
    """Product part of the patch ids (``S2A_MSIL2A_<datatake>_N<baseline>_R<orbit>_T<tile>``)."""
    return PatchId(
        product.mission, product.datatake, product.processing_baseline, product.relative_orbit, product.tile, 0, 0
    ).prefix()


def _pixel_lists(pixels: np.ndarray, value_type: pa.DataType) -> pa.ListArray:
    """Zero-copy: the strip's int32 (bands) / uint8 (SCL, classes < 128) pixels are viewed as the column's type,
    so the list array wraps the strip's memory (which may be shared memory a worker decoded into)."""
    n, size = pixels.shape
    offsets = pa.array(np.arange(n + 1, dtype=np.int32) * size)
    values = pa.array(pixels.reshape(-1).view(value_type.to_pandas_dtype()), type=value_type)
    return pa.ListArray.from_arrays(offsets, values)


def _band_stats(layers: dict[str, LayerStrip], sl: slice) -> pa.ListArray:
    """``list<struct>`` of 13 entries per patch (12 bands then SCL), built as one flat struct array."""
    order = ALL_LAYERS
    n = sl.stop - sl.start
    per = len(order)

    def stack(attr: str) -> np.ndarray:
        return np.stack([getattr(layers[b.name].stats, attr)[sl] for b in order], axis=1).reshape(-1)

    valid = stack("valid")
    empty = valid == 0
    total = stack("sum")
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / np.where(empty, 1, valid)
    sizes = np.tile(np.array([b.patch_pixels for b in order], dtype=np.int32), n)
    struct = pa.StructArray.from_arrays(
        [
            pa.array(np.tile(np.array([b.name for b in order]), n)),
            pa.array(sizes),
            pa.array(sizes),
            pa.array(stack("min"), mask=empty),
            pa.array(stack("max"), mask=empty),
            pa.array(mean, mask=empty),
            pa.array(valid),
            pa.array(total),
            pa.array(stack("sum_sq")),
        ],
        fields=list(_STATS_TYPE),
    )
    return pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32) * per), struct)


def _scene_classes(classes: np.ndarray) -> pa.ListArray:
    names = [SCL_CLASSES[c] for c in range(classes.shape[1])]
    return pa.array([sorted(names[c] for c in np.flatnonzero(row)) for row in classes], type=pa.list_(pa.string()))


def strip_batches(
    product: L2AProduct, grid: PatchGrid, r0: int, r1: int, layers: dict[str, LayerStrip], drop_nodata: bool
) -> Iterator[pa.RecordBatch]:
    """The patches of strip ``[r0, r1)``, one record batch per patch row."""
    prefix = id_prefix(product)
    cols = np.arange(grid.cols, dtype=np.int32)
    for i, row in enumerate(range(r0, r1)):
        sl = slice(i * grid.cols, (i + 1) * grid.cols)
        rows = np.full(grid.cols, row, dtype=np.int32)
        ulx, uly, lrx, lry = grid.bbox(rows, cols)
        nodata = sum((layers[b.name].pixels.shape[1] - layers[b.name].stats.valid[sl]) for b in ALL_LAYERS)
        columns = {
            "patch_id": pa.array([f"{prefix}_{c:02d}_{row:02d}" for c in range(grid.cols)]),
            "product_id": pa.array([product.product_id] * grid.cols),
            "tile": pa.array([product.tile] * grid.cols),
            "epsg": pa.array(np.full(grid.cols, product.epsg, dtype=np.int32)),
            "row": pa.array(rows),
            "col": pa.array(cols),
            "ulx": pa.array(ulx),
            "uly": pa.array(uly),
            "lrx": pa.array(lrx),
            "lry": pa.array(lry),
            "footprint": pa.array(grid.footprints_wkb(rows, cols), type=pa.binary()),
            "sensing_time": pa.array([product.sensing_start] * grid.cols, type=pa.timestamp("us", tz="UTC")),
            **{b.column: _pixel_lists(layers[b.name].pixels[sl], pa.int32()) for b in BANDS},
            "scl": _pixel_lists(layers["SCL"].pixels[sl], pa.int8()),
            "band_stats": _band_stats(layers, sl),
            "scene_classes": _scene_classes(layers["SCL"].stats.classes[sl]),
            "has_nodata": pa.array(nodata > 0),
            "nodata_pixels": pa.array(nodata.astype(np.int64)),
        }
        batch = pa.RecordBatch.from_pydict(columns, schema=PATCHES.schema)
        if drop_nodata:
            batch = batch.filter(pa.array(nodata == 0))
        if batch.num_rows:
            yield batch
