"""Two `s2lake patches build` runs of one product on one warehouse at the same time: one writes, the other
stops with exit code 3 naming the lock holder, and the table holds every patch exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from s2lake.cli.context import ExitCode
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse

S2LAKE = str(Path(sys.executable).parent / "s2lake")


def _race(warehouse: Path, product: Path) -> list[subprocess.CompletedProcess[str]]:
    """Start both runs at once (each cutting takes seconds, so without a lock they overlap)."""
    command = [S2LAKE, "-w", str(warehouse), "patches", "build", "--workers", "1", "--format", "json", str(product)]
    env = os.environ | {"COLUMNS": "200"}
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for _ in "ab"]
    return [subprocess.CompletedProcess(r.args, r.wait(timeout=600), *r.communicate()) for r in runs]


def _check_one_winner(warehouse: Path, runs: list[subprocess.CompletedProcess[str]], product_patches: int) -> None:
    codes = sorted(r.returncode for r in runs)
    assert codes == [ExitCode.OK, ExitCode.LOCKED], [r.stderr[-2000:] for r in runs]
    loser = next(r for r in runs if r.returncode == ExitCode.LOCKED)
    assert "another run holds the lock on table `patches`" in loser.stderr and "pid " in loser.stderr
    assert "s2lake patches build" in loser.stderr and "wait for it to finish" in loser.stderr

    store = TableStore(Warehouse.at(warehouse))
    ids = Counter(store.read("patches", ["patch_id"]).column("patch_id").to_pylist())
    assert set(ids.values()) == {1} and len(ids) == product_patches
    on_disk = {p.name for p in (warehouse / "tables" / "patches").rglob("*.parquet")}
    assert on_disk == {Path(p).name for p in store.require("patches").file_uris()}  # the loser left no files
    statuses = store.read("products", ["status"]).column("status").to_pylist()
    assert "failed" not in statuses  # the loser recorded nothing against the winner's product


def test_two_first_runs_on_an_empty_warehouse(small_l2a: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "wh"
    _check_one_winner(warehouse, _race(warehouse, small_l2a), 100)


def test_two_runs_of_one_product_on_a_warehouse_in_use(
    small_l2a: Path, make_l2a: Callable[..., Path], tmp_path: Path
) -> None:
    warehouse = tmp_path / "wh"
    other = make_l2a(tile="33UUU", date="2018-06-01", seed=5)
    first = subprocess.run(
        [S2LAKE, "-w", str(warehouse), "patches", "build", "--workers", "1", str(other)], capture_output=True, text=True
    )
    assert first.returncode == 0, first.stderr
    _check_one_winner(warehouse, _race(warehouse, small_l2a), 100 + 25)


def test_lock_is_released_when_its_holder_is_killed(small_l2a: Path, tmp_path: Path) -> None:
    """A run killed with SIGKILL leaves no stale lock: the next run goes ahead."""
    warehouse = tmp_path / "wh"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from s2lake.locks import table_locks; from s2lake.warehouse import Warehouse\n"
            f"with table_locks(Warehouse.at({str(warehouse)!r}), ['patches'], 'test'):\n"
            "    print('held', flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    command = [S2LAKE, "-w", str(warehouse), "patches", "build", "--workers", "1", str(small_l2a)]
    blocked = subprocess.run(command, capture_output=True, text=True)
    assert blocked.returncode == ExitCode.LOCKED and f"pid {holder.pid}" in blocked.stderr
    holder.kill()
    holder.wait()
    after = subprocess.run(command, capture_output=True, text=True)
    assert after.returncode == 0, after.stderr
