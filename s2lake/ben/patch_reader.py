"""Read BigEarthNet patch folders (12 single-band GeoTIFFs, v1 also a labels_metadata.json) into
``patches`` rows. Runs in the import's worker processes, one chunk of folders per call.

A patch lands with whatever can be read: a band file that is missing or does not decode gets a NULL
pixel list and a ``band_stats`` entry of shape 0 x 0 (so a size check ``height <> 120`` catches it
instead of a NULL comparison passing it), a band of the wrong size keeps its real shape. The checks
(wrong size, NO_DATA, not part of the dataset) are dbt's, after the import; what went wrong while
reading is returned as a problem line naming the file and said in the run's summary.

BigEarthNet's Sentinel-2 patches have no scene classification layer: ``scl`` and ``scene_classes`` are
NULL (the schema allows it) and ``band_stats`` holds the 12 bands only (SAFE-derived rows add SCL as a
13th entry); the v2 cloud and snow flags come from metadata.parquet instead.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import shapely

from s2lake.ben.geotiff_reader import Raster, read_geotiff
from s2lake.ben_names import BenV1Name, PatchId, V1TileSource, tile_by_origin
from s2lake.sentinel2 import BANDS, NODATA_DN
from s2lake.tables.schemas import PATCHES

#: ``tile`` of a v1 patch whose tile neither its metadata nor the tiling grid tells (a partition value).
UNKNOWN_TILE = "unknown"
_STATS_TYPE: pa.StructType = PATCHES.schema.field("band_stats").type.value_type
_GEO_BANDS = ("B02", "B03", "B04", "B08")  # 10 m bands: the footprint comes from the first one readable


@dataclass(frozen=True)
class PatchFolder:
    """A folder holding one patch's files, all named ``<name>_<suffix>``."""

    path: str
    name: str
    version: int  # 1 or 2


@dataclass
class ChunkResult:
    """What one worker call read: a ``patches`` batch, v1 metadata rows and the problems met."""

    batch: pa.RecordBatch | None
    v1_metadata: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def configure_worker() -> None:
    """GDAL settings of an import worker (for the files :mod:`s2lake.ben.geotiff_reader` leaves to GDAL): no
    directory listing per open (a v1 folder holds 13 files and GDAL would list it for side-car files on
    every band), one thread (the pool is the parallelism)."""
    os.environ["GDAL_DISABLE_READDIR_ON_OPEN"] = "EMPTY_DIR"
    os.environ["GDAL_NUM_THREADS"] = "1"


def _v1_metadata(folder: PatchFolder, problems: list[str]) -> dict | None:
    path = Path(folder.path) / f"{folder.name}_labels_metadata.json"
    if not path.exists():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise ValueError("the file holds no JSON object")
    except (OSError, ValueError) as exc:
        problems.append(f"{path}: unreadable labels_metadata.json ({exc}); the patch is imported without it")
        return None
    return {"path": str(path), **meta}


def acquisition_time(meta: dict | None) -> datetime | None:
    try:
        return datetime.strptime(str(meta["acquisition_date"]), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except (TypeError, KeyError, ValueError):
        return None


@dataclass(frozen=True)
class Identity:
    patch_id: str
    product_id: str
    tile: str
    row: int
    col: int
    sensing: datetime


def _identity(folder: PatchFolder, meta: dict | None, v1_to_v2: dict[str, str], geo: Raster | None) -> Identity:
    """Who the patch is: v2 folders say it in their name; a v1 name maps to its v2 id through
    metadata.parquet's ``s2v1_name``, else through its tile_source (tile and orbit), else it keeps its
    v1 name with the tile found from its corner in the tiling grid."""
    if folder.version == 2:
        pid = PatchId.require(folder.name, where=folder.path)
        return Identity(folder.name, pid.prefix(), pid.tile, pid.row, pid.col, pid.sensing)
    v1 = BenV1Name.parse(folder.name)
    assert v1 is not None  # discovery only yields folders whose names parse
    sensing = acquisition_time(meta) or v1.sensing
    mapped = PatchId.parse(v1_to_v2.get(folder.name, ""))
    if mapped is not None:
        return Identity(str(mapped), mapped.prefix(), mapped.tile, mapped.row, mapped.col, sensing)
    source = V1TileSource.parse(str((meta or {}).get("tile_source", "")))
    if source is not None:
        pid = v1.v2_id(source.tile, source.relative_orbit)
        return Identity(str(pid), pid.prefix(), pid.tile, pid.row, pid.col, sensing)
    tile = None
    if geo is not None and geo.epsg is not None:
        ulx, uly, _, _ = geo.bounds
        tile = tile_by_origin(geo.epsg, ulx, uly, v1.col, v1.row)
    return Identity(folder.name, v1.product, tile or UNKNOWN_TILE, v1.row, v1.col, sensing)


def read_chunk(folders: list[PatchFolder], v1_to_v2: dict[str, str]) -> ChunkResult:
    """Read ``folders`` into one ``patches`` record batch (rows in the order given)."""
    result = ChunkResult(batch=None)
    rows: list[tuple[Identity, int, tuple[float, float, float, float]]] = []
    bands: dict[str, list[np.ndarray | None]] = {b.name: [] for b in BANDS}
    for folder in folders:
        rasters: dict[str, Raster | None] = {}
        for spec in BANDS:
            path = Path(folder.path) / f"{folder.name}_{spec.name}.tif"
            raster = None
            try:
                raster = read_geotiff(path)
            except Exception as exc:  # any decoding failure: the patch still lands, this band empty
                reason = "missing" if not path.exists() else f"unreadable ({str(exc).splitlines()[0][:200]})"
                result.problems.append(f"{path}: band file {reason}; imported with NULL {spec.column}")
            rasters[spec.name] = raster
            bands[spec.name].append(raster.pixels if raster is not None else None)
        geo = next((rasters[b] for b in _GEO_BANDS if rasters[b] is not None), None)
        geo = geo or next((r for r in rasters.values() if r is not None), None)
        meta = _v1_metadata(folder, result.problems) if folder.version == 1 else None
        ident = _identity(folder, meta, v1_to_v2, geo)
        if meta is not None:
            result.v1_metadata.append({"patch_id": ident.patch_id, "v1_name": folder.name, "tile": ident.tile, **meta})
        bbox = geo.bounds if geo is not None else (np.nan,) * 4
        rows.append((ident, (geo.epsg if geo is not None else None) or 0, bbox))
    if rows:
        result.batch = _batch(rows, bands)
    return result


@dataclass
class _BandColumn:
    """One band of a chunk: the ``list<int32>`` pixel column and the band's statistics per patch."""

    pixels: pa.ListArray
    height: np.ndarray
    width: np.ndarray
    valid: np.ndarray  # pixels that are not NO_DATA
    low: np.ndarray  # min/max of the valid pixels (meaningless where valid == 0)
    high: np.ndarray
    total: np.ndarray
    total_sq: np.ndarray


def _band_column(arrays: list[np.ndarray | None]) -> _BandColumn:
    """Pixels and statistics of one band over a chunk's patches, each a reduction over one buffer (a
    few numpy calls per band and chunk instead of per patch). NO_DATA is 0, so it adds nothing to the
    sums; ``min`` masks it with the largest int64."""
    shapes = np.array([(0, 0) if a is None else a.shape for a in arrays], dtype=np.int64).reshape(-1, 2)
    lengths = shapes[:, 0] * shapes[:, 1]
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    present = [a.reshape(-1) for a in arrays if a is not None]
    wide = np.concatenate(present).astype(np.int64) if present else np.empty(0, np.int64)
    n = len(arrays)
    valid, low, high, total, total_sq = (np.zeros(n, np.int64) for _ in range(5))
    starts = offsets[:-1][lengths > 0]
    if starts.size:
        is_valid = wide != NODATA_DN
        has = lengths > 0
        valid[has] = np.add.reduceat(is_valid, starts, dtype=np.int64)
        total[has] = np.add.reduceat(wide, starts)
        total_sq[has] = np.add.reduceat(wide * wide, starts)
        high[has] = np.maximum.reduceat(wide, starts)
        low[has] = np.minimum.reduceat(np.where(is_valid, wide, np.iinfo(np.int64).max), starts)
    mask = pa.array([a is None for a in arrays])
    pixels = pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), pa.array(wide.astype(np.int32)), mask=mask)
    return _BandColumn(pixels, shapes[:, 0], shapes[:, 1], valid, low, high, total, total_sq)


def _band_stats(columns: list[_BandColumn]) -> pa.ListArray:
    """``band_stats``: per patch one entry per band, in :data:`BANDS` order, built column-wise."""

    def field(name: str) -> np.ndarray:  # (patches x bands) flattened patch-major, as the lists hold them
        return np.stack([getattr(c, name) for c in columns], axis=1).reshape(-1)

    n = len(columns[0].valid)
    valid = field("valid")
    none = valid == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = field("total") / valid  # exact sums below 2**53: the same double as numpy's mean
    entries = pa.StructArray.from_arrays(
        [
            pa.array(np.tile(np.array([b.name for b in BANDS]), n)),
            pa.array(field("height").astype(np.int32)),
            pa.array(field("width").astype(np.int32)),
            pa.array(field("low").astype(np.int32), mask=none),
            pa.array(field("high").astype(np.int32), mask=none),
            pa.array(mean, mask=none),
            pa.array(valid),
            pa.array(field("total")),
            pa.array(field("total_sq")),
        ],
        fields=list(_STATS_TYPE),
    )
    offsets = pa.array(np.arange(0, len(BANDS) * n + 1, len(BANDS), dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, entries, type=PATCHES.schema.field("band_stats").type)


def _batch(
    rows: list[tuple[Identity, int, tuple[float, float, float, float]]], bands: dict[str, list[np.ndarray | None]]
) -> pa.RecordBatch:
    columns = [_band_column(bands[b.name]) for b in BANDS]
    ulx, uly, lrx, lry = (np.array([r[2][i] for r in rows], dtype=np.float64) for i in range(4))
    # A patch without one readable band has no georeference: its footprint is an empty polygon.
    boxes = shapely.box(ulx, lry, lrx, uly)
    footprints = shapely.to_wkb(np.where(shapely.is_missing(boxes), shapely.Polygon(), boxes))
    ids = [r[0] for r in rows]
    pixels = sum((c.height * c.width for c in columns), np.zeros(len(rows), np.int64))
    nodata = pixels - sum((c.valid for c in columns), np.zeros(len(rows), np.int64))
    data = {
        "patch_id": pa.array([i.patch_id for i in ids]),
        "product_id": pa.array([i.product_id for i in ids]),
        "tile": pa.array([i.tile for i in ids]),
        "epsg": pa.array([r[1] for r in rows], pa.int32()),
        "row": pa.array([i.row for i in ids], pa.int32()),
        "col": pa.array([i.col for i in ids], pa.int32()),
        "ulx": pa.array(ulx),
        "uly": pa.array(uly),
        "lrx": pa.array(lrx),
        "lry": pa.array(lry),
        "footprint": pa.array(footprints, pa.binary()),
        "sensing_time": pa.array([i.sensing for i in ids], pa.timestamp("us", tz="UTC")),
        **{b.column: c.pixels for b, c in zip(BANDS, columns, strict=True)},
        "scl": pa.nulls(len(rows), PATCHES.schema.field("scl").type),
        "band_stats": _band_stats(columns),
        "scene_classes": pa.nulls(len(rows), PATCHES.schema.field("scene_classes").type),
        "has_nodata": pa.array(nodata > 0),
        "nodata_pixels": pa.array(nodata),
    }
    return pa.RecordBatch.from_pydict(data, schema=PATCHES.schema)
