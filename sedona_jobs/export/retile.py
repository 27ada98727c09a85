"""``s2lake retile``: split a patch band into k x k equal square sub-patches, then prove the split.

A course derives smaller patches (e.g. 60 x 60 px from BigEarthNet's 120 x 120) by cutting each band into
``parts = k * k`` squares named ``<stem>_A.tif``, ``_B.tif``, ... row-major from the upper left. Each part
keeps the source's CRS, dtype, NO_DATA and compression, and gets the geotransform of its window.

Nothing is guessed: ``parts`` must be a square number, the raster must be square and north-up, and its
size must divide by k (a 20 px 60 m band does not split into 3 x 3). After writing, the parts are read
back: their corners must tile the original's bounds exactly and their pixels, put together, must equal
the original's; otherwise the parts are removed and the command fails. Parts are written under temporary
names and renamed only after that proof, so no unverified part is ever left under its final name.
"""

from __future__ import annotations

import math
import string
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window
from rasterio.windows import transform as window_transform

from s2lake.errors import ExportError

#: Parts are lettered A, B, ...: 5 x 5 is the largest split with single letters.
MAX_PARTS = 25


def part_names(stem: str, parts: int) -> list[str]:
    return [f"{stem}_{string.ascii_uppercase[i]}.tif" for i in range(parts)]


def _side(parts: int) -> int:
    k = math.isqrt(parts)
    if parts < 4 or k * k != parts or parts > MAX_PARTS:
        raise ExportError(
            f"--parts {parts} is not a square number from 4 to {MAX_PARTS}",
            fix="give 4 (2 x 2), 9 (3 x 3), 16 or 25 parts",
        )
    return k


def retile(source: Path, out_dir: Path, parts: int = 4) -> list[Path]:
    """Write the ``parts`` sub-patches of ``source`` into ``out_dir`` and return their paths, in order."""
    k = _side(parts)
    source, out_dir = Path(source), Path(out_dir)
    try:
        src = rasterio.open(source)
    except rasterio.errors.RasterioIOError as exc:
        raise ExportError(f"cannot read {source} as a raster: {exc}", where=str(source), fix="give a GeoTIFF") from None
    with src:
        t = src.transform
        if t.b != 0 or t.d != 0 or t.e >= 0:
            raise ExportError(
                f"{source.name} is not north-up (geotransform {tuple(t)[:6]})",
                where=str(source),
                fix="re-tile only patch bands as BigEarthNet ships them (north-up UTM rasters)",
            )
        if src.width != src.height:
            raise ExportError(
                f"{source.name} is {src.width} x {src.height} px: not square, so its parts cannot be squares",
                where=str(source),
                fix="re-tile square patch bands only",
            )
        if src.width % k:
            raise ExportError(
                f"{source.name} is {src.width} px wide, which does not divide into {k} equal parts "
                f"({src.width} / {k} = {src.width / k:.2f} px) for --parts {parts}",
                where=str(source),
                fix=f"choose --parts whose root divides {src.width} (e.g. 4 for 2 x 2 when it is even)",
            )
        size = src.width // k
        original = src.read()
        profile = src.profile
        bounds, crs = src.bounds, src.crs
    out_dir.mkdir(parents=True, exist_ok=True)
    finals = [out_dir / name for name in part_names(source.stem, parts)]
    temps = [final.with_name(f".{final.name}.partial") for final in finals]
    try:
        for index, temp in enumerate(temps):
            row, col = divmod(index, k)
            window = Window(col * size, row * size, size, size)
            profile.update(width=size, height=size, transform=window_transform(window, t))
            with rasterio.open(temp, "w", **profile) as dst:
                dst.write(original[:, row * size : (row + 1) * size, col * size : (col + 1) * size])
        _verify(temps, k, original, bounds, crs, source)
        for temp, final in zip(temps, finals, strict=True):
            temp.replace(final)
    except BaseException:
        for temp in temps:
            temp.unlink(missing_ok=True)
        raise
    return finals


def _verify(paths: list[Path], k: int, original: np.ndarray, bounds: object, crs: object, source: Path) -> None:
    """Read the parts back: they must tile the original's bounds corner to corner, and its pixels."""
    rows: list[list[np.ndarray]] = [[] for _ in range(k)]
    width = (bounds.right - bounds.left) / k
    height = (bounds.top - bounds.bottom) / k
    for index, path in enumerate(paths):
        row, col = divmod(index, k)
        with rasterio.open(path) as part:
            expected = (
                bounds.left + col * width,
                bounds.top - (row + 1) * height,
                bounds.left + (col + 1) * width,
                bounds.top - row * height,
            )
            if part.crs != crs or not np.allclose(tuple(part.bounds), expected, rtol=0, atol=1e-6):
                raise ExportError(
                    f"part {path.name} covers {tuple(part.bounds)} in {part.crs}, expected {expected} in {crs}",
                    where=str(source),
                    fix="this is a bug in the re-tiling: report it with the source file",
                )
            rows[row].append(part.read())
    if not np.array_equal(np.block(rows), original):
        raise ExportError(
            f"the {k * k} parts of {source.name} do not reassemble its pixels",
            where=str(source),
            fix="this is a bug in the re-tiling: report it with the source file",
        )
