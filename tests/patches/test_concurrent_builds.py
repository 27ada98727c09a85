"""Two `s2lake patches build` runs of one product on one warehouse at the same time: one writes, the other
stops with exit code 3 naming the lock holder, and the table holds every patch exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa

from s2lake.cli.context import ExitCode
from s2lake.errors import WriteConflictError
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.patches.writer import commit_product

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


def test_without_the_lock_a_commit_on_a_stale_version_is_rejected(small_l2a: Path, tmp_path: Path) -> None:
    """Where no file lock reaches (object stores), Delta's conflict check decides: two writers that
    listed the table at the same version cannot both commit the product."""
    source = tmp_path / "source"
    built = subprocess.run([S2LAKE, "-w", str(source), "patches", "build", "--workers", "1", str(small_l2a)])
    assert built.returncode == 0
    rows = TableStore(Warehouse.at(source)).read("patches")
    product_id = rows["product_id"][0].as_py()

    store = TableStore(Warehouse.at(tmp_path / "wh"))
    both_listed = threading.Barrier(2)

    def batches() -> Iterator[pa.RecordBatch]:
        both_listed.wait(timeout=60)  # each writer has taken its snapshot before any writes or commits
        yield from rows.to_batches(max_chunksize=10)

    def write() -> int | WriteConflictError:
        try:
            return commit_product(store, "33UUU", product_id, batches())
        except WriteConflictError as exc:
            return exc

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: write(), range(2)))
    assert sorted(type(r).__name__ for r in results) == ["WriteConflictError", "int"]
    [conflict] = [r for r in results if isinstance(r, WriteConflictError)]
    assert "another run committed to table `patches`" in conflict.message
    ids = Counter(store.read("patches", ["patch_id"]).column("patch_id").to_pylist())
    assert len(ids) == 100 and set(ids.values()) == {1}
    on_disk = {p.name for p in Path(store.uri("patches")).rglob("*.parquet")}
    assert on_disk == {Path(p).name for p in store.require("patches").file_uris()}  # the loser's files are gone
