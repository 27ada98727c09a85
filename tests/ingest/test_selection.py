"""Season selection (the seeds' year bug fixed), describe, AOI parsing and multihash checksums."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from ingest.aoi import load_aoi
from ingest.catalogues.stac import StacCatalogue, decode_multihash
from ingest.products import Offer, Product, merge_products
from ingest.selection import describe, season, select_lowest_cloud
from s2lake.config.ingest import MirrorSettings
from s2lake.errors import ConfigError
from s2lake.product_names import ProductName


def _p(name_date: str, tile: str, cloud: float, size: int | None = 100) -> Product:
    when = datetime.fromisoformat(name_date).replace(tzinfo=UTC)
    pid = f"S2A_MSIL2A_{when:%Y%m%dT%H%M%S}_N0500_R001_T{tile}_{when:%Y%m%dT%H%M%S}"
    return Product.from_name(pid, cloud_cover=cloud, offers={"m": Offer("m", "x", "u", size=size)})


def test_december_is_winter_regardless_of_year() -> None:
    dec_2020 = _p("2020-12-20T10:00:00", "33UUP", 5.0)
    jan_2021 = _p("2021-01-10T10:00:00", "33UUP", 20.0)
    feb_2022 = _p("2022-02-10T10:00:00", "33UUP", 10.0)
    jul = _p("2021-07-01T10:00:00", "33UUP", 50.0)
    assert [season(p.sensing_start) for p in (dec_2020, jan_2021, jul)] == ["DJF", "DJF", "JJA"]
    chosen = select_lowest_cloud([jan_2021, feb_2022, dec_2020, jul])
    assert [p.product_id for p in chosen] == [dec_2020.product_id, jul.product_id]
    # --per-year: December 2020 belongs to winter 2021 (with January 2021), February 2022 to winter 2022.
    per_year = select_lowest_cloud([jan_2021, feb_2022, dec_2020, jul], per_year=True)
    assert {p.product_id for p in per_year} == {dec_2020.product_id, feb_2022.product_id, jul.product_id}


def test_selection_is_per_tile() -> None:
    a = _p("2021-04-01T10:00:00", "33UUP", 30.0)
    b = _p("2021-04-02T10:00:00", "33UVP", 40.0)
    c = _p("2021-05-01T10:00:00", "33UUP", 10.0)
    assert {p.product_id for p in select_lowest_cloud([a, b, c])} == {b.product_id, c.product_id}


def test_describe_counts_sizes_tiles_and_seasons() -> None:
    products = [
        _p("2021-01-01T10:00:00", "33UUP", 10.0, 100),
        _p("2021-04-01T10:00:00", "33UUP", 20.0, 300),
        _p("2021-04-05T10:00:00", "33UVP", 30.0, 200),
        _p("2021-12-05T10:00:00", "33UVP", 40.0, 400),
    ]
    summary = describe(products)
    assert summary["products"] == 4 and summary["total_size_bytes"] == 1000 and summary["average_size_bytes"] == 250
    assert summary["products_with_size"] == 4
    assert summary["tiles"] == 2 and summary["products_per_tile"] == {"33UUP": 2, "33UVP": 2}
    assert summary["average_cloud_cover"] == 25.0
    assert summary["seasons"]["DJF"] == {"products": 2, "share": 0.5}
    assert summary["seasons"]["MAM"] == {"products": 2, "share": 0.5}
    assert summary["seasons"]["SON"]["products"] == 0


def test_products_without_size_or_checksum_are_described_and_selected() -> None:
    """A product only DHuS offers has no size or checksum until it is downloaded."""
    sized = [_p("2021-04-01T10:00:00", "33UUP", 20.0, 300), _p("2021-04-05T10:00:00", "33UVP", 30.0, 200)]
    unsized = Product.from_json(json.loads(json.dumps(_p("2021-04-02T10:00:00", "33UUP", 5.0, None).to_json())))
    assert unsized.size is None and unsized.offers["m"].checksum is None
    summary = describe([*sized, unsized])
    assert summary["products"] == 3 and summary["products_with_size"] == 2
    assert summary["total_size_bytes"] == 500 and summary["average_size_bytes"] == 250
    assert {p.product_id for p in select_lowest_cloud([*sized, unsized])} == {unsized.product_id, sized[1].product_id}


def test_merge_keeps_every_mirror_and_first_metadata() -> None:
    a = _p("2021-01-01T10:00:00", "33UUP", 10.0)
    b = Product.from_name(
        a.product_id + ".SAFE", offers={"other": Offer("other", "id2", "u2", checksum="ab", checksum_algorithm="MD5")}
    )
    merged = merge_products([[a], [b]])
    assert len(merged) == 1 and set(merged[0].offers) == {"m", "other"} and merged[0].cloud_cover == 10.0
    assert Product.from_json(json.loads(json.dumps(merged[0].to_json()))).offers["other"].checksum == "ab"


def test_name_parsing() -> None:
    parts = ProductName.parse("S2C_MSIL2A_20250330T100051_N0511_R122_T33UWP_20250330T145914.SAFE")
    assert parts and parts.tile == "33UWP" and parts.baseline == "05.11" and parts.relative_orbit == 122
    assert ProductName.parse("S1A_WV_OCN__2SSH_20150603T092625_20150603T093332_006207_008194_521E") is None


def test_aoi_forms(tmp_path) -> None:
    geo = tmp_path / "a.geojson"
    geo.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [10, 50]}}
                ],
            }
        )
    )
    assert load_aoi(str(geo)).geometry_wkt == "POINT (10 50)"
    csv = tmp_path / "tiles.csv"
    csv.write_text("tile\nT33UUP\n32UNA\n")
    assert load_aoi(str(csv)).tiles == ("33UUP", "32UNA")
    assert load_aoi("33UUP,T32UNA").tiles == ("33UUP", "32UNA")
    with pytest.raises(ConfigError, match="not an MGRS tile"):
        load_aoi("hello")
    with pytest.raises(ConfigError, match="does not exist"):
        load_aoi(str(tmp_path / "missing.geojson"))


def test_cdse_stac_item_checksums_decode(shared_data) -> None:
    item = json.loads(
        (
            shared_data / "api_responses/stac_odc_stac_0.5.3/"
            "S2C_MSIL2A_20250330T100051_N0511_R122_T33UWP_20250330T145914_cdse_stac_v110.json"
        ).read_text()
    )
    digest, algorithm = decode_multihash(item["assets"]["Product"]["file:checksum"])
    assert algorithm == "MD5" and len(digest) == 32
    digest, algorithm = decode_multihash(item["assets"]["AOT_10m"]["file:checksum"])
    assert algorithm == "SHA3-256" and len(digest) == 64

    product = StacCatalogue(MirrorSettings(name="cdse-stac", protocol="stac", url="http://127.0.0.1:9/"))._product(item)
    assert product.product_id == item["id"] and product.tile == "33UWP"
    assert product.cloud_cover == pytest.approx(86.041468)
    assert product.offers["cdse-stac"].size == 950880356 and product.offers["cdse-stac"].checksum_algorithm == "MD5"
