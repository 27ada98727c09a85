"""The patch writer's two threads: files roll over at their size limit, and an error on either side (cutting
or writing) commits nothing and leaves no Parquet file behind."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from s2lake.errors import ProductError
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.patches import writer
from sedona_jobs.patches.writer import commit_product

S2LAKE = str(Path(sys.executable).parent / "s2lake")


@pytest.fixture(scope="module")
def product_rows(small_l2a: Path, tmp_path_factory: pytest.TempPathFactory) -> pa.Table:
    source = tmp_path_factory.mktemp("source")
    built = subprocess.run([S2LAKE, "-w", str(source), "patches", "build", "--workers", "1", str(small_l2a)])
    assert built.returncode == 0
    return TableStore(Warehouse.at(source)).read("patches")


def _files_on_disk(store: TableStore) -> set[str]:
    return {p.name for p in Path(store.uri("patches")).rglob("*.parquet")}


def _committed(store: TableStore) -> set[str]:
    table = store.open("patches")
    return set() if table is None else {Path(p).name for p in table.file_uris()}


def test_files_roll_over_at_their_size_limit_and_every_row_lands_once(
    product_rows: pa.Table, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer, "FILE_BYTES", 1)  # a new file after every batch
    store = TableStore(Warehouse.at(tmp_path / "wh"))
    product_id = product_rows["product_id"][0].as_py()
    batches = product_rows.to_batches(max_chunksize=25)
    assert commit_product(store, "33UUU", product_id, iter(batches)) == product_rows.num_rows
    assert len(_files_on_disk(store)) == len(batches) > 1 and _files_on_disk(store) == _committed(store)
    ids = Counter(store.read("patches", ["patch_id"]).column("patch_id").to_pylist())
    assert set(ids.values()) == {1} and len(ids) == product_rows.num_rows


@pytest.mark.parametrize("side", ["cutting", "writing"])
def test_an_error_on_either_side_commits_nothing_and_leaves_no_file(
    product_rows: pa.Table, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, side: str
) -> None:
    monkeypatch.setattr(writer, "FILE_BYTES", 1)
    store = TableStore(Warehouse.at(tmp_path / "wh"))
    product_id = product_rows["product_id"][0].as_py()
    first = product_rows.slice(0, 10)
    assert commit_product(store, "33UUU", product_id, iter(first.to_batches())) == 10
    version, files = store.require("patches").version(), _files_on_disk(store)

    def batches() -> Iterator[pa.RecordBatch]:
        good = product_rows.to_batches(max_chunksize=10)
        yield from good[:4]  # more than the writer's look-ahead: some are on disk when the error comes
        if side == "cutting":
            raise ProductError("band B04 is cut short", where="T33UUU_B04_10m.jp2")
        yield good[4].drop_columns(["scl"])  # the writer thread fails on a batch without a column

    with pytest.raises((ProductError, KeyError)) as failed:
        commit_product(store, "33UUU", product_id, batches())
    assert isinstance(failed.value, ProductError if side == "cutting" else KeyError)
    assert store.require("patches").version() == version
    assert _files_on_disk(store) == files == _committed(store)
    assert store.read("patches", ["patch_id"]).num_rows == 10
