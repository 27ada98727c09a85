"""Builds re-register the warehouse's tables with the Thrift server by themselves (models.spark_method thrift).

An analyst's count through pyhive (what beeline shows) follows each rebuild with no `s2lake spark register`
run by hand; a server that cannot be reached after a successful build is a warning with the command to run,
and the build stands.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from pathlib import Path

from pyhive import hive

from s2lake.spark.cluster import ClusterState
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.synth.l2a import write_l2a
from tests.cluster.conftest import CLI


def thrift_env(cluster: ClusterState, database: str, **extra: str) -> dict[str, str]:
    """The environment `s2lake cluster up` prints (Thrift address included), registering into ``database``."""
    return os.environ | cluster.exports | {"S2LAKE_MODELS__REGISTER_DATABASE": database} | extra


def count(cluster: ClusterState, table: str) -> int:
    host, port = cluster.addresses["thrift"].rsplit(":", 1)
    with hive.connect(host=host, port=int(port)) as conn:
        cursor = conn.cursor()
        cursor.execute(f"SELECT count(*) FROM {table}")
        return cursor.fetchall()[0][0]


def _patches(warehouse: Warehouse, product: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    args = [CLI, "-w", warehouse.root, "patches", "build", str(product), "--workers", "1", "--replace"]
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    return done


def test_counts_through_thrift_follow_each_build_without_registering_by_hand(
    cluster: ClusterState, tmp_path: Path
) -> None:
    first = write_l2a(tmp_path / "products", pixels=240, seed=3, workers=1)
    second = write_l2a(tmp_path / "products", pixels=240, seed=4, date="2018-08-12", workers=1)
    warehouse = Warehouse.at(f"{cluster.addresses['hdfs']}/s2lake-{uuid.uuid4().hex[:12]}")
    database = f"reg_{uuid.uuid4().hex[:8]}"
    env = thrift_env(cluster, database)

    _patches(warehouse, first, env)
    assert count(cluster, f"{database}.patches") == 4
    assert count(cluster, f"{database}.products") == 1
    _patches(warehouse, second, env)
    assert count(cluster, f"{database}.patches") == 8 == TableStore(warehouse).count("patches")

    # the server cannot be reached: the build is committed all the same, and the warning says what to run
    version = TableStore(warehouse).require("patches").version()
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        closed = str(free.getsockname()[1])
    done = _patches(warehouse, first, thrift_env(cluster, database, S2LAKE_MODELS__SPARK_PORT=closed))
    assert TableStore(warehouse).require("patches").version() == version + 1
    warning = " ".join(done.stderr.split())
    assert f"Spark Thrift server at 127.0.0.1:{closed} failed" in warning
    assert f"spark register --host 127.0.0.1 --port {closed} --database {database}" in warning
