"""Fixtures of the ingest tests: stand-in DHuS, CDSE and STAC mirrors on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from s2lake.config.ingest import IngestSettings, MirrorSettings, SchedulerSettings
from s2lake.testing.standin_catalogues import FakeProduct, StandInServer, generate_products

USER, PASSWORD = "alice", "s3cret-pw"
AREA = "POLYGON((0 40, 20 40, 20 60, 0 60, 0 40))"


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_MIRROR_USER", USER)
    monkeypatch.setenv("TEST_MIRROR_PASSWORD", PASSWORD)


def mirror_for(server: StandInServer, name: str, **extra: object) -> MirrorSettings:
    protocol = {"dhus": "dhus", "cdse": "cdse_odata", "stac": "stac"}[server.kind]
    values: dict = {"name": name, "protocol": protocol, "url": server.url, "max_connections": 2}
    if server.kind in ("dhus", "cdse") or server.stac_oidc:
        values.update(username_env="TEST_MIRROR_USER", password_env="TEST_MIRROR_PASSWORD")
    if server.kind == "cdse":  # its download host is declared like CDSE's zipper host in PROVIDER_DOWNLOAD_HOSTS
        values.update(
            token_url=server.token_url,
            page_size=server.page_limit,
            max_skip=server.max_skip,
            download_hosts=[server.download_host],
        )
    if server.stac_oidc:  # CDSE STAC: the Product asset wants the same Keycloak bearer token as OData
        values.update(token_url=server.token_url)
    values.update(extra)
    return MirrorSettings(**values)


def fast_settings(mirrors: list[MirrorSettings], **scheduler: object) -> IngestSettings:
    """Short timeouts and pauses so fault tests finish in seconds."""
    values: dict = {
        "timeout_seconds": 1.0,
        "bench_seconds": 0.3,
        "lta_poll_seconds": 0.1,
        "max_retry_after_seconds": 1.0,
        "chunk_bytes": 16 * 1024,
    }
    values.update(scheduler)
    return IngestSettings(mirrors=mirrors, scheduler=SchedulerSettings(**values))


@pytest.fixture
def servers() -> Iterator[list[StandInServer]]:
    """Collects servers started by a test and stops them afterwards."""
    started: list[StandInServer] = []
    yield started
    for server in started:
        server.stop()


@pytest.fixture
def products() -> list[FakeProduct]:
    return generate_products(8, ["32UNA", "32UPA", "33UUP"], payload=48 * 1024)
