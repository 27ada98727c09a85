"""A full-size tile (10,980 px): 8,281 patches, shapes, bboxes, ids, band = product mode, reruns.

Marked ``fulltile``: it runs in CI with the rest but takes several minutes on 2 cores (generating the
tile's JPEG 2000 bands is the larger part; the tile is cached in pytest's cache folder between local
runs). Deselect it with ``-m "not fulltile"`` for a quick loop. Checks run in DuckDB over the Delta
table, since the table (~2.7 GB of pixels in memory) should not be loaded into Python.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from s2lake.config.patches import PatchesSettings
from s2lake.duckdb_session import connect
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.patches import PatchId, build_products
from sedona_jobs.safe import open_product

pytestmark = [pytest.mark.fulltile, pytest.mark.timeout(2400)]

#: Everything a row holds, hashed per row then summed: equal sums mean equal tables (order-free).
ROW_HASH = (
    "SELECT count(*) AS n, sum(hash(patch_id, row, col, ulx, uly, footprint, b01, b02, b03, b04, b05, b06, b07, "
    "b08, b8a, b09, b11, b12, scl, band_stats, scene_classes, has_nodata, nodata_pixels)) AS h FROM patches"
)


@pytest.fixture(scope="module")
def tile(request: pytest.FixtureRequest) -> Path:
    from sedona_jobs.synth.l2a import write_l2a

    folder = Path(request.config.cache.mkdir("s2lake-full-tile"))
    existing = sorted(folder.glob("*.SAFE"))
    return existing[0] if existing else write_l2a(folder, pixels=10980, nodata_fraction=0.05, seed=11)


def test_full_tile(tile: Path, tmp_path: Path) -> None:
    product = open_product(tile)
    band_wh = Warehouse.at(tmp_path / "band")
    [outcome] = build_products([tile], band_wh, PatchesSettings(mode="band", workers=2))
    assert (outcome.status, outcome.patches) == ("patched", 8281)

    con = connect(band_wh)
    checks = con.sql(
        f"""
        SELECT count(*) AS n, count(DISTINCT patch_id) AS ids, max(row) AS last_row, max(col) AS last_col,
               bool_and(ulx = {product.ulx} + col * 1200 AND uly = {product.uly} - row * 1200
                        AND lrx = ulx + 1200 AND lry = uly - 1200) AS bbox_ok,
               bool_and(len(b02) = 14400 AND len(b03) = 14400 AND len(b04) = 14400 AND len(b08) = 14400
                        AND len(b05) = 3600 AND len(b06) = 3600 AND len(b07) = 3600 AND len(b8a) = 3600
                        AND len(b11) = 3600 AND len(b12) = 3600 AND len(b01) = 400 AND len(b09) = 400
                        AND len(scl) = 3600 AND len(band_stats) = 13) AS shapes_ok,
               bool_and(ST_Equals(ST_GeomFromWKB(footprint), ST_MakeEnvelope(ulx, lry, lrx, uly))) AS footprint_ok,
               sum(has_nodata::INT) AS with_nodata
        FROM patches
        """
    ).fetchone()
    assert checks[:4] == (8281, 8281, 90, 90)
    assert checks[4:7] == (True, True, True)
    assert 0 < checks[7] < 8281
    for (text,) in con.sql("SELECT patch_id FROM patches WHERE (row, col) IN ((0, 0), (90, 90), (57, 26))").fetchall():
        pid = PatchId.parse(text)
        assert str(pid) == text and pid.tile == product.tile and pid.datatake == product.datatake

    product_wh = Warehouse.at(tmp_path / "product")
    [other] = build_products([tile], product_wh, PatchesSettings(mode="product", workers=2))
    assert other.patches == 8281
    assert connect(product_wh).sql(ROW_HASH).fetchone() == con.sql(ROW_HASH).fetchone()

    [again] = build_products([tile], band_wh, PatchesSettings(workers=2))
    assert again.status == "skipped"
    # version 0 creates the empty table, version 1 is the product: the skipped run committed nothing
    assert TableStore(band_wh).count("patches") == 8281 and TableStore(band_wh).require("patches").version() == 1
