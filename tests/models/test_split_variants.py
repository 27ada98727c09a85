"""The other split methods, on a copy of the built warehouse (only geographic_split is rebuilt)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from s2lake.config.models import ModelsSettings
from s2lake.dbt.runner import build
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from tests.models import reference


def _rebuild_split(built_dir: Path, tmp_path: Path, **settings) -> dict[str, str]:
    copy = Warehouse.at(tmp_path / "warehouse")
    shutil.copytree(built_dir, copy.root)
    result = build(ModelsSettings(**settings), copy, select=["geographic_split"], quiet=True)
    assert result.count("model") == 1 and result.count("test") >= 5 and not result.failed
    rows = TableStore(copy).read("geographic_split", columns=["patch_id", "split", "split_method"]).to_pylist()
    assert {r["split_method"] for r in rows} == {settings["split_method"]}
    return {r["patch_id"]: r["split"] for r in rows}


def test_train_test_split_has_no_validation(generated, built_dir, tmp_path):
    got = _rebuild_split(built_dir, tmp_path, split_method="train_test")
    assert set(got.values()) == {"train", "test"}
    concentric = reference.concentric_split(generated.tables)
    # Same inner squares as the default, the validation ring joins train.
    assert got == {pid: "train" if s == "validation" else s for pid, s in concentric.items()}


def test_blocks_split_is_stratified_deterministic_and_keeps_blocks_whole(generated, built_dir, tmp_path):
    got = _rebuild_split(built_dir, tmp_path, split_method="blocks", split_share_tolerance=0.15)
    assert got == reference.blocks_split(generated.tables)
    patches = generated.tables["patches"].select(["patch_id", "tile", "row", "col"]).to_pylist()
    per_block: dict[tuple, set[str]] = {}
    for p in patches:
        if p["patch_id"] in got:
            per_block.setdefault((p["tile"], p["row"] // 10, p["col"] // 10), set()).add(got[p["patch_id"]])
    assert all(len(s) == 1 for s in per_block.values())
    shares = {s: list(got.values()).count(s) / len(got) for s in ("train", "validation", "test")}
    assert shares["train"] == pytest.approx(0.5, abs=0.15)
    assert shares["test"] > 0 and shares["validation"] > 0
