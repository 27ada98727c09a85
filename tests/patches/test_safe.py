"""The L2A reader on real formats: synthetic SAFE folders and zips, ESA's own metadata files, bad input."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio

from s2lake.errors import ProductError
from s2lake.sentinel2 import ALL_LAYERS
from sedona_jobs.safe import open_product, parse_product_metadata, parse_tile_metadata
from tests.patches.conftest import DEFECTS, SMALL_PIXELS


def test_open_folder(small_l2a: Path) -> None:
    product = open_product(small_l2a)
    assert product.product_name == small_l2a.name
    assert product.product_id == small_l2a.name.removesuffix(".SAFE")
    assert (product.mission, product.processing_level, product.tile) == ("S2A", "L2A", "33UUU")
    assert (product.epsg, product.ulx, product.uly) == (32633, 300000.0, 5900040.0)
    assert product.sensing_start.tzinfo is not None
    assert product.sensing_start.astimezone(UTC).date() == datetime(2018, 5, 10).date()
    assert product.datatake == product.sensing_start.strftime("%Y%m%dT%H%M%S")
    assert product.product_id.split("_")[2] == product.datatake
    assert product.processing_baseline == "05.10"
    assert f"_R{product.relative_orbit:03d}_" in product.product_id
    assert product.quantification == 10000
    assert set(product.boa_add_offset.values()) == {-1000} and len(product.boa_add_offset) == 12
    assert 0 < product.cloud_cover < 100
    assert product.size_bytes == sum(p.stat().st_size for p in small_l2a.rglob("*") if p.is_file())
    assert list(product.bands) == [layer.name for layer in ALL_LAYERS]
    for layer in ALL_LAYERS:
        band = product.bands[layer.name]
        assert band.resolution == layer.resolution
        assert Path(band.path).is_file()
        assert Path(band.path).name.endswith(f"_{layer.name}_{layer.resolution}m.jp2")


def test_open_by_metadata_file(small_l2a: Path) -> None:
    assert open_product(small_l2a / "MTD_MSIL2A.xml").product_name == small_l2a.name


def test_bands_come_from_the_metadata_not_from_globbing(small_l2a: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(small_l2a, tmp_path / small_l2a.name)
    mtd = copy / "MTD_MSIL2A.xml"
    text = mtd.read_text()
    b11 = next(line for line in text.splitlines() if "_B11_20m</IMAGE_FILE>" in line)
    mtd.write_text(text.replace(b11 + "\n", ""))
    with pytest.raises(ProductError, match="B11 at 20 m is not listed") as err:
        open_product(copy)
    assert "MTD_MSIL2A.xml" in str(err.value)


def test_open_zip_reads_in_place(small_l2a: Path, zip_l2a) -> None:
    archive = zip_l2a(small_l2a)
    product = open_product(archive)
    folder = open_product(small_l2a)
    assert product.source == str(archive)
    assert product.product_id == folder.product_id
    assert (product.epsg, product.ulx, product.uly, product.sensing_start) == (
        folder.epsg,
        folder.ulx,
        folder.uly,
        folder.sensing_start,
    )
    assert product.size_bytes == archive.stat().st_size
    band = product.bands["B02"]
    assert band.path.startswith("/vsizip/") and band.resolution == 10
    window = ((120, 240), (0, 120))
    with rasterio.open(band.path) as zipped, rasterio.open(folder.bands["B02"].path) as plain:
        assert np.array_equal(zipped.read(1, window=window), plain.read(1, window=window))


@pytest.mark.parametrize("defect", ["missing_band", "truncated_jp2"])
def test_bad_zip_names_the_member(broken_l2a, zip_l2a, defect: str) -> None:
    product, faulty = broken_l2a(defect)
    archive = zip_l2a(product)
    with pytest.raises(ProductError) as err:
        open_product(archive)
    assert str(archive) in str(err.value) and faulty.name in str(err.value)


@pytest.mark.parametrize("defect", DEFECTS)
def test_bad_input_names_the_file(broken_l2a, defect: str) -> None:
    product, faulty = broken_l2a(defect)
    with pytest.raises(ProductError) as err:
        open_product(product)
    message = str(err.value)
    assert err.value.fix, message
    if defect == "not_sentinel2":
        assert "not a Sentinel-2" in message and str(product) in message
    else:
        assert faulty.name in message
    expected = {
        "missing_band": "band file of B8A is missing",
        "wrong_size": f"is {SMALL_PIXELS // 2}x{SMALL_PIXELS // 2} px, MTD_TL.xml declares {SMALL_PIXELS}x",
        "corrupt_jp2": "B04 is not a readable JPEG 2000",
        "truncated_jp2": "B05 is a truncated JPEG 2000",
        "l1c": "Level-1C",
        "missing_mtd": "MTD_MSIL2A.xml is missing",
        "missing_mtd_tl": "MTD_TL.xml is missing",
    }.get(defect, "")
    assert expected in message
    if defect == "l1c":
        assert "sen2cor" in message


def test_missing_path_and_plain_file(tmp_path: Path) -> None:
    with pytest.raises(ProductError, match="not found"):
        open_product(tmp_path / "nothing.SAFE")
    junk = tmp_path / "notes.txt"
    junk.write_text("hello")
    with pytest.raises(ProductError, match=r"not a SAFE folder nor a \.zip"):
        open_product(junk)


def test_old_baseline_has_no_offset(make_l2a) -> None:
    product = open_product(make_l2a(baseline="02.09", seed=5))
    assert product.processing_baseline == "02.09"
    assert "_N0209_" in product.product_id
    assert set(product.boa_add_offset.values()) == {0}


def test_parse_real_l2a_metadata(shared_data: Path) -> None:
    meta = parse_product_metadata((shared_data / "sentinel2_metadata/MTD_MSIL2A__T50TMK_20240411.xml").read_bytes())
    assert meta.processing_level == "L2A"
    assert meta.product_uri == "S2A_MSIL2A_20240411T030521_N0510_R075_T50TMK_20240411T080950.SAFE"
    assert meta.sensing_start == datetime(2024, 4, 11, 3, 5, 21, 24000, tzinfo=UTC)
    assert (meta.processing_baseline, meta.relative_orbit, meta.quantification) == ("05.10", 75, 10000)
    assert meta.cloud_cover == pytest.approx(3.500058)
    assert meta.boa_add_offset == dict.fromkeys(range(13), -1000)
    assert len(meta.image_files) == 36
    assert "GRANULE/L2A_T50TMK_A045975_20240411T030632/IMG_DATA/R20m/T50TMK_20240411T030521_SCL_20m" in meta.image_files


def test_parse_real_tile_metadata(shared_data: Path) -> None:
    tile = parse_tile_metadata((shared_data / "sentinel2_metadata/MTD_TL__L1C_T16SEB_20201001.xml").read_bytes())
    assert (tile.tile_id, tile.epsg, tile.ulx, tile.uly) == ("16SEB", 32616, 499980.0, 3700020.0)
    assert tile.sizes == {10: (10980, 10980), 20: (5490, 5490), 60: (1830, 1830)}


@pytest.mark.parametrize("name", ["MTD_MSIL1C__T30QVE_20210517.xml", "MTD_MSIL1C__old_T30QVE_20210517.xml"])
def test_real_l1c_metadata_is_recognised(shared_data: Path, tmp_path: Path, name: str) -> None:
    data = (shared_data / "sentinel2_metadata" / name).read_bytes()
    assert parse_product_metadata(data).processing_level == "L1C"
    # A product folder carrying that metadata under the L2A name is still refused as L1C.
    folder = tmp_path / "S2B_MSIL1C_20210517T103619_N0300_R008_T30QVE_20210517T133315.SAFE"
    folder.mkdir()
    (folder / "MTD_MSIL2A.xml").write_bytes(data)
    with pytest.raises(ProductError, match=r"Level-1C.*sen2cor"):
        open_product(folder)
