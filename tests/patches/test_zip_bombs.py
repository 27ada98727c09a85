"""A .zip product read in place whose metadata inflates to 200 MB is refused, naming the member, without
reading it into memory; in a patches build the other products go on."""

from __future__ import annotations

import functools
import tracemalloc
from pathlib import Path

import pytest

from s2lake.errors import ArchiveError
from s2lake.tables.store import TableStore
from s2lake.testing.standin_catalogues import zip_bomb
from s2lake.warehouse import Warehouse
from sedona_jobs.patches import build_products
from sedona_jobs.safe import open_product

NAME = "S2A_MSIL2A_20190405T100031_N0510_R122_T33UUU_20190405T121500"
MEMBER = f"{NAME}.SAFE/MTD_MSIL2A.xml"


@functools.cache
def _bomb(overstate: bool) -> bytes:
    return zip_bomb(NAME, "MTD_MSIL2A.xml", overstate=overstate)


@pytest.mark.parametrize("overstate", [False, True], ids=["honest-directory", "lying-directory"])
def test_metadata_bomb_in_a_zip_is_refused_without_reading_it(tmp_path, overstate) -> None:
    archive = tmp_path / f"{NAME}.zip"
    archive.write_bytes(_bomb(overstate))
    tracemalloc.start()
    try:
        with pytest.raises(ArchiveError, match=rf"archive member '{MEMBER}'") as raised:
            open_product(archive)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(archive) in raised.value.message and "zip bomb" in raised.value.message
    assert peak < 16 << 20, f"{peak / 2**20:.0f} MiB held while refusing"


def test_a_zip_bomb_fails_only_its_own_product_in_a_build(tmp_path, make_l2a) -> None:
    good = make_l2a(date="2019-04-02", seed=2)
    archive = tmp_path / f"{NAME}.zip"
    archive.write_bytes(_bomb(False))
    warehouse = Warehouse.at(tmp_path / "warehouse")

    outcomes = {Path(o.source).name: o for o in build_products([archive, good], warehouse)}

    assert outcomes[archive.name].status == "failed" and "inflates" in outcomes[archive.name].reason
    assert outcomes[good.name].status == "patched" and outcomes[good.name].patches > 0
    rows = {r["product_id"]: r for r in TableStore(warehouse).read("products").to_pylist()}
    assert rows[NAME]["status"] == "failed" and MEMBER in rows[NAME]["status_reason"]
