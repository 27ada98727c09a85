"""Reading the samples of one shard file, the same dict from either format.

A sample is the shard row's metadata (``patch_id``, ``labels``, ``split``, ``footprint`` as WKB bytes,
``sensing_time`` as an aware datetime, ...) plus ``bands`` (band name -> 2-D uint16 array at its native
resolution, None where the patch lacks the band), ``scl`` (2-D uint8 or None), ``label_vector``
((19,) uint8) and ``thumbnail`` (PNG bytes or None).
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from s2lake.sentinel2 import ALL_LAYERS, BANDS, SCL
from s2lake.shards.layout import PIXEL_COLUMNS, ROW_GROUP_PATCHES

Sample = dict[str, object]


def _with_layers(meta: Sample, layers: dict[str, np.ndarray | None]) -> Sample:
    meta["bands"] = {band.name: layers.get(band.column) for band in BANDS}
    meta["scl"] = layers.get(SCL.column)
    meta["label_vector"] = np.asarray(meta["label_vector"], dtype=np.uint8)
    return meta


def _rows(column: pa.FixedSizeListArray) -> np.ndarray:
    """A fixed-size list column as one (rows, list size) array, a view of the Arrow buffer (no copy)."""
    size = column.type.list_size
    # .values, not .flatten(): flatten drops the slots of null bands and would shift every later patch
    values = column.values.slice(column.offset * size, len(column) * size)
    return values.to_numpy(zero_copy_only=False).reshape(-1, size)


def read_parquet(path: Path) -> Iterator[Sample]:
    """Row group by row group, column-wise: each band column becomes one (rows, side, side) numpy view of
    the Arrow buffer, each metadata column one Python list; a sample only picks its row out of them (per-row
    Arrow scalars cost more than decoding the row group)."""
    for batch in pq.ParquetFile(path).iter_batches(batch_size=ROW_GROUP_PATCHES):
        grids = []
        for band in ALL_LAYERS:
            column = batch.column(band.column)
            valid = column.is_valid().to_numpy(zero_copy_only=False) if column.null_count else None
            grids.append((band.column, _rows(column).reshape(-1, band.patch_pixels, band.patch_pixels), valid))
        vectors = _rows(batch.column("label_vector"))
        names = [name for name in batch.schema.names if name not in PIXEL_COLUMNS and name != "label_vector"]
        columns = [batch.column(name).to_pylist() for name in names]
        for i in range(batch.num_rows):
            sample: Sample = {name: values[i] for name, values in zip(names, columns, strict=True)}
            sample["label_vector"] = vectors[i]
            yield _with_layers(
                sample, {name: grid[i] if valid is None or valid[i] else None for name, grid, valid in grids}
            )


def read_webdataset(path: Path) -> Iterator[Sample]:
    """Members of one key are consecutive (as the writer and webdataset's own tools keep them)."""
    key, parts = None, {}
    with tarfile.open(path, mode="r|") as tar:
        for member in tar:
            name = member.name
            sample_key, _, field = name.partition(".")
            if key is not None and sample_key != key:
                yield _from_members(parts)
                parts = {}
            key = sample_key
            parts[field] = tar.extractfile(member).read()
    if parts:
        yield _from_members(parts)


def _from_members(parts: dict[str, bytes]) -> Sample:
    meta = json.loads(parts["json"])
    meta["footprint"] = bytes.fromhex(meta["footprint"])
    if meta["sensing_time"] is not None:
        meta["sensing_time"] = datetime.fromisoformat(meta["sensing_time"])
    meta["thumbnail"] = parts.get("png")
    layers = {
        name: np.load(io.BytesIO(parts[f"{name}.npy"]), allow_pickle=False) if f"{name}.npy" in parts else None
        for name in PIXEL_COLUMNS
    }
    return _with_layers(meta, layers)


READERS = {"parquet": read_parquet, "webdataset": read_webdataset}
