"""Engine adapters: the few operations the label job needs from SedonaDB and from Sedona on Spark.

Both engines see the same views (``patches_in``, ``clc``, ``nuts``/``countries``, ``clc_classes``)
and run the same ``sql/`` text, with the same extra function (``S2L_ClipArea``, see
:mod:`sedona_jobs.labels.clip_area`); only how a view is created and how results come back differ.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from s2lake.tables.store import TableStore
from s2lake.warehouse_fs import fsspec_fs, is_hdfs
from sedona_jobs.labels import clip_area

#: The only patch columns the joins read: never the pixel arrays.
PATCH_COLUMNS = ["patch_id", "tile", "epsg", "footprint"]


class Engine(Protocol):
    name: str

    def register_patches(self, store: TableStore) -> None: ...
    def register_arrow(self, name: str, table: pa.Table) -> None: ...
    def register_geoparquet(self, name: str, path: str) -> None: ...
    def view(self, name: str, sql: str) -> None: ...
    def materialize(self, name: str, sql: str) -> None: ...
    def query(self, sql: str) -> pa.Table: ...


class SedonaDBEngine:
    """Embedded SedonaDB (DataFusion + Sedona's spatial join), no JVM."""

    name = "sedonadb"

    def __init__(self) -> None:
        import sedona.db

        self.sd = sedona.db.connect()
        clip_area.register_sedonadb(self.sd)
        self._copies = tempfile.TemporaryDirectory(prefix="s2lake-labels-")

    def register_patches(self, store: TableStore) -> None:
        self.register_arrow("patches_in", store.read("patches", columns=PATCH_COLUMNS))

    def register_arrow(self, name: str, table: pa.Table) -> None:
        self.sd.create_data_frame(table).to_view(name, overwrite=True)

    def register_geoparquet(self, name: str, path: str) -> None:
        if is_hdfs(path):
            # SedonaDB's Parquet reader knows S3/GCS/HTTP but not HDFS ("Unsupported object store scheme"),
            # and going through Arrow would lose the GeoParquet geometry type and row-group pruning: the
            # file is copied to local disk for the run instead.
            fs, remote = fsspec_fs(path)
            local = Path(self._copies.name) / f"{name}.parquet"
            fs.get(remote, str(local))
            path = str(local)
        self.sd.read_parquet(path).to_view(name, overwrite=True)

    def view(self, name: str, sql: str) -> None:
        self.sd.sql(sql).to_view(name, overwrite=True)

    def materialize(self, name: str, sql: str) -> None:
        self.sd.sql(sql).to_memtable().to_view(name, overwrite=True)

    def query(self, sql: str) -> pa.Table:
        return pa.table(self.sd.sql(sql).to_arrow_table())


class SparkEngine:
    """Sedona on Spark: reads the Delta and GeoParquet tables itself, so it scales with the cluster."""

    name = "spark"

    def __init__(self, spark: Any) -> None:
        self.spark = spark
        clip_area.register_spark(spark)

    def register_patches(self, store: TableStore) -> None:
        uri = store.uri("patches")
        self.spark.read.format("delta").load(uri).select(*PATCH_COLUMNS).createOrReplaceTempView("patches_in")

    def register_arrow(self, name: str, table: pa.Table) -> None:
        self.spark.createDataFrame(table.to_pandas()).createOrReplaceTempView(name)

    def register_geoparquet(self, name: str, path: str) -> None:
        self.spark.read.format("geoparquet").load(path).createOrReplaceTempView(name)

    def view(self, name: str, sql: str) -> None:
        self.spark.sql(sql).createOrReplaceTempView(name)

    def materialize(self, name: str, sql: str) -> None:
        self.spark.sql(sql).cache().createOrReplaceTempView(name)

    def query(self, sql: str) -> pa.Table:
        return self.spark.sql(sql).toArrow()
