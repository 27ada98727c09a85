"""How s2lake writes a patch band as a GeoTIFF: the BigEarthNet form, made lossless and self-describing.

BigEarthNet's files are single-band uint16 GeoTIFFs in the tile's UTM CRS, 120/60/20 px at 10/20/60 m,
with the patch's upper-left corner as origin. s2lake writes the same, and adds what the v1 files lack:
the NO_DATA tag (DN 0 is NO_DATA in Level-2A) and lossless compression. No timestamp or software tag is
written, so the same pixels give the same bytes (exports are reproducible and checksummable).

Creation options, measured on the real BigEarthNet bands in ``../shared/data/bigearthnet`` (CPU time
of in-memory writes; see docs/export.md):

* DEFLATE with horizontal differencing (predictor 2), level 1: 12-bit reflectances with sensor noise are
  entropy-bound, so GDAL's libdeflate gives the same size at level 1 as at 9 (0.75 of raw; level 6: 0.77)
  for 30 % less CPU than the default 6. ZSTD is no smaller nor faster at this size and fewer readers
  (older libtiff, Pillow) open it; every TIFF reader opens DEFLATE.
* One strip per file (``blockysize`` 120; GDAL clamps it to a smaller band's height): one compression
  call and one offset per file; a 120 px band is 28 KB raw, so tiling or several strips buy nothing.
* No overviews, statistics or ``.aux.xml`` sidecars (``GDAL_PAM_ENABLED=NO``): a 120 px band needs none,
  and each would be another file write per band.
* ``GDAL_NUM_THREADS=1``: with one strip GDAL has nothing to compress in parallel; parallelism comes
  from the export's worker processes.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.transform import Affine

from s2lake.sentinel2 import NODATA_DN

if TYPE_CHECKING:
    from rasterio.crs import CRS
    from rasterio.env import Env

#: Creation options of every exported raster (GDAL GTiff driver).
PROFILE: dict[str, object] = {
    "driver": "GTiff",
    "count": 1,
    "dtype": "uint16",
    "nodata": NODATA_DN,
    "compress": "deflate",
    "zlevel": 1,
    "predictor": 2,
    "interleave": "band",
    "blockysize": 120,
}


def patch_transform(ulx: float, uly: float, resolution: float) -> Affine:
    """North-up geotransform of a raster whose upper-left corner is (ulx, uly)."""
    return Affine(resolution, 0.0, ulx, 0.0, -resolution, uly)


def writer_env() -> Env:
    """The GDAL environment to hold around many :func:`write_raster` calls (entered once, not per file)."""
    return rasterio.Env(GDAL_NUM_THREADS=1, GDAL_PAM_ENABLED="NO")


@functools.lru_cache(maxsize=64)
def crs_of(epsg: int) -> CRS:
    """The CRS of an EPSG code, parsed once per process (a product's patches share one)."""
    return CRS.from_epsg(epsg)


def write_raster(path: Path, pixels: np.ndarray, epsg: int, transform: Affine, description: str | None = None) -> None:
    """Write one band (2-D uint16 array) with :data:`PROFILE`; call it inside :func:`writer_env`."""
    height, width = pixels.shape
    with rasterio.open(path, "w", width=width, height=height, crs=crs_of(epsg), transform=transform, **PROFILE) as dst:
        dst.write(pixels, 1)
        if description:
            dst.set_band_description(1, description)
