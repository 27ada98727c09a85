"""Stacking the 20 m and 60 m bands onto the 10 m grid of a patch (120 x 120 px).

* ``nearest``: every coarse pixel is repeated 2 x 2 (20 m) or 6 x 6 (60 m) times; exact DNs, uint16.
* ``bilinear``: pixel-centre aligned interpolation (the convention of ``torch.nn.functional.interpolate``
  with ``align_corners=False``, edges clamped), float32.

Written by hand over numpy because the factors are fixed integers and the core dependencies have no
array resampler short of GDAL (rasterio's ``reproject``), whose per-call set-up costs more than the
interpolation of a 60 x 60 band.
"""

from __future__ import annotations

import numpy as np

METHODS = ("nearest", "bilinear")


def _weights(size: int, target: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each target pixel: the lower and upper source index and the weight of the upper one."""
    centre = (np.arange(target) + 0.5) * size / target - 0.5
    centre = np.clip(centre, 0, size - 1)
    low = np.floor(centre).astype(np.intp)
    high = np.minimum(low + 1, size - 1)
    return low, high, (centre - low).astype(np.float32)


def upsample(grid: np.ndarray, target: int, method: str) -> np.ndarray:
    """A square band ``grid`` brought to ``target`` x ``target`` pixels (``target`` a multiple of its size)."""
    size = grid.shape[0]
    if size == target:
        return grid if method == "nearest" else grid.astype(np.float32)
    if method == "nearest":
        factor = target // size
        return np.repeat(np.repeat(grid, factor, axis=0), factor, axis=1)
    low, high, weight = _weights(size, target)
    values = grid.astype(np.float32)
    rows = values[low] * (1 - weight)[:, None] + values[high] * weight[:, None]
    return rows[:, low] * (1 - weight)[None, :] + rows[:, high] * weight[None, :]
