"""Split polygons with many vertices into pieces, like PostGIS ``ST_Subdivide``.

Why: a spatial join's refine step (intersection area per patch) costs time proportional to the
vertices of the reference polygon. Country outlines have thousands of vertices and CLC's largest
polygons (sea, big forests) tens of thousands, yet a 1.2 km patch touches only a small part of
them. Pieces of at most ``MAX_VERTICES`` vertices, cut along a recursive halving of the bounding
box, tile the original exactly, so the join SQL (which sums areas per code or country) gives the
same areas, several times faster. SedonaDB has no ST_Subdivide, hence this small hand-written one.
"""

from __future__ import annotations

import numpy as np
import shapely

MAX_VERTICES = 256


def _split(geom: object, max_vertices: int, depth: int) -> list[object]:
    if geom.is_empty:
        return []
    if shapely.get_num_coordinates(geom) <= max_vertices or depth >= 16:
        return [geom]
    xmin, ymin, xmax, ymax = geom.bounds
    if xmax - xmin >= ymax - ymin:
        mid = (xmin + xmax) / 2
        halves = [(xmin, ymin, mid, ymax), (mid, ymin, xmax, ymax)]
    else:
        mid = (ymin + ymax) / 2
        halves = [(xmin, ymin, xmax, mid), (xmin, mid, xmax, ymax)]
    out = []
    for box in halves:
        part = shapely.clip_by_rect(geom, *box)
        polygons = [p for p in shapely.get_parts(part) if p.geom_type == "Polygon" and not p.is_empty]
        if polygons:
            out += _split(shapely.multipolygons(polygons), max_vertices, depth + 1)
    return out


def subdivide(gdf: object, max_vertices: int = MAX_VERTICES) -> object:
    """Rows whose geometry has more than ``max_vertices`` vertices become several rows (same attributes)."""
    # lazy: pandas costs ~1.6 s to import; the caller's GeoDataFrame loaded it, importers of this module need not
    import pandas as pd

    geoms = gdf.geometry.values
    big = shapely.get_num_coordinates(geoms) > max_vertices
    if not big.any():
        return gdf
    index, pieces = [], []
    for i in np.nonzero(big)[0]:
        parts = _split(geoms[i], max_vertices, 0)
        index += [i] * len(parts)
        pieces += parts
    small = gdf[~big]
    split = gdf.iloc[index].copy()
    # clip_by_rect is fast but may leave rings touching themselves: repair, keeping polygons only.
    repaired = shapely.make_valid(np.array(pieces, dtype=object), method="structure", keep_collapsed=False)
    split[gdf.geometry.name] = repaired
    return pd.concat([small, split[~shapely.is_empty(repaired)]], ignore_index=True)
