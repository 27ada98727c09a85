"""The download scheduler under injected faults: nothing lost, nothing fetched twice, corruption caught."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ingest.scheduler import Scheduler
from ingest.search import search_all
from ingest.state import LANDED, StateStore
from s2lake.tables.store import TableStore
from s2lake.testing.standin_catalogues import StandInServer, generate_products, product_zip
from tests.ingest.conftest import fast_settings, mirror_for
from tests.ingest.test_search import QUERY


def _landed_ok(warehouse, fakes) -> None:
    """Every product is in landing/ with the served bytes, and landed in the products table."""
    for fake in fakes:
        band = Path(warehouse.root, "landing", f"{fake.name}.SAFE", "GRANULE/L2A/IMG_DATA/R10m/B02_10m.bin")
        assert band.is_file(), fake.name
    rows = TableStore(warehouse).read("products").to_pylist()
    status = {r["product_id"]: r["status"] for r in rows}
    assert all(status[f.name] == "landed" for f in fakes)


def _run(mirrors, warehouse, **scheduler):
    found = search_all(mirrors, QUERY)
    assert not found.failures
    return Scheduler(fast_settings(mirrors, **scheduler), warehouse).run(found.products), found


@pytest.mark.parametrize("fault", ["drop", "500", "429", "timeout", "expired_token"])
def test_transient_faults_lose_nothing_and_never_refetch(servers, creds, warehouse, fault) -> None:
    fakes = generate_products(3, ["32UNA"], payload=96 * 1024)
    cdse = StandInServer("cdse", fakes).start()
    servers.append(cdse)
    cdse.faults.timeout_sleep = 1.5
    for fake in fakes[:2]:
        cdse.faults.add(fake.name, fault)
    report, _ = _run([mirror_for(cdse, "cdse")], warehouse, max_attempts=4)

    assert sorted(report.landed) == sorted(f.name for f in fakes) and not report.failed
    assert all(cdse.stats.completed[f.name] == 1 for f in fakes)  # none twice to completion
    if fault in ("drop", "timeout"):
        assert all(cdse.stats.range_requests[f.name] == 1 for f in fakes[:2])  # resumed, not restarted
    if fault == "expired_token":
        assert cdse.stats.requests["token_password"] + cdse.stats.requests["token_refresh_token"] >= 2
    _landed_ok(warehouse, fakes)


@pytest.mark.parametrize("fault", ["corrupt", "truncate"])
@pytest.mark.parametrize("checksums", ["all", "none"])
def test_corrupt_transfers_are_caught_deleted_and_requeued(servers, creds, warehouse, fault, checksums) -> None:
    """With checksums, and without (CDSE often gives none and a zero size): zip integrity still catches it."""
    fakes = generate_products(2, ["32UNA"], payload=96 * 1024)
    cdse = StandInServer("cdse", fakes, cdse_checksums=checksums).start()
    servers.append(cdse)
    cdse.faults.add(fakes[0].name, fault)
    report, _ = _run([mirror_for(cdse, "cdse")], warehouse)

    assert sorted(report.landed) == sorted(f.name for f in fakes)
    assert cdse.stats.completed[fakes[0].name] == 1 and cdse.stats.completed[fakes[1].name] == 1
    assert cdse.stats.requests["download"] == 3  # the corrupt one was fetched again, from zero
    assert cdse.stats.corrupt_sent[fakes[0].name] == (1 if fault == "corrupt" else 0)
    events = StateStore(Path(warehouse.root, "_state", "ingest.sqlite")).events(fakes[0].name)
    reasons = [e[4] for e in events if e[2] == "queued" and e[4]]
    assert any(word in r for r in reasons for word in ("mismatch", "zip", "size", "CRC")), reasons
    assert not list(Path(warehouse.root, "_state", "downloads").glob("*.part"))
    _landed_ok(warehouse, fakes)


@pytest.mark.parametrize("kind", ["cdse", "dhus"])
def test_a_bad_member_crc_past_a_matching_checksum_fails_extraction_and_is_fetched_again(
    servers, creds, warehouse, monkeypatch, kind
) -> None:
    """The mirror's checksum is of the corrupt bytes, so verification passes without a CRC read; the
    extraction finds the bad CRC, nothing lands, the download and the partial extraction are removed,
    and a later run downloads the product again."""
    import zipfile

    reads: list[str] = []
    original = zipfile.ZipFile.testzip
    monkeypatch.setattr(zipfile.ZipFile, "testzip", lambda self: reads.append(str(self.filename)) or original(self))
    fakes = generate_products(2, ["32UNA"], payload=96 * 1024)
    broken = fakes[0]
    broken.data = product_zip(broken.name, 96 * 1024, 11, bad_crc=True)
    server = StandInServer(kind, fakes).start()
    servers.append(server)
    report, _ = _run([mirror_for(server, kind)], warehouse, max_attempts=2)

    assert report.landed == [fakes[1].name] and reads == []  # checksums matched: no CRC pass in verification
    assert server.stats.completed[broken.name] == 2  # each attempt downloaded it again, none resumed
    assert server.stats.range_requests[broken.name] == 0
    assert "gave up after 2 attempts" in report.failed[broken.name] and "Bad CRC-32" in report.failed[broken.name]
    state = Path(warehouse.root, "_state")
    assert not Path(warehouse.root, "landing", f"{broken.name}.SAFE").exists()
    assert not list((state / "staging").glob("*")) and not list((state / "downloads").glob(f"{broken.name}*"))
    row = next(r for r in TableStore(warehouse).read("products").to_pylist() if r["product_id"] == broken.name)
    assert row["status"] == "failed" and "Bad CRC-32" in row["status_reason"] and row["storage_path"] is None
    events = StateStore(state / "ingest.sqlite").events(broken.name)
    assert [e[2] for e in events].count("extracting") == 2

    broken.data = product_zip(broken.name, 96 * 1024, 11)  # the mirror repaired it: the rerun downloads it
    again, _ = _run([mirror_for(server, kind)], warehouse)
    assert again.landed == [broken.name] and again.skipped == [fakes[1].name]
    assert server.stats.completed[broken.name] == 3
    _landed_ok(warehouse, fakes)


def test_dhus_checksum_is_asked_for_once_per_product_at_download(servers, creds, warehouse) -> None:
    """Search asks OData for nothing; the scheduler asks once per product before its transfer (not again
    on a retry), verifies with that checksum and keeps it in the products table."""
    fakes = generate_products(3, ["32UNA"], payload=64 * 1024)
    dhus = StandInServer("dhus", fakes, replay=True).start()
    servers.append(dhus)
    dhus.faults.add(fakes[0].name, "500", "drop")
    mirrors = [mirror_for(dhus, "dhus")]
    found = search_all(mirrors, QUERY).products
    assert all(p.offers["dhus"].checksum is None and p.offers["dhus"].size is None for p in found)
    assert dhus.stats.requests["odata"] == 0
    report = Scheduler(fast_settings(mirrors), warehouse).run(found)

    assert sorted(report.landed) == sorted(f.name for f in fakes) and not report.failed
    assert dhus.stats.requests["odata"] == len(fakes) and dhus.stats.requests["search"] == 1
    assert dhus.stats.requests["download"] == len(fakes) + 2
    rows = {r["product_id"]: r for r in TableStore(warehouse).read("products").to_pylist()}
    for fake in fakes:
        row = rows[fake.name]
        assert row["checksum"].lower() == fake.md5 and row["checksum_algorithm"] == "MD5"
        assert row["size_bytes"] == len(fake.data)
    _landed_ok(warehouse, fakes)


def test_mirror_going_down_mid_session_hands_over_to_another(servers, creds, warehouse) -> None:
    fakes = generate_products(4, ["32UNA", "32UPA"], payload=64 * 1024)
    primary = StandInServer("cdse", fakes).start()
    backup = StandInServer("dhus", fakes).start()
    servers += [primary, backup]
    mirrors = [mirror_for(primary, "primary"), mirror_for(backup, "backup")]
    found = search_all(mirrors, QUERY)
    primary.faults.add(fakes[0].name, "down")  # the first download takes the whole mirror down
    report = Scheduler(fast_settings(mirrors), warehouse, ranks={"primary": 2.0, "backup": 1.0}).run(found.products)

    assert sorted(report.landed) == sorted(f.name for f in fakes) and not report.failed
    for fake in fakes:
        assert primary.stats.completed[fake.name] + backup.stats.completed[fake.name] == 1
    assert sum(backup.stats.completed.values()) >= 3
    _landed_ok(warehouse, fakes)


def test_429_retry_after_is_honoured(servers, creds, warehouse) -> None:
    fakes = generate_products(1, ["32UNA"])
    cdse = StandInServer("cdse", fakes).start()
    servers.append(cdse)
    cdse.faults.retry_after = 1
    cdse.faults.add(fakes[0].name, "429")
    started = time.monotonic()
    report, _ = _run([mirror_for(cdse, "cdse")], warehouse)
    assert report.landed == [fakes[0].name]
    assert time.monotonic() - started >= 1.0
    assert cdse.stats.requests["download"] == 2


def test_offline_lta_product_is_triggered_and_polled(servers, creds, warehouse) -> None:
    fakes = generate_products(2, ["32UNA"])
    fakes[0].online = False
    fakes[0].lta_polls = 2
    dhus = StandInServer("dhus", fakes).start()
    servers.append(dhus)
    report, _ = _run([mirror_for(dhus, "dhus")], warehouse)
    assert sorted(report.landed) == sorted(f.name for f in fakes)
    assert dhus.stats.requests["lta_trigger"] == 1  # triggered once, then polled (not re-triggered)
    assert dhus.stats.requests["online_check"] == 3
    assert dhus.stats.completed[fakes[0].name] == 1


def test_zip_slip_is_refused(servers, creds, warehouse, tmp_path) -> None:
    fakes = generate_products(1, ["32UNA"])
    fakes[0].data = product_zip(fakes[0].name, 1024, 7, unsafe=True)
    cdse = StandInServer("cdse", fakes).start()
    servers.append(cdse)
    report, _ = _run([mirror_for(cdse, "cdse")], warehouse)
    assert "escapes the target folder" in report.failed[fakes[0].name]
    assert not list(Path(warehouse.root).rglob("escaped.txt")) and not (tmp_path / "escaped.txt").exists()
    row = TableStore(warehouse).read("products").to_pylist()[0]
    assert row["status"] == "failed" and "escapes" in row["status_reason"]


def test_connection_limits_and_most_available_first(servers, creds, warehouse) -> None:
    fakes = generate_products(6, ["32UNA"], payload=64 * 1024)
    a = StandInServer("cdse", fakes, bandwidth=400_000).start()
    b = StandInServer("stac", fakes[:3], bandwidth=400_000, stac_oidc=True).start()
    servers += [a, b]
    mirrors = [mirror_for(a, "a", max_connections=2), mirror_for(b, "b", max_connections=1)]
    report, found = _run(mirrors, warehouse, max_connections=3)
    assert len(report.landed) == 6
    assert a.stats.peak_active <= 2 and b.stats.peak_active <= 1
    first = report.landed[:2]
    assert all(len(next(p for p in found.products if p.product_id == pid).offers) == 2 for pid in first)
    for fake in fakes:
        assert a.stats.completed[fake.name] + b.stats.completed[fake.name] == 1


def test_second_get_skips_landed_products(servers, creds, warehouse) -> None:
    fakes = generate_products(2, ["32UNA"])
    cdse = StandInServer("cdse", fakes).start()
    servers.append(cdse)
    _run([mirror_for(cdse, "cdse")], warehouse)
    report, _ = _run([mirror_for(cdse, "cdse")], warehouse)
    assert sorted(report.skipped) == sorted(f.name for f in fakes) and not report.landed
    assert sum(cdse.stats.completed.values()) == 2
    state = StateStore(Path(warehouse.root, "_state", "ingest.sqlite"))
    assert {s.status for s in state.all()} == {LANDED}


def test_a_failing_mirror_is_benched(servers, creds, warehouse) -> None:
    fakes = generate_products(5, ["32UNA"])
    flaky = StandInServer("cdse", fakes).start()
    steady = StandInServer("stac", fakes).start()
    servers += [flaky, steady]
    for fake in fakes:
        flaky.faults.add(fake.name, "500", "500")
    mirrors = [mirror_for(flaky, "flaky", max_connections=1), mirror_for(steady, "steady", max_connections=1)]
    found = search_all(mirrors, QUERY)
    settings = fast_settings(mirrors, bench_after=2, bench_seconds=30, max_connections=1)
    report = Scheduler(settings, warehouse, ranks={"flaky": 9.0, "steady": 1.0}).run(found.products)
    assert len(report.landed) == 5 and not report.failed
    assert flaky.stats.requests["download"] == 2  # benched after two failures in a row, never asked again
    assert sum(steady.stats.completed.values()) == 5


def test_rate_limit_spaces_requests() -> None:
    from ingest.catalogues.base import RateLimiter

    limiter = RateLimiter(20.0)
    started = time.monotonic()
    for _ in range(5):
        limiter.wait()
    assert time.monotonic() - started >= 0.19


def test_landed_synthetic_l2a_product_opens_as_a_product(servers, creds, warehouse, tmp_path) -> None:
    """A real (synthetic) L2A SAFE goes through the mirror, the scheduler and landing, and still opens."""
    synth = pytest.importorskip("sedona_jobs.synth.l2a.product")
    from s2lake.testing.standin_catalogues import product_from_safe
    from sedona_jobs.safe import open_product

    safe = synth.write_l2a(tmp_path / "src", tile="32UNA", date="2021-07-01", pixels=120, seed=3)
    fake = product_from_safe(safe)
    cdse = StandInServer("cdse", [fake]).start()
    servers.append(cdse)
    report, _ = _run([mirror_for(cdse, "cdse")], warehouse)
    assert report.landed == [fake.name]
    landed = Path(warehouse.root, "landing", safe.name)
    product = open_product(landed)
    assert product.tile == "32UNA" and product.product_id == fake.name and len(product.bands) == 13
    row = TableStore(warehouse).read("products").to_pylist()[0]
    assert row["storage_path"] == str(landed) and row["processing_baseline"] == "05.10"


def test_a_later_get_leaves_table_rows_of_skipped_products_alone(servers, creds, warehouse) -> None:
    """Once a product is patched, fetching the same list again must not reset it to `landed`."""
    import pyarrow as pa

    from s2lake.tables.schemas import PRODUCTS

    fakes = generate_products(1, ["32UNA"])
    cdse = StandInServer("cdse", fakes).start()
    servers.append(cdse)
    _run([mirror_for(cdse, "cdse")], warehouse)
    store = TableStore(warehouse)
    row = store.read("products").to_pylist()[0]
    store.upsert(
        PRODUCTS, pa.Table.from_pylist([dict(row, status="patched", patch_count=8281)], schema=PRODUCTS.schema)
    )
    report, _ = _run([mirror_for(cdse, "cdse")], warehouse)
    assert report.skipped == [fakes[0].name]
    again = store.read("products").to_pylist()[0]
    assert again["status"] == "patched" and again["patch_count"] == 8281
