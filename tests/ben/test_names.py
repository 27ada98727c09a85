"""BigEarthNet names: v2 ids (also the ids of SAFE-cut patches), v1 names, and v1 -> v2."""

from __future__ import annotations

from pathlib import Path

import pytest

from s2lake.ben_names import BenV1Name, PatchId, V1TileSource, tile_by_origin
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.patches import build_products
from sedona_jobs.synth.l2a import write_l2a


def test_v2_ids_pad_column_and_row_to_two_digits() -> None:
    pid = PatchId("S2B", "20170927T094019", "99.99", 36, "35VLC", 9, 5)
    assert str(pid) == "S2B_MSIL2A_20170927T094019_N9999_R036_T35VLC_09_05"
    assert PatchId.parse(str(pid)) == pid
    assert PatchId.parse("S2B_MSIL2A_20170927T094019_N9999_R036_T35VLC_9_5") is None  # not the v2 form


def test_patches_cut_from_a_safe_product_have_v2_ids(tmp_path: Path, warehouse: Warehouse) -> None:
    product = write_l2a(tmp_path, tile="33UUU", date="2018-05-10", pixels=240, seed=1, workers=1)
    build_products([product], warehouse)
    rows = TableStore(warehouse).read("patches", columns=["patch_id", "row", "col"]).to_pylist()
    assert len(rows) == 4
    for row in rows:
        pid = PatchId.parse(row["patch_id"])
        assert pid is not None and (pid.row, pid.col) == (row["row"], row["col"])


@pytest.mark.parametrize(
    ("name", "datatake", "col", "row"),
    [
        ("S2A_MSIL2A_20170613T101031_0_45", "20170613T101031", 0, 45),
        ("S2B_MSIL2A_20170924T93020_69_24", "20170924T093020", 69, 24),  # hour without its leading zero
        ("S2B_MSIL2A_20180204T94161_57_38", "20180204T094159", 57, 38),  # 61 seconds, clamped
    ],
)
def test_v1_names_parse(name: str, datatake: str, col: int, row: int) -> None:
    v1 = BenV1Name.parse(name)
    assert v1 is not None and (v1.datatake, v1.col, v1.row) == (datatake, col, row)


@pytest.mark.parametrize("bad", ["S2A_MSIL2A_20171341T101031_0_45", "S2A_MSIL2A_20170613T101031_0_45\n", "x_0_1", ""])
def test_other_texts_are_not_v1_names(bad: str) -> None:
    assert BenV1Name.parse(bad) is None


def test_v1_names_map_to_v2_ids_through_their_tile_source() -> None:
    source = V1TileSource.parse("S2A_MSIL1C_20170613T101031_N0205_R022_T33UUP_20170613T101608.SAFE")
    assert source == V1TileSource("33UUP", 22)
    v2 = BenV1Name.parse("S2A_MSIL2A_20170613T101031_0_45").v2_id(source.tile, source.relative_orbit)
    assert str(v2) == "S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP_00_45"
    assert tile_by_origin(32633, 404400.0, 5342400.0, 87, 48) == "33UUP"  # the real v1 patch's corner
    assert tile_by_origin(32633, 404410.0, 5342400.0, 87, 48) is None
