"""How s2lake writes a patch band as a GeoTIFF: the BigEarthNet form, made lossless and self-describing.

BigEarthNet's files are single-band uint16 GeoTIFFs in the tile's UTM CRS, 120/60/20 px at 10/20/60 m,
with the patch's upper-left corner as origin. s2lake writes the same, and adds what the v1 files lack:
the NO_DATA tag (DN 0 is NO_DATA in Level-2A) and DEFLATE with horizontal differencing (predictor 2),
lossless and about half the size of the uncompressed v1 files. No timestamp or software tag is
written, so the same pixels give the same bytes (exports are reproducible and checksummable).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rasterio.transform import Affine

from s2lake.sentinel2 import NODATA_DN

#: Creation options of every exported raster (GDAL GTiff driver).
PROFILE: dict[str, object] = {
    "driver": "GTiff",
    "count": 1,
    "dtype": "uint16",
    "nodata": NODATA_DN,
    "compress": "deflate",
    "predictor": 2,
    "interleave": "band",
}


def patch_transform(ulx: float, uly: float, resolution: float) -> Affine:
    """North-up geotransform of a raster whose upper-left corner is (ulx, uly)."""
    return Affine(resolution, 0.0, ulx, 0.0, -resolution, uly)


def write_raster(path: Path, pixels: np.ndarray, epsg: int, transform: Affine, description: str | None = None) -> None:
    """Write one band (2-D uint16 array) with :data:`PROFILE`."""
    import rasterio
    from rasterio.crs import CRS

    height, width = pixels.shape
    with rasterio.open(
        path, "w", width=width, height=height, crs=CRS.from_epsg(epsg), transform=transform, **PROFILE
    ) as dst:
        dst.write(pixels, 1)
        if description:
            dst.set_band_description(1, description)
