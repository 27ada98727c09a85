"""Credentials go to a mirror's own origin and its configured download hosts only, redirects included.

Each case runs the real HTTP stack against stand-in servers on 127.0.0.1: the mirror, and a second
server (another origin) that records the Authorization header of every request it gets.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ingest.auth import MirrorSession, auth_for
from ingest.catalogues import open_catalogue
from ingest.products import Offer
from ingest.transfer import fetch
from s2lake.errors import DownloadError
from s2lake.testing.standin_catalogues import StandInServer, generate_products
from tests.ingest.conftest import mirror_for
from tests.ingest.test_search import QUERY


def _value_url(server: StandInServer, uuid: str) -> str:
    if server.kind == "dhus":
        return f"{server.url}odata/v1/Products('{uuid}')/$value"
    return f"{server.base}odata/v1/Products({uuid})/$value"


def _headers(server: StandInServer, host: str | None = None) -> list[str | None]:
    """Authorization headers the server got (on any host name, or on ``host``), token requests aside."""
    return [
        auth
        for seen_host, path, auth in server.stats.authorization
        if (host is None or seen_host == host) and not path.endswith("/token")
    ]


def _fetch(mirror, url: str, part: Path) -> int:
    with MirrorSession(auth_for(mirror)) as session:
        return fetch(session, url, part, timeout=5, chunk_bytes=4096)


@pytest.mark.parametrize("kind", ["dhus", "cdse", "stac"])
def test_a_redirect_to_another_origin_gets_no_credentials(servers, creds, tmp_path, kind) -> None:
    fakes = generate_products(1, ["32UNA"])
    foreign = StandInServer(kind, fakes, stac_oidc=kind == "stac").start()
    mirror = StandInServer(kind, fakes, stac_oidc=kind == "stac", redirect_to=foreign.base).start()
    servers += [foreign, mirror]
    settings = mirror_for(mirror, "m")
    with pytest.raises(DownloadError, match="HTTP 401"):  # the other server wants credentials it never gets
        _fetch(settings, _value_url(mirror, fakes[0].uuid), tmp_path / "p.part")
    assert _headers(mirror) and all(_headers(mirror))  # the mirror itself got them
    assert _headers(foreign) and not any(_headers(foreign))
    if kind == "dhus":  # sentinelsat's requests (here the OData size and checksum) use the same session
        foreign.stats.authorization.clear()
        offer = Offer("m", fakes[0].uuid, _value_url(mirror, fakes[0].uuid))
        with pytest.raises(Exception):  # noqa: B017 - whatever sentinelsat makes of the 401
            open_catalogue(settings).prepare(offer)
        assert _headers(foreign) and not any(_headers(foreign))


def test_a_redirect_to_localhost_gets_the_token_only_when_it_is_a_declared_download_host(
    servers, creds, tmp_path
) -> None:
    """The CDSE face redirects $value from 127.0.0.1 to localhost (same port): another host by name."""
    fakes = generate_products(1, ["32UNA"])
    cdse = StandInServer("cdse", fakes).start()
    servers.append(cdse)
    url = _value_url(cdse, fakes[0].uuid)
    localhost = cdse.download_host.removeprefix("http://")
    with pytest.raises(DownloadError, match="HTTP 401"):
        _fetch(mirror_for(cdse, "cdse", download_hosts=[]), url, tmp_path / "a.part")
    assert _headers(cdse, localhost) and not any(_headers(cdse, localhost))
    cdse.stats.authorization.clear()
    assert _fetch(mirror_for(cdse, "cdse"), url, tmp_path / "b.part") == len(fakes[0].data)
    assert _headers(cdse, localhost) and all(h.startswith("Bearer ") for h in _headers(cdse, localhost))


def test_stac_links_to_another_host_get_no_token_unless_declared(servers, creds, tmp_path) -> None:
    """A STAC catalogue hands out next-page links and asset hrefs anywhere; only declared hosts get the token."""
    fakes = generate_products(3, ["32UNA"])
    foreign = StandInServer("stac", fakes, stac_oidc=True).start()
    stac = StandInServer("stac", fakes, stac_oidc=True, link_base=foreign.url).start()
    servers += [foreign, stac]
    foreign.tokens = stac.tokens  # one identity provider for both, as CDSE's for its STAC and download hosts
    found = open_catalogue(mirror_for(stac, "s", page_size=1)).search(QUERY)
    assert len(found) == 3 and foreign.stats.requests["search"] >= 1  # later pages came from the other host
    assert all(_headers(stac)) and not any(_headers(foreign))
    url = found[0].offers["s"].url
    assert url.startswith(foreign.base)
    with pytest.raises(DownloadError, match="HTTP 401"):
        _fetch(mirror_for(stac, "s"), url, tmp_path / "a.part")
    assert not any(_headers(foreign))
    declared = mirror_for(stac, "s", download_hosts=[foreign.base.rstrip("/")])
    expected = next(f for f in fakes if f.name == found[0].product_id).data
    assert _fetch(declared, url, tmp_path / "b.part") == len(expected)
    assert _headers(foreign)[-1].startswith("Bearer ")


@pytest.fixture
def certificate(tmp_path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the openssl command line."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_an_https_to_http_redirect_never_carries_credentials(servers, creds, tmp_path, certificate, monkeypatch):
    """Even to a declared download host: after a downgrade the credentials would cross the network in clear."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
    fakes = generate_products(1, ["32UNA"])
    plain = StandInServer("dhus", fakes).start()
    secure = StandInServer("dhus", fakes, tls=certificate, redirect_to=plain.base).start()
    servers += [plain, secure]
    settings = mirror_for(secure, "m", download_hosts=[plain.base.rstrip("/")])
    assert settings.url.startswith("https://")
    with pytest.raises(DownloadError, match="HTTP 401"):
        _fetch(settings, _value_url(secure, fakes[0].uuid), tmp_path / "p.part")
    assert _headers(secure) and all(_headers(secure))
    assert _headers(plain) and not any(_headers(plain))


def test_a_permanent_redirect_is_remembered_only_to_a_host_allowed_the_credentials(servers, creds, tmp_path) -> None:
    """Band-level downloads send CDSE's later file requests straight where the first 301 went: never to a
    host that the redirect itself would not have given the token (the next request would carry it there)."""
    fakes = generate_products(1, ["32UNA"])
    cdse = StandInServer("cdse", fakes).start()
    servers.append(cdse)
    url = _value_url(cdse, fakes[0].uuid)
    with MirrorSession(auth_for(mirror_for(cdse, "cdse", download_hosts=[]))) as session:
        with pytest.raises(DownloadError, match="HTTP 401"):
            fetch(session, url, tmp_path / "a.part", timeout=5, chunk_bytes=4096)
        assert session.moved(url) == url
    with MirrorSession(auth_for(mirror_for(cdse, "cdse"))) as session:
        fetch(session, url, tmp_path / "b.part", timeout=5, chunk_bytes=4096)
        assert session.moved(url) == cdse.download_host + url.removeprefix(cdse.base.rstrip("/"))
        other = url.replace("/$value", "/Nodes(x.SAFE)/$value")
        assert session.moved(other).startswith(cdse.download_host + "/")  # any path on that origin
