"""PNG bytes from 8-bit RGB pixels: the shards' thumbnails and the report's quicklooks.

Written by hand (a dozen lines over :mod:`zlib`): Pillow is not a dependency, and GDAL's PNG driver
(through rasterio) took 27 ms per 64 px thumbnail here. The bytes are fixed by the pixels and the
compression level alone (no timestamps, no text chunks), which keeps shard exports byte-identical.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

#: zlib level of the PNG data (fixed: part of the shards' deterministic output). 1: a small thumbnail of
#: real reflectances compresses nearly as well as at 6, at a fraction of the time.
PNG_LEVEL = 1


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


_END = _chunk(b"IEND", b"")


def scanlines(height: int, width: int, count: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Zeroed PNG scanlines for ``count`` images, shape (count, height, 1 + 3 * width), and the
    (count, height, width, 3) view of their pixels to fill: filter type 0 (none) stays before every
    scanline, as the PNG spec requires."""
    rows = np.zeros((count, height, 1 + 3 * width), np.uint8)
    return rows, rows[:, :, 1:].reshape(count, height, width, 3)


def png_from_scanlines(rows: np.ndarray) -> bytes:
    """One PNG from its (height, 1 + 3 * width) filtered scanlines (see :func:`scanlines`)."""
    height, width = rows.shape[0], (rows.shape[1] - 1) // 3
    header = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return header + _chunk(b"IDAT", zlib.compress(rows.tobytes(), PNG_LEVEL)) + _END


def encode_rgb(rgb: np.ndarray) -> bytes:
    """One PNG from a (height, width, 3) uint8 array."""
    rows, pixels = scanlines(rgb.shape[0], rgb.shape[1])
    pixels[0] = rgb
    return png_from_scanlines(rows[0])
