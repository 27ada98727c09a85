"""The files of a chunk of patches: 12 band GeoTIFFs each (and a reference map where there is one).

This is the export's hot loop (549,488 BigEarthNet patches are 6.6 million files), so it runs in worker
processes (:func:`start_worker`, :func:`write_ipc_chunk`) and does per chunk what can be done per chunk:
one GDAL environment, the pixels of a band checked and converted for all the chunk's patches at once
(one ``min``/``max`` and one ``astype`` over the flattened Arrow list, then views per patch), and one
path check per patch folder rather than per file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from s2lake.errors import ExportError
from s2lake.sentinel2 import BANDS, SATURATED_DN, Band
from sedona_jobs.export.ben_layout import band_files, reference_map_file
from sedona_jobs.export.geotiff import patch_transform, write_raster, writer_env
from sedona_jobs.export.reference_maps import RESOLUTION_M, ReferenceMaps

#: What a worker process writes to, set once by :func:`start_worker` (the pool's initializer).
_worker: tuple[Path, ReferenceMaps | None] | None = None


def to_ipc(batch: pa.RecordBatch) -> pa.Buffer:
    """A chunk as an Arrow IPC stream for a worker process: the IPC writer copies only the slice's rows,
    where pickling a slice of a record batch may carry the whole batch's buffers."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue()


def start_worker(root: Path, maps: ReferenceMaps | None) -> None:
    global _worker
    _worker = (root, maps)


def write_ipc_chunk(data: pa.Buffer) -> tuple[int, int]:
    """:func:`write_chunk` in a worker process started with :func:`start_worker`."""
    assert _worker is not None, "start_worker runs first (the pool's initializer)"
    return write_chunk(pa.ipc.open_stream(data).read_all(), *_worker)


def write_chunk(chunk: pa.Table, root: Path, maps: ReferenceMaps | None) -> tuple[int, int]:
    """Write the GeoTIFFs (and reference maps) of a few patches; returns (patches, reference maps) written."""
    ids = chunk.column("patch_id").to_pylist()
    tiles, epsgs = chunk.column("tile").to_pylist(), chunk.column("epsg").to_pylist()
    ulxs, ulys, lrxs = (chunk.column(c).to_pylist() for c in ("ulx", "uly", "lrx"))
    grids = {band.name: _band_grids(chunk.column(band.column), ids, band) for band in BANDS}
    mapped = 0
    with writer_env():
        for i, patch_id in enumerate(ids):
            files = band_files(root, patch_id)
            next(iter(files.values())).parent.mkdir(parents=True, exist_ok=True)
            epsg, ulx, uly = epsgs[i], ulxs[i], ulys[i]
            for band in BANDS:
                grid = grids[band.name][i]
                transform = patch_transform(ulx, uly, (lrxs[i] - ulx) / grid.shape[0])
                write_raster(files[band.name], grid, epsg, transform, band.name)
            if maps is not None:
                codes = maps.rasterise(patch_id, tiles[i], epsg, ulx, uly)
                if codes is not None:
                    path = reference_map_file(root, patch_id)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    write_raster(path, codes, epsg, patch_transform(ulx, uly, RESOLUTION_M), "CLC code")
                    mapped += 1
    return len(ids), mapped


def _band_grids(column: pa.ChunkedArray, ids: list[str], band: Band) -> list[np.ndarray]:
    """The band of every patch in the chunk as a square uint16 grid, or :class:`ExportError` naming the patch."""
    values = column.combine_chunks()
    lengths = pc.fill_null(pc.list_value_length(values), 0).to_numpy()
    empty = np.flatnonzero(lengths == 0)
    if empty.size:
        raise ExportError(
            f"patch {ids[empty[0]]} has no {band.name} pixels",
            where="patches",
            fix='export only patches with pixels (e.g. --where "b02 IS NOT NULL") or rebuild them',
        )
    flat = pc.list_flatten(values)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    if flat.null_count:
        first = int(np.flatnonzero(flat.is_null().to_numpy(zero_copy_only=False))[0])
        _refuse_values(ids, starts, first, band, "null pixels")
    pixels = flat.to_numpy()
    outside = (pixels < 0) | (pixels > SATURATED_DN)
    if outside.any():
        _refuse_values(ids, starts, int(np.argmax(outside)), band, f"values outside 0..{SATURATED_DN}")
    pixels = pixels.astype(np.uint16)
    grids = []
    for i, count in enumerate(lengths):
        side = band.patch_pixels
        if count != side * side:
            side = round(float(count) ** 0.5)  # an imported wrong-size band: kept as stored
            if side * side != count:
                raise ExportError(
                    f"patch {ids[i]} band {band.name} has {count} pixels, not a square",
                    where="patches",
                    fix="leave the patch out with --where",
                )
        grids.append(pixels[starts[i] : starts[i + 1]].reshape(side, side))
    return grids


def _refuse_values(ids: list[str], starts: np.ndarray, index: int, band: Band, what: str) -> None:
    patch_id = ids[int(np.searchsorted(starts, index, side="right")) - 1]
    raise ExportError(
        f"patch {patch_id} band {band.name} has {what}, which a uint16 GeoTIFF cannot hold",
        where="patches",
        fix="leave the patch out with --where or rebuild it from its product",
    )
