"""Delta on the local cluster: Spark on the standalone master writes to HDFS, the Thrift server reads
the warehouse's tables registered ``USING delta`` and counts right before and after a rebuild."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import deltalake
import pyarrow as pa
from pyhive import hive

from s2lake.spark import build_session
from s2lake.spark.cluster import APP_CONF, ClusterState
from s2lake.spark.metastore import location_uri, register_tables
from s2lake.warehouse import Warehouse
from tests.cluster.conftest import s2lake


def test_spark_on_the_standalone_master_writes_delta_to_hdfs(cluster: ClusterState) -> None:
    table = f"{cluster.addresses['hdfs']}/s2lake/tables/numbers"
    spark = build_session("s2lake-cluster-test", master=cluster.addresses["spark_master"], extra=APP_CONF)
    try:
        with urllib.request.urlopen(cluster.addresses["spark_master_ui"] + "/json/", timeout=10) as reply:
            assert "s2lake-cluster-test" in [app["name"] for app in json.load(reply)["activeapps"]]
        spark.range(0, 1000, numPartitions=4).write.format("delta").save(table)
        spark.range(0, 10).write.format("delta").mode("overwrite").save(table)
        assert spark.read.format("delta").load(table).count() == 10
        history = spark.sql(f"DESCRIBE HISTORY delta.`{table}`").select("version", "operation").collect()
        assert sorted((r.version, r.operation) for r in history) == [(0, "WRITE"), (1, "WRITE")]
        # the log is on HDFS, not on the local disk
        assert spark.read.text(f"{table}/_delta_log/00000000000000000001.json").count() > 0
    finally:
        spark.stop()


def _count(port: int, table: str) -> int:
    with hive.connect(host="127.0.0.1", port=port) as conn:
        cursor = conn.cursor()
        cursor.execute(f"SELECT count(*) FROM {table}")
        return cursor.fetchall()[0][0]


def test_registered_tables_count_right_before_and_after_a_rebuild(cluster: ClusterState, tmp_path: Path) -> None:
    port = int(cluster.addresses["thrift"].rsplit(":", 1)[1])
    warehouse = Warehouse.at(tmp_path / "warehouse")
    uri = warehouse.table_uri("label_stats")
    deltalake.write_deltalake(uri, pa.table({"label": list(range(30))}))
    deltalake.write_deltalake(warehouse.table_uri("band_stats"), pa.table({"band": ["B02", "B03"]}))
    # what an analyst might have done by hand: the folder registered as plain Parquet
    with hive.connect(host="127.0.0.1", port=port) as conn:
        location = location_uri(warehouse, "label_stats")
        conn.cursor().execute(f"CREATE TABLE label_stats USING parquet LOCATION '{location}'")
    deltalake.write_deltalake(uri, pa.table({"label": list(range(7))}), mode="overwrite")
    assert _count(port, "label_stats") == 37  # Parquet reads the files the rebuild removed too

    done = register_tables(warehouse, "127.0.0.1", port)
    assert {(r.table, r.action) for r in done} == {("band_stats", "created"), ("label_stats", "replaced")}
    assert _count(port, "label_stats") == 7 and _count(port, "band_stats") == 2

    deltalake.write_deltalake(uri, pa.table({"label": list(range(12))}), mode="overwrite")  # the next build
    registered = s2lake("-w", warehouse.root, "spark", "register", "--port", str(port), "--format", "json")
    assert registered.returncode == 0, registered.stdout + registered.stderr
    assert {r["table"]: r["action"] for r in json.loads(registered.stdout)} == {
        "band_stats": "refreshed",
        "label_stats": "refreshed",
    }
    assert _count(port, "label_stats") == 12
    with hive.connect(host="127.0.0.1", port=port) as conn:
        cursor = conn.cursor()
        cursor.execute("DESCRIBE TABLE EXTENDED label_stats")
        detail = {str(r[0]).strip(): str(r[1]).strip() for r in cursor.fetchall()}
    assert detail["Provider"] == "delta" and detail["Type"] == "EXTERNAL"
