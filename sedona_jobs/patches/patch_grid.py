"""The patch grid of a product: which 1200 m patches it has and where they are.

Patches are cut from the tile origin (upper-left corner of the tile, from ``MTD_TL.xml``) without
overlap, row 0 at the top, column 0 at the left. Only complete patches are kept: a full tile of
109,800 m gives 91 x 91 patches and drops the 600 m strip at its right and bottom edges; a cropped
product of ``n`` pixels at resolution ``r`` gives ``floor(n * r / 1200)`` patches along that edge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from s2lake.errors import ProductError
from s2lake.sentinel2 import ALL_LAYERS, PATCH_SIZE_M


@dataclass(frozen=True)
class PatchGrid:
    rows: int
    cols: int
    ulx: float  # tile origin, tile CRS
    uly: float

    @property
    def count(self) -> int:
        return self.rows * self.cols

    def strips(self, strip_rows: int) -> list[tuple[int, int]]:
        """Patch-row ranges ``[r0, r1)`` read together: whole patch rows bound memory per read."""
        return [(r0, min(r0 + strip_rows, self.rows)) for r0 in range(0, self.rows, strip_rows)]

    def bbox(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(ulx, uly, lrx, lry)`` of patches: origin + index x 1200 m (northing decreases downwards)."""
        ulx = self.ulx + cols * float(PATCH_SIZE_M)
        uly = self.uly - rows * float(PATCH_SIZE_M)
        return ulx, uly, ulx + PATCH_SIZE_M, uly - PATCH_SIZE_M

    def footprints_wkb(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Patch polygons as WKB in the tile CRS (vectorised through shapely's array functions)."""

        ulx, uly, lrx, lry = self.bbox(rows, cols)
        return shapely.to_wkb(shapely.box(ulx, lry, lrx, uly))


def grid_of(shapes: dict[str, tuple[int, int]], ulx: float, uly: float, where: str) -> PatchGrid:
    """The grid of complete patches shared by every layer; ``shapes`` maps layer -> (height, width)."""
    per_layer = {}
    for layer in ALL_LAYERS:
        height, width = shapes[layer.name]
        per_layer[layer.name] = (height * layer.resolution // PATCH_SIZE_M, width * layer.resolution // PATCH_SIZE_M)
    rows = min(r for r, _ in per_layer.values())
    cols = min(c for _, c in per_layer.values())
    if rows == 0 or cols == 0:
        raise ProductError(
            f"the product is smaller than one 1200 m patch ({shapes['B02'][1]}x{shapes['B02'][0]} px at 10 m)",
            where=where,
            fix="use a product (or a crop) of at least 120x120 px at 10 m",
        )
    return PatchGrid(rows=rows, cols=cols, ulx=ulx, uly=uly)
