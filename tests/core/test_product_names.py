"""The one Sentinel-2 product-name grammar: what it accepts, what it refuses, and that ingest, the SAFE
reader, patch ids and the synthesiser all go through it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.products import Product
from s2lake.ben_names import PatchId
from s2lake.errors import ProductError, UnsafePathError
from s2lake.product_names import ProductName
from sedona_jobs.synth.l2a.naming import ProductNames

REAL = "S2C_MSIL2A_20250330T100051_N0511_R122_T33UWP_20250330T145914"  # CDSE's STAC item in ../shared


@pytest.mark.parametrize("text", [REAL, f"{REAL}.SAFE", f"{REAL}.zip", f"{REAL}.SAFE.zip"])
def test_names_and_their_suffixes_parse(text) -> None:
    name = ProductName.parse(text)
    assert name is not None and str(name) == REAL and name.safe == f"{REAL}.SAFE"
    assert (name.mission, name.level, name.baseline, name.relative_orbit, name.tile) == (
        "S2C",
        "L2A",
        "05.11",
        122,
        "33UWP",
    )
    assert name.sensing == datetime(2025, 3, 30, 10, 0, 51, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "../../evil",
        f"../{REAL}",
        f"{REAL}/../../x",
        f"/tmp/{REAL}",
        f"{REAL}\n",  # a trailing newline: `$` in the old parsers let it through
        f"{REAL}\n.SAFE",
        REAL.replace("20250330T100051", "20251341T100051"),  # month 13
        REAL.replace("S2C", "S1A"),
        REAL.replace("T33UWP", "T33uwp"),
        REAL.replace("_N0511", "_N05.11"),
        "",
    ],
)
def test_anything_else_is_refused(text) -> None:
    assert ProductName.parse(text) is None
    with pytest.raises(UnsafePathError, match="not a Sentinel-2 product name"):
        ProductName.require(text, where="a catalogue title")


def test_a_catalogue_title_with_an_impossible_date_does_not_break_the_search() -> None:
    """The old ingest parser raised ValueError from strptime, failing a mirror's whole search."""
    product = Product.from_name(REAL.replace("20250330T100051", "20251341T100051"), cloud_cover=3.0)
    assert product.tile is None and product.cloud_cover == 3.0


def test_patch_ids_and_synthetic_products_use_the_same_grammar() -> None:
    names = ProductNames("S2B", "33UUP", "05.10", datetime(2021, 7, 1, 10, 20, 31, tzinfo=UTC), relative_orbit=22)
    parsed = ProductName.parse(names.product_id)
    assert parsed is not None and parsed.datatake == names.datatake and parsed.relative_orbit == 22
    patch = PatchId.parse(f"{names.product_id.rsplit('_', 1)[0]}_26_57")
    assert patch.prefix() == names.product_id.rsplit("_", 1)[0] and (patch.col, patch.row) == (26, 57)
    for bad in (f"{patch}\n", str(patch).replace("MSIL2A", "MSIL1C")):
        with pytest.raises(ProductError, match="not a BigEarthNet v2 patch id"):
            PatchId.require(bad)
