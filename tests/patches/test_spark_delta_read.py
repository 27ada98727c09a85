"""The tables delta-rs writes are readable by Spark + Delta Lake (the cluster engine).

Uses the Delta jars Maven resolves (the ``spark_jars`` fixture, ``s2lake spark jars``); Delta is never faked.
"""

from __future__ import annotations

from pathlib import Path

from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse


def test_spark_delta_reads_patches_and_products(spark_jars: Path, small_l2a: Path, warehouse: Warehouse) -> None:
    from s2lake.config.patches import PatchesSettings
    from s2lake.spark import build_session
    from sedona_jobs.patches import build_products

    build_products([str(small_l2a)], warehouse, PatchesSettings(workers=1))
    store = TableStore(warehouse)
    spark = build_session("s2lake-delta-read", master="local[1]", extra={"spark.sql.shuffle.partitions": "2"})
    try:
        patches = spark.read.format("delta").load(warehouse.table_uri("patches"))
        assert patches.count() == store.count("patches") == 100
        row = patches.where("row = 3 AND col = 4").select("patch_id", "ulx", "uly", "b02", "scl").collect()[0]
        assert row.patch_id.endswith("_04_03")
        assert len(row.b02) == 120 * 120 and len(row.scl) == 60 * 60
        comments = {f.name: f.metadata.get("comment") for f in patches.schema.fields}
        assert comments["b02"].startswith("B02 digital numbers")
        products = spark.read.format("delta").load(warehouse.table_uri("products")).collect()
        assert [p.status for p in products] == ["patched"]
    finally:
        spark.stop()
