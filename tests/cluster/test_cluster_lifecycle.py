"""``s2lake cluster up|status|down``: every process on 127.0.0.1, nothing left behind after ``down``."""

from __future__ import annotations

import ipaddress
import json
import re
import urllib.request
from pathlib import Path

from s2lake.spark.cluster import HOST, ClusterState, group_alive
from tests.cluster.conftest import s2lake


def _group(pgid: int) -> list[int]:
    """Live (non-zombie) processes of group ``pgid``, read from /proc (no psutil in the project)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            pids.append(int(stat.parent.name))
    return pids


def _listening_ips(pids: list[int]) -> set[str]:
    """The local IPs of the TCP sockets those processes listen on (/proc/net/tcp*, state 0A)."""
    inodes = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            try:
                target = fd.readlink().name
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ips = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:
                raw = bytes.fromhex(cols[1].split(":")[0])
                # the kernel prints each 32-bit word in host (little-endian) order
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                ip = ipaddress.ip_address(words)
                mapped = getattr(ip, "ipv4_mapped", None)
                ips.add(str(mapped or ip))
    return ips


def test_cluster_listens_on_loopback_only_and_reports_status(cluster: ClusterState) -> None:
    status = s2lake("cluster", "status", "--dir", cluster.folder, "--format", "json")
    assert status.returncode == 0, status.stdout + status.stderr
    rows = {row["process"]: row for row in json.loads(status.stdout)}
    # YARN too when tests/cluster/test_yarn.py added it to this cluster first
    assert set(rows) - {"yarn"} == {"hdfs", "master", "worker", "thrift"} and all(r["running"] for r in rows.values())
    assert "(closed)" not in status.stdout
    for name, process in cluster.processes.items():
        assert _listening_ips(_group(process.pid)) == {HOST}, name
    with urllib.request.urlopen(cluster.addresses["spark_master_ui"] + "/json/", timeout=10) as reply:
        assert json.load(reply)["aliveworkers"] == 1
    up_again = s2lake("cluster", "up", "--dir", cluster.folder)
    assert up_again.returncode == 0 and f"export S2LAKE_HDFS={cluster.addresses['hdfs']}" in up_again.stdout


def test_down_stops_every_process_group(tmp_path) -> None:
    """A second, smaller cluster (no Thrift server): up, then down, then nothing of it runs."""
    started = s2lake("cluster", "up", "--dir", str(tmp_path), "--no-thrift")
    state = ClusterState.load(tmp_path)
    try:
        assert started.returncode == 0, started.stdout[-2000:] + started.stderr[-2000:]
        assert re.search(r"^export SPARK_CONF_DIR=", started.stdout, re.M)
        assert state is not None and all(group_alive(p.pid) for p in state.processes.values())
    finally:
        stopped = s2lake("cluster", "down", "--dir", str(tmp_path), timeout=300)
    assert stopped.returncode == 0 and "stopped: worker, master, hdfs" in stopped.stdout
    assert not [p for process in state.processes.values() for p in _group(process.pid)]
    assert not (tmp_path / "cluster.json").exists()
    after = s2lake("cluster", "status", "--dir", str(tmp_path))
    assert after.returncode == 4
