"""An independent read of a BigEarthNet patch folder with rasterio, to compare the imported rows with."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio

from s2lake.sentinel2 import BANDS


def read_folder(folder: Path) -> dict:
    """Pixels (flat int lists), shapes, CRS and bounds of each band file, straight from rasterio."""
    out = {}
    for band in BANDS:
        with rasterio.open(folder / f"{folder.name}_{band.name}.tif") as src:
            pixels = src.read(1)
            out[band.name] = {
                "pixels": pixels.reshape(-1).astype(np.int64).tolist(),
                "shape": pixels.shape,
                "epsg": src.crs.to_epsg(),
                "bounds": (src.bounds.left, src.bounds.top, src.bounds.right, src.bounds.bottom),
            }
    return out


def assert_row_matches(row: dict, folder: Path) -> None:
    """Pixels, shapes, NO_DATA counts, statistics and georeference of an imported row equal the files'."""
    truth = read_folder(folder)
    nodata = 0
    for band in BANDS:
        t = truth[band.name]
        assert row[band.column] == t["pixels"], band.name
        stats = next(s for s in row["band_stats"] if s["band"] == band.name)
        assert (stats["height"], stats["width"]) == t["shape"]
        valid = [p for p in t["pixels"] if p != 0]
        nodata += len(t["pixels"]) - len(valid)
        assert stats["valid_count"] == len(valid) and stats["sum"] == sum(valid)
        assert stats["sum_sq"] == sum(p * p for p in valid)
        assert (stats["min"], stats["max"]) == (min(valid), max(valid))
    b02 = truth["B02"]
    assert row["epsg"] == b02["epsg"]
    assert (row["ulx"], row["uly"], row["lrx"], row["lry"]) == b02["bounds"]
    assert row["nodata_pixels"] == nodata and row["has_nodata"] == (nodata > 0)
    assert row["scl"] is None and row["scene_classes"] is None and len(row["band_stats"]) == 12
