"""The map: patch squares over the shipped country layer, in an equirectangular projection around the patches.

Projected by hand (lon scaled by cos of the mean latitude) because the page only needs relative positions
over a few degrees; pyproj turns each tile CRS into lon/lat once per EPSG code. Above :data:`MAP_PATCH_LIMIT`
patches the squares are aggregated into grid cells coloured by their most common value, so the file stays
around a megabyte whatever the warehouse holds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from pyproj import Transformer

from s2lake.shipped_data import SHIPPED_COUNTRIES

MAP_WIDTH, MAP_HEIGHT = 720, 480
MAP_PATCH_LIMIT = 5000
SPLIT_COLOURS = {"train": "#1b9e77", "validation": "#7570b3", "test": "#d95f02", "not in dataset": "#bbbbbb"}


def lonlat_centres(bounds: pa.Table) -> tuple[np.ndarray, np.ndarray, float]:
    """Centres of patches (columns epsg, ulx, uly, lrx, lry) in lon/lat, and the largest edge in degrees."""
    lon = np.empty(bounds.num_rows)
    lat = np.empty(bounds.num_rows)
    cx = ((bounds["ulx"].to_numpy() + bounds["lrx"].to_numpy()) / 2).astype(float)
    cy = ((bounds["uly"].to_numpy() + bounds["lry"].to_numpy()) / 2).astype(float)
    epsg = bounds["epsg"].to_numpy()
    for code in np.unique(epsg):
        rows = epsg == code
        lon[rows], lat[rows] = Transformer.from_crs(int(code), 4326, always_xy=True).transform(cx[rows], cy[rows])
    edge = float(np.max(bounds["lrx"].to_numpy() - bounds["ulx"].to_numpy())) / 111_320.0
    return lon, lat, edge


@dataclass
class MapFrame:
    """Lon/lat to px: x = (lon·cos φ0 - x0)·scale, y = (lat_top - lat)·scale."""

    cos_lat: float
    x0: float
    lat_top: float
    scale: float
    width: int = MAP_WIDTH
    height: int = MAP_HEIGHT

    @classmethod
    def around(cls, lon: np.ndarray, lat: np.ndarray, edge_deg: float, margin_deg: float = 0.0) -> MapFrame:
        """The frame centred on the points, all of them (and ``margin_deg`` around) inside the box."""
        cos_lat = math.cos(math.radians(float(np.mean(lat))))
        x = lon * cos_lat
        span = max(float(x.max() - x.min()), float(lat.max() - lat.min()), edge_deg) * 1.05 + 2 * margin_deg
        scale = min(MAP_WIDTH, MAP_HEIGHT) / span
        x0 = (float(x.max()) + float(x.min())) / 2 - MAP_WIDTH / 2 / scale
        lat_top = (float(lat.max()) + float(lat.min())) / 2 + MAP_HEIGHT / 2 / scale
        return cls(cos_lat, x0, lat_top, scale)

    def px(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (lon * self.cos_lat - self.x0) * self.scale, (self.lat_top - lat) * self.scale

    def lonlat_box(self) -> tuple[float, float, float, float]:
        west = self.x0 / self.cos_lat
        east = (self.x0 + self.width / self.scale) / self.cos_lat
        return west, self.lat_top - self.height / self.scale, east, self.lat_top


@dataclass
class CountryShape:
    name: str
    path: str  # SVG path data in px


def country_shapes(frame: MapFrame) -> list[CountryShape]:
    """The shipped countries clipped to the frame, in px, simplified to half a pixel."""
    box = shapely.box(*frame.lonlat_box())
    shapes = []
    for feature in json.loads(SHIPPED_COUNTRIES.read_text(encoding="utf-8"))["features"]:
        geometry = shapely.geometry.shape(feature["geometry"])
        if not geometry.intersects(box):
            continue
        clipped = shapely.clip_by_rect(geometry, *box.bounds)
        in_px = shapely.transform(clipped, lambda c: np.column_stack(frame.px(c[:, 0], c[:, 1])))
        path = _svg_path(in_px.simplify(0.5))
        if path:
            shapes.append(CountryShape(feature["properties"]["NAME"], path))
    return shapes


def _svg_path(geometry: shapely.Geometry) -> str:
    rings = []
    for polygon in getattr(geometry, "geoms", [geometry]):
        if polygon.is_empty or polygon.geom_type != "Polygon":
            continue
        for ring in (polygon.exterior, *polygon.interiors):
            points = " ".join(f"{x:.1f},{y:.1f}" for x, y in ring.coords[:-1])
            rings.append(f"M{points}Z")
    return "".join(rings)


@dataclass
class MapCell:
    """One square on the map: a patch, or (aggregated) the patches of a grid cell."""

    x: float
    y: float
    size: float
    classes: str  # one CSS class per colouring, e.g. "s0 l3 c1"
    title: str


def map_cells(
    frame: MapFrame,
    lon: np.ndarray,
    lat: np.ndarray,
    edge_deg: float,
    ids: Sequence[str],
    colourings: dict[str, list[int]],
) -> tuple[list[MapCell], float]:
    """The squares to draw and the cell edge in px (0 when every patch is drawn itself).

    ``colourings`` maps a CSS class prefix to each patch's category index; an aggregated cell takes the most
    common category per colouring (ties to the lower index, the more frequent category overall).
    """
    x, y = frame.px(lon, lat)
    size = max(edge_deg * frame.scale, 2.0)
    if len(ids) <= MAP_PATCH_LIMIT:
        return [
            MapCell(
                x[i] - size / 2,
                y[i] - size / 2,
                size,
                " ".join(f"{prefix}{cats[i]}" for prefix, cats in colourings.items()),
                ids[i],
            )
            for i in range(len(ids))
        ], 0.0
    cell = size
    while True:
        key = np.floor(x / cell).astype(np.int64) * 100_000 + np.floor(y / cell).astype(np.int64)
        if len(np.unique(key)) <= MAP_PATCH_LIMIT:
            break
        cell *= 2
    frame_df = pd.DataFrame({"key": key, **{prefix: cats for prefix, cats in colourings.items()}})
    counts = frame_df.groupby("key").size()
    majority = {
        prefix: frame_df.groupby(["key", prefix])
        .size()
        .reset_index(name="n")
        .sort_values(["key", "n", prefix], ascending=[True, False, True])
        .drop_duplicates("key")
        .set_index("key")[prefix]
        for prefix in colourings
    }
    return [
        MapCell(
            (k // 100_000) * cell,
            (k % 100_000) * cell,
            cell,
            " ".join(f"{prefix}{majority[prefix][k]}" for prefix in colourings),
            f"{n} patches",
        )
        for k, n in counts.items()
    ], cell
