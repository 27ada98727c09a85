"""The ESA Sentinel-2 tiling grid (MGRS tiles): tile -> UTM zone and origin, area -> tiles.

The grid ships with the package (``s2lake/data/s2_tiling_grid.parquet``, built from ESA's tiling
grid KML by ``s2lake/data/build_tiling_grid.py``) so that synthesis, patch cutting and AOI searches
work offline and never depend on test data. It is loaded once per process; footprints are only
parsed (and indexed) when an area is searched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import shapely

from s2lake.errors import ConfigError

GRID_FILE = Path(__file__).with_name("data") / "s2_tiling_grid.parquet"
TILE = re.compile(r"^T?(\d{2}[C-X][A-Z]{2})$")


@dataclass(frozen=True)
class TileInfo:
    tile: str  # "33UUU" (no leading T)
    epsg: int  # UTM zone of the tile: 326xx north, 327xx south
    ulx: float  # upper-left corner of the 109.8 km tile in that zone (metres)
    uly: float
    footprint_lonlat: shapely.MultiPolygon  # EPSG:4326, split at the antimeridian


@dataclass(frozen=True)
class _Grid:
    tiles: np.ndarray
    index: dict[str, int]
    epsg: np.ndarray
    ulx: np.ndarray
    uly: np.ndarray
    footprints_wkb: np.ndarray


@cache
def _grid() -> _Grid:
    # ParquetFile.read and to_pylist avoid pyarrow.dataset and pandas: a second less at start-up.
    table = pq.ParquetFile(GRID_FILE).read()
    tiles = np.array(table["tile"].to_pylist())
    return _Grid(
        tiles=tiles,
        index={t: i for i, t in enumerate(tiles)},
        epsg=np.array(table["epsg"].to_pylist()),
        ulx=np.array(table["ulx"].to_pylist()),
        uly=np.array(table["uly"].to_pylist()),
        footprints_wkb=np.array(table["footprint_lonlat"].to_pylist(), dtype=object),
    )


@cache
def _footprint_index() -> tuple[np.ndarray, shapely.STRtree]:
    """Parsed footprints and their R-tree, built only when an area is searched (it takes a second)."""
    footprints = shapely.from_wkb(_grid().footprints_wkb)
    return footprints, shapely.STRtree(footprints)


def normalise_tile(tile: str) -> str:
    """``"t33uuu"`` / ``"T33UUU"`` -> ``"33UUU"``; raise :class:`ConfigError` for a malformed name."""
    match = TILE.match(tile.strip().upper())
    if match is None:
        raise ConfigError(
            f"{tile!r} is not an MGRS tile name",
            where="tile",
            fix="give five characters: UTM zone (2 digits), latitude band and 100 km square, e.g. 33UUU",
        )
    return match.group(1)


def tile_info(tile: str) -> TileInfo:
    """Grid facts of one tile; raise :class:`ConfigError` when the grid has no such tile."""
    name = normalise_tile(tile)
    grid = _grid()
    i = grid.index.get(name)
    if i is None:
        raise ConfigError(
            f"tile {name} is not in the Sentinel-2 tiling grid",
            where=str(GRID_FILE.name),
            fix="check the tile name: the grid has latitude bands C to X (80°S to 84°N) and the 100 km "
            "squares of each UTM zone",
        )

    footprint = shapely.from_wkb(grid.footprints_wkb[i])
    return TileInfo(name, int(grid.epsg[i]), float(grid.ulx[i]), float(grid.uly[i]), footprint)


def tile_with_origin(epsg: int, ulx: float, uly: float) -> str | None:
    """The one tile of zone ``epsg`` whose origin is (``ulx``, ``uly``) to half a metre, else None."""
    grid = _grid()
    hits = grid.tiles[(grid.epsg == epsg) & (np.abs(grid.ulx - ulx) < 0.5) & (np.abs(grid.uly - uly) < 0.5)]
    return str(hits[0]) if len(hits) == 1 else None


def tiles_intersecting(geometry_lonlat: shapely.Geometry) -> list[str]:
    """Names of the tiles whose footprint intersects a lon/lat geometry (EPSG:4326), sorted.

    Neighbouring tiles overlap by about 10 km, so a point near a tile edge is in several tiles.
    """
    _, tree = _footprint_index()
    hits = tree.query(geometry_lonlat, predicate="intersects")
    return sorted(str(t) for t in _grid().tiles[hits])
