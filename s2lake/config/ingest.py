"""Settings of ingestion (``s2lake ingest``): mirrors are data, declared here, not in code.

A mirror names its protocol (one catalogue backend per protocol), where it lives, how to find its
credentials (environment variable names, a netrc host, or values in the file) and how hard it may be
used (connections, requests per second). Adding a DHuS mirror is a config change, never a code change.
"""

from __future__ import annotations

from datetime import date
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from s2lake.archive_limits import ArchiveLimits

Protocol = Literal["dhus", "cdse_odata", "stac"]
#: What ``ingest get`` fetches of an L2A product: the files the patch job reads, or the whole archive.
Bands = Literal["patches", "all"]

#: Download hosts a provider hands requests on to, by the host of the mirror's ``url``: they receive the
#: mirror's credentials like the mirror itself. CDSE answers ``catalogue…/odata/v1/Products(<Id>)/$value``
#: with a redirect to ``zipper.dataspace.copernicus.eu`` (where its download service lives, see its OData
#: documentation and eu-cdse/documentation issue 221), and CDSE STAC items point their ``Product`` asset at
#: ``download.dataspace.copernicus.eu`` (a recorded STAC 1.1 item in ../shared/data/api_responses).
PROVIDER_DOWNLOAD_HOSTS: dict[str, tuple[str, ...]] = {
    "catalogue.dataspace.copernicus.eu": (
        "https://zipper.dataspace.copernicus.eu",
        "https://download.dataspace.copernicus.eu",
    ),
    "stac.dataspace.copernicus.eu": (
        "https://download.dataspace.copernicus.eu",
        "https://zipper.dataspace.copernicus.eu",
    ),
}

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL, the unit credentials are scoped to (as browsers scope them)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme, 0)


class MirrorSettings(BaseModel):
    """One catalogue/download endpoint."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Short unique name used in tables, logs and --mirror flags.")
    protocol: Protocol = Field(description="dhus (sentinelsat), cdse_odata or stac.")
    url: str = Field(description="Service root: DHuS api URL, CDSE OData root (…/odata/v1) or STAC API root.")
    download_url: str | None = Field(
        None,
        description=(
            "cdse_odata: download service root, e.g. https://zipper.dataspace.copernicus.eu/odata/v1; "
            "defaults to `url` (the catalogue redirects $value requests to the download host)."
        ),
    )
    download_hosts: list[str] = Field(
        default_factory=list,
        description=(
            "Other origins (scheme://host[:port]) this mirror's downloads are sent or redirected to that may "
            "receive its credentials; the mirror's own url and download_url origins always may, and known "
            "providers add theirs (CDSE: zipper. and download.dataspace.copernicus.eu). Any other host, and "
            "any https-to-http redirect, gets no Authorization header."
        ),
    )
    token_url: str | None = Field(
        None, description="Keycloak token endpoint (cdse_odata, or a STAC mirror whose assets need a bearer token)."
    )
    client_id: str = Field("cdse-public", description="Keycloak client id.")
    collection: str | None = Field(
        None, description="stac: collection id (e.g. sentinel-2-l2a); cdse_odata: collection name (SENTINEL-2)."
    )
    username_env: str | None = Field(None, description="Name of the environment variable holding the user name.")
    password_env: str | None = Field(None, description="Name of the environment variable holding the password.")
    netrc_host: str | None = Field(None, description="Host whose ~/.netrc entry holds the credentials.")
    username: str | None = Field(None, description="User name in the file (prefer username_env or netrc).")
    password: SecretStr | None = Field(None, description="Password in the file (prefer password_env or netrc).")
    max_connections: int = Field(2, ge=1, description="Concurrent downloads allowed on this mirror.")
    rate_limit: float | None = Field(None, gt=0, description="Requests per second to this mirror (None: no limit).")
    page_size: int = Field(1000, ge=1, le=1000, description="cdse_odata $top / dhus rows / stac limit per page.")
    max_skip: int = Field(10_000, ge=0, description="cdse_odata: largest $skip the service accepts.")
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value or not all(c.isalnum() or c in "-_." for c in value):
            raise ValueError("must be non-empty and use only letters, digits, '-', '_' or '.'")
        return value

    @field_validator("download_hosts")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for item in value:
            parts = urlsplit(item)
            if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path.strip("/") or parts.query:
                raise ValueError(f"`{item}` is not an origin like https://download.example.org[:port]")
        return value

    def credential_origins(self) -> frozenset[tuple[str, str, int]]:
        """Origins that may receive this mirror's credentials: its own, its download service's, the
        configured download hosts and its provider's (:data:`PROVIDER_DOWNLOAD_HOSTS`)."""
        urls = [self.url, *([self.download_url] if self.download_url else []), *self.download_hosts]
        urls += PROVIDER_DOWNLOAD_HOSTS.get(origin(self.url)[1], ())
        return frozenset(origin(u) for u in urls)


class SchedulerSettings(BaseModel):
    """How `s2lake ingest get` schedules transfers."""

    model_config = ConfigDict(extra="forbid")

    max_connections: int = Field(8, ge=1, description="Concurrent downloads over all mirrors.")
    max_attempts: int = Field(6, ge=1, description="Failed transfers of one product before it is marked failed.")
    bench_after: int = Field(3, ge=1, description="Consecutive failures that bench a mirror.")
    bench_seconds: float = Field(300.0, ge=0, description="How long a benched mirror rests.")
    timeout_seconds: float = Field(60.0, gt=0, description="Connect/read timeout of one HTTP request.")
    stall_rate_bytes: int = Field(
        1024, ge=1, description="A transfer slower than this (bytes/s) over stall_window_seconds is aborted."
    )
    stall_window_seconds: float = Field(30.0, gt=0, description="Window over which the stall rate is measured.")
    deadline_base_seconds: float = Field(
        600.0, gt=0, description="Overall deadline of one transfer: this plus its size / deadline_rate_bytes."
    )
    deadline_rate_bytes: int = Field(
        100 * 1024, ge=1, description="Average rate (bytes/s) the overall deadline of a transfer assumes."
    )
    max_download_bytes: int = Field(
        8 << 30, ge=1, description="Cap on a transfer whose size neither the catalogue nor the server declares."
    )
    chunk_bytes: int = Field(1 << 20, ge=1024, description="Read size while streaming.")
    lta_poll_seconds: float = Field(60.0, ge=0, description="Wait between polls of an offline (LTA) product.")
    lta_timeout_seconds: float = Field(6 * 3600.0, ge=0, description="Give up on an offline product after this.")
    max_retry_after_seconds: float = Field(600.0, ge=0, description="Cap on a server's Retry-After.")
    extract: bool = Field(True, description="Unzip products into landing/ (else keep the verified zip).")


class RankWeights(BaseModel):
    """Weights of `s2lake ingest mirrors rank`: speed, latency, test-tile availability, total products."""

    model_config = ConfigDict(extra="forbid")

    speed: float = 1.5
    latency: float = 1.0
    availability: float = 1.0
    total: float = 0.5


class IngestSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mirrors: list[MirrorSettings] = Field(default_factory=list, description="Catalogues, tried concurrently.")
    level: Literal["L1C", "L2A"] = "L2A"
    max_cloud: float = Field(100.0, ge=0, le=100)
    bands: Bands = Field(
        "patches",
        description=(
            "patches: fetch only the files `patches build` reads of an L2A product (metadata, manifest.safe, "
            "12 bands at native resolution, SCL at 20 m) through the mirror's per-file access; all: the whole "
            "archive. L1C products and mirrors without per-file access always give the whole archive."
        ),
    )
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    archive_limits: ArchiveLimits = Field(default_factory=ArchiveLimits, description="Zip bomb limits on downloads.")
    rank_weights: RankWeights = Field(default_factory=RankWeights)
    rank_sample_bytes: int = Field(4 << 20, ge=1024, description="Bytes downloaded per mirror to measure speed.")
    rank_test_tiles: list[str] = Field(default_factory=list, description="MGRS tiles used to measure availability.")
    rank_since: date = Field(date(2015, 6, 23), description="Availability counts products sensed since this date.")

    @field_validator("mirrors")
    @classmethod
    def _unique(cls, value: list[MirrorSettings]) -> list[MirrorSettings]:
        names = [m.name for m in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"mirror names must be unique, repeated: {', '.join(dupes)}")
        return value
