"""The RGB thumbnail of a patch: B04/B03/B02, a fixed linear stretch, nearest-neighbour resampling, PNG.

The stretch is the same for every patch (DN 0..:data:`THUMBNAIL_MAX_DN`, i.e. reflectance 0..0.3 without
the BOA offset, to 0..255, clipped), so thumbnails compare across patches and the bytes depend only on
the pixels. Resampling 120 -> 64 px takes the pixel under each thumbnail pixel's centre.

The PNG encoder is written by hand (a dozen lines over :mod:`zlib`): Pillow is not a dependency, and
GDAL's PNG driver (through rasterio) took 27 ms per thumbnail here, more than the rest of a patch's
export; this one takes well under a millisecond and its bytes are fixed by the pixels and the
compression level alone (no timestamps, no text chunks).
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from s2lake.shards.layout import THUMBNAIL_MAX_DN, THUMBNAIL_PIXELS

#: zlib level of the PNG data (fixed: part of the deterministic output).
PNG_LEVEL = 6


def rgb(red: np.ndarray, green: np.ndarray, blue: np.ndarray, size: int = THUMBNAIL_PIXELS) -> np.ndarray:
    """(size, size, 3) uint8 from three square uint16 bands of equal shape."""
    side = red.shape[0]
    pick = ((np.arange(size) + 0.5) * side / size).astype(np.intp)
    stacked = np.stack([red, green, blue], axis=-1)[np.ix_(pick, pick)]
    scaled = stacked.astype(np.float32) * (255.0 / THUMBNAIL_MAX_DN)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def png(image: np.ndarray) -> bytes:
    """An 8-bit RGB PNG of ``image`` ((h, w, 3) uint8): signature, IHDR, one IDAT, IEND."""
    height, width, _ = image.shape
    # Filter type 0 (none) before every scanline, as the PNG spec requires one byte per row.
    raw = np.concatenate([np.zeros((height, 1), np.uint8), image.reshape(height, width * 3)], axis=1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw.tobytes(), PNG_LEVEL))
        + chunk(b"IEND", b"")
    )


def thumbnail(red: np.ndarray | None, green: np.ndarray | None, blue: np.ndarray | None) -> bytes | None:
    """PNG bytes, or None when a patch lacks one of the three bands."""
    if red is None or green is None or blue is None:
        return None
    return png(rgb(red, green, blue))
