"""Sentinel-2 facts every part of s2lake agrees on: bands, resolutions, patch geometry, SCL classes.

Sources: ESA Sentinel-2 Products Specification Document (PSD 14.x) and the L2A product metadata
(``MTD_MSIL2A.xml``), and the BigEarthNet v2 patch definition (1200 m patches cut from the tile
origin, patch ids ``<product name parts>_<col>_<row>``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Band:
    name: str  # ESA band name as in file names: "B02", "B8A"
    resolution: int  # native ground sampling distance in metres
    esa_index: int  # band_id in MTD_MSIL2A.xml (BOA_ADD_OFFSET band_id, Spectral_Information)

    @property
    def column(self) -> str:
        """Column name in the patches table (lower case, SQL friendly)."""
        return self.name.lower()

    @property
    def patch_pixels(self) -> int:
        """Edge length of a patch in pixels at this band's resolution."""
        return PATCH_SIZE_M // self.resolution


PATCH_SIZE_M = 1200
TILE_SIZE_M = 109_800

#: The 12 L2A surface-reflectance bands BigEarthNet keeps (B10 is cirrus, absent from L2A).
BANDS: tuple[Band, ...] = (
    Band("B01", 60, 0),
    Band("B02", 10, 1),
    Band("B03", 10, 2),
    Band("B04", 10, 3),
    Band("B05", 20, 4),
    Band("B06", 20, 5),
    Band("B07", 20, 6),
    Band("B08", 10, 7),
    Band("B8A", 20, 8),
    Band("B09", 60, 9),
    Band("B11", 20, 11),
    Band("B12", 20, 12),
)
#: The scene classification layer is delivered at 20 m (and resampled at 60 m).
SCL = Band("SCL", 20, -1)
ALL_LAYERS: tuple[Band, ...] = (*BANDS, SCL)
BANDS_BY_NAME = {b.name: b for b in ALL_LAYERS}

#: Tile edge in pixels per resolution (10980 / 5490 / 1830).
TILE_PIXELS = {10: 10980, 20: 5490, 60: 1830}
#: Full patches per tile edge: 109,800 m // 1200 m = 91 (the 600 m border strip is dropped).
PATCHES_PER_EDGE = TILE_SIZE_M // PATCH_SIZE_M

#: L2A scene classification (SCL) values, names as in MTD_MSIL2A.xml without the ``SC_`` prefix.
SCL_CLASSES: dict[int, str] = {
    0: "NODATA",
    1: "SATURATED_DEFECTIVE",
    2: "DARK_FEATURE_SHADOW",
    3: "CLOUD_SHADOW",
    4: "VEGETATION",
    5: "NOT_VEGETATED",
    6: "WATER",
    7: "UNCLASSIFIED",
    8: "CLOUD_MEDIUM_PROBA",
    9: "CLOUD_HIGH_PROBA",
    10: "THIN_CIRRUS",
    11: "SNOW_ICE",
}

NODATA_DN = 0
SATURATED_DN = 65535
MISSIONS = ("S2A", "S2B", "S2C", "S2D")
