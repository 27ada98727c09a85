"""Synthetic L2A products: ESA layout and names, valid metadata, georeferenced lossless JPEG 2000,
plausible and consistent values, NO_DATA share, determinism, atomic writes, the CLI."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
import rasterio
from lxml import etree
from typer.testing import CliRunner

from s2lake.cli.main import app
from s2lake.errors import ConfigError
from s2lake.product_names import ProductName
from s2lake.sentinel2 import BANDS
from sedona_jobs.safe import open_product
from sedona_jobs.synth.l2a import write_l2a
from tests.patches.conftest import SMALL_PIXELS, band_path

NATIVE_FILES = {f"{b.name}_{b.resolution}m" for b in BANDS} | {"SCL_20m", "SCL_60m"}


def _paths(root: etree._Element) -> set[str]:
    """Element paths below the root, by local name (namespaces and the root's name ignored)."""

    def walk(element: etree._Element, prefix: str) -> set[str]:
        found = set()
        for child in element.iterchildren(tag=etree.Element):
            path = f"{prefix}/{etree.QName(child).localname}"
            found |= {path} | walk(child, path)
        return found

    return walk(root, "")


def test_layout_and_names(small_l2a: Path) -> None:
    product = ProductName.parse(small_l2a.name)
    assert product and product.tile == "33UUU" and product.datatake.startswith("20180510T")
    assert product.baseline == "05.10" and product.level == "L2A"
    for name in ("MTD_MSIL2A.xml", "manifest.safe"):
        assert (small_l2a / name).is_file()
    for folder in ("AUX_DATA", "DATASTRIP", "HTML", "rep_info", "GRANULE"):
        assert (small_l2a / folder).is_dir()
    (granule,) = (small_l2a / "GRANULE").iterdir()
    assert re.fullmatch(rf"L2A_T33UUU_A\d{{6}}_{product.datatake[:9]}\d{{6}}", granule.name)
    assert (granule / "MTD_TL.xml").is_file()
    assert (granule / "QI_DATA").is_dir() and (granule / "AUX_DATA").is_dir()
    written = {p.name for p in granule.glob("IMG_DATA/R*m/*.jp2")}
    assert written == {f"T33UUU_{product.datatake}_{name}.jp2" for name in NATIVE_FILES}
    for path in granule.glob("IMG_DATA/R*m/*.jp2"):
        assert path.parent.name == "R" + path.stem.rsplit("_", 1)[1]
    # Atomic write: nothing but the product is left next to it.
    assert [p.name for p in small_l2a.parent.iterdir()] == [small_l2a.name]
    assert not list(small_l2a.rglob("*.npy")) and not list(small_l2a.rglob("*.aux.xml"))


def test_product_metadata(small_l2a: Path, shared_data: Path) -> None:
    root = etree.parse(small_l2a / "MTD_MSIL2A.xml").getroot()
    real = etree.parse(shared_data / "sentinel2_metadata/MTD_MSIL2A__T50TMK_20240411.xml").getroot()
    assert root.tag == real.tag  # same namespace and root element as ESA's
    assert _paths(root) <= _paths(real), _paths(root) - _paths(real)
    assert root.findtext(".//PRODUCT_URI") == small_l2a.name
    assert root.findtext(".//PROCESSING_BASELINE") == "05.10"
    assert [int(e.text) for e in root.iterfind(".//BOA_ADD_OFFSET")] == [-1000] * 13
    assert root.findtext(".//BOA_QUANTIFICATION_VALUE") == "10000"
    classes = [e.text for e in root.iterfind(".//SCENE_CLASSIFICATION_TEXT")]
    assert classes[0] == "SC_NODATA" and classes[9] == "SC_CLOUD_HIGH_PROBA" and len(classes) == 12
    entries = [e.text for e in root.iterfind(".//IMAGE_FILE")]
    assert len(entries) == 14 and all((small_l2a / f"{e}.jp2").is_file() for e in entries)
    nodata = float(root.findtext(".//NODATA_PIXEL_PERCENTAGE"))
    assert nodata == pytest.approx(10, abs=1)
    assert float(root.findtext(".//Cloud_Coverage_Assessment")) == pytest.approx(10, abs=3)


def test_tile_metadata(small_l2a: Path) -> None:
    (mtd,) = small_l2a.glob("GRANULE/*/MTD_TL.xml")
    root = etree.parse(mtd).getroot()
    assert etree.QName(root).localname == "Level-2A_Tile_ID"
    assert root.findtext(".//HORIZONTAL_CS_CODE") == "EPSG:32633"
    assert root.findtext(".//HORIZONTAL_CS_NAME") == "WGS84 / UTM zone 33N"
    sizes = {int(s.get("resolution")): int(s.findtext("NROWS")) for s in root.iterfind(".//Size")}
    assert sizes == {10: SMALL_PIXELS, 20: SMALL_PIXELS // 2, 60: SMALL_PIXELS // 6}
    geo = root.find(".//Geoposition[@resolution='10']")
    assert (geo.findtext("ULX"), geo.findtext("ULY")) == ("300000", "5900040")
    assert 20 < float(root.findtext(".//Mean_Sun_Angle/ZENITH_ANGLE")) < 60  # May, 52°N, morning


def test_manifest_checksums(small_l2a: Path) -> None:
    root = etree.parse(small_l2a / "manifest.safe").getroot()
    streams = root.findall(".//byteStream")
    assert len(streams) == 16  # 14 bands + 2 metadata files
    for stream in streams:
        path = small_l2a / stream.find("fileLocation").get("href")
        assert path.stat().st_size == int(stream.get("size"))
        assert hashlib.md5(path.read_bytes()).hexdigest() == stream.findtext("checksum")


def test_bands_are_georeferenced_jpeg2000(small_l2a: Path) -> None:
    for band in BANDS:
        with rasterio.open(band_path(small_l2a, band.name, band.resolution)) as src:
            assert src.driver == "JP2OpenJPEG"
            assert (src.count, src.dtypes[0]) == (1, "uint16")
            assert src.crs.to_epsg() == 32633
            size = SMALL_PIXELS * 10 // band.resolution
            assert (src.width, src.height) == (size, size)
            assert tuple(src.transform)[:6] == (band.resolution, 0, 300000, 0, -band.resolution, 5900040)
            if band.resolution == 10:
                assert src.block_shapes == [(1024, 1024)]


def _read(product: Path, name: str, resolution: int) -> np.ndarray:
    with rasterio.open(band_path(product, name, resolution)) as src:
        return src.read(1)


def test_values_are_plausible_and_consistent(small_l2a: Path) -> None:
    scl = _read(small_l2a, "SCL", 20)
    nir, red_edge, swir = (_read(small_l2a, b, 20).astype(np.int32) - 1000 for b in ("B8A", "B05", "B12"))
    assert set(np.unique(scl)) >= {0, 4, 5, 6}
    assert set(np.unique(scl)) <= set(range(12))
    # NO_DATA: DN 0 in every band exactly where SCL is 0, nowhere else.
    nodata = scl == 0
    for band in BANDS:
        if band.resolution == 20:
            assert np.array_equal(_read(small_l2a, band.name, 20) == 0, nodata), band.name
    assert nodata.mean() == pytest.approx(0.10, abs=0.02)
    assert (_read(small_l2a, "B02", 10) == 0).mean() == pytest.approx(0.10, abs=0.02)
    assert np.array_equal(_read(small_l2a, "SCL", 60), scl[1::3, 1::3])
    # Spectra by class (reflectance x 10000): vegetation is bright in NIR, water dark, clouds bright.
    vegetation, water, cloud = scl == 4, scl == 6, scl == 9
    assert np.median(nir[vegetation]) > 2 * np.median(red_edge[vegetation])
    assert np.median(nir[water]) < 400 and np.median(nir[water]) < np.median(red_edge[water])
    if cloud.any():
        assert np.median(swir[cloud]) > 1500
    valid = _read(small_l2a, "B04", 10)
    valid = valid[valid > 0]
    assert valid.min() >= 1 and valid.max() < 65535
    assert 1000 < np.median(valid) < 4000  # red reflectance of a mostly vegetated scene: 0-0.3


def test_deterministic_per_seed(make_l2a) -> None:
    first, again, pooled = make_l2a(seed=3), make_l2a(seed=3), make_l2a(seed=3, workers=2)
    other = make_l2a(seed=4)
    assert first.name == again.name == pooled.name
    manifest = (first / "manifest.safe").read_bytes()
    assert manifest == (again / "manifest.safe").read_bytes() == (pooled / "manifest.safe").read_bytes()
    assert not np.array_equal(_read(first, "B03", 10), _read(other, "B03", 10))


def test_options(make_l2a) -> None:
    product = make_l2a(
        tile="55HBU", date="2021-01-15", mission="S2B", pixels=120, cloud=0, nodata_fraction=0, all_resolutions=True
    )
    opened = open_product(product)
    assert (opened.mission, opened.tile, opened.epsg) == ("S2B", "55HBU", 32755)
    assert opened.sensing_start.date().isoformat() == "2021-01-15"
    assert opened.cloud_cover == 0
    assert band_path(product, "B02", 20).is_file() and band_path(product, "B8A", 60).is_file()
    assert opened.bands["B02"].resolution == 10 and opened.bands["B8A"].resolution == 20
    assert (_read(product, "SCL", 20) > 0).all()


def test_bad_arguments_and_existing_product(small_l2a: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="multiple of 6"):
        write_l2a(tmp_path, pixels=1000)
    with pytest.raises(ConfigError, match="not in the Sentinel-2 tiling grid"):
        write_l2a(tmp_path, tile="33UZZ", pixels=60)
    with pytest.raises(ConfigError, match="not a date"):
        write_l2a(tmp_path, date="10/05/2018", pixels=60)
    with pytest.raises(ConfigError, match="already exists"):
        write_l2a(small_l2a.parent, pixels=SMALL_PIXELS, nodata_fraction=0.1, seed=42)


def test_crash_leaves_no_product(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sedona_jobs.synth.l2a.product as product_module

    def fail(*_args: object) -> bytes:
        raise OSError("disk full")

    monkeypatch.setattr(product_module, "product_xml", fail)
    with pytest.raises(OSError, match="disk full"):
        write_l2a(tmp_path / "out", pixels=60)
    assert list((tmp_path / "out").iterdir()) == []


def test_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["synth", "l2a", str(tmp_path), "--pixels", "120", "--seed", "9", "--cloud", "20"])
    assert result.exit_code == 0, result.output
    (product,) = tmp_path.glob("*.SAFE")
    assert str(product) in result.output
    assert open_product(product).product_name == product.name
    bad = runner.invoke(app, ["synth", "l2a", str(tmp_path), "--pixels", "100"])
    assert bad.exit_code == 2 and "multiple of 6" in bad.output


@pytest.mark.parametrize(("layer", "resolution"), [("B02", 10), ("B8A", 20), ("B09", 60), ("SCL", 20)])
def test_jpeg2000_is_lossless(tmp_path: Path, layer: str, resolution: int) -> None:
    """What is decoded from the file is exactly what was rendered (REVERSIBLE=YES, QUALITY=100)."""
    from sedona_jobs.synth.l2a.bands import BandTask, render, write_band
    from sedona_jobs.synth.l2a.scene import Scene, make_scene

    make_scene(360, seed=5, nodata_fraction=0.2, cloud_percent=30, latitude=52).save(tmp_path)
    task = BandTask(layer, resolution, str(tmp_path / "band.jp2"), str(tmp_path), 5, 1000, 32633, 300000.0, 5900040.0)
    path, size, md5 = write_band(task)
    assert size == Path(path).stat().st_size and len(md5) == 32
    with rasterio.open(path) as src:
        assert np.array_equal(src.read(1), render(task, Scene.load(tmp_path)))
