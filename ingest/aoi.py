"""Areas of interest: a GeoJSON or WKT file, a list of MGRS tiles, or a CSV of tiles.

Tiles and footprints are converted with the project's ESA tiling grid (:mod:`s2lake.tiling_grid`), so a
tile list searches exactly the tiles' footprints and an area can be reported as tiles.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from shapely import wkt as shapely_wkt
from shapely.geometry import shape
from shapely.ops import unary_union

from s2lake.errors import ConfigError
from s2lake.tiling_grid import TILE, tile_info


@dataclass(frozen=True)
class Aoi:
    geometry_wkt: str
    tiles: tuple[str, ...]


def _tile(text: str, where: str) -> str:
    match = TILE.match(text.strip().upper())
    if not match:
        raise ConfigError(f"`{text}` is not an MGRS tile id", where=where, fix="write tiles like 33UUP or T33UUP")
    return match[1]


def _tiles_footprint(tiles: tuple[str, ...]) -> str:
    """Union of the tiles' footprints from the ESA grid (unknown tiles raise a ConfigError there)."""
    return unary_union([tile_info(tile).footprint_lonlat for tile in tiles]).wkt


def load_aoi(spec: str) -> Aoi:
    """Read an AOI argument: a file (.geojson/.json, .wkt/.txt, .csv) or comma-separated tiles."""
    path = Path(spec)
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        suffix = path.suffix.lower()
        if suffix == ".csv":
            rows = list(csv.reader(text.splitlines()))
            cells = [r[0] for r in rows if r and r[0].strip()]
            if cells and not TILE.match(cells[0].strip().upper()):
                cells = cells[1:]  # header row
            tiles = tuple(_tile(c, str(path)) for c in cells)
            return Aoi(_tiles_footprint(tiles), tiles)
        try:
            if suffix in (".geojson", ".json"):
                data = json.loads(text)
                features = data.get("features") if data.get("type") == "FeatureCollection" else [data]
                geoms = [shape(f.get("geometry", f)) for f in features]
                return Aoi(unary_union(geoms).wkt, ())
            return Aoi(shapely_wkt.loads(text.strip()).wkt, ())
        except (ValueError, KeyError, AttributeError, TypeError) as exc:
            raise ConfigError(
                f"cannot read the area of interest: {exc}",
                where=str(path),
                fix="give a GeoJSON (geometry, Feature or FeatureCollection) or a WKT file in lon/lat",
            ) from None
    if spec.lower().endswith((".geojson", ".json", ".wkt", ".csv", ".txt")):
        raise ConfigError(f"AOI file {spec} does not exist", fix="check the path")
    tiles = tuple(_tile(t, "AOI argument") for t in spec.split(",") if t.strip())
    if not tiles:
        raise ConfigError("empty AOI", fix="give a GeoJSON/WKT/CSV file or tiles like 33UUP,33UVP")
    return Aoi(_tiles_footprint(tiles), tiles)
