"""The spark target, `method: session`: the same models on Spark give the same marts as DuckDB.

Plain Spark has no Delta jars here (they come from Maven), so the test exports the generated source
tables to Parquet, points the spark sources at them (models.source_format/source_root) and writes the
marts as Parquet (models.spark_file_format). The build runs through the `s2lake` CLI in a subprocess so
its SparkSession (and JVM) end with it.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from s2lake.marts.runner import MARTS
from s2lake.tables.store import TableStore
from tests.models.warehouse_gen import SOURCE_TABLES

KEYS = {
    "patch_labels": ["patch_id"],
    "season_stats": ["scope", "scope_value", "season"],
    "label_stats": ["label"],
    "overlap_counts": ["scope", "scope_value"],
    "patch_validation": ["patch_id"],
    "patch_validation_summary": ["check_name"],
    "band_stats": ["band"],
    "geographic_split": ["patch_id"],
    "patch_cloud_snow": ["patch_id"],
    "reference_map_labels": ["patch_id"],
    "ben_report": ["figure"],
}
#: Marts of BigEarthNet's own tables (ben_metadata, reference_map_polygons), which the generated SAFE-path
#: warehouse does not have: both engines must agree that they are empty.
BEN_ONLY = {"reference_map_labels"}


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return Decimal(a) == Decimal(b)
    return a == b


@pytest.fixture(scope="session")
def spark_marts(generated, duck_build, tmp_path_factory) -> Path:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("the spark target needs Java 17 or 21 (no java on PATH, JAVA_HOME unset)")
    root = tmp_path_factory.mktemp("spark")
    sources = root / "sources"
    store = TableStore(generated.warehouse)
    for name in SOURCE_TABLES:
        (sources / name).mkdir(parents=True)
        pq.write_table(store.read(name), sources / name / "part-0.parquet")
    env = os.environ | {
        "S2LAKE_MODELS__SOURCE_FORMAT": "parquet",
        "S2LAKE_MODELS__SOURCE_ROOT": str(sources),
        "S2LAKE_MODELS__SPARK_FILE_FORMAT": "parquet",
    }
    cli = Path(sys.executable).parent / "s2lake"
    done = subprocess.run(
        [str(cli), "-w", str(root / "warehouse"), "models", "build", "--target", "spark", "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "dbt build on spark" in done.stderr
    return root / "warehouse" / "tables"


@pytest.mark.parametrize("name", MARTS)
def test_spark_mart_equals_duckdb_mart(name, spark_marts, generated):
    spark_rows = ds.dataset(spark_marts / name, format="parquet").to_table().to_pylist()
    duck_rows = TableStore(generated.warehouse).read(name).to_pylist()
    assert len(spark_rows) == len(duck_rows)
    assert (len(duck_rows) == 0) == (name in BEN_ONLY)
    if not duck_rows:
        return
    key = KEYS[name]
    spark_rows.sort(key=lambda r: [r[k] for k in key])
    duck_rows.sort(key=lambda r: [r[k] for k in key])
    assert set(spark_rows[0]) == set(duck_rows[0])
    for s, d in zip(spark_rows, duck_rows, strict=True):
        for column in d:
            assert _same(s[column], d[column]), (name, column, s, d)
