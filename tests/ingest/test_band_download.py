"""Band-level downloads (``bands: patches``) against the stand-in DHuS, CDSE and STAC faces over HTTP.

The products are real SAFE folders written by the synthesiser (JPEG 2000 bands, resampled copies,
``manifest.safe`` with MD5s); the servers serve their files one by one on the paths the real services
document, and record every request, so the tests check what was asked for, not what the client says.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from ingest.catalogues import SearchQuery
from ingest.scheduler import Scheduler
from ingest.search import search_all
from s2lake.tables.schemas import PRODUCTS
from s2lake.tables.store import TableStore
from s2lake.testing.standin_catalogues import StandInServer, product_from_safe
from s2lake.warehouse import Warehouse
from sedona_jobs.synth.l2a import write_l2a
from tests.ingest.conftest import AREA, PASSWORD, fast_settings, mirror_for


@pytest.fixture(scope="module")
def full_safe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 600 px L2A product with every file of a real one's layout that the synthesiser writes (resampled
    copies included): read-only, copied by tests that change it."""
    return write_l2a(tmp_path_factory.mktemp("safe"), pixels=600, all_resolutions=True, workers=1, seed=7)


def patch_files(safe: Path) -> set[str]:
    """What the patch job reads of ``safe``, from its metadata (independently of the code under test)."""
    import re

    mtd = (safe / "MTD_MSIL2A.xml").read_text()
    entries = re.findall(r"<IMAGE_FILE>([^<]+)</IMAGE_FILE>", mtd)
    native = {"10": ("B02", "B03", "B04", "B08"), "20": ("B05", "B06", "B07", "B8A", "B11", "B12", "SCL")}
    native["60"] = ("B01", "B09")
    bands = {f"{e}.jp2" for e in entries if any(e.endswith(f"_{b}_{r}m") for r, bs in native.items() for b in bs)}
    granule = next(iter(bands)).split("/IMG_DATA/")[0]
    assert len(bands) == 13
    return {"manifest.safe", "MTD_MSIL2A.xml", f"{granule}/MTD_TL.xml", *bands}


def _query(fake) -> SearchQuery:
    from datetime import timedelta

    return SearchQuery(fake.sensing - timedelta(days=1), fake.sensing + timedelta(days=1), AREA)


def _get(server: StandInServer, fake, warehouse: Warehouse, **scheduler: object):
    mirror = mirror_for(server, server.kind)
    found = search_all([mirror], _query(fake))
    assert not found.failures and [p.product_id for p in found.products] == [fake.name]
    settings = fast_settings([mirror], **scheduler)
    return Scheduler(settings, warehouse).run(found.products)


def _node_requests(server: StandInServer) -> list[tuple[str, str, str | None]]:
    """(host, file below the SAFE, Authorization) of every per-file request that reached a server."""
    import re

    out = []
    for host, path, auth in server.stats.authorization:
        nodes = re.findall(r"Nodes\('?([^()']+)'?\)", path)
        if nodes:
            out.append((host, "/".join(nodes[1:]), auth))
    return out


def _row(warehouse: Warehouse, pid: str) -> dict:
    rows = TableStore(warehouse).read(PRODUCTS.name).to_pylist()
    return next(r for r in rows if r["product_id"] == pid)


def test_cdse_fetches_only_the_patch_files_and_lands_a_partial_safe(servers, creds, tmp_path, full_safe) -> None:
    fake = product_from_safe(full_safe)
    cdse = StandInServer("cdse", [fake]).start()
    servers.append(cdse)
    warehouse = Warehouse.at(tmp_path / "wh")
    report = _get(cdse, fake, warehouse)
    assert report.landed == [fake.name] and not report.failed

    wanted = patch_files(full_safe)
    requests = _node_requests(cdse)
    served = [rel for host, rel, _ in requests if host.startswith("localhost:")]  # the download host
    assert sorted(served) == sorted(wanted)  # each listed file once, nothing else (no TCI, no R60m copies)
    assert cdse.stats.requests["download"] == len(wanted)  # and never the archive
    # The bearer token went along to the catalogue host and across its redirect to the download host.
    assert all(auth and auth.startswith("Bearer ") for _, _, auth in requests)

    landed = Path(warehouse.landing_uri) / f"{fake.name}.SAFE"
    on_disk = {str(p.relative_to(landed)) for p in landed.rglob("*") if p.is_file()}
    assert on_disk == wanted
    for rel in wanted:
        assert (landed / rel).read_bytes() == (full_safe / rel).read_bytes()
    assert not list(Path(warehouse.state_uri).rglob("*.part"))

    row = _row(warehouse, fake.name)
    size = sum((full_safe / rel).stat().st_size for rel in wanted)
    assert (row["status"], row["fetched"], row["fetched_files"], row["fetched_bytes"]) == (
        "landed",
        "patches",
        len(wanted),
        size,
    )
    assert size < len(fake.data) and report.bytes == size


def test_cdse_file_requests_go_straight_to_the_host_its_redirect_named(servers, creds, tmp_path, full_safe) -> None:
    """After the catalogue host's first 301 to the download host, the other files skip that round trip (one
    per file, ~16 per product), with the token still going to the download host only as the redirect gave it."""
    fake = product_from_safe(full_safe)
    cdse = StandInServer("cdse", [fake]).start()
    servers.append(cdse)
    report = _get(cdse, fake, Warehouse.at(tmp_path / "wh"), max_connections=1)
    assert report.landed == [fake.name]

    requests = _node_requests(cdse)
    on_catalogue = [rel for host, rel, _ in requests if not host.startswith("localhost:")]
    assert on_catalogue == ["manifest.safe"]  # redirected once; every later file went to the download host
    assert sorted(rel for host, rel, _ in requests if host.startswith("localhost:")) == sorted(patch_files(full_safe))
    assert all(auth and auth.startswith("Bearer ") for _, _, auth in requests)


def test_bands_all_keeps_whole_archives(servers, creds, tmp_path, full_safe) -> None:
    fake = product_from_safe(full_safe)
    cdse = StandInServer("cdse", [fake]).start()
    servers.append(cdse)
    warehouse = Warehouse.at(tmp_path / "wh")
    mirror = mirror_for(cdse, "cdse")
    found = search_all([mirror], _query(fake))
    settings = fast_settings([mirror]).model_copy(update={"bands": "all"})
    assert Scheduler(settings, warehouse).run(found.products).landed == [fake.name]
    assert cdse.stats.requests["node"] == 0 and cdse.stats.completed[fake.name] == 1
    row = _row(warehouse, fake.name)
    assert (row["fetched"], row["fetched_bytes"]) == ("all", len(fake.data))
    assert row["fetched_files"] == sum(1 for p in full_safe.rglob("*") if p.is_file())


def test_partial_safe_gives_the_same_patch_rows_as_the_full_one(servers, creds, tmp_path, full_safe) -> None:
    from sedona_jobs.patches.build import build_products

    fake = product_from_safe(full_safe)
    dhus = StandInServer("dhus", [fake]).start()
    servers.append(dhus)
    warehouse = Warehouse.at(tmp_path / "wh")
    assert _get(dhus, fake, warehouse).landed == [fake.name]
    partial = Path(warehouse.landing_uri) / f"{fake.name}.SAFE"
    assert len(list(partial.rglob("*.jp2"))) == 13 < len(list(full_safe.rglob("*.jp2")))

    reference = Warehouse.at(tmp_path / "reference")
    outcomes = build_products([partial], warehouse) + build_products([full_safe], reference)
    assert [o.status for o in outcomes] == ["patched", "patched"] and outcomes[0].patches == outcomes[1].patches > 0

    def rows(where: Warehouse) -> list[dict]:
        table = TableStore(where).read("patches")
        return sorted(table.to_pylist(), key=lambda r: r["patch_id"])

    ours, theirs = rows(warehouse), rows(reference)
    assert ours == theirs
    assert _row(warehouse, fake.name)["fetched"] == "patches"  # the patch step kept what ingest recorded


def test_tampered_band_is_refused_and_never_lands(servers, creds, tmp_path, full_safe) -> None:
    safe = shutil.copytree(full_safe, tmp_path / "served" / full_safe.name)
    fake = product_from_safe(safe)
    band = next(rel for rel in patch_files(safe) if rel.endswith("_B03_10m.jp2"))
    data = bytearray((safe / band).read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped bit in a JPEG 2000 packet: it still decodes
    (safe / band).write_bytes(bytes(data))
    dhus = StandInServer("dhus", [fake]).start()
    servers.append(dhus)
    warehouse = Warehouse.at(tmp_path / "wh")

    report = _get(dhus, fake, warehouse, max_attempts=2)

    assert report.landed == [] and fake.name in report.failed
    reason = report.failed[fake.name]
    assert band in reason and "MD5" in reason and "manifest.safe" in reason
    assert hashlib.md5(bytes(data)).hexdigest() in reason
    assert not (Path(warehouse.landing_uri) / f"{fake.name}.SAFE").exists()
    row = _row(warehouse, fake.name)
    assert row["status"] == "failed" and band in row["status_reason"] and row["fetched"] is None
    assert PASSWORD not in reason
    # The bad band was fetched once per attempt; the files that matched were not fetched again.
    served = [rel for _, rel, _ in _node_requests(dhus)]
    assert served.count(band) == 2 and served.count("MTD_MSIL2A.xml") == 1
    # Nothing unverified is left under its own name: the bad bytes were removed, not kept to resume from.
    staged = list(Path(warehouse.state_uri).rglob(Path(band).name + "*"))
    assert staged == []


def test_interrupted_band_resumes_in_the_next_run(servers, creds, tmp_path, full_safe) -> None:
    fake = product_from_safe(full_safe)
    stac = StandInServer("stac", [fake], stac_oidc=True).start()  # CDSE STAC: assets need the bearer token
    servers.append(stac)
    band = next(rel for rel in patch_files(full_safe) if rel.endswith("_B04_10m.jp2"))
    key = f"{fake.name}/{band}"
    stac.faults.add(key, "drop")  # the connection drops halfway through the band
    warehouse = Warehouse.at(tmp_path / "wh")

    first = _get(stac, fake, warehouse, max_attempts=1)  # the run ends with the band half there
    assert fake.name in first.failed and not (Path(warehouse.landing_uri) / f"{fake.name}.SAFE").exists()
    partial = next(Path(warehouse.state_uri).rglob(Path(band).name + ".part"))
    assert 0 < partial.stat().st_size < (full_safe / band).stat().st_size

    second = _get(stac, fake, warehouse)
    assert second.landed == [fake.name]
    wanted = patch_files(full_safe)
    assert stac.stats.range_requests[key] == 1  # resumed, not fetched again
    assert all(stac.stats.completed[f"{fake.name}/{rel}"] == 1 for rel in wanted)  # every file once
    assert stac.stats.bytes_sent == sum((full_safe / rel).stat().st_size for rel in wanted)
    landed = Path(warehouse.landing_uri) / f"{fake.name}.SAFE"
    assert (landed / band).read_bytes() == (full_safe / band).read_bytes()


def test_file_assets_elsewhere_get_no_credentials(servers, creds, tmp_path, full_safe) -> None:
    """A STAC item whose file assets point at another origin (``localhost``: another host by name) gets
    no token sent there; the files are refused, and the product does not land."""
    fake = product_from_safe(full_safe)
    stac = StandInServer("stac", [fake], stac_oidc=True).start()
    stac.link_base = f"http://localhost:{stac.port}/stac/"
    servers.append(stac)
    warehouse = Warehouse.at(tmp_path / "wh")
    report = _get(stac, fake, warehouse, max_attempts=2)
    assert report.landed == [] and fake.name in report.failed
    elsewhere = [auth for host, _, auth in _node_requests(stac) if host.startswith("localhost:")]
    assert elsewhere and all(auth is None for auth in elsewhere)


def test_idle_connections_take_files_of_a_product_under_way(servers, creds, tmp_path, full_safe) -> None:
    """Two products, two mirrors with one connection each, one mirror much faster: when its product is done
    its connection has no product to start, so it fetches files of the other one (checked against the same
    manifest) instead of standing idle."""
    fake, _small, cdse, stac, warehouse = _slow_and_fast(servers, tmp_path, full_safe, slow=600_000)

    wanted = patch_files(full_safe)
    served = {
        s.kind: {k.split("/", 1)[1] for k in s.stats.completed if k.startswith(fake.name + "/")} for s in (cdse, stac)
    }
    assert served["cdse"] and served["stac"], served  # both connections fetched files of the big product
    assert not served["cdse"] & served["stac"] and served["cdse"] | served["stac"] == wanted  # each file once
    assert all(n == 1 for s in (cdse, stac) for n in s.stats.completed.values())
    assert cdse.stats.peak_active <= 1 and stac.stats.peak_active <= 1  # per-mirror limits held
    landed = Path(warehouse.landing_uri) / f"{fake.name}.SAFE"
    for rel in wanted:
        assert (landed / rel).read_bytes() == (full_safe / rel).read_bytes()


def test_idle_connection_takes_over_the_end_of_a_slow_transfer(servers, creds, tmp_path, full_safe) -> None:
    """Endgame: a slow mirror's connection is on the last large file when the fast mirror's connection runs
    out of files to take; it takes over the end of that transfer (``Range``) instead of standing idle. The
    file lands whole and right (checked once against the manifest), no byte is fetched twice, limits hold.
    The slow mirror is 80x slower than the fast one so that a loaded machine (which slows the fast stand-in
    far more than the throttled one) still leaves the slow connection on its last file when the fast one
    runs out of work: at 200 kB/s it sometimes finished first under load and nothing was split."""
    fake, small, cdse, stac, warehouse = _slow_and_fast(servers, tmp_path, full_safe, slow=50_000)

    split = {key for key in stac.stats.range_requests if key.startswith(fake.name + "/")}
    assert split, "no transfer's end was taken over"
    for key in split:  # its start came from the slow mirror, cut short there
        rel = key.split("/", 1)[1]
        assert rel in {r for _, r, _ in _node_requests(cdse)} and key not in cdse.stats.completed
    assert cdse.stats.peak_active <= 1 and stac.stats.peak_active <= 1  # per-mirror limits held
    wanted = patch_files(full_safe)
    landed = Path(warehouse.landing_uri) / f"{fake.name}.SAFE"
    needed = sum((full_safe / rel).stat().st_size for rel in wanted)
    for rel in wanted:
        assert (landed / rel).read_bytes() == (full_safe / rel).read_bytes()
    assert sorted(p.name for p in landed.rglob("*") if p.is_file() and ".part" in p.name) == []
    # No byte twice: what was sent of the big product stays within its files plus what was in flight at a cut.
    metadata = sum((full_safe / name).stat().st_size for name in ("manifest.safe", "MTD_MSIL2A.xml"))
    sent = sum(s.stats.bytes_sent for s in (cdse, stac))
    assert sent < needed + metadata + len(small.data) + len(split) * (64 << 10), (sent, needed)


def _slow_and_fast(
    servers: list, tmp_path: Path, full_safe: Path, slow: int
) -> tuple[object, object, StandInServer, StandInServer, Warehouse]:
    """Two products (``full_safe`` and a small one) on a slow cdse and a fast stac mirror, one connection
    each, fetched band by band in one run; both must land."""
    small = product_from_safe(write_l2a(tmp_path / "small", pixels=120, workers=1, seed=3, date="2021-06-05"))
    fake = product_from_safe(full_safe)
    cdse = StandInServer("cdse", [fake, small], bandwidth=slow, max_connections=1).start()
    stac = StandInServer("stac", [fake, small], bandwidth=4_000_000, max_connections=1).start()
    servers += [cdse, stac]
    mirrors = [mirror_for(cdse, "cdse", max_connections=1), mirror_for(stac, "stac", max_connections=1)]
    found = search_all(mirrors, SearchQuery(small.sensing.replace(year=2015), small.sensing.replace(year=2030), AREA))
    warehouse = Warehouse.at(tmp_path / "wh")
    report = Scheduler(fast_settings(mirrors, max_connections=2), warehouse).run(found.products)
    assert sorted(report.landed) == sorted([fake.name, small.name]) and not report.failed
    return fake, small, cdse, stac, warehouse
