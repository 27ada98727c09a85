"""Every transfer is bounded: never more bytes than declared, never stalled or overdue forever.

Windows and deadlines are set small through the typed settings so each case takes seconds; each test
also bounds its own run time (pytest-timeout), since the fault it checks is a transfer that never ends.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.auth import MirrorSession, auth_for
from ingest.ranking import measure
from ingest.state import StateStore
from ingest.transfer import Oversize, TransferLimits, fetch
from s2lake.config.ingest import SchedulerSettings
from s2lake.errors import DownloadError
from s2lake.testing.standin_catalogues import StandInServer, generate_products
from tests.ingest.conftest import fast_settings, mirror_for
from tests.ingest.test_scheduler import _landed_ok, _run

FAST = {"stall_window_seconds": 0.5, "deadline_base_seconds": 0.5}


def _served(servers: list[StandInServer], fault: str | None, payload: int = 48 * 1024, **server: object):
    """A STAC stand-in serving one product, whose first download has ``fault``; (server, product)."""
    fakes = generate_products(1, ["32UNA"], payload=payload)
    stac = StandInServer("stac", fakes, **server).start()
    servers.append(stac)
    stac.faults.drip_for = 8.0
    if fault:
        stac.faults.add(fakes[0].name, fault)
    return stac, fakes[0]


def _fetch(server: StandInServer, fake, part: Path, expected: int | None, **limits: object) -> list[int]:
    """Fetch ``fake`` from ``server``; return the sizes of the blocks written to ``part``."""
    blocks: list[int] = []
    with MirrorSession(auth_for(mirror_for(server, "m"))) as session:
        fetch(
            session,
            f"{server.base}odata/v1/Products({fake.uuid})/$value",
            part,
            timeout=5,
            chunk_bytes=16 * 1024,
            limits=TransferLimits.from_settings(SchedulerSettings(**limits)),
            expected_size=expected,
            on_bytes=blocks.append,
        )
    return blocks


@pytest.mark.timeout(30)
@pytest.mark.parametrize("announce", [True, False], ids=["content-length", "until-close"])
def test_a_body_longer_than_the_catalogue_size_is_cut_off_and_removed(servers, creds, tmp_path, announce) -> None:
    stac, fake = _served(servers, "oversize")
    stac.faults.announce_oversize = announce
    part = tmp_path / "p.part"
    written: list[int] = []
    with pytest.raises(Oversize, match="expected"):
        written = _fetch(stac, fake, part, len(fake.data))
    assert sum(written) <= len(fake.data)
    assert not part.exists()  # never resumed from, never verified as if complete


@pytest.mark.timeout(30)
def test_without_a_declared_size_max_download_bytes_caps_the_body(servers, creds, tmp_path) -> None:
    """CDSE lists many products with a zero ContentLength; a server that sends no length is capped too."""
    stac, fake = _served(servers, "oversize")
    cap = len(fake.data) + 100_000
    with pytest.raises(Oversize):
        _fetch(stac, fake, tmp_path / "p.part", None, max_download_bytes=cap)
    assert not (tmp_path / "p.part").exists()
    assert _fetch(stac, fake, tmp_path / "q.part", None, max_download_bytes=cap)  # a normal body passes


@pytest.mark.timeout(30)
def test_a_dripping_server_is_aborted_as_stalled(servers, creds, tmp_path) -> None:
    stac, fake = _served(servers, "drip")
    started = time.monotonic()
    with pytest.raises(DownloadError, match="stalled"):
        _fetch(stac, fake, tmp_path / "p.part", len(fake.data), stall_rate_bytes=1024, **FAST)
    assert time.monotonic() - started < 3.0  # the window is 0.5 s; the server would go on for 8 s
    assert 0 < (tmp_path / "p.part").stat().st_size < 100  # what arrived is kept for a resume


@pytest.mark.timeout(30)
def test_a_transfer_past_its_size_scaled_deadline_is_aborted(servers, creds, tmp_path) -> None:
    """Fast enough never to stall, too slow for the deadline: base + size / deadline rate."""
    stac, fake = _served(servers, None, payload=160 * 1024, bandwidth=40_000)  # about 4 s for the product
    started = time.monotonic()
    with pytest.raises(DownloadError, match="overdue"):
        _fetch(stac, fake, tmp_path / "p.part", len(fake.data), deadline_rate_bytes=1_000_000, **FAST)
    assert time.monotonic() - started < 2.5  # deadline 0.5 s + 0.16 s, plus one 16 KiB block


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("fault", "reason"), [("oversize", "more than"), ("drip", "stalled")])
def test_the_scheduler_retries_an_aborted_transfer(servers, creds, warehouse, fault, reason) -> None:
    fakes = generate_products(2, ["32UNA"], payload=96 * 1024)
    cdse = StandInServer("cdse", fakes).start()
    servers.append(cdse)
    cdse.faults.drip_for = 20.0
    cdse.faults.add(fakes[0].name, fault)
    report, _ = _run([mirror_for(cdse, "cdse")], warehouse, **FAST)

    assert sorted(report.landed) == sorted(f.name for f in fakes) and not report.failed
    events = StateStore(Path(warehouse.root, "_state", "ingest.sqlite")).events(fakes[0].name)
    assert any(reason in (e[4] or "") for e in events if e[2] == "queued"), events
    assert not list(Path(warehouse.root, "_state", "downloads").glob("*.part"))
    _landed_ok(warehouse, fakes)


@pytest.mark.timeout(30)
def test_ranking_a_dripping_mirror_is_bounded_too(servers, creds) -> None:
    """`mirrors rank` downloads a sample from each mirror: a stalled sample is an error, not a hang."""
    stac, _ = _served(servers, "drip")
    mirror = mirror_for(stac, "m")
    settings = fast_settings([mirror], **FAST).model_copy(update={"rank_test_tiles": ["32UNA"]})
    started = time.monotonic()
    measured = measure(mirror, settings, datetime.now(UTC))
    assert "stalled" in measured.errors and measured.test_tile_products == 1
    assert time.monotonic() - started < 4.0
