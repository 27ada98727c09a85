"""``metadata.parquet`` names countries in English as BigEarthNet does, also where the labels came from NUTS,
which names them in their own languages ("Österreich", "Deutschland")."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.export.ben_export import export_ben
from sedona_jobs.reference.codelists import country_names
from tests.export.conftest import patch_rows

#: The countries of BigEarthNet v2's metadata.parquet, as it spells them, by ISO 3166 / NUTS code.
BIGEARTHNET_COUNTRIES = {
    "AT": "Austria",
    "BE": "Belgium",
    "FI": "Finland",
    "IE": "Ireland",
    "XK": "Kosovo",
    "LT": "Lithuania",
    "LU": "Luxembourg",
    "PT": "Portugal",
    "RS": "Serbia",
    "CH": "Switzerland",
}


def test_code_list_spells_bigearthnet_countries() -> None:
    names = country_names()
    assert {code: names.get(code) for code in BIGEARTHNET_COUNTRIES} == BIGEARTHNET_COUNTRIES
    assert names["EL"] == names["GR"] == "Greece" and names["UK"] == names["GB"] == "United Kingdom"


@pytest.fixture(scope="module")
def nuts_warehouse(patched_warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """The 25 patches labelled against a generated CLC layer and a generated NUTS layer of local names."""
    # lazy: sedona_jobs.labels loads numba (~1 s); only the labelled warehouse needs it
    from sedona_jobs.labels import build_labels
    from sedona_jobs.reference import write_synthetic
    from sedona_jobs.synth.reference_layers import synth_clc, synth_nuts
    from tests.labels.conftest import rows_bbox_3035

    warehouse = Warehouse.at(shutil.copytree(patched_warehouse.root, tmp_path_factory.mktemp("nuts") / "wh"))
    rows = [(r["patch_id"], r["tile"], r["epsg"], r["ulx"], r["uly"]) for r in patch_rows(warehouse).values()]
    bbox = rows_bbox_3035(rows)
    write_synthetic(synth_clc(bbox, 20, seed=5), warehouse, "clc")
    nuts = synth_nuts(bbox, 12, countries=3, seed=1)  # DE Deutschland, FR France, AT Österreich
    write_synthetic(nuts, warehouse, "nuts")
    build_labels(warehouse)
    return warehouse


def test_nuts_local_names_become_english(nuts_warehouse: Warehouse, tmp_path: Path) -> None:
    stored = TableStore(nuts_warehouse).read("patch_country", ["patch_id", "country_code", "country_name"]).to_pylist()
    local = {r["patch_id"]: r["country_name"] for r in stored}
    assert set(local.values()) & {"Deutschland", "Österreich"}  # the labels run kept NUTS's own names
    english = {"DE": "Germany", "FR": "France", "AT": "Austria"}
    export_ben(nuts_warehouse, tmp_path / "out", workers=1)
    meta = {r["patch_id"]: r["country"] for r in pq.read_table(tmp_path / "out" / "metadata.parquet").to_pylist()}
    assert meta == {r["patch_id"]: english.get(r["country_code"]) for r in stored}
    assert set(meta.values()) & {"Germany", "Austria"}
