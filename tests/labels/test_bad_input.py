"""Bad input to `labels build`: clear errors or explicit flags, and no partial outputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import pytest

from s2lake.errors import ProductError, ReferenceDataError, WarehouseError
from s2lake.shipped_data import SHIPPED_COUNTRIES
from s2lake.tables.schemas import PATCHES
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.labels import build_labels
from sedona_jobs.labels.patch_rows import patch_table
from sedona_jobs.reference import load_reference, write_synthetic
from sedona_jobs.reference.geoparquet import reference_dir
from sedona_jobs.synth.reference_layers import synth_clc, synth_nuts
from tests.labels.conftest import ORIGIN_33, patch_rows, rows_bbox_3035

OUTPUTS = ("patch_landcover", "patch_country", "patch_overlaps")


def _no_outputs(warehouse: Warehouse) -> bool:
    return all(TableStore(warehouse).open(name) is None for name in OUTPUTS)


def test_missing_patches_and_missing_reference_tables(warehouse: Warehouse) -> None:
    with pytest.raises(WarehouseError, match="table `patches` does not exist"):
        build_labels(warehouse)
    store = TableStore(warehouse)
    store.overwrite(PATCHES, patch_table([]))
    write_synthetic(synth_clc(rows_bbox_3035(patch_rows()), 5), warehouse, "clc")
    load_reference("countries", SHIPPED_COUNTRIES, warehouse)
    with pytest.raises(ProductError, match="the patches table is empty"):
        build_labels(warehouse)
    store.overwrite(PATCHES, patch_table(patch_rows()))
    shutil.rmtree(Path(reference_dir(warehouse, "clc")))
    with pytest.raises(ReferenceDataError, match=r"reference table `clc` .* is missing") as err:
        build_labels(warehouse)
    assert "s2lake reference load clc" in err.value.message and "land.copernicus.eu" in err.value.message
    write_synthetic(synth_clc(rows_bbox_3035(patch_rows()), 5).iloc[:0], warehouse, "clc")
    with pytest.raises(ReferenceDataError, match="`clc` is empty"):
        build_labels(warehouse)
    assert _no_outputs(warehouse)


def test_no_country_layer_and_nuts_without_level_0(labelled_warehouse: Warehouse) -> None:
    with pytest.raises(ReferenceDataError, match="no country reference table"):
        build_labels(labelled_warehouse)
    nuts = synth_nuts(rows_bbox_3035(patch_rows()), 6, countries=2)
    write_synthetic(nuts[nuts.levl_code == 3], labelled_warehouse, "nuts")
    with pytest.raises(ReferenceDataError, match="no LEVL_CODE 0"):
        build_labels(labelled_warehouse)
    assert _no_outputs(labelled_warehouse)


def test_reference_table_in_the_wrong_crs_is_refused(labelled_warehouse: Warehouse) -> None:
    path = Path(reference_dir(labelled_warehouse, "clc")) / "part-00000.parquet"
    gpd.read_parquet(path).to_crs(4326).to_parquet(path)  # written behind the loader's back
    load_reference("countries", SHIPPED_COUNTRIES, labelled_warehouse)
    with pytest.raises(ReferenceDataError, match="`clc` is in EPSG:4326, the joins need EPSG:3035"):
        build_labels(labelled_warehouse)
    assert _no_outputs(labelled_warehouse)


def test_unknown_epsg_fails_or_is_skipped_with_the_flag(labelled_warehouse: Warehouse) -> None:
    load_reference("countries", SHIPPED_COUNTRIES, labelled_warehouse)
    store = TableStore(labelled_warehouse)
    rows = [*patch_rows(), ("P_BAD", "99XXX", 32699, *ORIGIN_33), ("P_GEO", "00AAA", 4326, 13.0, 48.0)]
    store.overwrite(PATCHES, patch_table(rows))
    with pytest.raises(ProductError, match=r"EPSG:4326 \(1 patches, e.g. tile 00AAA\), EPSG:32699") as err:
        build_labels(labelled_warehouse)
    assert "--skip-unknown-epsg" in err.value.message
    assert _no_outputs(labelled_warehouse)
    report = build_labels(labelled_warehouse, skip_unknown_epsg=True)
    assert report.skipped_unknown_epsg == 2 and report.patches == 40
    ids = set(store.read("patch_country", columns=["patch_id"]).column("patch_id").to_pylist())
    assert "P_BAD" not in ids and len(ids) == 40


def test_a_failed_rebuild_keeps_the_previous_versions(labelled_warehouse: Warehouse) -> None:
    load_reference("countries", SHIPPED_COUNTRIES, labelled_warehouse)
    build_labels(labelled_warehouse)
    store = TableStore(labelled_warehouse)
    versions = {name: store.open(name).version() for name in OUTPUTS}
    rows = [*patch_rows(), ("P_BAD", "99XXX", 32699, *ORIGIN_33)]
    store.overwrite(PATCHES, patch_table(rows))
    with pytest.raises(ProductError):
        build_labels(labelled_warehouse)
    assert {name: store.open(name).version() for name in OUTPUTS} == versions
