"""The spark target through a Spark Thrift server (`method: thrift`), the way a cluster runs it.

pyspark ships Spark's HiveThriftServer2; the test starts it on 127.0.0.1 (in-memory catalog, parquet
as in the session test), runs `s2lake models build --target spark` with models.spark_method=thrift
and checks the marts against the duckdb ones. It costs a second JVM and a full build through the
server (one to two and a half minutes on two cores); it skips only when the thrift-server jar or
Java are absent.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from s2lake.tables.store import TableStore
from tests.models.test_spark_target import KEYS, _same
from tests.models.warehouse_gen import SOURCE_TABLES


def _pyspark_home() -> Path | None:
    try:
        import pyspark
    except ImportError:
        return None
    return Path(pyspark.__file__).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def thrift_server(tmp_path_factory):
    home = _pyspark_home()
    if home is None or not list((home / "jars").glob("spark-hive-thriftserver_*.jar")):
        pytest.skip("pyspark's jars have no spark-hive-thriftserver jar: cannot start a Thrift server")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("the Thrift server needs Java 17 or 21")
    root = tmp_path_factory.mktemp("thrift")
    port = _free_port()
    confs = {
        "spark.ui.enabled": "false",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.sql.catalogImplementation": "in-memory",
        "spark.sql.warehouse.dir": str(root / "spark-warehouse"),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": "2",
        "spark.sql.legacy.allowNonEmptyLocationInCTAS": "true",
    }
    command = [str(home / "bin" / "spark-submit"), "--master", "local[2]"]
    for key, value in confs.items():
        command += ["--conf", f"{key}={value}"]
    command += ["--class", "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"]
    for key, value in {"hive.server2.thrift.port": port, "hive.server2.thrift.bind.host": "127.0.0.1"}.items():
        command += ["--hiveconf", f"{key}={value}"]
    command += ["spark-internal"]
    log = (root / "thrift.log").open("w")
    server = subprocess.Popen(
        command,
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=os.environ | {"SPARK_HOME": str(home)},
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if server.poll() is not None:
                pytest.fail(f"the Thrift server exited: {(root / 'thrift.log').read_text()[-2000:]}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(1)
        else:
            pytest.fail("the Thrift server did not listen within 240 s")
        yield port, root
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


def test_thrift_build_equals_duckdb_marts(thrift_server, generated, duck_build):
    port, root = thrift_server
    store = TableStore(generated.warehouse)
    sources = root / "sources"
    for name in SOURCE_TABLES:
        (sources / name).mkdir(parents=True)
        pq.write_table(store.read(name), sources / name / "part-0.parquet")
    env = os.environ | {
        "S2LAKE_MODELS__SPARK_METHOD": "thrift",
        "S2LAKE_MODELS__SPARK_HOST": "127.0.0.1",
        "S2LAKE_MODELS__SPARK_PORT": str(port),
        "S2LAKE_MODELS__SOURCE_FORMAT": "parquet",
        "S2LAKE_MODELS__SOURCE_ROOT": str(sources),
        "S2LAKE_MODELS__SPARK_FILE_FORMAT": "parquet",
    }
    cli = Path(sys.executable).parent / "s2lake"
    warehouse = root / "warehouse"
    done = subprocess.run(
        [str(cli), "-w", str(warehouse), "models", "build", "--target", "spark", "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for name in ("patch_labels", "geographic_split", "band_stats", "label_stats"):
        spark_rows = ds.dataset(warehouse / "tables" / name, format="parquet").to_table().to_pylist()
        duck_rows = store.read(name).to_pylist()
        key = KEYS[name]
        spark_rows.sort(key=lambda r: [r[k] for k in key])
        duck_rows.sort(key=lambda r: [r[k] for k in key])
        assert len(spark_rows) == len(duck_rows) > 0
        for s, d in zip(spark_rows, duck_rows, strict=True):
            assert all(_same(s[c], d[c]) for c in d), (name, s, d)
