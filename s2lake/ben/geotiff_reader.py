"""Read BigEarthNet's small single-band GeoTIFFs: tifffile where it reads a file exactly as GDAL does,
rasterio (GDAL) for everything else.

Why not rasterio for every file: opening a dataset through GDAL costs ~1.4 ms of CPU (driver, georeference
and CRS objects set up per file), twelve times per patch, which caps an import near 60 patches/s per
core; tifffile parses the IFD and decodes the strips or tiles of a 120 x 120 px band in ~0.2 ms.

The fast path is taken only for what it reads exactly as GDAL does (checked tag by tag below): the
first page, one uint16 sample per pixel, top-left orientation, a compression tifffile decodes without
imagecodecs (none, DEFLATE, PackBits; predictor none or horizontal), and a north-up georeference of
ONE ModelTiepoint and a positive ModelPixelScale with PixelIsArea (GDAL shifts PixelIsPoint rasters by
half a pixel, and a ModelTransformation may rotate). The geotransform is computed as GDAL's GTiff
driver computes it, and the EPSG code is GDAL's own: resolved with rasterio once per distinct GeoKey
directory in the process (a dataset has a handful), so CRS interpretation never differs. Anything else
-- LZW or ZSTD (they need imagecodecs), other sample types, rotated or point-registered rasters, a
file that is no TIFF -- is read by rasterio, whose error then says what is wrong with the file.

Side-car files (``.aux.xml``, world files) are not read on either path: the import's workers run with
``GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR`` (see :func:`s2lake.ben.patch_reader.configure_worker`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile

#: TIFF compressions tifffile decodes itself (no imagecodecs): none, DEFLATE (both codes), PackBits.
_COMPRESSIONS = frozenset({1, 8, 32946, 32773})
_PREDICTORS = frozenset({1, 2})  # none, horizontal differencing
_ORIENTATION = 274
_MODEL_PIXEL_SCALE, _MODEL_TIEPOINT, _MODEL_TRANSFORMATION = 33550, 33922, 34264
_GEO_KEYS, _GEO_DOUBLES, _GEO_ASCII = 34735, 34736, 34737
_RASTER_TYPE_KEY, _PIXEL_IS_AREA = 1025, 1

#: GeoKey directory (+ its double and ASCII parameters) -> EPSG code as GDAL reads it (None: no EPSG).
_EPSG_BY_KEYS: dict[tuple, int | None] = {}


@dataclass
class Raster:
    """Band 1 of a GeoTIFF: pixels as stored, GDAL's EPSG code and geotransform (a, b, c, d, e, f)."""

    pixels: np.ndarray
    epsg: int | None
    transform: tuple[float, float, float, float, float, float]

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(ulx, uly, lrx, lry) of a north-up raster."""
        a, _, c, _, e, f = self.transform
        height, width = self.pixels.shape
        return c, f, c + a * width, f + e * height


def read_geotiff(path: Path) -> Raster:
    """Band 1 of ``path``; raises what rasterio raises for a file that cannot be read."""
    try:
        fast = _read_tifffile(path)
    except Exception:  # any trouble: rasterio reads the file or says what is wrong with it
        fast = None
    return fast if fast is not None else read_with_rasterio(path)


def read_with_rasterio(path: Path) -> Raster:
    import rasterio

    with rasterio.open(path, driver="GTiff") as src:  # no probing of the other drivers
        t = src.transform
        epsg = src.crs.to_epsg() if src.crs else None
        return Raster(src.read(1), epsg, (t.a, t.b, t.c, t.d, t.e, t.f))


def _read_tifffile(path: Path) -> Raster | None:
    """The fast path, or None where the file is not of the form it reads exactly as GDAL does."""
    # An open file, not a path: tifffile would resolve the path (realpath: an lstat per folder level).
    with open(path, "rb") as handle, tifffile.TiffFile(handle) as tif:
        page = tif.pages.first
        tags = page.tags
        if (
            page.dtype != np.uint16
            or page.samplesperpixel != 1
            or page.imagedepth != 1
            or page.fillorder != 1
            or (_ORIENTATION in tags and tags[_ORIENTATION].value != 1)  # absent: top-left, as 1
            or page.compression not in _COMPRESSIONS
            or page.predictor not in _PREDICTORS
            or _MODEL_TRANSFORMATION in tags
        ):
            return None
        scale, tiepoint, keys = (tags.get(code) for code in (_MODEL_PIXEL_SCALE, _MODEL_TIEPOINT, _GEO_KEYS))
        if scale is None or tiepoint is None or keys is None or len(tiepoint.value) != 6:
            return None
        sx, sy = float(scale.value[0]), float(scale.value[1])
        key_values = tuple(keys.value)
        if sx <= 0 or sy <= 0 or _raster_type(key_values) != _PIXEL_IS_AREA:
            return None
        doubles, ascii_ = tags.get(_GEO_DOUBLES), tags.get(_GEO_ASCII)
        cache_key = (
            key_values,
            tuple(doubles.value) if doubles is not None else (),
            ascii_.value if ascii_ is not None else "",
        )
        pixels = page.asarray()
    if cache_key not in _EPSG_BY_KEYS:
        _EPSG_BY_KEYS[cache_key] = read_with_rasterio(path).epsg
    i, j, _, x, y, _ = (float(v) for v in tiepoint.value)
    # As GDAL's GTiff driver: origin = tiepoint's model point minus its raster offset times the scale.
    return Raster(pixels, _EPSG_BY_KEYS[cache_key], (sx, 0.0, x - i * sx, 0.0, -sy, y - j * -sy))


def _raster_type(keys: tuple[int, ...]) -> int:
    """GTRasterTypeGeoKey's value (PixelIsArea where absent, as GDAL assumes)."""
    for at in range(4, len(keys) - 3, 4):
        if keys[at] == _RASTER_TYPE_KEY and keys[at + 1] == 0:
            return int(keys[at + 3])
    return _PIXEL_IS_AREA
