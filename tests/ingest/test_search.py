"""Search over DHuS (sentinelsat), CDSE OData and STAC stand-ins, merged by product name."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
import requests
from shapely import wkt as shapely_wkt

from ingest.catalogues import SearchQuery, open_catalogue
from ingest.catalogues.cdse import build_filter, spatial_filters
from ingest.catalogues.dhus import DhusCatalogue
from ingest.products import Offer
from ingest.search import search_all
from ingest.transfer import Gone
from s2lake.errors import CatalogueError, DownloadError
from s2lake.testing.standin_catalogues import StandInServer, generate_products
from tests.ingest.conftest import AREA, PASSWORD, mirror_for

QUERY = SearchQuery(start=datetime(2020, 1, 1, tzinfo=UTC), end=datetime(2023, 1, 1, tzinfo=UTC), geometry_wkt=AREA)


def test_one_search_over_three_protocols_merges_by_product(servers, products, creds) -> None:
    dhus = StandInServer("dhus", products[:5]).start()
    cdse = StandInServer("cdse", products[3:]).start()
    stac = StandInServer("stac", products[2:6], stac_oidc=True).start()
    servers += [dhus, cdse, stac]
    result = search_all([mirror_for(dhus, "dhus"), mirror_for(cdse, "cdse"), mirror_for(stac, "stac")], QUERY)

    assert result.failures == {}
    assert [p.product_id for p in result.products] == [p.name for p in products]  # one row each, by date
    by_id = {p.product_id: p for p in result.products}
    for i, fake in enumerate(products):
        merged = by_id[fake.name]
        expected = {name for name, offered in (("dhus", i < 5), ("cdse", i >= 3), ("stac", 2 <= i < 6)) if offered}
        assert set(merged.offers) == expected
        assert merged.tile == fake.tile and merged.cloud_cover == pytest.approx(fake.cloud)
        assert merged.sensing_start == fake.sensing
        for mirror, offer in merged.offers.items():
            if mirror == "dhus":  # OpenSearch gives no exact size or checksum: OData is asked at download
                assert offer.size is None and offer.checksum is None
                continue
            assert offer.size == len(fake.data)
            digest = {"MD5": hashlib.md5, "BLAKE3": None}[offer.checksum_algorithm]
            expected_sum = digest(fake.data).hexdigest() if digest else fake.blake3
            assert offer.checksum.lower() == expected_sum
    # STAC's multihash file:checksum (MD5 on CDSE STAC) was decoded; CDSE OData lists MD5 and BLAKE3 and
    # BLAKE3 is preferred; DHuS checksums come from OData (as sentinelsat reads them) when prepared.
    assert by_id[products[4].name].offers["stac"].checksum_algorithm == "MD5"
    assert by_id[products[4].name].offers["cdse"].checksum_algorithm == "BLAKE3"
    assert dhus.stats.requests["search"] == 1 and dhus.stats.requests["odata"] == 0
    prepared = open_catalogue(mirror_for(dhus, "dhus")).prepare(by_id[products[0].name].offers["dhus"])
    assert prepared.size == len(products[0].data) and prepared.checksum.lower() == products[0].md5
    assert prepared.checksum_algorithm == "MD5" and dhus.stats.requests["odata"] == 1


def test_a_failing_mirror_is_reported_not_fatal(servers, products, creds) -> None:
    good = StandInServer("cdse", products).start()
    down = StandInServer("dhus", products).start()
    servers += [good, down]
    down.faults.down = True
    result = search_all([mirror_for(good, "cdse"), mirror_for(down, "dhus")], QUERY)
    assert len(result.products) == len(products)
    assert set(result.failures) == {"dhus"}


def test_cdse_pages_by_splitting_the_time_window(servers, creds) -> None:
    """With $top ≤ 2 and $skip ≤ 2 (the real limits scaled down), 11 products need window splits."""
    many = generate_products(11, ["32UNA"], step_days=3)
    cdse = StandInServer("cdse", many, page_limit=2, max_skip=2).start()
    servers.append(cdse)
    found = open_catalogue(mirror_for(cdse, "cdse")).search(QUERY)
    assert sorted(p.product_id for p in found) == sorted(p.name for p in many)
    assert cdse.stats.requests["search"] > 6  # it had to page and split


def test_tiles_filter_and_cloud_ceiling(servers, products, creds) -> None:
    dhus = StandInServer("dhus", products).start()
    servers.append(dhus)
    query = SearchQuery(QUERY.start, QUERY.end, tiles=("32UPA",), max_cloud=60)
    found = open_catalogue(mirror_for(dhus, "dhus")).search(query)
    expected = {p.name for p in products if p.tile == "32UPA" and p.cloud <= 60}
    assert {p.product_id for p in found} == expected


def test_dhus_search_makes_no_odata_request_per_result(servers, creds) -> None:
    """A search costs its OpenSearch pages only: one per area (or tile) and 100 results, none per product."""
    many = generate_products(130, ["32UNA", "32UPA", "33UUP"], step_days=5)
    dhus = StandInServer("dhus", many, replay=True).start()
    servers.append(dhus)
    catalogue = open_catalogue(mirror_for(dhus, "dhus"))
    found = catalogue.search(SearchQuery(QUERY.start, QUERY.end, geometry_wkt=AREA))
    assert len(found) == 130 and all(p.offers["dhus"].checksum is None for p in found)
    assert dhus.stats.requests["search"] == 2 and dhus.stats.requests["odata"] == 0  # two pages of 100
    by_tile = catalogue.search(SearchQuery(QUERY.start, QUERY.end, tiles=("32UNA", "33UUP")))
    assert len(by_tile) == sum(p.tile in ("32UNA", "33UUP") for p in many)
    assert dhus.stats.requests["search"] == 4 and dhus.stats.requests["odata"] == 0


def test_dhus_prepare_failures_read_as_transfer_failures(servers, products, creds, monkeypatch) -> None:
    """OData is asked at download time now, so its failures must steer the scheduler like a transfer's."""
    dhus = StandInServer("dhus", products).start()
    servers.append(dhus)
    unknown = Offer("dhus", "00000000-0000-4000-8000-000000000000", f"{dhus.url}odata/v1/Products('x')/$value")
    with pytest.raises(Gone, match="OData has no product"):  # the scheduler tries another mirror
        open_catalogue(mirror_for(dhus, "dhus")).prepare(unknown)
    known = Offer("dhus", products[0].uuid, f"{dhus.url}odata/v1/Products('{products[0].uuid}')/$value")
    dhus.faults.down = True
    with pytest.raises(DownloadError, match="OData size and checksum request failed"):  # retried
        open_catalogue(mirror_for(dhus, "dhus")).prepare(known)
    dhus.faults.down = False
    monkeypatch.setenv("TEST_MIRROR_PASSWORD", "Wrong-Secret-123")
    with pytest.raises(CatalogueError, match="refused the credentials") as refused:
        open_catalogue(mirror_for(dhus, "dhus")).prepare(known)
    assert "Wrong-Secret-123" not in refused.value.message


def test_real_sentinelsat_client_works_against_the_dhus_face(servers, products, tmp_path) -> None:
    # lazy: sentinelsat costs ~0.3 s to import; only the DHuS tests use it
    from sentinelsat import SentinelAPI

    dhus = StandInServer("dhus", products).start()
    servers.append(dhus)
    api = SentinelAPI("alice", PASSWORD, api_url=dhus.url, show_progressbars=False)
    found = api.query(area=AREA, date=("20200101", "20230101"), platformname="Sentinel-2", producttype="S2MSI2A")
    assert {v["title"] for v in found.values()} == {p.name for p in products}
    uuid = products[0].uuid
    info = api.download(uuid, directory_path=str(tmp_path))  # sentinelsat verifies the MD5 itself
    assert (tmp_path / f"{products[0].name}.zip").read_bytes() == products[0].data
    assert info["title"] == products[0].name
    assert api.count(platformname="Sentinel-2") == len(products)


def test_wrong_password_fails_without_leaking_it(servers, products, monkeypatch) -> None:
    dhus = StandInServer("dhus", products).start()
    servers.append(dhus)
    monkeypatch.setenv("TEST_MIRROR_USER", "alice")
    monkeypatch.setenv("TEST_MIRROR_PASSWORD", "Wrong-Secret-123")
    result = search_all([mirror_for(dhus, "dhus")], QUERY)
    assert "dhus" in result.failures
    assert "Wrong-Secret-123" not in result.failures["dhus"]


def test_recorded_dhus_answers_are_replayed_and_parsed(servers, creds, shared_data) -> None:
    """The stand-in replays what the real DHuS said (sentinelsat's cassettes) to the same request."""
    # lazy: sentinelsat costs ~0.3 s to import; only the DHuS tests use it
    from sentinelsat import SentinelAPI

    dhus = StandInServer("dhus", [], replay=True).start()
    servers.append(dhus)
    assert dhus.recordings, "no cassettes found"
    api = SentinelAPI("alice", PASSWORD, api_url=dhus.url, show_progressbars=False)
    # The query of sentinelsat's own test_s2_cloudcover cassette.
    found = api.query(
        area="POLYGON((-66.2695 -8.0592,-66.2695 0.7031,-57.3047 0.7031,-57.3047 -8.0592,-66.2695 -8.0592))",
        date=("20181212", "20181228"),
        platformname="Sentinel-2",
        cloudcoverpercentage=(0, 10),
    )
    assert dhus.stats.requests["replayed"] == 1 and len(found) == 5
    catalogue = DhusCatalogue(mirror_for(dhus, "dhus"))
    products = [catalogue._product(uuid, props) for uuid, props in found.items()]
    first = next(p for p in products if p.product_id == "S2B_MSIL1C_20181219T142029_N0207_R010_T20MPS_20181219T160056")
    assert first.tile == "20MPS" and first.level == "L1C" and first.cloud_cover == pytest.approx(3.6476)
    assert first.footprint_wkt.startswith("MULTIPOLYGON") and first.offers["dhus"].url.startswith(dhus.url)
    assert all(p.cloud_cover <= 10 and p.sensing_start.year == 2018 for p in products)
    assert all(p.offers["dhus"].size is None and p.offers["dhus"].checksum is None for p in products)

    # A recorded Level-2A product whose OData answer was recorded too: what the scheduler asks before
    # the transfer, parsed from the real service's answer, and asked only once.
    uuid = "6b126ea4-fe27-440c-9a5c-686f386b7291"
    (props,) = api.query(raw=f'(uuid:"{uuid}")').values()
    offer = catalogue._product(uuid, props).offers["dhus"]
    assert offer.size is None and offer.checksum is None and dhus.stats.requests["replayed"] == 2
    prepared = catalogue.prepare(offer)
    assert (prepared.size, prepared.checksum, prepared.checksum_algorithm) == (
        245367924,
        "521D457C02CEBD24DBE45A5AEC4BAB27",
        "MD5",
    )
    assert prepared.online is False and dhus.stats.requests["replayed"] == 3
    assert catalogue.prepare(prepared) is prepared and dhus.stats.requests["replayed"] == 3


def test_cdse_filter_is_written_as_the_odata_documentation_shows() -> None:
    """Shapes from documentation.dataspace.copernicus.eu/APIs/OData.html (attributes, dates, geography)."""
    query = SearchQuery(
        datetime(2022, 5, 3, tzinfo=UTC), datetime(2022, 5, 21, tzinfo=UTC), geometry_wkt=AREA, max_cloud=40
    )
    (spatial,) = spatial_filters(query)
    assert build_filter(query, query.start, query.end, "SENTINEL-2", spatial) == (
        "Collection/Name eq 'SENTINEL-2' and ContentDate/Start ge 2022-05-03T00:00:00.000Z and "
        "ContentDate/Start lt 2022-05-21T00:00:00.000Z and "
        "Attributes/OData.CSC.StringAttribute/any(att:att/Name eq 'productType' and "
        "att/OData.CSC.StringAttribute/Value eq 'S2MSI2A') and "
        "Attributes/OData.CSC.DoubleAttribute/any(att:att/Name eq 'cloudCover' and "
        "att/OData.CSC.DoubleAttribute/Value le 40.00) and "
        "OData.CSC.Intersects(area=geography'SRID=4326;POLYGON ((0 40, 20 40, 20 60, 0 60, 0 40))')"
    )
    tiles = SearchQuery(query.start, query.end, geometry_wkt=AREA, tiles=("32UNA", "33UUP"))
    assert spatial_filters(tiles) == [
        f"Attributes/OData.CSC.StringAttribute/any(att:att/Name eq 'tileId' and "
        f"att/OData.CSC.StringAttribute/Value eq '{t}')"
        for t in ("32UNA", "33UUP")
    ]


def test_cdse_stand_in_refuses_what_the_real_service_refuses(servers) -> None:
    cdse = StandInServer("cdse", generate_products(2, ["32UNA"])).start()
    servers.append(cdse)
    products = f"{cdse.url}/Products"
    area = "MULTIPOLYGON (((0 40, 1 40, 1 41, 0 40)), ((5 40, 6 40, 6 41, 5 40)))"
    for params in (
        {"$top": "1001"},
        {"$skip": "10001"},
        {"$orderby": "Name"},
        {"$expand": "Everything"},
        {"$filter": f"OData.CSC.Intersects(area=geography'SRID=4326;{area}')"},
        {"$filter": "Attributes/OData.CSC.DoubleAttribute/any(att:att/Name eq 'cloudCover' and value le 40)"},
    ):
        assert requests.get(products, params=params, timeout=5).status_code == 400, params
    body = requests.get(products, params={"$top": "1", "$count": "True"}, timeout=5).json()
    assert body["@odata.count"] == 2 and "Attributes" not in body["value"][0] and "@odata.nextLink" in body
    assert {"Id", "Name", "ContentLength", "Checksum", "Online", "ContentDate", "GeoFootprint", "S3Path"} <= set(
        body["value"][0]
    )


def test_cdse_searches_a_multipolygon_area_one_polygon_at_a_time(servers, creds) -> None:
    """CDSE rejects MULTIPOLYGON areas: each part is a request of its own, a product found twice counts once."""
    fakes = generate_products(6, ["32UNA", "32UPA", "33UUP"])  # footprints from lon 10 to 13.4
    cdse = StandInServer("cdse", fakes).start()
    servers.append(cdse)
    area = "MULTIPOLYGON (((9 49, 10.2 49, 10.2 53, 9 53, 9 49)), ((10.1 49, 10.3 49, 10.3 53, 10.1 53, 10.1 49)))"
    found = open_catalogue(mirror_for(cdse, "cdse")).search(SearchQuery(QUERY.start, QUERY.end, geometry_wkt=area))
    expected = {f.name for f in fakes if shapely_wkt.loads(f.footprint_wkt).intersects(shapely_wkt.loads(area))}
    assert sorted(p.product_id for p in found) == sorted(expected) and expected
    assert cdse.stats.requests["search"] == 2


def test_cdse_tiles_search_by_tile_id_and_never_skips_past_the_limit(servers, creds) -> None:
    """$top 3 and $skip ≤ 4: seven products need skip 6 in one window, so the window is split instead."""
    many = generate_products(7, ["32UNA"], step_days=3)
    cdse = StandInServer("cdse", many + generate_products(2, ["33UUP"], seed=7), page_limit=3, max_skip=4).start()
    servers.append(cdse)
    query = SearchQuery(QUERY.start, QUERY.end, geometry_wkt=AREA, tiles=("32UNA",))
    found = open_catalogue(mirror_for(cdse, "cdse")).search(query)
    assert sorted(p.product_id for p in found) == sorted(p.name for p in many)
