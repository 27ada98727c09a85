"""`s2lake export shards` and `s2lake.datasets` on real SAFE-derived patches with labels and marts."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from rasterio.io import MemoryFile
from typer.testing import CliRunner

from s2lake.cli.main import app
from s2lake.datasets import Shards
from s2lake.datasets.resample import upsample
from s2lake.errors import ExportError
from s2lake.sentinel2 import ALL_LAYERS, BANDS
from s2lake.shards import export_shards
from s2lake.shards.layout import INDEX_FILE, JOURNAL_DIR
from s2lake.tables.schemas import PATCHES
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from tests.export.conftest import patch_rows

#: 2 MB of pixels: 12 patches per shard, so the 25 test patches make 3 shards.
SHARD_BYTES = 2 * 1024 * 1024


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("fmt", ["parquet", "webdataset"])
def test_every_patch_reads_back_equal_to_the_patches_table(marts_warehouse: Warehouse, tmp_path: Path, fmt: str):
    report = export_shards(marts_warehouse, tmp_path / "out", fmt=fmt, shard_bytes=SHARD_BYTES)
    rows = patch_rows(marts_warehouse)
    assert (report.patches, report.shards, report.written) == (len(rows), 3, 3)
    store = TableStore(marts_warehouse)
    labels = {r["patch_id"]: r["labels"] for r in store.read("patch_labels").to_pylist()}
    split = {r["patch_id"]: r["split"] for r in store.read("geographic_split").to_pylist()}
    flags = {r["patch_id"]: r["contains_cloud_or_shadow"] for r in store.read("patch_cloud_snow").to_pylist()}
    index = json.loads((tmp_path / "out" / INDEX_FILE).read_text())
    names = index["label_names"]
    seen = []
    for sample in Shards(tmp_path / "out"):
        row = rows[sample["patch_id"]]
        seen.append(sample["patch_id"])
        for band in BANDS:
            grid = sample["bands"][band.name]
            assert grid.dtype == np.uint16 and grid.shape == (band.patch_pixels,) * 2
            assert np.array_equal(grid.ravel(), np.array(row[band.column])), (sample["patch_id"], band.name)
        assert np.array_equal(sample["scl"].ravel(), np.array(row["scl"]))
        for key in ("product_id", "tile", "epsg", "ulx", "uly", "lrx", "lry", "footprint", "sensing_time"):
            assert sample[key] == row[key], key
        assert sample["crs"] == f"EPSG:{row['epsg']}"
        assert sample["labels"] == labels[sample["patch_id"]]
        assert sorted(names[i] for i in np.flatnonzero(sample["label_vector"])) == sample["labels"]
        assert sample["split"] == split.get(sample["patch_id"])
        assert sample["contains_cloud_or_shadow"] == flags[sample["patch_id"]]
        assert sample["season"] == "spring"  # sensed 2018-05-10
        with MemoryFile(sample["thumbnail"]) as mem, mem.open() as png:
            assert (png.driver, png.count, png.width, png.height) == ("PNG", 3, 64, 64)
            red = png.read(1)
        # the documented stretch: the B04 pixel under each thumbnail pixel's centre, DN 0..3000 -> 0..255
        pick = ((np.arange(64) + 0.5) * 120 / 64).astype(int)
        b04 = np.array(row["b04"], dtype=float).reshape(120, 120)[np.ix_(pick, pick)]
        assert np.array_equal(red, np.clip(np.rint(b04 * 255 / 3000), 0, 255).astype(np.uint8))
    assert seen == sorted(rows)  # each exactly once, in id order
    assert sum(e["rows"] for e in index["shards"]) == len(rows)
    assert sum(labels_count for labels_count in index["label_counts"].values()) == sum(map(len, labels.values()))
    card = (tmp_path / "out" / "README.md").read_text()
    assert "| B02 | 10 |" in card and "Normalisation statistics" in card and "Not available" not in card


def test_two_exports_are_byte_identical(marts_warehouse: Warehouse, tmp_path: Path) -> None:
    for fmt in ("parquet", "webdataset"):
        export_shards(marts_warehouse, tmp_path / f"a-{fmt}", fmt=fmt, shard_bytes=SHARD_BYTES)
        export_shards(marts_warehouse, tmp_path / f"b-{fmt}", fmt=fmt, shard_bytes=SHARD_BYTES)
        first, second = _files(tmp_path / f"a-{fmt}"), _files(tmp_path / f"b-{fmt}")
        assert first.keys() == second.keys() and len(first) == 5
        assert first == second, fmt


class Interrupted(Exception):
    pass


def test_failure_mid_shard_leaves_no_index_and_a_rerun_resumes(marts_warehouse: Warehouse, tmp_path: Path) -> None:
    out = tmp_path / "out"

    def stop_in_second_shard(done: int, total: int) -> None:
        if done > 12:  # shard 0 holds 12 patches; this is raised while shard 1 is being written
            raise Interrupted

    with pytest.raises(Interrupted):
        export_shards(marts_warehouse, out, shard_bytes=SHARD_BYTES, on_progress=stop_in_second_shard)
    assert not (out / INDEX_FILE).exists() and not (out / "README.md").exists()
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == ["shard-00000.parquet"]  # no partial left
    assert sorted(p.name for p in (out / JOURNAL_DIR).glob("shard-*.json")) == ["shard-00000.parquet.json"]
    with pytest.raises(ExportError, match=r"index\.json"):
        Shards(out)

    resumed = export_shards(marts_warehouse, out, shard_bytes=SHARD_BYTES)
    assert (resumed.written, resumed.skipped) == (2, 1)
    fresh = tmp_path / "fresh"
    export_shards(marts_warehouse, fresh, shard_bytes=SHARD_BYTES)
    assert _files(out) == _files(fresh)

    again = export_shards(marts_warehouse, out, shard_bytes=SHARD_BYTES)
    assert (again.written, again.skipped) == (0, 3)
    damaged = out / "shard-00001.parquet"
    damaged.write_bytes(damaged.read_bytes()[:-10])  # a checksum mismatch: rewritten, the rest kept
    repaired = export_shards(marts_warehouse, out, shard_bytes=SHARD_BYTES)
    assert (repaired.written, repaired.skipped) == (1, 2)
    assert _files(out) == _files(fresh)
    with pytest.raises(ExportError, match="different export"):
        export_shards(marts_warehouse, out, "row = 0", shard_bytes=SHARD_BYTES)


_KILLED_RUN = """
import os, signal, sys
from pathlib import Path
from s2lake.shards import export_shards
from s2lake.warehouse import Warehouse

def crash(done, total):
    if done > 12:  # inside shard 1 (shard 0 holds 12 patches): as abrupt as a power cut
        os.kill(os.getpid(), signal.SIGKILL)

export_shards(Warehouse.at(sys.argv[1]), Path(sys.argv[2]), shard_bytes=int(sys.argv[3]), on_progress=crash)
"""


def test_a_killed_run_leaves_no_half_shard_named_complete(marts_warehouse: Warehouse, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = [sys.executable, "-c", _KILLED_RUN, str(marts_warehouse.root), str(out), str(SHARD_BYTES)]
    assert subprocess.run(args, check=False).returncode == -signal.SIGKILL
    assert not (out / INDEX_FILE).exists()
    assert sorted(p.name for p in out.glob("shard-*")) == ["shard-00000.parquet"]
    assert [p.name for p in out.glob(".shard-00001.parquet.partial-*")]  # the half shard kept its temp name
    resumed = export_shards(marts_warehouse, out, shard_bytes=SHARD_BYTES)
    assert (resumed.written, resumed.skipped) == (2, 1)
    export_shards(marts_warehouse, tmp_path / "fresh", shard_bytes=SHARD_BYTES)
    assert _files(out) == _files(tmp_path / "fresh")  # the temp file is gone too


def test_loader_shuffles_by_seed_selects_splits_stacks_and_parts(marts_warehouse: Warehouse, tmp_path: Path) -> None:
    export_shards(marts_warehouse, tmp_path / "out", shard_bytes=SHARD_BYTES)
    ids = [s["patch_id"] for s in Shards(tmp_path / "out")]

    def order(seed: int, epoch: int = 0) -> list[str]:
        shards = Shards(tmp_path / "out", shuffle=True, seed=seed, buffer_size=4)
        shards.set_epoch(epoch)
        return [s["patch_id"] for s in shards]

    assert order(1) == order(1) and sorted(order(1)) == ids
    assert order(1) != ids and order(1) != order(2) and order(1) != order(1, epoch=1)
    split = {r["patch_id"]: r["split"] for r in TableStore(marts_warehouse).read("geographic_split").to_pylist()}
    train = Shards(tmp_path / "out", split="train")
    assert [s["patch_id"] for s in train] == sorted(p for p, s in split.items() if s == "train") and len(train) > 0
    parts = [[s["patch_id"] for s in Shards(tmp_path / "out").part(k, 2)] for k in range(2)]
    assert sorted(parts[0] + parts[1]) == ids and parts[0] and parts[1]
    near = next(iter(Shards(tmp_path / "out", stack="nearest")))
    assert near["image"].shape == (12, 120, 120) and near["image"].dtype == np.uint16
    b05 = near["bands"]["B05"]
    assert np.array_equal(near["image"][4], np.kron(b05, np.ones((2, 2), np.uint16)))
    smooth = next(iter(Shards(tmp_path / "out", stack="bilinear")))["image"]
    assert smooth.dtype == np.float32 and np.array_equal(smooth[1], near["image"][1].astype(np.float32))
    # bilinear: a linear ramp stays linear inside the edges
    ramp = np.tile(np.arange(0, 60, dtype=np.uint16) * 2, (60, 1))
    up = upsample(ramp, 120, "bilinear")
    assert np.allclose(np.diff(up[0, 1:-1]), 1.0)
    assert [layer.name for layer in ALL_LAYERS][:12] == [b.name for b in BANDS]


def test_torch_dataloader_with_two_workers_sees_every_patch_once(marts_warehouse: Warehouse, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    # lazy: torch is the optional [torch] extra
    from s2lake.datasets.torch import ShardDataset

    export_shards(marts_warehouse, tmp_path / "out", shard_bytes=SHARD_BYTES)
    dataset = ShardDataset(tmp_path / "out", shuffle=True, seed=3)
    # spawned workers: forking this process, which holds other tests' threads (Spark, delta-rs), can deadlock
    loader = torch.utils.data.DataLoader(dataset, batch_size=4, num_workers=2, multiprocessing_context="spawn")
    for epoch in range(2):
        dataset.set_epoch(epoch)
        seen = []
        for batch in loader:
            assert batch["image"].dtype == torch.float32 and batch["image"].shape[1:] == (12, 120, 120)
            assert batch["target"].shape[1] == 19
            seen += batch["patch_id"]
        assert sorted(seen) == sorted(patch_rows(marts_warehouse)) and len(dataset) == len(seen)


def test_cli_writes_shards_and_refuses_bad_input(marts_warehouse: Warehouse, tmp_path: Path) -> None:
    runner = CliRunner()
    wh = ["--warehouse", marts_warehouse.root]
    out = tmp_path / "w"
    result = runner.invoke(
        app, [*wh, "export", "shards", str(out), "--split", "train", "--format", "webdataset", "--shard-size", "2MB"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((out / INDEX_FILE).read_text())["splits"].keys() == {"train"}
    result = runner.invoke(app, [*wh, "export", "shards", str(tmp_path / "x"), "--where", "nonsense ="])
    assert result.exit_code == 2 and "--where" in result.output
    result = runner.invoke(app, [*wh, "export", "shards", str(tmp_path / "x"), "--shard-size", "lots"])
    assert result.exit_code == 2 and "--shard-size" in result.output


def _with_row(warehouse: Warehouse, tmp_path: Path, **changes: object) -> Warehouse:
    """A copy of ``warehouse`` with one more patch: a real row under a new id that sorts first (a year earlier),
    with ``changes``."""
    copy = Warehouse.at(shutil.copytree(warehouse.root, tmp_path / "wh"))
    row = TableStore(copy).read(PATCHES.name).sort_by("patch_id").slice(0, 1).to_pylist()[0]
    row |= {"patch_id": row["patch_id"].replace("_2018", "_2017", 1), **changes}
    TableStore(copy).append(PATCHES, pa.Table.from_pylist([row], schema=PATCHES.schema))
    return copy


@pytest.mark.parametrize("fmt", ["parquet", "webdataset"])
def test_a_null_band_stays_null_and_shifts_nothing(patched_warehouse: Warehouse, tmp_path: Path, fmt: str) -> None:
    warehouse = _with_row(patched_warehouse, tmp_path, b01=None)
    export_shards(warehouse, tmp_path / "out", fmt=fmt)  # one shard: the null row sits among 25 others
    rows = patch_rows(warehouse)
    for sample in Shards(tmp_path / "out"):
        row = rows[sample["patch_id"]]
        for band in BANDS:
            grid = sample["bands"][band.name]
            if row[band.column] is None:
                assert grid is None and "_2017" in sample["patch_id"]
            else:
                assert np.array_equal(grid.ravel(), np.array(row[band.column])), (sample["patch_id"], band.name)


def test_pixels_a_uint16_cannot_hold_stop_the_export(patched_warehouse: Warehouse, tmp_path: Path) -> None:
    warehouse = _with_row(patched_warehouse, tmp_path, b02=[70000] * 14400)
    with pytest.raises(ExportError, match=r"_2017\d{4}T\d{6}_\S+ band B02 has values outside 0\.\.65535"):
        export_shards(warehouse, tmp_path / "out")
    assert not (tmp_path / "out" / INDEX_FILE).exists() and not list((tmp_path / "out").glob("shard-*"))
