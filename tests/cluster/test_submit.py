"""``s2lake spark submit``: jobs run on the cluster with the environment archive's Python on the executors."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

from s2lake.spark.cluster import ClusterState
from tests.cluster.conftest import CLI, s2lake

SECRET = "hunter2-never-shipped"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("S2LAKE_") and k != "SPARK_CONF_DIR"}
    return env | extra


def _run(*args: str, env: dict[str, str], timeout: float = 1500) -> tuple[int, str, str]:
    done = subprocess.run([CLI, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False)
    return done.returncode, done.stdout, done.stderr


def test_executors_run_the_archive_python_not_the_driver_venv(cluster: ClusterState, tmp_path: Path) -> None:
    # the cluster's defaults without their master: --master alone must take the job there, driver included
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    defaults = Path(cluster.exports["SPARK_CONF_DIR"], "spark-defaults.conf").read_text().splitlines()
    (conf_dir / "spark-defaults.conf").write_text("\n".join(x for x in defaults if not x.startswith("spark.master ")))
    env = _env(SPARK_CONF_DIR=str(conf_dir))
    args = ["-w", str(tmp_path / "warehouse"), "spark", "submit", "probe"]
    args += ["--master", cluster.addresses["spark_master"], "--", "--tasks", "2", "--format", "json"]
    code, out, err = _run(*args, env=env)
    assert code == 0, out[-2000:] + err[-4000:]
    rows = json.loads(out.strip().splitlines()[-1])
    driver, executors = rows[0], rows[1:]
    assert driver["role"] == "driver" and driver["prefix"] == sys.prefix  # client mode: the driver is here
    assert executors and all(row["role"] == "executor" for row in executors)
    for row in executors:
        unpacked = Path(row["cwd"]) / "s2env"
        assert row["executable"] == str(unpacked / "bin" / "python")
        assert row["prefix"] == str(unpacked) != sys.prefix
        assert Path(row["s2lake"]).is_relative_to(unpacked / "lib")  # the archive's installed wheel
        assert row["python"].rsplit(".", 1)[0] == driver["python"].rsplit(".", 1)[0]
        assert Path(row["cwd"]).is_relative_to(cluster.folder)  # the worker's work folder


def test_dry_run_prints_the_command_and_ships_no_credentials(spark_jars: Path, tmp_path: Path) -> None:
    config = tmp_path / "s2lake.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "labels": {"country_source": "nuts"},
                "ingest": {"mirrors": [{"name": "m", "protocol": "stac", "url": "https://x.test", "password": SECRET}]},
            }
        )
    )
    env = _env(S2LAKE_SPARK_JARS=str(spark_jars), S2LAKE_INGEST__MAX_CLOUD="30")
    args = ["-c", str(config), "-w", str(tmp_path / "wh"), "spark", "submit", "labels"]
    code, out, err = _run(*args, "--master", "spark://127.0.0.1:7077", "--dry-run", env=env)
    assert code == 0, out + err
    assert out.startswith("# archive: ")
    command = shlex.split(out.splitlines()[1])
    archive = out.splitlines()[0].split()[2]
    assert command[command.index("--archives") + 1] == f"{archive}#s2env"
    assert "spark.pyspark.python=./s2env/bin/python" in command
    assert f"spark.pyspark.driver.python={sys.executable}" in command
    assert "delta-spark_" in command[command.index("--jars") + 1]
    assert command[-4:] == ["labels", "build", "--engine", "spark"]
    shipped = Path(command[command.index("--files") + 1])
    assert yaml.safe_load(shipped.read_text()) == {
        "warehouse": str(tmp_path / "wh"),
        "log_level": "INFO",
        "labels": {"country_source": "nuts"},
    }
    assert shipped.stat().st_mode & 0o077 == 0
    properties = Path(command[command.index("--properties-file") + 1]).read_text()
    assert "spark.jars.packages" not in properties  # the Maven folder replaces Spark's own download
    assert SECRET not in out + err + properties
    refused = s2lake("spark", "submit", "probe", "--master", "spark://127.0.0.1:7077", "--deploy-mode", "cluster")
    assert refused.returncode == 2 and "client mode only" in refused.stdout + refused.stderr


def test_missing_uv_is_a_clear_environment_error(tmp_path: Path) -> None:
    venv_bin = str(Path(sys.executable).parent)
    env = _env(PATH=f"{venv_bin}:/usr/bin:/bin", XDG_CACHE_HOME=str(tmp_path / "cache"))
    assert not Path(venv_bin, "uv").exists()
    code, out, err = _run("spark", "submit", "probe", "--master", "spark://127.0.0.1:7077", env=env, timeout=300)
    assert code == 4, out + err
    assert "uv is not installed" in out + err and "Fix: install uv" in out + err
    assert not list((tmp_path / "cache" / "s2lake" / "pyenv").glob("*.tar.gz"))
