"""Read BigEarthNet's small single-band GeoTIFFs: a hand parser for the plain form nearly every band file
has, tifffile where it reads a file exactly as GDAL does, rasterio (GDAL) for everything else.

Why not rasterio for every file: opening a dataset through GDAL costs ~1.4 ms of CPU (driver, georeference
and CRS objects set up per file), twelve times per patch, which caps an import near 60 patches/s per
core; tifffile parses the IFD and decodes the strips or tiles of a 120 x 120 px band in ~0.18 ms, and the
hand parser (:func:`_read_plain`: classic TIFF, uint16 strips, uncompressed or DEFLATE) in ~0.05 ms.

The fast paths are taken only for what they read exactly as GDAL does (checked tag by tag below): the
first page, one uint16 sample per pixel, top-left orientation, a compression decoded without
imagecodecs (none, DEFLATE, and on tifffile's path PackBits and tiles; predictor none or horizontal), and
a north-up georeference of ONE ModelTiepoint and a positive ModelPixelScale with PixelIsArea (GDAL shifts
PixelIsPoint rasters by half a pixel, and a ModelTransformation may rotate). The geotransform is computed
as GDAL's GTiff driver computes it, and the EPSG code is GDAL's own: resolved with rasterio once per
distinct GeoKey directory in the process (a dataset has a handful), so CRS interpretation never differs.
Anything else -- LZW or ZSTD (they need imagecodecs), other sample types, rotated or point-registered
rasters, a truncated file, a file that is no TIFF -- is read by rasterio, whose error then says what is
wrong with the file.

Side-car files (``.aux.xml``, world files) are not read on any path: the import's workers run with
``GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR`` (see :func:`s2lake.ben.patch_reader.configure_worker`).
"""

from __future__ import annotations

import struct
import zlib
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
_GEO_TAGS = (_MODEL_PIXEL_SCALE, _MODEL_TIEPOINT, _GEO_KEYS, _GEO_DOUBLES, _GEO_ASCII)
_WIDTH, _HEIGHT, _COMPRESSION, _PREDICTOR, _STRIP_OFFSETS, _STRIP_BYTE_COUNTS = 256, 257, 259, 317, 273, 279
#: The hand parser's form: (tag, TIFF default, required value) -- 16 bits, unsigned, one sample, one plane of
#: depth 1, fill order 1, top-left orientation -- no tiles, no ModelTransformation; strips none or DEFLATE.
_PLAIN_TAGS = ((258, 1, 16), (339, 1, 1), (277, 1, 1), (32997, 1, 1), (266, 1, 1), (_ORIENTATION, 1, 1))
_PLAIN_ABSENT = (322, 323, 324, 325, _MODEL_TRANSFORMATION)
_PLAIN_COMPRESSIONS = frozenset({1, 8, 32946})
#: Classic TIFF headers -> struct byte order.
_BYTE_ORDER = {b"II*\0": "<", b"MM\0*": ">"}
#: TIFF field types the parser decodes -> (struct code, bytes per value).
_TAG_TYPES = {1: ("B", 1), 2: ("s", 1), 3: ("H", 2), 4: ("I", 4), 12: ("d", 8)}
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
    fast = None
    for reader in (_read_plain, _read_tifffile):
        try:
            fast = reader(path)
        except Exception:  # any trouble: the next path reads the file, in the end rasterio says what is wrong
            fast = None
        if fast is not None:
            return fast
    return read_with_rasterio(path)


def read_with_rasterio(path: Path) -> Raster:
    # lazy: rasterio's import costs ~0.4 s; only files the hand parser above does not read need it
    import rasterio

    with rasterio.open(path, driver="GTiff") as src:  # no probing of the other drivers
        t = src.transform
        epsg = src.crs.to_epsg() if src.crs else None
        return Raster(src.read(1), epsg, (t.a, t.b, t.c, t.d, t.e, t.f))


def _read_plain(path: Path) -> Raster | None:
    """The form nearly every BigEarthNet band comes in -- a classic TIFF of uint16 strips, uncompressed or
    DEFLATE -- parsed by hand from one read of the file, or None for anything else.

    Written by hand because tifffile's generic parse (a tag object per tag, enums, page and file objects)
    costs ~0.18 ms of CPU per file, 12 files per patch: about half of an import worker's CPU per patch;
    this parse costs ~0.05 ms. The checks are tifffile's path's, on the raw tags with the TIFF defaults;
    a truncated strip is never padded (the file goes on to the next path, which reports it)."""
    data = path.read_bytes()
    order = _BYTE_ORDER.get(data[:4])
    if order is None:
        return None  # BigTIFF or no TIFF at all
    (ifd,) = struct.unpack_from(order + "I", data, 4)
    (count,) = struct.unpack_from(order + "H", data, ifd)
    tags: dict[int, tuple | str] = {}
    for code, kind, n, inline in struct.iter_unpack(order + "HHI4s", data[ifd + 2 : ifd + 2 + 12 * count]):
        if kind not in _TAG_TYPES:
            continue  # a type no tag read here has
        fmt, size = _TAG_TYPES[kind]
        at = struct.unpack(order + "I", inline)[0]
        raw = inline[: n * size] if n * size <= 4 else data[at : at + n * size]
        if len(raw) != n * size:
            return None  # the value lies outside the file
        tags[code] = raw.rstrip(b"\0").decode("ascii") if fmt == "s" else struct.unpack(f"{order}{n}{fmt}", raw)
    width, height = tags[_WIDTH][0], tags[_HEIGHT][0]
    compression, predictor = tags.get(_COMPRESSION, (1,))[0], tags.get(_PREDICTOR, (1,))[0]
    if (
        any(tags.get(code, (default,)) != (want,) for code, default, want in _PLAIN_TAGS)
        or any(code in tags for code in _PLAIN_ABSENT)
        or compression not in _PLAIN_COMPRESSIONS
        or predictor not in (_PREDICTORS if compression != 1 else {1})
    ):
        return None
    strips = [data[o : o + c] for o, c in zip(tags[_STRIP_OFFSETS], tags[_STRIP_BYTE_COUNTS], strict=True)]
    if compression != 1:
        strips = [zlib.decompress(s) for s in strips]
    size = width * height * 2
    pixels = b"".join(strips)
    if len(pixels) < size:
        return None  # a truncated file: rasterio says so
    array = np.frombuffer(pixels, order + "u2", width * height).reshape(height, width).astype(np.uint16)
    if predictor == 2:
        array = np.cumsum(array, axis=1, dtype=np.uint16)  # horizontal differencing undone, modulo 2**16
    return _georeferenced(path, array, *(tags.get(code) for code in _GEO_TAGS))


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
        geo = [tags[code].value if code in tags else None for code in _GEO_TAGS]
        if any(value is None for value in geo[:3]):
            return None
        pixels = page.asarray()
    return _georeferenced(path, pixels, *geo)


def _georeferenced(path: Path, pixels: np.ndarray, scale, tiepoint, keys, doubles, ascii_) -> Raster | None:
    """``pixels`` with the geotransform GDAL computes from the tags, or None for a georeference GDAL reads
    differently (no tiepoint or scale, several tiepoints, PixelIsPoint)."""
    if scale is None or tiepoint is None or keys is None or len(tiepoint) != 6:
        return None
    sx, sy = float(scale[0]), float(scale[1])
    key_values = tuple(keys)
    if sx <= 0 or sy <= 0 or _raster_type(key_values) != _PIXEL_IS_AREA:
        return None
    cache_key = (key_values, tuple(doubles) if doubles is not None else (), ascii_ if ascii_ is not None else "")
    if cache_key not in _EPSG_BY_KEYS:
        _EPSG_BY_KEYS[cache_key] = read_with_rasterio(path).epsg
    i, j, _, x, y, _ = (float(v) for v in tiepoint)
    # As GDAL's GTiff driver: origin = tiepoint's model point minus its raster offset times the scale.
    return Raster(pixels, _EPSG_BY_KEYS[cache_key], (sx, 0.0, x - i * sx, 0.0, -sy, y - j * -sy))


def _raster_type(keys: tuple[int, ...]) -> int:
    """GTRasterTypeGeoKey's value (PixelIsArea where absent, as GDAL assumes)."""
    for at in range(4, len(keys) - 3, 4):
        if keys[at] == _RASTER_TYPE_KEY and keys[at + 1] == 0:
            return int(keys[at + 3])
    return _PIXEL_IS_AREA
