"""One real local cluster per test run (``s2lake cluster up``), shared by every cluster test.

It is started through the command itself, in a child process, as a user starts it; its teardown runs
``s2lake cluster down`` and fails the run if any of the cluster's process groups survives.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from s2lake.spark.cluster import ClusterState, group_alive

CLI = str(Path(sys.executable).parent / "s2lake")


def s2lake(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory, spark_jars: Path) -> Iterator[ClusterState]:
    folder = tmp_path_factory.mktemp("cluster")
    started = s2lake("cluster", "up", "--dir", str(folder))
    state = ClusterState.load(folder)
    try:
        assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
        assert state is not None
        yield state
    finally:
        stopped = s2lake("cluster", "down", "--dir", str(folder), timeout=300)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        if state is not None:
            assert not [name for name, p in state.processes.items() if group_alive(p.pid)]
