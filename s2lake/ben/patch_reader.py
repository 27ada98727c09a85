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
class Band:
    pixels: np.ndarray | None  # flat, row-major, uint16 values as int64
    height: int
    width: int
    epsg: int | None = None
    bounds: tuple[float, float, float, float] | None = None  # ulx, uly, lrx, lry


@dataclass
class ChunkResult:
    """What one worker call read: a ``patches`` batch, v1 metadata rows and the problems met."""

    batch: pa.RecordBatch | None
    v1_metadata: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def configure_worker() -> None:
    """GDAL settings of an import worker: no directory listing per open (a v1 folder holds 13 files and
    GDAL would list it for side-car files on every band), one thread (the pool is the parallelism)."""
    os.environ["GDAL_DISABLE_READDIR_ON_OPEN"] = "EMPTY_DIR"
    os.environ["GDAL_NUM_THREADS"] = "1"


def _read_band(path: Path) -> Band:
    import rasterio

    with rasterio.open(path, driver="GTiff") as src:  # no probing of the other drivers
        pixels = src.read(1).astype(np.int64).reshape(-1)
        t = src.transform
        bounds = (t.c, t.f, t.c + t.a * src.width, t.f + t.e * src.height)
        return Band(pixels, src.height, src.width, src.crs.to_epsg() if src.crs else None, bounds)


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


def _identity(folder: PatchFolder, meta: dict | None, v1_to_v2: dict[str, str], geo: Band | None) -> Identity:
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
    if geo is not None and geo.epsg is not None and geo.bounds is not None:
        tile = tile_by_origin(geo.epsg, geo.bounds[0], geo.bounds[1], v1.col, v1.row)
    return Identity(folder.name, v1.product, tile or UNKNOWN_TILE, v1.row, v1.col, sensing)


def _stats(bands: list[Band]) -> tuple[list[dict], int]:
    """``band_stats`` entries (valid = not NO_DATA) and the patch's NO_DATA pixel count."""
    entries, nodata = [], 0
    for spec, band in zip(BANDS, bands, strict=True):
        entry = {"band": spec.name, "height": band.height, "width": band.width}
        px = band.pixels
        valid = px[px != NODATA_DN] if px is not None else np.empty(0, np.int64)
        if px is not None:
            nodata += px.size - valid.size
        if valid.size:
            entry |= {"min": int(valid.min()), "max": int(valid.max()), "mean": float(valid.mean())}
        else:
            entry |= {"min": None, "max": None, "mean": None}
        entry |= {"valid_count": int(valid.size), "sum": int(valid.sum()), "sum_sq": int(np.dot(valid, valid))}
        entries.append(entry)
    return entries, nodata


def _pixel_column(columns: list[np.ndarray | None]) -> pa.ListArray:
    """One ``list<int32>`` column from per-patch flat arrays (None -> NULL), built from one buffer."""
    lengths = np.array([0 if c is None else c.size for c in columns], dtype=np.int32)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    present = [c for c in columns if c is not None]
    values = pa.array(np.concatenate(present).astype(np.int32) if present else np.empty(0, np.int32))
    mask = pa.array([c is None for c in columns])
    return pa.ListArray.from_arrays(offsets, values, mask=mask)


def read_chunk(folders: list[PatchFolder], v1_to_v2: dict[str, str]) -> ChunkResult:
    """Read ``folders`` into one ``patches`` record batch (rows in the order given)."""
    import rasterio

    with rasterio.Env():  # one GDAL environment for the chunk, not one set up and torn down per file
        return _read_chunk(folders, v1_to_v2)


def _read_chunk(folders: list[PatchFolder], v1_to_v2: dict[str, str]) -> ChunkResult:
    result = ChunkResult(batch=None)
    rows: list[dict] = []
    pixels: dict[str, list[np.ndarray | None]] = {b.column: [] for b in BANDS}
    for folder in folders:
        bands = []
        for spec in BANDS:
            path = Path(folder.path) / f"{folder.name}_{spec.name}.tif"
            try:
                bands.append(_read_band(path))
            except Exception as exc:  # any decoding failure: the patch still lands, this band empty
                reason = "missing" if not path.exists() else f"unreadable ({str(exc).splitlines()[0][:200]})"
                result.problems.append(f"{path}: band file {reason}; imported with NULL {spec.column}")
                bands.append(Band(None, 0, 0))
        geo = next((b for s, b in zip(BANDS, bands, strict=True) if s.name in _GEO_BANDS and b.bounds), None)
        geo = geo or next((b for b in bands if b.bounds), None)
        meta = _v1_metadata(folder, result.problems) if folder.version == 1 else None
        ident = _identity(folder, meta, v1_to_v2, geo)
        if meta is not None:
            result.v1_metadata.append({"patch_id": ident.patch_id, "v1_name": folder.name, "tile": ident.tile, **meta})
        stats, nodata = _stats(bands)
        ulx, uly, lrx, lry = geo.bounds if geo is not None else (np.nan,) * 4
        rows.append(
            {
                "ident": ident,
                "epsg": (geo.epsg if geo is not None else None) or 0,
                "bbox": (ulx, uly, lrx, lry),
                "band_stats": stats,
                "nodata": nodata,
            }
        )
        for spec, band in zip(BANDS, bands, strict=True):
            pixels[spec.column].append(band.pixels)
    if rows:
        result.batch = _batch(rows, pixels)
    return result


def _batch(rows: list[dict], pixels: dict[str, list[np.ndarray | None]]) -> pa.RecordBatch:
    import shapely

    ulx, uly, lrx, lry = (np.array([r["bbox"][i] for r in rows], dtype=np.float64) for i in range(4))
    # A patch without one readable band has no georeference: its footprint is an empty polygon.
    boxes = shapely.box(ulx, lry, lrx, uly)
    footprints = shapely.to_wkb(np.where(shapely.is_missing(boxes), shapely.Polygon(), boxes))
    ids = [r["ident"] for r in rows]
    nodata = np.array([r["nodata"] for r in rows], dtype=np.int64)
    columns = {
        "patch_id": pa.array([i.patch_id for i in ids]),
        "product_id": pa.array([i.product_id for i in ids]),
        "tile": pa.array([i.tile for i in ids]),
        "epsg": pa.array([r["epsg"] for r in rows], pa.int32()),
        "row": pa.array([i.row for i in ids], pa.int32()),
        "col": pa.array([i.col for i in ids], pa.int32()),
        "ulx": pa.array(ulx),
        "uly": pa.array(uly),
        "lrx": pa.array(lrx),
        "lry": pa.array(lry),
        "footprint": pa.array(footprints, pa.binary()),
        "sensing_time": pa.array([i.sensing for i in ids], pa.timestamp("us", tz="UTC")),
        **{column: _pixel_column(values) for column, values in pixels.items()},
        "scl": pa.nulls(len(rows), PATCHES.schema.field("scl").type),
        "band_stats": pa.array([r["band_stats"] for r in rows], PATCHES.schema.field("band_stats").type),
        "scene_classes": pa.nulls(len(rows), PATCHES.schema.field("scene_classes").type),
        "has_nodata": pa.array(nodata > 0),
        "nodata_pixels": pa.array(nodata),
    }
    return pa.RecordBatch.from_pydict(columns, schema=PATCHES.schema)
