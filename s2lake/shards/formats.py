"""Writing one shard's rows (a table in :func:`~s2lake.shards.layout.parquet_schema`) as a file.

Both writers produce bytes that depend on the rows alone: Parquet with fixed ZSTD level and row groups
of :data:`~s2lake.shards.layout.ROW_GROUP_PATCHES` (pyarrow writes no timestamp into the footer), tar
members with mtime 0, owner 0/0, no user or group names, mode 0644, in a fixed order.

WebDataset samples follow its naming convention ``<key>.<field>.<ext>``: the key is the patch id (it
has no dots), then ``<key>.b01.npy`` ... ``<key>.b12.npy`` and ``<key>.scl.npy`` (2-D arrays at the
band's native resolution; a band the patch lacks has no member), ``<key>.json`` (every metadata column;
the footprint as hex WKB) and ``<key>.png`` (the thumbnail).
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from s2lake.sentinel2 import ALL_LAYERS
from s2lake.shards.layout import PIXEL_COLUMNS, ROW_GROUP_PATCHES

#: ZSTD level of Parquet shards (fixed: the same rows give the same bytes). Pixel columns keep Parquet's
#: dictionary encoding: BYTE_STREAM_SPLIT wrote 1.6x faster here, but DuckDB 1.5 cannot read it on integers.
ZSTD_LEVEL = 3

#: Called with the number of patches written so far in this shard.
RowsWritten = Callable[[int], None]


def write_parquet(rows: pa.Table, path: Path, written: RowsWritten) -> None:
    with pq.ParquetWriter(
        path, rows.schema, compression="zstd", compression_level=ZSTD_LEVEL, write_statistics=["patch_id"]
    ) as writer:
        for start in range(0, rows.num_rows, ROW_GROUP_PATCHES):
            writer.write_table(rows.slice(start, ROW_GROUP_PATCHES), row_group_size=ROW_GROUP_PATCHES)
            written(min(start + ROW_GROUP_PATCHES, rows.num_rows))


def _member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def sample_json(row: dict[str, object]) -> bytes:
    """The ``.json`` member: metadata columns, sorted keys, times in ISO 8601, the footprint as hex WKB."""
    meta = {k: v for k, v in row.items() if k not in PIXEL_COLUMNS and k != "thumbnail"}
    meta["footprint"] = meta["footprint"].hex()
    meta["sensing_time"] = meta["sensing_time"].isoformat() if meta["sensing_time"] is not None else None
    return json.dumps(meta, sort_keys=True, ensure_ascii=False).encode()


def write_webdataset(rows: pa.Table, path: Path, written: RowsWritten) -> None:
    pixels = {
        band.column: (
            rows.column(band.column).combine_chunks(),
            band.patch_pixels,
        )
        for band in ALL_LAYERS
    }
    grids = {
        name: column.flatten().to_numpy(zero_copy_only=False).reshape(-1, side, side)
        if column.null_count == 0
        else None
        for name, (column, side) in pixels.items()
    }
    meta = rows.drop_columns(list(PIXEL_COLUMNS)).to_pylist()
    with path.open("wb") as sink, tarfile.open(fileobj=sink, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for i, row in enumerate(meta):
            key = row["patch_id"]
            for name, (column, side) in pixels.items():
                if not column[i].is_valid:
                    continue
                grid = grids[name][i] if grids[name] is not None else column[i].values.to_numpy().reshape(side, side)
                _member(tar, f"{key}.{name}.npy", _npy(grid))
            _member(tar, f"{key}.json", sample_json(row))
            if row["thumbnail"] is not None:
                _member(tar, f"{key}.png", row["thumbnail"])
            if (i + 1) % ROW_GROUP_PATCHES == 0 or i + 1 == len(meta):
                written(i + 1)


WRITERS: dict[str, Callable[[pa.Table, Path, RowsWritten], None]] = {
    "parquet": write_parquet,
    "webdataset": write_webdataset,
}
