"""An import that fails after workers wrote data files leaves no file of the run behind and no version."""

from __future__ import annotations

from pathlib import Path

import pytest
from deltalake import DeltaTable

from s2lake.ben.importer import import_dataset
from s2lake.errors import WriteConflictError
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.synth.bigearthnet import generate_v2


@pytest.fixture(scope="module")
def v2(tmp_path_factory: pytest.TempPathFactory):
    return generate_v2(tmp_path_factory.mktemp("v2"), 40, per_product=10, reference_maps=False, defect_every=0)


def _no_file_of_the_run(uri: str, version: int) -> None:
    table = DeltaTable(uri)
    assert table.file_uris() == [] and table.version() == version
    assert list(Path(uri).rglob("*.parquet")) == []


def test_a_lost_commit_race_removes_every_file_the_workers_wrote(v2, warehouse: Warehouse) -> None:
    uri = TableStore(warehouse).uri("patches")
    seen: list[int] = []

    def another_writer_commits(what: str, done: int, total: int) -> None:
        """Between the run's read version and its commit, another writer changes the table."""
        if what == "patches" and not seen:
            DeltaTable(uri).alter.set_table_properties({"delta.appendOnly": "false"})
        seen.append(done)

    with pytest.raises(WriteConflictError):
        import_dataset(v2.root, warehouse, workers=2, on_progress=another_writer_commits)
    assert seen[-1] == 40  # every task had written its files before the commit was refused
    _no_file_of_the_run(uri, 1)  # version 0: created empty; 1: the other writer's


def test_an_error_mid_run_removes_the_files_of_tasks_still_running(v2, warehouse: Warehouse) -> None:
    def interrupted(what: str, done: int, total: int) -> None:
        raise KeyboardInterrupt  # after the first task, with the next ones submitted and running

    with pytest.raises(KeyboardInterrupt):
        import_dataset(v2.root, warehouse, workers=2, on_progress=interrupted)
    _no_file_of_the_run(TableStore(warehouse).uri("patches"), 0)
