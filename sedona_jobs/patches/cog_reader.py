"""Where a STAC asset's COG is read from, how GDAL reads it remotely, and the up-front check of each band.

A Cloud-optimised GeoTIFF is read in place: a local file directly, a remote one through GDAL's
``/vsicurl/``, which fetches the header once and then only the byte ranges of the internal tiles a
window touches (HTTP range requests), so a patch strip costs its tiles, not the file. The GDAL
options below make that cheap and safe:

- ``GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR``: no directory listing of the asset's folder (one
  useless request per file, and object stores refuse it);
- ``CPL_VSIL_CURL_ALLOWED_EXTENSIONS``: ``/vsicurl/`` touches only GeoTIFFs, never sidecar probes
  (``.aux.xml``, ``.ovr``, ``.msk``) that would each cost a request;
- ``GDAL_HTTP_MERGE_CONSECUTIVE_RANGES`` / ``GDAL_HTTP_MULTIRANGE``: neighbouring tiles of a strip
  come in one request, distant ones in parallel requests;
- ``VSI_CACHE``: the header and tile index are fetched once per file and process.

Remote COGs are read **anonymously**: STAC catalogues serve their Level-2A COGs publicly (Earth Search
on public S3 over https), and a credential sent to whatever origin an item names could leak it. So
``GDAL_HTTP_NETRC=NO`` (GDAL otherwise adds ``~/.netrc`` entries of the asset's host) and
the options that attach a credential to every request (:data:`CREDENTIAL_GDAL_OPTIONS`) are removed
from the reading process's environment.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from urllib.parse import urljoin, urlparse

from s2lake.errors import ProductError
from sedona_jobs.safe import BandFile, read_header

#: GDAL configuration of every process that reads COGs (set in the environment, so the spawned decoding
#: workers inherit it).
REMOTE_GDAL_OPTIONS: dict[str, str] = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff,.TIF,.TIFF",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "GDAL_HTTP_MULTIRANGE": "YES",
    "GDAL_HTTP_MAX_RETRY": "3",
    "GDAL_HTTP_RETRY_DELAY": "1",
    "VSI_CACHE": "TRUE",
    "GDAL_HTTP_NETRC": "NO",
}
#: GDAL options that would attach a credential to every ``/vsicurl/`` request: removed for COG reads.
CREDENTIAL_GDAL_OPTIONS = (
    "GDAL_HTTP_AUTH",
    "GDAL_HTTP_USERPWD",
    "GDAL_HTTP_HEADERS",
    "GDAL_HTTP_HEADER_FILE",
    "GDAL_HTTP_BEARER",
)

_COG_FIX = "the asset must be a single-band uint16 Cloud-optimised GeoTIFF of the Level-2A band; check the item"


def configure_remote_reads() -> None:
    """Put :data:`REMOTE_GDAL_OPTIONS` into this process's environment (GDAL reads its configuration from
    there on every request), before the first COG is opened or a worker is spawned."""
    os.environ.update(REMOTE_GDAL_OPTIONS)
    for name in CREDENTIAL_GDAL_OPTIONS:
        os.environ.pop(name, None)


def raster_path(href: str, item_location: str) -> str:
    """The rasterio-openable path of an asset ``href`` (relative hrefs resolve against the item's location)."""
    base = item_location if _is_url(item_location) else Path(item_location).resolve().as_uri()
    url = urljoin(base, href)
    scheme = urlparse(url).scheme
    if scheme in ("http", "https"):
        return f"/vsicurl/{url}"
    if scheme == "file":
        return urlparse(url).path
    raise ProductError(
        f"asset href {href!r} uses the {scheme}:// scheme, which s2lake does not read",
        where=item_location,
        fix="use the item's https:// hrefs (Earth Search and Planetary Computer serve them), or a local copy",
    )


def _is_url(text: str) -> bool:
    return urlparse(text).scheme in ("http", "https")


def check_cog(band: BandFile, epsg: int, ulx: float, uly: float, shape: tuple[int, int]) -> BandFile:
    """Open a band's COG (header and tile index only) and check it against the item's proj metadata;
    return the band with its shape and tile height, as :func:`sedona_jobs.safe.open_product` does for JP2."""
    header = read_header(band, "GeoTIFF", "check that the asset URL is reachable and the file whole; " + _COG_FIX)
    found, dtype, count = header.shape, header.dtype, header.count
    crs, transform, block_rows = header.crs, header.transform, header.block_rows
    problems = []
    if count != 1 or dtype != "uint16":
        problems.append(f"has {count} band(s) of {dtype}, expected 1 band of uint16")
    if found != shape:
        problems.append(f"is {found[1]}x{found[0]} px, the item's proj:shape says {shape[1]}x{shape[0]}")
    if crs is None or crs.to_epsg() != epsg:
        problems.append(f"is in {crs}, the item says EPSG:{epsg}")
    if abs(transform.c - ulx) > 1e-6 or abs(transform.f - uly) > 1e-6 or abs(transform.a - band.resolution) > 1e-9:
        problems.append(
            f"has origin ({transform.c}, {transform.f}) and {transform.a} m pixels, the item says "
            f"({ulx}, {uly}) and {band.resolution} m"
        )
    if problems:
        raise ProductError(f"band {band.band} {'; '.join(problems)}", where=band.path, fix=_COG_FIX)
    return replace(band, shape=found, block_rows=block_rows)
