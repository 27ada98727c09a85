"""The RGB thumbnails of a shard's patches: B04/B03/B02, a fixed linear stretch, nearest-neighbour
resampling, PNG.

The stretch is the same for every patch (DN 0..:data:`THUMBNAIL_MAX_DN`, i.e. reflectance 0..0.3 without
the BOA offset, to 0..255, clipped), so thumbnails compare across patches and the bytes depend only on
the pixels. Resampling 120 -> 64 px takes the pixel under each thumbnail pixel's centre.

Batched: the pick and the stretch run once over all patches of a shard (the stretch as a 65,536-entry
lookup table computed with the float32 formula, so a DN maps to exactly the byte the formula gives);
only the zlib call is per patch. Thumbnails were a quarter of the export's CPU when made one at a time.

The PNG encoder is :mod:`s2lake.png` (shared with the report's quicklooks).
"""

from __future__ import annotations

import numpy as np

from s2lake.png import png_from_scanlines, scanlines
from s2lake.shards.layout import THUMBNAIL_MAX_DN, THUMBNAIL_PIXELS

#: DN -> thumbnail byte for every uint16 value.
_STRETCH = np.clip(np.rint(np.arange(65536, dtype=np.float32) * (255.0 / THUMBNAIL_MAX_DN)), 0, 255).astype(np.uint8)


def thumbnails(red: np.ndarray, green: np.ndarray, blue: np.ndarray, valid: np.ndarray) -> list[bytes | None]:
    """PNG bytes per patch from three (patches, side, side) uint16 stacks; None where ``valid`` is False
    (the patch lacks one of the three bands)."""
    side, size = red.shape[1], THUMBNAIL_PIXELS
    pick = ((np.arange(size) + 0.5) * side / size).astype(np.intp)
    grid = np.ix_(pick, pick)
    rows, pixels = scanlines(size, size, count=red.shape[0])
    for channel, band in enumerate((red, green, blue)):
        pixels[..., channel] = _STRETCH[band[:, grid[0], grid[1]]]
    return [png_from_scanlines(rows[i]) if valid[i] else None for i in range(len(rows))]
