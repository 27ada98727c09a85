"""A catalogue naming a product ``../../evil`` (or an absolute path) must not make ingest write, move or
delete anything outside the warehouse: the product is refused and reported, the others land."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from ingest.landing import land_tree
from ingest.state import FAILED, StateStore
from s2lake.errors import UnsafePathError
from s2lake.tables.store import TableStore
from s2lake.testing.standin_catalogues import StandInServer, generate_products, product_zip
from tests.ingest.conftest import mirror_for
from tests.ingest.test_scheduler import _landed_ok, _run

GOOD_NAME = "S2A_MSIL2A_20210105T103000_N0500_R001_T32UNA_20210105T133000"


def _files_outside(root: Path, warehouse: Path) -> list[Path]:
    return [p for p in root.rglob("*") if not p.is_relative_to(warehouse) and p != warehouse]


@pytest.mark.parametrize("kind", ["cdse", "stac"])
@pytest.mark.parametrize("hostile", ["../../evil", "{outside}/evil"])
def test_a_product_named_like_a_path_is_refused_and_the_others_land(
    servers, creds, warehouse, tmp_path, kind, hostile
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    good = generate_products(2, ["32UNA"], payload=32 * 1024)
    # A well-formed SAFE inside, so only the name is hostile (zip-slip checks have nothing to refuse).
    evil = dataclasses.replace(
        good[0], name=hostile.format(outside=outside), uuid="0badc0de-0000-4000-8000-000000000000"
    )
    evil.data = product_zip("S2A_MSIL2A_20210105T103000_N0500_R001_T32UNA_20210105T133000", 16 * 1024, 3)
    server = StandInServer(kind, [*good, evil]).start()
    servers.append(server)
    report, found = _run([mirror_for(server, kind)], warehouse)

    assert evil.name in {p.product_id for p in found.products}  # the catalogue really offered it
    assert sorted(report.landed) == sorted(p.name for p in good)
    assert "is not a Sentinel-2 product name" in report.failed[evil.name]
    assert server.stats.completed[evil.name] == 0  # refused before a byte was fetched
    root = Path(warehouse.root)
    assert _files_outside(tmp_path, root) == [outside]  # nothing written next to the warehouse
    assert not [p for p in root.rglob("*evil*")]  # nor anywhere inside it
    rows = {r["product_id"]: r for r in TableStore(warehouse).read("products").to_pylist()}
    assert rows[evil.name]["status"] == "failed" and "not a Sentinel-2 product name" in rows[evil.name]["status_reason"]
    assert rows[evil.name]["storage_path"] is None
    state = StateStore(root / "_state" / "ingest.sqlite").get(evil.name)
    assert state is not None and state.status == FAILED
    _landed_ok(warehouse, good)


def test_landing_refuses_a_symlink_planted_in_landing(warehouse, tmp_path) -> None:
    """A link in ``landing/`` named like the product must not turn "replace the old copy" into an
    ``rmtree`` of whatever it points at."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("precious\n")
    name = f"{GOOD_NAME}.SAFE"
    landing = Path(warehouse.landing_uri)
    landing.mkdir(parents=True)
    os.symlink(victim, landing / name)
    staged = tmp_path / "staged" / name
    staged.mkdir(parents=True)
    (staged / "manifest.safe").write_text("<xfdu/>\n")

    with pytest.raises(UnsafePathError, match="would leave"):
        land_tree(warehouse, staged, name)
    assert (victim / "keep.txt").read_text() == "precious\n" and staged.is_dir()


@pytest.mark.parametrize("name", ["../x.SAFE", "evil.SAFE", f"{GOOD_NAME}\n.SAFE", f"{GOOD_NAME}/../../x.SAFE"])
def test_landing_refuses_names_outside_the_grammar(warehouse, tmp_path, name) -> None:
    staged = tmp_path / "staged.zip"
    staged.write_bytes(b"PK")
    with pytest.raises(UnsafePathError, match="not a Sentinel-2 product name"):
        land_tree(warehouse, staged, name)
    assert staged.exists() and not Path(warehouse.root).exists()
