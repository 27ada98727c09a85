"""The spark target, `method: session`: the same models on Spark give the same marts as DuckDB.

Plain Spark has no Delta jars here (they come from Maven), so the test exports the generated source
tables to Parquet, points the spark sources at them (models.source_format/source_root) and writes the
marts as Parquet (models.spark_file_format). The build runs through the `s2lake` CLI in a subprocess so
its SparkSession (and JVM) end with it.

The warehouse holds an imported BigEarthNet dataset, so every mart has rows to compare. The SAFE path's
marts are compared on Spark with DuckDB's by the cluster pipeline test (tests/cluster/test_pipeline.py,
dbt-spark through the Thrift server, Delta on HDFS).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from s2lake.config.models import ModelsSettings
from s2lake.dbt.runner import MARTS, build
from s2lake.tables.schemas import CORE_TABLES
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from tests.ben.ben_gen import BenDataset, generate_ben

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
#: Marts of BigEarthNet's own tables (ben_metadata, reference_map_polygons), which a SAFE-path warehouse
#: does not have: both engines must agree that they are empty there (tests/cluster/test_pipeline.py).
BEN_ONLY = {"reference_map_labels"}


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return Decimal(a) == Decimal(b)
    return a == b


def _spark_build(store: TableStore, tables: dict[str, pa.Schema], root: Path) -> Path:
    """The marts built by the spark target over ``tables`` of ``store`` exported as Parquet (an absent table as
    an empty file of its schema); returns the folder of the marts."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("the spark target needs Java 17 or 21 (no java on PATH, JAVA_HOME unset)")
    sources = root / "sources"
    for name, schema in tables.items():
        (sources / name).mkdir(parents=True)
        table = store.read(name) if store.open(name) is not None else schema.empty_table()
        pq.write_table(table, sources / name / "part-0.parquet")
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
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "dbt build on spark" in done.stderr
    return root / "warehouse" / "tables"


def _assert_same_rows(spark_marts: Path, warehouse: Warehouse, name: str) -> list[dict]:
    spark_rows = ds.dataset(spark_marts / name, format="parquet").to_table().to_pylist()
    duck_rows = TableStore(warehouse).read(name).to_pylist()
    assert len(spark_rows) == len(duck_rows)
    key = KEYS[name]
    spark_rows.sort(key=lambda r: [r[k] for k in key])
    duck_rows.sort(key=lambda r: [r[k] for k in key])
    if duck_rows:
        assert set(spark_rows[0]) == set(duck_rows[0])
    for s, d in zip(spark_rows, duck_rows, strict=True):
        for column in d:
            assert _same(s[column], d[column]), (name, column, s, d)
    return duck_rows


@pytest.fixture(scope="session")
def ben_generated(tmp_path_factory) -> BenDataset:
    """A warehouse holding an imported BigEarthNet dataset (tables in the import's schemas) and no SAFE
    tables, its marts built by duckdb."""
    generated = generate_ben(tmp_path_factory.mktemp("ben"), tiles=2, grid=6)
    build(ModelsSettings(), generated.warehouse, quiet=True)
    return generated


@pytest.fixture(scope="session")
def ben_spark_marts(ben_generated: BenDataset, tmp_path_factory) -> Path:
    tables = {name: spec.schema for name, spec in CORE_TABLES.items()}
    return _spark_build(TableStore(ben_generated.warehouse), tables, tmp_path_factory.mktemp("ben-spark"))


@pytest.mark.parametrize("name", MARTS)
def test_spark_mart_equals_duckdb_mart_with_ben_tables(name, ben_spark_marts, ben_generated):
    rows = _assert_same_rows(ben_spark_marts, ben_generated.warehouse, name)
    assert rows, name  # every mart, the BigEarthNet ones included, has rows to compare
