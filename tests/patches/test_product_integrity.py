"""Products that still open but must not be trusted: damaged bands that decode, paths leaving the product.

Every product here is a real SAFE folder (or its .zip) written by the synthesiser; the defects are
made the way they happen: a band re-encoded with other pixels under the manifest's old checksum (a
corrupted copy that is still valid JPEG 2000), an ``IMAGE_FILE`` entry climbing out of the product,
a band replaced by a symbolic link to a file elsewhere.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from lxml import etree

from s2lake.config.patches import PatchesSettings
from s2lake.errors import ProductError, UnsafePathError
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.patches import build_products
from sedona_jobs.safe import open_product
from sedona_jobs.synth.l2a import write_l2a
from tests.patches.conftest import band_path, zip_product

S2LAKE = str(Path(sys.executable).parent / "s2lake")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pristine 600 px product (5 x 5 patches); tests work on copies."""
    return write_l2a(tmp_path_factory.mktemp("base"), pixels=600, seed=7, date="2019-06-01", workers=1)


@pytest.fixture
def copy(base: Path, tmp_path: Path):
    def make(name: str = "copy") -> Path:
        return Path(shutil.copytree(base, tmp_path / name / base.name, symlinks=True))

    return make


def reencode_band(path: Path) -> None:
    """Rewrite a band with other pixel values (+7 DN) as a valid lossless JPEG 2000 of the same grid:
    it opens, has the right size, CRS and origin, is not truncated and decodes; only its bytes differ
    from what ``manifest.safe`` lists."""
    with rasterio.open(path) as src:
        data, profile = src.read(1), src.profile
    profile |= {"REVERSIBLE": "YES", "QUALITY": "100"}
    path.unlink()
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.where(data > 0, data + 7, 0).astype(np.uint16), 1)


def manifest_checksum(product: Path, rel: str) -> str:
    root = etree.parse(product / "manifest.safe").getroot()
    for stream in root.iterfind(".//byteStream"):
        if stream.find("fileLocation").get("href") == f"./{rel}":
            return stream.findtext("checksum")
    raise AssertionError(f"{rel} not in manifest.safe")


def test_damaged_band_that_still_decodes_is_refused_naming_the_file(copy) -> None:
    product = copy()
    b03 = band_path(product, "B03", 10)
    listed = manifest_checksum(product, str(b03.relative_to(product)))
    reencode_band(b03)
    with rasterio.open(b03) as src:
        assert src.read(1).any()  # it decodes: nothing but the checksum can tell
    actual = hashlib.md5(b03.read_bytes()).hexdigest()

    with pytest.raises(ProductError) as err:
        open_product(product)
    message = str(err.value)
    assert "band B03 does not match the checksum manifest.safe lists" in message
    assert str(b03) in message and listed in message and actual in message
    assert "download the product again" in message and "--no-verify-checksums" in message

    # read in place from a .zip, the member is named inside the archive
    archive = zip_product(product, product.parent / "product.zip")
    with pytest.raises(ProductError, match="band B03 does not match") as err:
        open_product(archive)
    assert f"{archive}!{product.name}/{b03.relative_to(product)}" in str(err.value)

    assert open_product(product, verify_checksums=False).bands["B03"].path == str(b03)


def test_damaged_metadata_is_refused(copy) -> None:
    product = copy()
    (tile,) = product.glob("GRANULE/*/MTD_TL.xml")
    tile.write_bytes(tile.read_bytes().replace(b"<DEGRADED_MSI_DATA_PERCENTAGE>0", b"<DEGRADED_MSI_DATA_PERCENTAGE>9"))
    with pytest.raises(ProductError, match=r"MTD_TL\.xml does not match the checksum") as err:
        open_product(product)
    assert str(tile) in str(err.value)


def test_sha3_manifests_of_newer_products_are_checked(copy) -> None:
    """Products processed since 2021 list SHA3-256 instead of MD5."""
    product = copy()
    manifest = product / "manifest.safe"
    root = etree.parse(manifest)
    for stream in root.iterfind(".//byteStream"):
        checksum = stream.find("checksum")
        data = (product / stream.find("fileLocation").get("href")).read_bytes()
        checksum.set("checksumName", "SHA3-256")
        checksum.text = hashlib.sha3_256(data).hexdigest()
    root.write(manifest, xml_declaration=True, encoding="UTF-8")
    open_product(product)
    b8a = band_path(product, "B8A", 20)
    reencode_band(b8a)
    with pytest.raises(ProductError, match=r"band B8A does not match .*SHA3-256 expected [0-9a-f]{64}, the file has"):
        open_product(product)


def test_product_without_manifest_is_read_with_a_warning(copy, caplog: pytest.LogCaptureFixture) -> None:
    product = copy()
    (product / "manifest.safe").unlink()
    with caplog.at_level(logging.WARNING, logger="s2lake.patches"):
        open_product(product)
    assert "has no manifest.safe" in caplog.text and str(product) in caplog.text


def test_real_xfdu_manifest(shared_data: Path) -> None:
    """ESA's XFDU layout, from a real (Sentinel-1) manifest.safe: lower-case MD5, ``./`` hrefs."""
    from sedona_jobs.manifest import parse_manifest

    data = (shared_data / "api_responses/dhus_sentinelsat_1.0.1/vcr_cassettes/data/manifest.safe").read_bytes()
    listed = parse_manifest(data, "manifest.safe")
    assert set(listed) == {"preview/map-overlay.kml", "preview/product-preview.html"}
    assert listed["preview/map-overlay.kml"].size == 9561
    assert listed["preview/map-overlay.kml"].digest == "278455426228da678047482bd9fdde88"


def _point_band_at(product: Path, band: str, target: str) -> None:
    """Make MTD_MSIL2A.xml list ``target`` as the band's IMAGE_FILE entry (not B02: the first entry
    also names the granule folder, and the old reader would then miss MTD_TL.xml instead of following)."""
    mtd = product / "MTD_MSIL2A.xml"
    text = mtd.read_text()
    (entry,) = [line for line in text.splitlines() if f"_{band}_10m</IMAGE_FILE>" in line]
    old = entry.strip().removeprefix("<IMAGE_FILE>").removesuffix("</IMAGE_FILE>")
    mtd.write_text(text.replace(f">{old}<", f">{target}<"))


@pytest.mark.parametrize("kind", ["dotdot", "absolute"])
def test_band_path_leaving_the_product_is_refused(copy, tmp_path: Path, kind: str) -> None:
    product = copy()
    # A valid band of the same grid waits outside the product, where the path leads.
    outside = tmp_path / "elsewhere" / "T33UUU_B04_10m.jp2"
    outside.parent.mkdir()
    shutil.copy(band_path(product, "B04", 10), outside)
    target = f"GRANULE/../../../elsewhere/{outside.stem}" if kind == "dotdot" else str(outside.with_suffix(""))
    assert (product / f"{target}.jp2").resolve() == outside.resolve()
    _point_band_at(product, "B04", target)
    with pytest.raises(UnsafePathError, match="leaves the product") as err:
        open_product(product, verify_checksums=False)
    assert target in str(err.value) and "MTD_MSIL2A.xml" in str(err.value)

    archive = zip_product(product, tmp_path / "product.zip")
    with pytest.raises(UnsafePathError, match="leaves the product"):
        open_product(archive, verify_checksums=False)


@pytest.mark.parametrize("link", ["file", "folder"])
def test_symlink_leaving_the_product_is_refused(copy, tmp_path: Path, link: str) -> None:
    product = copy()
    # A link that stays inside the product is harmless and allowed.
    b05 = band_path(product, "B05", 20)
    moved = product / "AUX_DATA" / b05.name
    shutil.move(b05, moved)
    b05.symlink_to(os.path.relpath(moved, b05.parent))
    assert open_product(product).bands["B05"].path == str(b05)

    b02 = band_path(product, "B02", 10)
    elsewhere = tmp_path / "elsewhere"
    if link == "file":
        elsewhere.mkdir()
        shutil.move(b02, elsewhere / b02.name)
        b02.symlink_to(elsewhere / b02.name)
        linked = b02
    else:
        linked = b02.parent
        shutil.move(linked, elsewhere)
        linked.symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="points outside the product folder") as err:
        open_product(product)
    assert str(linked) in str(err.value) and str(elsewhere) in str(err.value)


def test_refused_products_fail_alone(tmp_path: Path) -> None:
    """In one run: a damaged band, a ``../`` band path and an escaping symlink each fail with their
    reason and leave no patches; the good product is built; one Delta commit in all."""
    out = tmp_path / "in"
    made = {
        k: write_l2a(out, pixels=600, seed=i, date=f"2019-07-0{i}", workers=1)
        for i, k in enumerate(["good", "damaged", "dotdot", "symlink"], start=1)
    }
    reencode_band(band_path(made["damaged"], "B04", 10))
    b04 = band_path(made["dotdot"], "B04", 10)
    shutil.copy(b04, made["dotdot"].parent / b04.name)
    _point_band_at(made["dotdot"], "B04", f"../{b04.stem}")
    b8a = band_path(made["symlink"], "B8A", 20)
    shutil.move(b8a, tmp_path / b8a.name)
    b8a.symlink_to(tmp_path / b8a.name)

    warehouse = Warehouse.at(tmp_path / "wh")
    order = ["damaged", "dotdot", "good", "symlink"]
    outcomes = dict(
        zip(order, build_products([made[k] for k in order], warehouse, PatchesSettings(workers=1)), strict=True)
    )
    assert {k: o.status for k, o in outcomes.items()} == {k: "failed" for k in order} | {"good": "patched"}
    assert "band B04 does not match" in outcomes["damaged"].reason
    assert "leaves the product" in outcomes["dotdot"].reason
    assert "points outside the product folder" in outcomes["symlink"].reason
    store = TableStore(warehouse)
    assert store.count("patches") == 25
    # version 0 creates the empty table, version 1 holds the good product: nothing of the refused ones
    assert sorted(p.name for p in (tmp_path / "wh/tables/patches/_delta_log").glob("*.json")) == [
        "00000000000000000000.json",
        "00000000000000000001.json",
    ]
    statuses = {r["product_id"]: r["status"] for r in store.read("products").to_pylist()}
    assert sorted(statuses.values()) == ["failed", "failed", "failed", "patched"]


def test_flag_builds_the_damaged_product_and_says_what_is_lost(copy, tmp_path: Path) -> None:
    product = copy()
    reencode_band(band_path(product, "B03", 10))
    warehouse = str(tmp_path / "wh")
    refused = subprocess.run(
        [S2LAKE, "-w", warehouse, "patches", "build", "--workers", "1", "--format", "json", str(product)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert refused.returncode == 1 and "band B03 does not match" in refused.stdout
    built = subprocess.run(
        [S2LAKE, "-w", warehouse, "patches", "build", "--workers", "1", "--no-verify-checksums", str(product)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    logged = " ".join(built.stderr.split())  # rich wraps log lines to the terminal width
    assert "checksum verification is off" in logged and "damaged bands that still decode go into the" in logged
    table = TableStore(Warehouse.at(warehouse)).read("patches", ["b03"])
    assert table.num_rows == 25
