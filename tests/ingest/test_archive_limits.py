"""Zip bombs: a small download inflating to hundreds of MB is refused, naming the member, with nothing
half-extracted left behind and without reading the member into memory."""

from __future__ import annotations

import functools
import random
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from ingest.extract import extract_archive
from s2lake.errors import ArchiveError
from s2lake.testing.standin_catalogues import StandInServer, generate_products, zip_bomb
from tests.ingest.conftest import mirror_for
from tests.ingest.test_scheduler import _landed_ok, _run

NAME = "S2B_MSIL2A_20210301T103000_N0500_R065_T32UNA_20210301T133000"
BAND = "GRANULE/L2A/IMG_DATA/R10m/B02_10m.jp2"


@functools.cache
def _bomb(overstate: bool) -> bytes:
    return zip_bomb(NAME, BAND, overstate=overstate)  # 200 MB of zeros in ~200 KB (or ~4 MB with the lie)


@pytest.mark.parametrize("overstate", [False, True], ids=["honest-directory", "lying-directory"])
def test_extraction_refuses_a_zip_bomb_with_bounded_output_and_memory(tmp_path, overstate) -> None:
    """Honest directory: refused before a byte is written. Lying directory (its ratio looks like 50x):
    refused while inflating, after a few MB, not 200."""
    archive = tmp_path / "bomb.zip"
    archive.write_bytes(_bomb(overstate))
    target = tmp_path / "staging"
    tracemalloc.start()
    try:
        with pytest.raises(ArchiveError, match=rf"archive member '{NAME}.SAFE/{BAND}' inflates") as raised:
            extract_archive(str(archive), str(target))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "zip bomb" in raised.value.message and str(archive) in raised.value.message
    assert peak < 16 << 20, f"{peak / 2**20:.0f} MiB held while refusing"
    written = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    assert written < 16 << 20 if overstate else written < 1024


def test_a_real_sized_product_passes_the_default_limits(tmp_path) -> None:
    """What real products hold: incompressible JPEG 2000 bands (here 20 MB of random bytes) and XML that
    deflates ~10-20x (here ~4 MB of varied angle-grid-like values): all of it is extracted."""
    rng = random.Random(1)
    values = [f'<VALUE id="{i}">{rng.uniform(0, 100):.4f}</VALUE>\n' for i in range(256)]
    xml = "".join(rng.choice(values) for _ in range(120_000))
    archive = tmp_path / f"{NAME}.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as out:
        out.writestr(f"{NAME}.SAFE/GRANULE/L2A/MTD_TL.xml", xml)
        out.writestr(f"{NAME}.SAFE/{BAND}", rng.randbytes(20 << 20))
    info = zipfile.ZipFile(archive).getinfo(f"{NAME}.SAFE/GRANULE/L2A/MTD_TL.xml")
    assert 10 < info.file_size / info.compress_size < 20
    tops = extract_archive(str(archive), str(tmp_path / "staging"))
    assert tops == [f"{NAME}.SAFE"]
    assert (tmp_path / "staging" / f"{NAME}.SAFE" / BAND).stat().st_size == 20 << 20


@pytest.mark.parametrize("overstate", [False, True], ids=["honest-directory", "lying-directory"])
def test_a_mirror_serving_a_zip_bomb_fails_that_product_only(servers, creds, warehouse, overstate) -> None:
    good = generate_products(2, ["32UNA"], payload=32 * 1024)
    bomb = generate_products(1, ["32UNA"], start=good[-1].sensing, seed=2)[0]
    bomb.name = NAME
    bomb.data = _bomb(overstate)
    server = StandInServer("cdse", [*good, bomb]).start()
    servers.append(server)
    report, _ = _run([mirror_for(server, "cdse")], warehouse, max_attempts=2)

    assert sorted(report.landed) == sorted(p.name for p in good)
    assert f"archive member '{NAME}.SAFE/{BAND}' inflates" in report.failed[NAME]
    state = Path(warehouse.root, "_state")
    assert not list((state / "staging").rglob("*"))  # the partial extraction is gone
    assert not list((state / "downloads").glob(f"{NAME}*"))  # and so is the bomb
    assert not Path(warehouse.landing_uri, f"{NAME}.SAFE").exists()
    _landed_ok(warehouse, good)
