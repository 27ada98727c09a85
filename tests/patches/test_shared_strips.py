"""Band-mode workers hand their strips to the parent through shared memory: the same pixels and statistics as
decoding in-process, already in the table's int32 (no copy left to the parent), and no segment left behind,
also when a worker fails mid-product."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from s2lake.errors import ProductError
from s2lake.sentinel2 import ALL_LAYERS
from sedona_jobs.patches import workers
from sedona_jobs.patches.patch_grid import grid_of
from sedona_jobs.patches.workers import band_parallel_strips, local_strips
from sedona_jobs.safe import open_product
from tests.patches.conftest import band_path, garble_tile


@pytest.fixture
def created(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the segments the builder creates (other test runs on the machine create their own)."""
    names: list[str] = []

    class Recorded(workers._Segment):
        def __init__(self, name: str | None = None, create: bool = False, size: int = 0) -> None:
            super().__init__(name, create, size)
            if create:
                names.append(self.name)

    monkeypatch.setattr(workers, "_Segment", Recorded)
    return names


def _left(names: list[str]) -> list[str]:
    return [name for name in names if os.path.exists(f"/dev/shm/{name}")]


def _open(path: Path):
    product = open_product(path, verify_checksums=False)
    grid = grid_of({b.name: product.bands[b.name].shape for b in ALL_LAYERS}, product.ulx, product.uly, where="x")
    return product, grid


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="POSIX shared memory listed in /dev/shm (Linux)")
def test_worker_strips_are_shared_int32_and_equal_to_local_ones(small_l2a: Path, created: list[str]) -> None:
    product, grid = _open(small_l2a)
    local = list(local_strips(product, grid, strip_rows=3))
    shared = band_parallel_strips(product, grid, strip_rows=3, workers=2)  # consumed strip by strip: slots recycle
    for (r0, r1, mine), (l0, l1, theirs) in zip(shared, local, strict=True):
        assert (r0, r1) == (l0, l1)
        for b in ALL_LAYERS:
            pixels = mine[b.name].pixels
            assert pixels.dtype == (np.uint8 if b.name == "SCL" else np.int32)
            assert not pixels.flags.owndata and isinstance(pixels.base.base, memoryview), "not a shared view"
            assert np.array_equal(pixels, theirs[b.name].pixels)
            for stat in ("min", "max", "valid", "sum", "sum_sq"):
                mask = mine[b.name].stats.valid > 0
                assert np.array_equal(
                    getattr(mine[b.name].stats, stat)[mask], getattr(theirs[b.name].stats, stat)[mask]
                )
        del mine, pixels
    assert created and _left(created) == [], "a shared memory segment outlived the product"


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="POSIX shared memory listed in /dev/shm (Linux)")
def test_failing_worker_leaves_no_segment(make_l2a, created: list[str]) -> None:
    path = make_l2a(pixels=1200, seed=7)
    garble_tile(band_path(path, "B02", 10), 2)  # the second row of tiles: after the first strips went through
    product, grid = _open(path)
    strips = band_parallel_strips(product, grid, strip_rows=3, workers=2)
    with pytest.raises(ProductError, match="B02"):
        for _ in strips:
            pass
    assert created and _left(created) == []
