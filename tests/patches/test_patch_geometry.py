"""Patch ids, the patch grid and the numpy reshaping/statistics, checked against plain loops."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from s2lake.ben_names import PatchId
from s2lake.errors import ProductError
from s2lake.sentinel2 import ALL_LAYERS, TILE_PIXELS
from sedona_jobs.patches.patch_grid import grid_of
from sedona_jobs.patches.strips import patch_stats, split_patches


def _shapes(pixels10: int) -> dict[str, tuple[int, int]]:
    return {b.name: (pixels10 * 10 // b.resolution,) * 2 for b in ALL_LAYERS}


def test_patch_id_round_trip() -> None:
    text = "S2A_MSIL2A_20170613T101031_N0510_R022_T33UUP_26_57"
    pid = PatchId.parse(text)
    assert pid == PatchId("S2A", "20170613T101031", "05.10", 22, "33UUP", 26, 57)
    assert str(pid) == text
    assert pid.prefix() == "S2A_MSIL2A_20170613T101031_N0510_R022_T33UUP"


@pytest.mark.parametrize("bad", ["S2A_MSIL1C_20170613T101031_N0510_R022_T33UUP_26_57", "S2A_26_57", ""])
def test_patch_id_rejects_other_strings(bad: str) -> None:
    with pytest.raises(ProductError, match="not a BigEarthNet v2 patch id"):
        PatchId.require(bad)


def test_full_tile_grid_is_91_by_91_and_bboxes_step_1200_m() -> None:
    grid = grid_of(_shapes(TILE_PIXELS[10]), 300000.0, 5900040.0, where="test")
    assert (grid.rows, grid.cols, grid.count) == (91, 91, 8281)
    rows, cols = np.array([0, 90, 57]), np.array([0, 90, 26])
    ulx, uly, lrx, lry = grid.bbox(rows, cols)
    assert ulx.tolist() == [300000.0, 300000.0 + 90 * 1200, 300000.0 + 26 * 1200]
    assert uly.tolist() == [5900040.0, 5900040.0 - 90 * 1200, 5900040.0 - 57 * 1200]
    assert (lrx - ulx).tolist() == [1200.0] * 3 and (uly - lry).tolist() == [1200.0] * 3
    last = shapely.from_wkb(grid.footprints_wkb(np.array([90]), np.array([90]))[0])
    assert last.bounds == (408000.0, 5790840.0, 409200.0, 5792040.0)
    assert last.area == 1200.0**2
    # the last complete patch ends 600 m before the tile edge: the border strip is dropped
    assert 300000.0 + 109800 - last.bounds[2] == 600.0


@pytest.mark.parametrize(("pixels", "edge"), [(2400, 20), (610, 5), (1830, 15), (120, 1)])
def test_cropped_grid_is_floor_of_extent(pixels: int, edge: int) -> None:
    grid = grid_of(_shapes(pixels), 0.0, 0.0, where="test")
    assert (grid.rows, grid.cols) == (edge, edge) == (pixels * 10 // 1200,) * 2


def test_too_small_product_is_rejected() -> None:
    with pytest.raises(ProductError, match="smaller than one 1200 m patch"):
        grid_of(_shapes(60), 0.0, 0.0, where="/data/x.SAFE")


def test_split_patches_matches_loops() -> None:
    rng = np.random.default_rng(1)
    array = rng.integers(0, 9, (2 * 20, 3 * 20 + 7), dtype=np.uint16)  # extra columns: border, dropped
    out = split_patches(array, 20, 3)
    assert out.shape == (6, 400)
    for r in range(2):
        for c in range(3):
            expected = array[r * 20 : (r + 1) * 20, c * 20 : (c + 1) * 20].reshape(-1)
            assert np.array_equal(out[r * 3 + c], expected)


def test_patch_stats_match_masked_numpy() -> None:
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 65536, (300, 400), dtype=np.uint16)
    pixels[5] = 0  # a patch that is all NO_DATA
    pixels[6, :10] = 65535  # saturated pixels are valid
    stats = patch_stats(pixels)
    for i in (0, 5, 6, 299):
        valid = pixels[i][pixels[i] != 0].astype(np.int64)
        assert stats.valid[i] == valid.size
        assert stats.sum[i] == int(valid.sum())
        assert stats.sum_sq[i] == int((valid * valid).sum())
        if valid.size:
            assert (stats.min[i], stats.max[i]) == (valid.min(), valid.max())


def test_scene_classes_found_per_patch() -> None:
    scl = np.zeros((2, 16), dtype=np.uint8)
    scl[0, :3] = [4, 6, 9]
    scl[1] = 5
    classes = patch_stats(scl, scene_classes=True).classes
    assert np.flatnonzero(classes[0]).tolist() == [0, 4, 6, 9]
    assert np.flatnonzero(classes[1]).tolist() == [5]
