"""`patches build` from a STAC item of COGs: the same rows as from the SAFE of the same scene, locally and
over HTTP range requests from the stand-in STAC server on 127.0.0.1; clear errors for unusable items.

The synthesiser writes both forms of one product (``write_cog_item``: COGs + item, keys by common
name as Earth Search serves them); the real Earth Search and Planetary Computer items in the shared
test data check the asset-key mapping of both naming schemes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from s2lake.config.patches import PatchesSettings
from s2lake.tables.store import TableStore
from s2lake.testing.standin_catalogues import StandInServer
from s2lake.warehouse import Warehouse
from sedona_jobs.patches import build_products
from sedona_jobs.patches.stac_item import _band_assets, open_item
from sedona_jobs.patches.strips import LayerReader
from sedona_jobs.synth.l2a.cog import write_cog_item

S2LAKE = str(Path(sys.executable).parent / "s2lake")
#: products columns that name where the product was read from, not what it is: they differ between forms.
SOURCE_COLUMNS = {"storage_path", "size_bytes", "ingestion_time"}


@pytest.fixture(scope="module")
def both_forms(small_l2a: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(SAFE, STAC item of its COGs) of one synthetic scene (1200 px, 10 % NO_DATA)."""
    return small_l2a, write_cog_item(small_l2a, tmp_path_factory.mktemp("cog"))


def _build(source: str | Path, root: Path) -> tuple[pa.Table, pa.Table]:
    warehouse = Warehouse.at(root)
    [outcome] = build_products([source], warehouse, PatchesSettings(mode="band", workers=2, strip_rows=3))
    assert (outcome.status, outcome.patches, outcome.reason) == ("patched", 100, None)
    store = TableStore(warehouse)
    return store.read("patches").sort_by("patch_id"), store.read("products")


def _row_hashes(table: pa.Table, skip: set[str] = frozenset()) -> list[str]:
    """One SHA-256 per row over every column but ``skip`` (pixels, stats, geometry, ids, times)."""
    keep = [c for c in table.column_names if c not in skip]
    return [hashlib.sha256(repr(row).encode()).hexdigest() for row in table.select(keep).to_pylist()]


@pytest.fixture(scope="module")
def safe_rows(both_forms: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[pa.Table, pa.Table]:
    return _build(both_forms[0], tmp_path_factory.mktemp("wh-safe"))


@pytest.fixture
def served(both_forms: tuple[Path, Path]) -> Iterator[tuple[StandInServer, str]]:
    """The stand-in STAC server serving the COG folder under /cog/; (server, item URL)."""
    item = both_forms[1]
    server = StandInServer("stac", [], cog_root=item.parent).start()
    try:
        yield server, f"{server.base}cog/{item.name}"
    finally:
        server.stop()


def test_local_item_gives_the_safe_rows(both_forms, safe_rows, tmp_path: Path) -> None:
    patches, products = _build(both_forms[1], tmp_path / "wh")
    assert patches.num_rows == 100
    assert _row_hashes(patches) == _row_hashes(safe_rows[0])  # every column: no patch field names its source
    assert _row_hashes(products, SOURCE_COLUMNS) == _row_hashes(safe_rows[1], SOURCE_COLUMNS)
    assert products.column("storage_path")[0].as_py() == str(both_forms[1].resolve())


def test_item_url_over_range_requests_gives_the_safe_rows(served, safe_rows, tmp_path: Path) -> None:
    server, url = served
    run = subprocess.run(
        [S2LAKE, "-w", str(tmp_path / "wh"), "patches", "build", url, "--workers", "2", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert [(r["status"], r["patches"]) for r in json.loads(run.stdout)] == [("patched", 100)]
    store = TableStore(Warehouse.at(tmp_path / "wh"))
    assert _row_hashes(store.read("patches").sort_by("patch_id")) == _row_hashes(safe_rows[0])
    assert store.read("products", ["storage_path"]).column(0).to_pylist() == [url]
    tif_gets = [r for r in server.stats.cog_requests if r[0] == "GET" and r[1].endswith(".tif")]
    assert {name for _, name, _, _ in tif_gets} >= {"B02.tif", "B8A.tif", "B09.tif", "SCL.tif"}
    assert all(header is not None for _, _, header, _ in tif_gets), "a band file was fetched whole"


def test_one_patch_row_fetches_a_small_part_of_the_band(served, both_forms) -> None:
    server, url = served
    product = open_item(url)
    assert product.bands["B02"].path == f"/vsicurl/{url.rsplit('/', 1)[0]}/B02.tif"
    before = len(server.stats.cog_requests)
    reader = LayerReader("B02", product.bands["B02"].path, cols=10)
    try:
        strip = reader.read(0, 1)  # one patch row: 120 of 1200 pixel rows
    finally:
        reader.close()
    assert strip.pixels.shape == (10, 14400)
    b02 = [r for r in server.stats.cog_requests[before:] if r[1] == "B02.tif"]
    size = (both_forms[1].parent / "B02.tif").stat().st_size
    assert b02 and all(r[2] is not None and r[2].startswith("bytes=") for r in b02)
    served_bytes = sum(r[3] for r in b02)
    assert 0 < served_bytes < size / 2, f"{served_bytes} of {size} bytes served for one patch row"


def test_remote_cogs_are_read_without_credentials(served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ~/.netrc entry and GDAL credential options for the asset's host are not sent: reads are anonymous."""
    server, url = served
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login alice password s3cret-pw\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("GDAL_HTTP_NETRC_FILE", str(netrc))
    monkeypatch.setenv("GDAL_HTTP_USERPWD", "alice:s3cret-pw")
    monkeypatch.setenv("GDAL_HTTP_NETRC", "YES")
    product = open_item(url)
    reader = LayerReader("SCL", product.bands["SCL"].path, cols=10)
    try:
        reader.read(0, 2)
    finally:
        reader.close()
    seen = [(path, auth) for _, path, auth in server.stats.authorization]
    assert any(path.endswith("SCL.tif") for path, _ in seen) and any(path.endswith(".json") for path, _ in seen)
    assert [auth for _, auth in seen if auth is not None] == []


def _edited(item: Path, tmp_path: Path, edit) -> Path:
    """A copy of the item folder with the item's JSON changed by ``edit``."""
    folder = tmp_path / "edited"
    shutil.copytree(item.parent, folder)
    copy = folder / item.name
    doc = json.loads(copy.read_text())
    edit(doc)
    copy.write_text(json.dumps(doc))
    return copy


@pytest.mark.parametrize(
    ("edit", "what", "where"),
    [
        (lambda d: d["assets"].pop("nir08"), "no COG asset for band(s) B8A", "assets"),
        (lambda d: d["assets"]["scl"].pop("proj:transform"), "asset 'scl' has no usable proj:transform", "assets.scl"),
        (lambda d: d["properties"].pop("proj:epsg"), "no proj:epsg", "properties"),
        (lambda d: d["properties"].pop("s2:product_uri"), "names no Sentinel-2 product", "properties"),
        (lambda d: d["assets"]["red"].update(href="./B05.tif"), "band B04 is 600x600 px", "B05.tif"),
        (lambda d: d["properties"].update({"earthsearch:boa_offset_applied": True}), "BOA_ADD_OFFSET", "properties"),
    ],
    ids=["missing-band", "missing-transform", "missing-epsg", "missing-product-uri", "wrong-file", "offset-applied"],
)
def test_unusable_item_fails_with_what_where_fix(both_forms, tmp_path: Path, edit, what: str, where: str) -> None:
    item = _edited(both_forms[1], tmp_path, edit)
    warehouse = Warehouse.at(tmp_path / "wh")
    [outcome] = build_products([item], warehouse, PatchesSettings(workers=1))
    assert outcome.status == "failed" and what in outcome.reason, outcome.reason
    store = TableStore(warehouse)
    assert store.open("patches") is None  # nothing written
    [row] = store.read("products", ["product_id", "status", "status_reason"]).to_pylist()
    assert row["status"] == "failed" and where in row["status_reason"] and "Fix:" in row["status_reason"]
    assert row["product_id"] == item.stem  # the product's name, as its SAFE's failure would be recorded


@pytest.mark.parametrize(
    "name",
    ["S2A_28QCH_20200714_0_L2A.json", "S2B_MSIL2A_20190629T212529_R043_T06VVN_20201006T080531.json"],
    ids=["earth-search", "planetary-computer"],
)
def test_real_items_map_every_band_to_its_native_asset(shared_data: Path, name: str) -> None:
    path = shared_data / "api_responses" / "stac_odc_stac_0.5.3" / name
    doc = json.loads(path.read_text())
    mapped = _band_assets(doc["assets"], str(path))
    assert {band: key for band, (key, _) in mapped.items()} == {
        **{b: b for b in ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")},
        "SCL": "SCL",
    }
    assert all(a["proj:transform"][0] in (10, 20, 60) for _, a in mapped.values())
