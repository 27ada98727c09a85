"""Windowed JPEG 2000 reads of whole patch rows, reshaped into patches, and their statistics.

A *strip* is ``strip_rows`` consecutive patch rows of one layer (e.g. 10 x 120 = 1200 pixel rows of
a 10 m band, 26 MB as uint16 for a full tile). Reading strips instead of whole bands bounds memory:
a full tile is never in RAM, only one strip per layer. Everything after the read is numpy on whole
arrays: ``(rows, px, cols, px) -> (rows * cols, px * px)`` gives one row-major pixel vector per patch,
and each statistic is one reduction along the pixel axis.

JPEG 2000 decoding dominates the cost. GDAL's JP2OpenJPEG driver decodes whole JP2 tiles (1024 px
in the products ``s2lake synth`` writes); 120 px patches never align with 1024 px tiles, so a
strip usually ends inside a tile row. Keeping each layer's dataset open across strips lets the next
strip take the already decoded tiles from GDAL's block cache instead of decoding them again; the
cache is sized for that (see :func:`gdal_cache_bytes`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from s2lake.errors import ProductError
from s2lake.sentinel2 import BANDS_BY_NAME, NODATA_DN, SCL_CLASSES

#: Distinct SCL values we report (0..11); anything else is not an L2A scene class.
_SCL_VALUES = max(SCL_CLASSES) + 1


@dataclass
class PatchStats:
    """Per-patch statistics of one layer over valid (non NO_DATA) pixels; arrays of length n."""

    min: np.ndarray  # int32, meaningless where valid == 0 (stored as NULL)
    max: np.ndarray  # int32
    valid: np.ndarray  # int64
    sum: np.ndarray  # int64
    sum_sq: np.ndarray  # int64
    classes: np.ndarray | None = None  # (n, 12) bool, SCL only: which scene classes occur


@dataclass
class LayerStrip:
    """One layer's patches of one strip, in patch order (row-major over the strip's patches)."""

    layer: str
    pixels: np.ndarray  # (n, px * px), :func:`pixel_dtype`: int32 (bands) or uint8 (SCL)
    stats: PatchStats


def pixel_dtype(layer: str) -> np.dtype:
    """The dtype a layer's patches are cut into: the ``patches`` table's ``list<int32>`` for bands, so the
    Arrow columns wrap the strip without another copy (the widening happens in the reshaping copy that
    cutting makes anyway), and uint8 for SCL (viewed as the table's int8: classes are < 128)."""
    return np.dtype(np.uint8 if layer == "SCL" else np.int32)


def gdal_cache_bytes(widths: dict[str, int], block_rows: dict[str, int]) -> int:
    """A GDAL block cache that holds one decoded JP2 tile row of every open layer, twice over.

    A strip boundary falls inside a tile row; those tiles are needed again by the next strip. Two tile
    rows per layer plus 64 MB of headroom keeps them cached without letting the cache grow to GDAL's
    default of 5 % of RAM per worker process.
    """
    need = sum(2 * widths[name] * block_rows[name] * 2 for name in widths)
    return need + 64 * 1024 * 1024


def split_patches(array: np.ndarray, px: int, cols: int, out: np.ndarray | None = None) -> np.ndarray:
    """``(k*px, >= cols*px)`` pixels -> ``out``, ``(k*cols, px*px)``: one row-major vector per patch, in one
    copy that also converts to ``out``'s dtype (default: a new array of ``array``'s dtype)."""
    rows = array.shape[0] // px
    if out is None:
        out = np.empty((rows * cols, px * px), dtype=array.dtype)
    view = array[: rows * px, : cols * px].reshape(rows, px, cols, px)
    np.copyto(out.reshape(rows, cols, px, px), view.transpose(0, 2, 1, 3), casting="safe")
    return out


def patch_stats(pixels: np.ndarray, scene_classes: bool = False) -> PatchStats:
    """Statistics per patch (row of ``pixels``, unsigned); NO_DATA (0) pixels are left out of min/max/mean.

    Sums are exact integers: NO_DATA contributes 0 to ``sum`` and ``sum_sq`` anyway, and a 10 m
    patch's sum of squares (< 14,400 x 65,535^2 ~ 6.2e13) fits int64 comfortably. Chunks of
    ``_CHUNK`` patches keep the int64 temporaries small (~15 MB) however long the strip is.
    """
    parts = [_chunk_stats(pixels[i : i + _CHUNK], scene_classes) for i in range(0, pixels.shape[0], _CHUNK)]
    return PatchStats(
        min=np.concatenate([p.min for p in parts]),
        max=np.concatenate([p.max for p in parts]),
        valid=np.concatenate([p.valid for p in parts]),
        sum=np.concatenate([p.sum for p in parts]),
        sum_sq=np.concatenate([p.sum_sq for p in parts]),
        classes=np.concatenate([p.classes for p in parts]) if scene_classes else None,
    )


_CHUNK = 128


def _chunk_stats(pixels: np.ndarray, scene_classes: bool) -> PatchStats:
    """Reductions straight over the unsigned pixels, without int64 copies (~5x faster than widening first).

    ``min`` over valid pixels: NO_DATA is 0 (:data:`NODATA_DN`), so ``pixels - 1`` wraps it to the dtype's
    maximum and the plain minimum of that, plus 1, is the minimum over the others (where every pixel is
    NO_DATA the value is stored as NULL anyway). ``sum_sq``: squares of 16-bit values fit uint32 (band
    pixels come as int32 holding 16-bit values, reduced through their uint32 view).
    """
    valid = np.count_nonzero(pixels, axis=1).astype(np.int64)
    total = pixels.sum(axis=1, dtype=np.int64)
    squares = pixels.astype(np.uint32)
    np.multiply(squares, squares, out=squares)
    sum_sq = squares.sum(axis=1, dtype=np.int64)
    low = (pixels - pixels.dtype.type(NODATA_DN + 1)).min(axis=1).astype(np.int32) + 1
    top = pixels.max(axis=1).astype(np.int32)
    classes = None
    if scene_classes:
        present = np.zeros((pixels.shape[0], 256), dtype=bool)
        present[np.arange(pixels.shape[0])[:, None], pixels] = True
        classes = present[:, :_SCL_VALUES]
    return PatchStats(min=low, max=top, valid=valid, sum=total, sum_sq=sum_sq, classes=classes)


class LayerReader:
    """An open band file that hands out strips; keeps GDAL's decoded tiles between strips."""

    def __init__(self, layer: str, path: str, cols: int) -> None:
        import rasterio
        from rasterio.errors import RasterioError

        self.layer = BANDS_BY_NAME[layer]
        self.path = path
        self.cols = cols
        try:
            self._dataset = rasterio.open(path)
        except RasterioError as exc:
            raise ProductError(
                f"cannot open band {layer}: {exc}", where=path, fix="the file is corrupt: download the product again"
            ) from None

    def read(self, r0: int, r1: int, out: np.ndarray | None = None) -> LayerStrip:
        """Patch rows ``[r0, r1)``: one windowed read, then patches (into ``out`` if given, e.g. shared memory,
        ``((r1 - r0) * cols, px * px)`` of :func:`pixel_dtype`) and statistics."""
        from rasterio.errors import RasterioError
        from rasterio.windows import Window

        px = self.layer.patch_pixels
        window = Window(0, r0 * px, self.cols * px, (r1 - r0) * px)
        try:
            array = self._dataset.read(1, window=window)
        except RasterioError as exc:
            raise ProductError(
                f"cannot decode band {self.layer.name} (pixel rows {r0 * px}-{r1 * px}): {exc}",
                where=self.path,
                fix="the JPEG 2000 file is corrupt or truncated: download the product again",
            ) from None
        dtype = pixel_dtype(self.layer.name)
        if self.layer.name == "SCL":
            array = array.astype(np.uint8)
        if out is None:
            out = np.empty(((r1 - r0) * self.cols, px * px), dtype=dtype)
        pixels = split_patches(array, px, self.cols, out)
        unsigned = pixels.view(np.uint32) if dtype == np.int32 else pixels  # DNs are >= 0: same values
        return LayerStrip(self.layer.name, pixels, patch_stats(unsigned, scene_classes=self.layer.name == "SCL"))

    def close(self) -> None:
        self._dataset.close()
