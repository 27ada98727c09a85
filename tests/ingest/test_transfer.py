"""The HTTP layer: bearer tokens across CDSE's cross-host redirect, token refresh, Range resume."""

from __future__ import annotations

import time

import fsspec
import pytest
import requests

from ingest.auth import Credentials, KeycloakAuth, MirrorSession, auth_for, resolve_credentials
from ingest.landing import land_tree
from ingest.transfer import fetch, retry_after_seconds
from s2lake.config.ingest import MirrorSettings
from s2lake.errors import CatalogueError
from s2lake.testing.standin_catalogues import StandInServer, generate_products
from s2lake.warehouse import Warehouse
from tests.ingest.conftest import PASSWORD, USER, mirror_for


def test_bearer_token_survives_the_cross_host_redirect(servers, creds, tmp_path) -> None:
    """CDSE's catalogue redirects $value to its download host, declared as one in the mirror's configuration."""
    fakes = generate_products(1, ["32UNA"])
    cdse = StandInServer("cdse", fakes).start()
    servers.append(cdse)
    auth = auth_for(mirror_for(cdse, "cdse"))
    url = f"{cdse.url}/Products({fakes[0].uuid})/$value"
    # Plain requests drops Authorization when the redirect leaves the host: the download is refused.
    assert requests.get(url, auth=auth, timeout=5).status_code == 401
    part = tmp_path / "p.part"
    with MirrorSession(auth) as session:
        size = fetch(session, url, part, timeout=5, chunk_bytes=4096, expected_size=len(fakes[0].data))
    assert size == len(fakes[0].data) and part.read_bytes() == fakes[0].data
    assert cdse.stats.auth_headers_on_redirect == [True, True]  # both requests carried the token


def test_keycloak_refreshes_short_lived_tokens(servers) -> None:
    cdse = StandInServer("cdse", [], token_ttl=30.4).start()  # expires 0.4 s after the refresh margin
    servers.append(cdse)

    auth = KeycloakAuth(cdse.token_url, "cdse-public", Credentials(USER, PASSWORD))
    first = auth.token()
    assert auth.token() == first  # cached while valid
    time.sleep(0.5)
    second = auth.token()
    assert second != first
    assert cdse.stats.requests["token_password"] == 1 and cdse.stats.requests["token_refresh_token"] == 1
    assert PASSWORD not in repr(auth)


def test_range_resume_appends_to_the_part_file(servers, creds, tmp_path) -> None:
    fakes = generate_products(1, ["32UNA"], payload=100_000)
    stac = StandInServer("stac", fakes, stac_oidc=True).start()
    servers.append(stac)
    data = fakes[0].data
    part = tmp_path / "p.part"
    part.write_bytes(data[:40_000])
    with MirrorSession(auth_for(mirror_for(stac, "s"))) as session:
        fetch(
            session,
            f"{stac.base}odata/v1/Products({fakes[0].uuid})/$value",
            part,
            timeout=5,
            chunk_bytes=8192,
            expected_size=len(data),
        )
    assert part.read_bytes() == data
    assert stac.stats.range_requests[fakes[0].name] == 1 and stac.stats.bytes_sent == len(data) - 40_000
    # Like CDSE STAC's Product asset (auth:refs oidc): no bearer token, no download.
    assert requests.get(f"{stac.base}odata/v1/Products({fakes[0].uuid})/$value", timeout=5).status_code == 401


def test_retry_after_forms() -> None:
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(None, default=3.0) == 3.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_credentials_from_netrc_and_config(tmp_path, monkeypatch) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine hub.example.org login bob password netrc-Secret-9\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    by_host = MirrorSettings(name="a", protocol="dhus", url="https://hub.example.org/dhus/")
    assert resolve_credentials(by_host) == Credentials("bob", "netrc-Secret-9")
    named = MirrorSettings(name="b", protocol="dhus", url="https://x.example/", netrc_host="hub.example.org")
    assert resolve_credentials(named) == Credentials("bob", "netrc-Secret-9")
    in_file = MirrorSettings(
        name="c", protocol="dhus", url="https://y.example/", username="carol", password="file-Pw-1"
    )
    assert resolve_credentials(in_file) == Credentials("carol", "file-Pw-1")
    assert "file-Pw-1" not in repr(in_file) and "netrc-Secret-9" not in repr(resolve_credentials(named))
    missing = MirrorSettings(
        name="d", protocol="dhus", url="https://z.example/", username_env="NOPE_U", password_env="NOPE_P"
    )
    with pytest.raises(CatalogueError, match="NOPE_U"):
        resolve_credentials(missing)


def test_landing_on_a_non_local_filesystem_goes_through_fsspec(tmp_path) -> None:
    """A remote warehouse (here fsspec's in-memory file system) receives the SAFE folder by copy."""
    name = "S2A_MSIL2A_20210105T103000_N0500_R001_T32UNA_20210105T133000.SAFE"  # landing wants a product name
    staged = tmp_path / name
    (staged / "GRANULE").mkdir(parents=True)
    (staged / "manifest.safe").write_text("<xfdu/>")
    (staged / "GRANULE" / "band.bin").write_bytes(b"\x01\x02")
    warehouse = Warehouse.at("memory://ingest-test-wh")
    uri = land_tree(warehouse, staged, name)
    fs = fsspec.filesystem("memory")
    assert uri == f"memory://ingest-test-wh/landing/{name}"
    assert fs.cat(f"/ingest-test-wh/landing/{name}/GRANULE/band.bin") == b"\x01\x02"
    assert not staged.exists()  # the local staging copy is gone
