"""``s2lake spark submit --master yarn`` on the local cluster's YARN (``s2lake cluster up --yarn``).

YARN costs the cluster a third more start-up time and its own memory, so only these tests ask for it:
the fixture adds it to the session's cluster, whose teardown (``cluster down``) stops it with the rest.
Each submission runs as a user runs it, in a child process with the environment `cluster up` prints.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import pytest

from s2lake.errors import ClusterError
from s2lake.spark import cluster as cluster_module
from s2lake.spark.cluster import HOST, ClusterState, container_groups
from s2lake.spark.submit import HADOOP_CONF_VARIABLES
from tests.cluster.conftest import s2lake
from tests.cluster.test_cluster_lifecycle import _group, _listening_ips
from tests.cluster.test_submit import _env, _run

CONTAINER_DIR = re.compile(r"/usercache/[^/]+/appcache/(application_\d+_\d+)/container_\d+_\d+_\d+_\d+$")


@pytest.fixture(scope="module")
def yarn(cluster: ClusterState) -> ClusterState:
    added = s2lake("cluster", "up", "--dir", cluster.folder, "--yarn")
    assert added.returncode == 0, added.stdout[-2000:] + added.stderr[-3000:]
    state = ClusterState.load(Path(cluster.folder))
    assert state is not None and "yarn" in state.processes
    assert f"export HADOOP_CONF_DIR={state.exports['HADOOP_CONF_DIR']}" in added.stdout
    assert _listening_ips(_group(state.processes["yarn"].pid)) == {HOST}  # ResourceManager and NodeManager
    return state


def _yarn_env(state: ClusterState) -> dict[str, str]:
    return _env(SPARK_CONF_DIR=state.exports["SPARK_CONF_DIR"], HADOOP_CONF_DIR=state.exports["HADOOP_CONF_DIR"])


def _no_containers_left(folder: Path) -> bool:
    """The NodeManager stops an application's containers shortly after it ends; give it that time."""
    deadline = time.monotonic() + 60
    while container_groups(folder) and time.monotonic() < deadline:
        time.sleep(1)
    return not container_groups(folder)


def test_a_nodemanager_without_disk_room_fails_cluster_up_and_leaves_no_yarn(
    cluster: ClusterState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk makes YARN's NodeManager unhealthy: no container would ever start, so `up` must say so.

    The disk is made "full" by asking for more free space than any disk has; the NodeManager's own disk check,
    its health report and the clean-up are the real ones. Runs before the module's `yarn` fixture adds YARN.
    """
    floor = "yarn.nodemanager.disk-health-checker.min-free-space-per-disk-mb"
    monkeypatch.setitem(cluster_module.YARN_DISK_CHECK, floor, str(1 << 40))
    with pytest.raises(ClusterError) as failed:
        cluster_module.up(Path(cluster.folder), with_thrift=False, with_yarn=True)
    message = str(failed.value)
    assert "NodeManager reports itself unhealthy" in message and "free space below" in message, message
    assert "--dir on a disk with room" in message
    state = ClusterState.load(Path(cluster.folder))
    assert state is not None and "yarn" not in state.processes
    assert not container_groups(Path(cluster.folder))
    # the rest of the cluster runs on
    assert all(cluster_module.group_alive(p.pid) for p in state.processes.values())


def test_probe_executors_run_in_yarn_containers_with_the_archive_python(yarn: ClusterState, tmp_path: Path) -> None:
    args = ["-w", str(tmp_path / "warehouse"), "spark", "submit", "probe", "--master", "yarn"]
    # well inside pytest's own timeout, so a stuck submission fails with spark-submit's output
    code, out, err = _run(*args, "--", "--tasks", "2", "--format", "json", env=_yarn_env(yarn), timeout=480)
    assert code == 0, out[-2000:] + err[-4000:]
    rows = json.loads(out.strip().splitlines()[-1])
    driver, executors = rows[0], rows[1:]
    assert driver["role"] == "driver" and driver["prefix"] == sys.prefix  # client mode: the driver is here
    assert executors and all(row["role"] == "executor" for row in executors)
    work = Path(yarn.folder) / "yarn"
    applications = set()
    for row in executors:
        # a container's working folder in the NodeManager's application cache, in the cluster's YARN folder
        container = CONTAINER_DIR.search(row["cwd"])
        assert container is not None and Path(row["cwd"]).is_relative_to(work), row["cwd"]
        applications.add(container.group(1))
        unpacked = Path(row["cwd"]) / "s2env"
        assert row["executable"] == str(unpacked / "bin" / "python")
        assert row["prefix"] == str(unpacked) != sys.prefix
        # s2lake comes from the archive as the NodeManager localized (unpacked) it from HDFS
        installed = Path(row["s2lake"])
        assert installed.is_relative_to(work) and "/filecache/" in row["s2lake"], row["s2lake"]
        assert re.search(r"/s2env-[0-9a-f]+\.tar\.gz/lib/python3\.\d+/site-packages/s2lake$", row["s2lake"])
        assert row["python"].rsplit(".", 1)[0] == driver["python"].rsplit(".", 1)[0]
    (application,) = applications
    assert f"Submitting application {application} to ResourceManager" in err
    # the containers' logs, kept by the NodeManager: the executors' own stderr
    assert list(work.glob(f"**/{application}/container_*/stderr"))
    assert _no_containers_left(Path(yarn.folder))


def test_yarn_without_its_configuration_stops_before_the_archive_is_built(tmp_path: Path) -> None:
    env = {k: v for k, v in _env(XDG_CACHE_HOME=str(tmp_path / "cache")).items() if k not in HADOOP_CONF_VARIABLES}
    code, out, err = _run("spark", "submit", "probe", "--master", "yarn", env=env, timeout=300)
    assert code == 2, out + err
    assert "needs the cluster's Hadoop configuration" in out + err and "HADOOP_CONF_DIR" in out + err
    assert not (tmp_path / "cache" / "s2lake" / "pyenv").exists()
