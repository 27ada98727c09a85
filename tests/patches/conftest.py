"""Product fixtures for the patch tests: real SAFE folders with JPEG 2000 bands, made by the synthesiser.

- ``small_l2a``: one 1200 x 1200 px product (10 x 10 patches, 10 % NO_DATA swath), written once per
  session; treat it as read-only.
- ``make_l2a(**kwargs)``: a fresh product in the test's tmp_path (any ``write_l2a`` argument).
- ``broken_l2a(defect)``: a copy of ``small_l2a`` with one defect; returns ``(product, faulty_file)``.
- ``zip_l2a(product)``: the product zipped as the Copernicus hubs deliver it (``<name>.SAFE/`` inside).
- ``spark``: one local[2] Spark session with Delta Lake for the whole run (start-up costs ~10-40 s here).
"""

from __future__ import annotations

import re
import shutil
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from sedona_jobs.synth.l2a import write_l2a

SMALL_PIXELS = 1200
DEFECTS = (
    "missing_band",
    "wrong_size",
    "corrupt_jp2",
    "truncated_jp2",
    "l1c",
    "not_sentinel2",
    "missing_mtd",
    "missing_mtd_tl",
)


@pytest.fixture(scope="session")
def small_l2a(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_l2a(
        tmp_path_factory.mktemp("small_l2a"),
        tile="33UUU",
        date="2018-05-10",
        pixels=SMALL_PIXELS,
        nodata_fraction=0.1,
        seed=42,
        workers=1,
    )


@pytest.fixture
def make_l2a(tmp_path: Path) -> Callable[..., Path]:
    def make(**kwargs: object) -> Path:
        kwargs.setdefault("pixels", 600)
        kwargs.setdefault("workers", 1)
        out = tmp_path / f"products_{len(list(tmp_path.glob('products_*')))}"
        return write_l2a(out, **kwargs)

    return make


def garble_tile(path: Path, tile: int) -> None:
    """Overwrite 4 kB of one JPEG 2000 tile's packet data: a damaged file whose size and headers are intact.

    The reader's checks (header, box lengths) pass, and decoding fails only at that tile, i.e. at
    the second row of 1024 px tiles: after the first strips of the product were already written.
    """
    data = bytearray(path.read_bytes())
    starts = [m.start() for m in re.finditer(rb"\xff\x90\x00\x0a", bytes(data))]  # SOT markers
    assert len(starts) > tile, "expected a tiled codestream"
    first = starts[tile] + 14 + 200  # past SOT (12 bytes) and SOD (2 bytes), into the packets
    data[first : first + 4096] = b"\xff" * 4096
    path.write_bytes(bytes(data))


def band_path(product: Path, band: str, resolution: int) -> Path:
    """The JPEG 2000 file of a band in a product folder."""
    (path,) = product.glob(f"GRANULE/*/IMG_DATA/R{resolution}m/*_{band}_{resolution}m.jp2")
    return path


def _write_jp2(path: Path, size: int) -> None:
    import rasterio

    with rasterio.open(
        path, "w", driver="JP2OpenJPEG", width=size, height=size, count=1, dtype="uint16", REVERSIBLE="YES"
    ) as dst:
        dst.write(np.full((1, size, size), 1500, np.uint16))


def make_defect(product: Path, defect: str) -> tuple[Path, Path]:
    """Give a product folder one defect; return the (possibly renamed) product and the faulty file."""
    if defect == "missing_band":
        faulty = band_path(product, "B8A", 20)
        faulty.unlink()
    elif defect == "wrong_size":
        faulty = band_path(product, "B03", 10)
        _write_jp2(faulty, SMALL_PIXELS // 2)
    elif defect == "corrupt_jp2":
        faulty = band_path(product, "B04", 10)
        data = bytearray(faulty.read_bytes())
        data[:256] = np.random.default_rng(0).integers(0, 256, 256, dtype=np.uint8).tobytes()
        faulty.write_bytes(bytes(data))
    elif defect == "truncated_jp2":  # an interrupted download: the header is intact, the tiles are not
        faulty = band_path(product, "B05", 20)
        with faulty.open("r+b") as fh:
            fh.truncate(faulty.stat().st_size // 2)
    elif defect == "l1c":
        renamed = product.with_name(product.name.replace("MSIL2A", "MSIL1C"))
        product = product.rename(renamed)
        faulty = product / "MTD_MSIL1C.xml"
        text = (product / "MTD_MSIL2A.xml").read_text().replace("Level-2A", "Level-1C").replace("MSIL2A", "MSIL1C")
        faulty.write_text(text)
        (product / "MTD_MSIL2A.xml").unlink()
    elif defect == "not_sentinel2":
        product = product.with_name("LC08_L2SP_193023_20180510_20200901_02_T1")
        product.mkdir()
        faulty = product / "LC08_L2SP_193023_20180510_20200901_02_T1_MTL.txt"
        faulty.write_text("GROUP = LANDSAT_METADATA_FILE\nEND_GROUP = LANDSAT_METADATA_FILE\nEND\n")
    elif defect == "missing_mtd":
        faulty = product / "MTD_MSIL2A.xml"
        faulty.unlink()
    elif defect == "missing_mtd_tl":
        (faulty,) = product.glob("GRANULE/*/MTD_TL.xml")
        faulty.unlink()
    else:
        raise ValueError(f"unknown defect {defect!r}; known: {DEFECTS}")
    return product, faulty


@pytest.fixture
def broken_l2a(small_l2a: Path, tmp_path: Path) -> Callable[[str], tuple[Path, Path]]:
    def broken(defect: str) -> tuple[Path, Path]:
        copy = shutil.copytree(small_l2a, tmp_path / defect / small_l2a.name)
        return make_defect(copy, defect)

    return broken


def zip_product(product: Path, archive: Path) -> Path:
    """Zip a SAFE folder the way the Copernicus hubs do: ``<name>.SAFE/...`` at the top, no compression
    of JPEG 2000 (already compressed), deflate for XML."""
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted(product.rglob("*")):
            arcname = f"{product.name}/{path.relative_to(product)}"
            if path.is_dir():
                out.writestr(arcname + "/", b"")
            else:
                method = zipfile.ZIP_STORED if path.suffix == ".jp2" else zipfile.ZIP_DEFLATED
                out.write(path, arcname, compress_type=method)
    return archive


@pytest.fixture
def zip_l2a(tmp_path: Path) -> Callable[[Path], Path]:
    def make(product: Path) -> Path:
        return zip_product(product, tmp_path / f"{product.name.removesuffix('.SAFE')}.zip")

    return make


@pytest.fixture(scope="session")
def spark(spark_jars: Path) -> Iterator[object]:
    """A local[2] SparkSession with Delta Lake (no Sedona), shared by every Spark test of the run.

    Uses the Maven-resolved jar folder (``spark_jars``, never skipped) and sets ``S2LAKE_SPARK_JARS`` for
    the session, so code that asks :func:`s2lake.spark.delta_session` for a session (the CLI) gets this one.
    """
    folder = str(spark_jars)
    from s2lake.spark import JARS_ENV, delta_session

    with pytest.MonkeyPatch.context() as env:
        env.setenv(JARS_ENV, folder)
        session = delta_session(
            "s2lake-tests",
            master="local[2]",
            extra={
                "spark.ui.enabled": "false",
                "spark.ui.showConsoleProgress": "false",
                "spark.sql.shuffle.partitions": "2",
            },
        )
        yield session
        session.stop()
