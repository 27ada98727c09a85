"""``retile`` on the 6 real BigEarthNet patches (needs ../shared/data): parts A-D row-major from the upper
left with their own geotransform, reassembling the original; sizes that do not divide are refused."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from typer.testing import CliRunner

from s2lake.cli.main import app
from s2lake.errors import ExportError
from sedona_jobs.export.retile import _verify, retile


@pytest.fixture(scope="module")
def ben_patches(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("ben")
    with tarfile.open(shared_data / "bigearthnet" / "BigEarthNet-S2-Example.tar.bz2") as tar:
        tar.extractall(root, filter="data")
    patches = sorted(p for p in root.glob("*/*") if p.is_dir())
    assert len(patches) == 6
    return patches


@pytest.mark.parametrize("band", ["B02", "B05", "B01"])  # 120, 60 and 20 px
def test_real_patches_split_into_four(ben_patches: list[Path], tmp_path: Path, band: str) -> None:
    for patch in ben_patches:
        source = patch / f"{patch.name}_{band}.tif"
        parts = retile(source, tmp_path / patch.name, 4)
        assert [p.name for p in parts] == [f"{patch.name}_{band}_{x}.tif" for x in "ABCD"]
        with rasterio.open(source) as src:
            pixels, t, crs, half = src.read(1), src.transform, src.crs, src.width // 2
        for index, path in enumerate(parts):
            row, col = divmod(index, 2)
            with rasterio.open(path) as part:
                assert part.crs == crs and part.dtypes[0] == "uint16" and part.width == part.height == half
                assert part.transform == rasterio.Affine(t.a, 0, t.c + col * half * t.a, 0, t.e, t.f + row * half * t.e)
                np.testing.assert_array_equal(
                    part.read(1), pixels[row * half : (row + 1) * half, col * half : (col + 1) * half]
                )
        assert not list((tmp_path / patch.name).glob(".*"))  # no temporary part left


def test_sizes_that_do_not_divide_are_refused(ben_patches: list[Path], tmp_path: Path) -> None:
    source = ben_patches[0] / f"{ben_patches[0].name}_B01.tif"  # 20 px: no 3 x 3 split
    with pytest.raises(ExportError, match=r"20 px wide, which does not divide into 3 equal parts \(20 / 3 = 6.67"):
        retile(source, tmp_path / "out", 9)
    with pytest.raises(ExportError, match="not a square number"):
        retile(source, tmp_path / "out", 3)
    assert not (tmp_path / "out").exists()
    result = CliRunner().invoke(app, ["retile", str(source), str(tmp_path / "cli"), "--parts", "9"])
    assert result.exit_code == 2 and "does not divide" in result.output


def test_verification_fails_loudly_on_a_part_that_differs(ben_patches: list[Path], tmp_path: Path) -> None:
    source = ben_patches[0] / f"{ben_patches[0].name}_B02.tif"
    parts = retile(source, tmp_path, 4)
    with rasterio.open(source) as src:
        original, bounds, crs = src.read(), src.bounds, src.crs
    with rasterio.open(parts[3], "r+") as part:
        pixels = part.read()
        pixels[0, 0, 0] += 1
        part.write(pixels)
    with pytest.raises(ExportError, match="do not reassemble its pixels"):
        _verify(parts, 2, original, bounds, crs, source)
