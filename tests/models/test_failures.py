"""dbt's data tests can fail, and failures reach the user as one clear error."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from s2lake.config.models import ModelsSettings
from s2lake.dbt.runner import build
from s2lake.errors import ConfigError, ModelsError
from s2lake.tables.schemas import PATCH_LANDCOVER, PATCHES, PRODUCTS
from s2lake.tables.store import TableStore
from sedona_jobs.synth.warehouse import generate


def test_label_outside_the_19_classes_fails_the_build(warehouse):
    generated = generate(warehouse, tiles=1, grid=4, dates_per_tile=(1,), defect_rate=0.1)
    landcover = generated.tables["patch_landcover"]
    first = pc.equal(pa.array(range(landcover.num_rows)), 0)
    bad = landcover.set_column(
        landcover.schema.get_field_index("ben19_label"),
        "ben19_label",
        pc.if_else(first, pa.scalar("Lava fields"), landcover["ben19_label"]),
    )
    TableStore(warehouse).overwrite(PATCH_LANDCOVER, bad)
    with pytest.raises(ModelsError) as err:
        build(ModelsSettings(), warehouse, select=["+int_patch_label_fractions"], quiet=True)
    assert "relationships_int_patch_label_fractions_label" in err.value.message
    assert "fail" in err.value.message


def test_missing_label_tables_are_named_before_dbt_starts(warehouse):
    generated = generate(warehouse, tiles=1, grid=2, dates_per_tile=(1,), write=False)
    store = TableStore(warehouse)
    store.overwrite(PRODUCTS, generated.tables["products"])
    store.overwrite(PATCHES, generated.tables["patches"])
    with pytest.raises(
        ModelsError, match=r"source table\(s\) patch_landcover, patch_country, patch_overlaps, label_runs missing"
    ) as err:
        build(ModelsSettings(), warehouse, quiet=True)
    assert "s2lake labels build" in err.value.message
    assert store.open("patch_labels") is None


def test_split_shares_must_leave_room_for_test():
    from s2lake.config import load_settings

    with pytest.raises(ConfigError, match="split_train_share"):
        load_settings(models__split_train_share=0.8, models__split_validation_share=0.2)


def test_spark_session_with_delta_needs_the_jar_folder(no_jar_folder, warehouse):
    generate(warehouse, tiles=1, grid=2, dates_per_tile=(1,))
    with pytest.raises(ModelsError, match="no Delta jars") as err:
        build(ModelsSettings(target="spark"), warehouse, quiet=True)
    assert "S2LAKE_SPARK_JARS" in err.value.message and "parquet" in err.value.message
