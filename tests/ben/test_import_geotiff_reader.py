"""The import's GeoTIFF reader gives what rasterio gives -- pixels, dtype, geotransform, EPSG -- for every
form a band file may come in: the ones tifffile reads itself and the ones it leaves to GDAL."""

from __future__ import annotations

import tarfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from s2lake.ben.geotiff_reader import _read_plain, read_geotiff

PIXELS = (np.arange(120 * 120, dtype=np.uint32).reshape(120, 120) * 37 % 9000).astype(np.uint16)

#: name -> (creation options, whether tifffile's path reads it; the others must come from GDAL unchanged)
FORMS: dict[str, dict] = {
    "plain strips (BigEarthNet v1)": {},
    "deflate + predictor 2 (s2lake export)": {"compress": "deflate", "predictor": 2, "nodata": 0},
    "tiled deflate": {"tiled": True, "blockxsize": 64, "blockysize": 64, "compress": "deflate"},
    "packbits": {"compress": "packbits"},
    "big-endian": {"endianness": "big"},
    "lzw (no imagecodecs)": {"compress": "lzw"},
    "zstd (no imagecodecs)": {"compress": "zstd"},
    "int16": {"dtype": "int16"},
    "float32": {"dtype": "float32"},
    "no crs": {"crs": None},
    "geographic crs": {"crs": "EPSG:4326", "transform": from_origin(16.5, 48.2, 0.0001, 0.0001)},
}


def _write(path: Path, options: dict) -> None:
    profile = {
        "driver": "GTiff",
        "width": 120,
        "height": 120,
        "count": 1,
        "dtype": "uint16",
        "crs": "EPSG:32633",
        "transform": from_origin(404400.0, 5342400.0, 10, 10),
    } | options
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(PIXELS.astype(profile["dtype"]), 1)


def _assert_same(path: Path) -> None:
    got = read_geotiff(path)
    with rasterio.open(path) as src:
        truth = src.read(1)
        assert got.pixels.dtype == truth.dtype and np.array_equal(got.pixels, truth)
        assert got.transform == tuple(src.transform)[:6]
        assert got.epsg == (src.crs.to_epsg() if src.crs else None)
        assert got.bounds == (src.bounds.left, src.bounds.top, src.bounds.right, src.bounds.bottom)


@pytest.mark.parametrize("form", FORMS)
def test_every_form_reads_as_rasterio_reads_it(form: str, tmp_path: Path) -> None:
    path = tmp_path / "band.tif"
    _write(path, FORMS[form])
    _assert_same(path)


def test_point_registered_raster_keeps_gdal_half_pixel_shift(tmp_path: Path) -> None:
    path = tmp_path / "point.tif"
    _write(path, {})
    with rasterio.open(path, "r+") as dst:
        dst.update_tags(AREA_OR_POINT="Point")
    _assert_same(path)  # GDAL moves a PixelIsPoint tiepoint by half a pixel; the reader leaves it to GDAL


def test_real_bigearthnet_bands(shared_data: Path, tmp_path: Path) -> None:
    with tarfile.open(shared_data / "bigearthnet" / "BigEarthNet-S2-Example.tar.bz2") as tar:
        tar.extractall(tmp_path, filter="data")
    bands = sorted(tmp_path.rglob("*_B*.tif"))
    assert len(bands) == 72
    for path in bands:
        _assert_same(path)


def test_a_broken_file_raises_gdal_error(tmp_path: Path) -> None:
    path = tmp_path / "band.tif"
    _write(path, {})
    path.write_bytes(path.read_bytes()[:3000])  # truncated inside the strips
    with pytest.raises(rasterio.errors.RasterioIOError):
        read_geotiff(path)


#: The forms the hand parser reads itself (classic TIFF, uint16 strips, none or DEFLATE, north-up, PixelIsArea).
PLAIN_FORMS = {"plain strips (BigEarthNet v1)", "deflate + predictor 2 (s2lake export)", "big-endian", "geographic crs"}


@pytest.mark.parametrize("form", FORMS)
def test_hand_parser_reads_its_forms_as_rasterio_does_and_declines_the_others(form: str, tmp_path: Path) -> None:
    path = tmp_path / "band.tif"
    _write(path, FORMS[form])
    got = _read_plain(path)
    if form not in PLAIN_FORMS:
        assert got is None  # tifffile or rasterio reads it
        return
    assert got is not None
    with rasterio.open(path) as src:
        assert got.pixels.dtype == np.uint16 and got.pixels.dtype.isnative and np.array_equal(got.pixels, src.read(1))
        assert got.transform == tuple(src.transform)[:6] and got.epsg == src.crs.to_epsg()


def test_real_bigearthnet_bands_take_the_hand_parser(shared_data: Path, tmp_path: Path) -> None:
    with tarfile.open(shared_data / "bigearthnet" / "BigEarthNet-S2-Example.tar.bz2") as tar:
        tar.extractall(tmp_path, filter="data")
    for path in sorted(tmp_path.rglob("*_B*.tif")):
        got = _read_plain(path)
        assert got is not None, path
        with rasterio.open(path) as src:
            assert np.array_equal(got.pixels, src.read(1)) and got.transform == tuple(src.transform)[:6]


def test_hand_parser_declines_truncated_files(tmp_path: Path) -> None:
    """Short strips are never padded into pixels: the parser declines (or zlib raises), rasterio says why."""
    plain, deflated = tmp_path / "plain.tif", tmp_path / "deflated.tif"
    _write(plain, {})
    _write(deflated, FORMS["deflate + predictor 2 (s2lake export)"])
    plain.write_bytes(plain.read_bytes()[:-200])
    deflated.write_bytes(deflated.read_bytes()[:-200])
    assert _read_plain(plain) is None
    with pytest.raises(zlib.error):
        _read_plain(deflated)
    for path in (plain, deflated):
        with pytest.raises(rasterio.errors.RasterioIOError):
            read_geotiff(path)
