"""A stand-in catalogue for tests and benchmarks: DHuS, CDSE OData (+ Keycloak) and STAC faces.

It listens on 127.0.0.1 only, one threaded HTTP server per mirror. Search answers are built from the
REAL recorded responses in ``../shared/data/api_responses`` when present (the DHuS OpenSearch entry
and OData product of sentinelsat's cassettes, CDSE's STAC 1.1 item) with generated products' values
put in; without the shared data a minimal structure of the same shape is used.

Downloads serve real small SAFE-like zips, with per-connection bandwidth caps, a connection limit and
fault injection (see :class:`Faults`). ``stats`` records what was served so tests can check that no
product was transferred twice to completion.

Products made from a SAFE folder (:func:`product_from_safe`, e.g. one the synthesiser wrote) also serve
single files the way the real services document it, under the same auth checks, limits and faults
(a file's faults and counters are keyed ``<product>/<path below the SAFE>``):

* CDSE OData: ``/odata/v1/Products(<Id>)/Nodes(<name>.SAFE)/Nodes(GRANULE)/…/Nodes(<file>)/$value``,
  redirected from the catalogue host to the download host like ``$value``;
* DHuS OData: ``/dhus/odata/v1/Products('<uuid>')/Nodes('<name>.SAFE')/…/Nodes('<file>')/$value``;
* STAC: every file of the SAFE as an item asset (``file:local_path``, an s3 ``href`` and the OData
  ``Nodes`` URL as ``alternate.https.href``, as CDSE STAC 1.1 items have them).

Every product has a quicklook (a real JPEG, or PNG with ``quicklook="PNG"``; none with ``quicklook=None``),
served where the real services serve it, under the auth their downloads need, the connection limit and
the faults (keyed ``<product>/quicklook``):

* DHuS: ``/dhus/odata/v1/Products('<uuid>')/Products('Quicklook')/$value`` (Basic auth, like everything);
* CDSE: ``/odata/v1/Products(<Id>)/Assets`` lists a ``QUICKLOOK`` asset whose ``DownloadLink`` is
  ``/odata/v1/Assets(<asset Id>)/$value`` on the catalogue host (bearer token);
* STAC: the item's ``thumbnail`` asset (``stac_preview="rendered_preview"``: Planetary Computer's name),
  at the same ``Assets(<asset Id>)/$value`` path (a bearer token when ``stac_oidc``).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import functools
import hashlib
import io
import json
import random
import re
import secrets
import socket
import ssl
import struct
import threading
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlencode, urlparse

import blake3
import numpy as np
import yaml
from affine import Affine
from shapely import wkt as shapely_wkt
from shapely.geometry import box, mapping, shape

from s2lake.product_names import ProductName

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "api_responses"
DHUS_CASSETTES = SHARED / "dhus_sentinelsat_1.0.1" / "vcr_cassettes"
CDSE_STAC_ITEM = (
    SHARED / "stac_odc_stac_0.5.3" / "S2C_MSIL2A_20250330T100051_N0511_R122_T33UWP_20250330T145914_cdse_stac_v110.json"
)


DHUS_VALUE = r"/dhus/odata/v1/Products\('([^']+)'\)/\$value"
#: Per-file paths: the product key, then one ``Nodes(...)`` per path part (DHuS quotes keys, CDSE does not).
DHUS_NODES = r"/dhus/odata/v1/Products\('([^']+)'\)/((?:Nodes\('[^'/]+'\)/)+)\$value"
CDSE_NODES = r"/odata/v1/Products\(([^)]+)\)/((?:Nodes\([^()/]+\)/)+)\$value"
DHUS_QUICKLOOK = r"/dhus/odata/v1/Products\('([^']+)'\)/Products\('Quicklook'\)/\$value"
CDSE_ASSETS = r"/odata/v1/Products\(([^)]+)\)/Assets"
ASSET_VALUE = r"/odata/v1/Assets\(([^)]+)\)/\$value"
DHUS_ODATA = r"/dhus/odata/v1/Products\('([^']+)'\)(/\$value|/Online/\$value|/Attributes\('Filename'\)/Value/\$value)?"


# -- products ---------------------------------------------------------------------------------------
@dataclass
class FakeProduct:
    name: str  # without .SAFE
    uuid: str
    tile: str
    sensing: datetime
    cloud: float
    footprint_wkt: str
    data: bytes
    online: bool = True
    lta_polls: int = 1  # Online checks answered false after the retrieval was triggered
    lta_triggered: bool = False
    safe: Path | None = None  # the SAFE folder the product was zipped from: its files are served one by one
    quicklook: str | None = "JPEG"  # GDAL driver of the quicklook image (JPEG or PNG); None: the catalogue has none

    @property
    def quicklook_id(self) -> str:
        """Id of the quicklook asset (CDSE lists assets under their own ids)."""
        digest = hashlib.md5(f"{self.uuid}/quicklook".encode()).hexdigest()
        return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:]}"

    def quicklook_bytes(self) -> bytes:
        assert self.quicklook is not None
        return quicklook_image(self.name, self.quicklook)

    def file(self, nodes: list[str]) -> tuple[str, bytes] | None:
        """(path below the SAFE, bytes) of the file a ``Nodes(...)`` chain names, or None when there is none."""
        if self.safe is None or len(nodes) < 2 or nodes[0] != f"{self.name}.SAFE" or ".." in nodes:
            return None
        rel = "/".join(nodes[1:])
        path = self.safe / rel
        return (rel, path.read_bytes()) if path.is_file() else None

    def files(self) -> list[str]:
        """Every file of the SAFE, relative to it."""
        if self.safe is None:
            return []
        return sorted(str(p.relative_to(self.safe)) for p in self.safe.rglob("*") if p.is_file())

    @property
    def md5(self) -> str:
        return hashlib.md5(self.data).hexdigest()

    @property
    def blake3(self) -> str:
        return blake3.blake3(self.data).hexdigest()


@functools.cache
def quicklook_image(name: str, driver: str) -> bytes:
    """A 64 x 64 RGB image written by GDAL's JPEG or PNG driver (what catalogues serve as quicklooks)."""
    # lazy: rasterio's import costs ~0.4 s; only quicklook requests need it
    from rasterio.io import MemoryFile

    pixels = np.random.default_rng(int(hashlib.md5(name.encode()).hexdigest()[:8], 16))
    bands = pixels.integers(0, 255, (3, 64, 64), dtype=np.uint8)
    with MemoryFile() as memory:
        # a transform only so rasterio does not warn about an image without one (it is not written)
        with memory.open(
            driver=driver, width=64, height=64, count=3, dtype="uint8", transform=Affine(1, 0, 0, 0, -1, 64)
        ) as image:
            image.write(bands)
        return memory.read()


def product_zip(name: str, payload: int, seed: int, unsafe: bool = False, bad_crc: bool = False) -> bytes:
    """A small SAFE-like zip: manifest, product metadata and a random 'band' of ``payload`` bytes.

    ``bad_crc`` flips one byte inside the band: the zip opens and lists fine, but the member fails its
    CRC-32 when read (a product corrupt at the source, whose checksum the catalogue computed as is).
    """
    rng = random.Random(seed)
    buf = io.BytesIO()
    safe = f"{name}.SAFE"
    band = f"{safe}/GRANULE/L2A/IMG_DATA/R10m/B02_10m.bin"
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{safe}/manifest.safe", f"<xfdu:XFDU><name>{name}</name></xfdu:XFDU>\n")
        archive.writestr(
            f"{safe}/MTD_MSIL2A.xml", f"<n1:Level-2A_User_Product><id>{name}</id></n1:Level-2A_User_Product>\n"
        )
        archive.writestr(band, rng.randbytes(payload))
        if unsafe:
            archive.writestr("../../escaped.txt", "zip slip\n")
    data = buf.getvalue()
    if bad_crc:
        offset = zipfile.ZipFile(io.BytesIO(data)).getinfo(band).header_offset
        name_len, extra_len = struct.unpack("<HH", data[offset + 26 : offset + 30])  # local file header
        at = offset + 30 + name_len + extra_len + payload // 2
        data = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]
    return data


def zip_bomb(name: str, member: str, inflated: int = 200 << 20, *, overstate: bool = False) -> bytes:
    """A SAFE-like zip whose ``member`` (relative to the SAFE) is ``inflated`` bytes of zeros: deflate
    shrinks 200 MB of zeros to ~200 KB, a ratio of ~1000.

    ``overstate`` makes the central directory lie: it claims the member's compressed size is 50 times
    smaller than its data only, which passes a directory-only ratio check; a stored member of random
    bytes after it gives the lie real bytes to point at, so zipfile reads on without an EOF error.
    """
    buf = io.BytesIO()
    safe = f"{name}.SAFE"
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{safe}/manifest.safe", f"<xfdu:XFDU><name>{name}</name></xfdu:XFDU>\n")
        with archive.open(f"{safe}/{member}", "w") as out:
            zeros = bytes(1 << 20)
            for _ in range(inflated // len(zeros)):
                out.write(zeros)
        bomb = archive.getinfo(f"{safe}/{member}")
        if overstate:
            claimed = inflated // 50
            archive.writestr(
                zipfile.ZipInfo(f"{safe}/padding.bin"), random.Random(5).randbytes(claimed), zipfile.ZIP_STORED
            )
    data = bytearray(buf.getvalue())
    if overstate:
        entry = data.find(b"PK\x01\x02")  # central directory entries: find the member's
        while not data[entry + 46 :].startswith(bomb.filename.encode()):
            entry = data.find(b"PK\x01\x02", entry + 4)
        data[entry + 20 : entry + 24] = struct.pack("<I", claimed)
    return bytes(data)


def generate_products(
    count: int,
    tiles: list[str],
    start: datetime = datetime(2021, 1, 5, 10, 30, tzinfo=UTC),
    step_days: int = 17,
    payload: int = 64 * 1024,
    seed: int = 1,
) -> list[FakeProduct]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        tile = tiles[i % len(tiles)]
        when = start + timedelta(days=step_days * i, minutes=i)
        name = (
            f"S2{'AB'[i % 2]}_MSIL2A_{when:%Y%m%dT%H%M%S}_N0500_R{(i % 143) + 1:03d}_T{tile}_"
            f"{when + timedelta(hours=3):%Y%m%dT%H%M%S}"
        )
        lon = 10 + (i % 5) * 0.5
        lat = 50 + (i % 3) * 0.5
        out.append(
            FakeProduct(
                name=name,
                uuid=f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-4{rng.getrandbits(12):03x}-8{rng.getrandbits(12):03x}-{rng.getrandbits(48):012x}",
                tile=tile,
                sensing=when,
                cloud=round(rng.uniform(0, 90), 2),
                footprint_wkt=box(lon, lat, lon + 1.4, lat + 1.0).wkt,
                data=product_zip(name, payload, seed * 1000 + i),
            )
        )
    return out


def product_from_safe(safe: Path, cloud: float = 10.0) -> FakeProduct:
    """Serve a real SAFE folder (e.g. from the synthetic L2A generator) as a zipped product."""
    name = safe.name.removesuffix(".SAFE")
    parts = ProductName.parse(name)
    assert parts is not None, name
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(safe.rglob("*")):
            if path.is_file():
                archive.write(path, f"{safe.name}/{path.relative_to(safe)}")
    return FakeProduct(
        name=name,
        uuid=hashlib.md5(name.encode()).hexdigest(),
        tile=parts.tile,
        sensing=parts.sensing,
        cloud=cloud,
        footprint_wkt=box(10, 50, 11.4, 51).wkt,
        data=buf.getvalue(),
        safe=safe,
    )


# -- faults -----------------------------------------------------------------------------------------
#: Faults :meth:`Faults.add` understands (offline products are set with ``FakeProduct.online``).
#: ``oversize`` sends ``oversize_bytes`` more than the product (announced in Content-Length when
#: ``announce_oversize``, else with none, until the connection closes); ``drip`` announces the product and
#: sends one byte every ``drip_seconds`` for ``drip_for`` seconds, then drops the connection.
FAULTS = ("drop", "500", "429", "corrupt", "truncate", "timeout", "expired_token", "down", "oversize", "drip")


@dataclass
class Faults:
    """Faults applied to successive download requests of a product (each entry used once)."""

    per_product: dict[str, list[str]] = field(default_factory=dict)
    down: bool = False  # the whole mirror refuses connections
    retry_after: int = 1
    timeout_sleep: float = 3.0
    oversize_bytes: int = 4 << 20
    announce_oversize: bool = False
    drip_seconds: float = 0.05
    drip_for: float = 10.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, product: str, *faults: str) -> None:
        unknown = set(faults) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; known: {FAULTS}")
        with self._lock:
            self.per_product.setdefault(product, []).extend(faults)

    def peek(self, product: str) -> str | None:
        with self._lock:
            pending = self.per_product.get(product)
            return pending[0] if pending else None

    def take(self, product: str) -> str | None:
        with self._lock:
            pending = self.per_product.get(product)
            return pending.pop(0) if pending else None


@dataclass
class Stats:
    completed: Counter = field(default_factory=Counter)  # full, correct transfers per product
    corrupt_sent: Counter = field(default_factory=Counter)
    range_requests: Counter = field(default_factory=Counter)
    requests: Counter = field(default_factory=Counter)  # per route kind
    bytes_sent: int = 0
    active: int = 0
    peak_active: int = 0
    auth_headers_on_redirect: list[bool] = field(default_factory=list)
    #: (Host header, path, Authorization header) of every request
    authorization: list[tuple[str, str, str | None]] = field(default_factory=list)
    #: (method, path, Range header, body bytes sent) of every request for a file under ``cog_root``
    cog_requests: list[tuple[str, str, str | None, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


# -- recorded templates -----------------------------------------------------------------------------
def _cassette_body(cassette: str, index: int = 0) -> dict | None:
    path = DHUS_CASSETTES / cassette
    if not path.is_file():
        return None

    data = yaml.safe_load(path.read_text())
    return json.loads(data["interactions"][index]["response"]["body"]["string"])


def _templates() -> dict:
    feed = _cassette_body("test_s2_cloudcover.yaml")
    odata = _cassette_body("test_download.yaml")
    stac = json.loads(CDSE_STAC_ITEM.read_text()) if CDSE_STAC_ITEM.is_file() else None
    return {
        "feed": feed["feed"] if feed else {"opensearch:totalResults": "0", "entry": []},
        "entry": feed["feed"]["entry"][0] if feed else {"link": [{}], "str": [], "date": [], "int": [], "double": {}},
        "odata": odata["d"] if odata else {"__metadata": {}, "ContentDate": {}, "Checksum": {}},
        "stac_item": stac,
    }


TEMPLATES = _templates()


def _replay_key(path: str, query: dict[str, list[str]]) -> tuple:
    return path, tuple(sorted((k, tuple(v)) for k, v in query.items()))


@functools.cache
def _recordings() -> dict[tuple, tuple[int, str]]:
    """Every recorded DHuS GET (search and product OData) by (path below the API root, query)."""
    if not DHUS_CASSETTES.is_dir():
        return {}

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: 10x faster
    out: dict[tuple, tuple[int, str]] = {}
    for cassette in sorted(DHUS_CASSETTES.glob("*.yaml")):
        for interaction in yaml.load(cassette.read_text(), Loader=loader).get("interactions", []):
            request, response = interaction["request"], interaction["response"]
            uri = urlparse(request["uri"])
            if request["method"] != "GET" or not uri.path.startswith("/apihub/"):
                continue
            body = response["body"].get("string")
            if not isinstance(body, str) or response["status"]["code"] != 200:
                continue
            key = _replay_key(uri.path[len("/apihub/") :], parse_qs(uri.query, keep_blank_values=True))
            out.setdefault(key, (response["status"]["code"], body))
    return out


def _dhus_entry(p: FakeProduct, base: str) -> dict:
    entry = copy.deepcopy(TEMPLATES["entry"])
    odata = f"{base}odata/v1/Products('{p.uuid}')"
    stamp = p.sensing.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    entry.update(
        title=p.name,
        id=p.uuid,
        link=[{"href": f"{odata}/$value"}, {"rel": "alternative", "href": f"{odata}/"}],
        summary=f"Date: {stamp}, Instrument: MSI, Satellite: Sentinel-2, Size: {len(p.data) / 1e6:.2f} MB",
        ondemand="false" if p.online else "true",
    )
    entry["date"] = [{"name": n, "content": stamp} for n in ("datatakesensingstart", "beginposition", "endposition")]
    entry["double"] = {"name": "cloudcoverpercentage", "content": str(p.cloud)}
    strings = {s["name"]: s["content"] for s in entry.get("str", []) if isinstance(s, dict)}
    strings.update(
        footprint=shapely_wkt.loads(p.footprint_wkt).wkt,
        tileid=p.tile,
        filename=p.name + ".SAFE",
        identifier=p.name,
        producttype="S2MSI2A",
        processinglevel="Level-2A",
        platformname="Sentinel-2",
        size=f"{len(p.data) / 1e6:.2f} MB",
        uuid=p.uuid,
    )
    strings.pop("gmlfootprint", None)
    entry["str"] = [{"name": k, "content": v} for k, v in strings.items()]
    return entry


def _dhus_odata(p: FakeProduct, base: str) -> dict:
    d = copy.deepcopy(TEMPLATES["odata"])
    odata = f"{base}odata/v1/Products('{p.uuid}')"
    millis = int(p.sensing.timestamp() * 1000)
    ring = " ".join(f"{y},{x}" for x, y in shapely_wkt.loads(p.footprint_wkt).exterior.coords)
    d.update(
        Id=p.uuid,
        Name=p.name,
        ContentLength=str(len(p.data)),
        Online=p.online,
        CreationDate=f"/Date({millis})/",
        IngestionDate=f"/Date({millis})/",
        ContentDate={"Start": f"/Date({millis})/", "End": f"/Date({millis})/"},
        Checksum={"Algorithm": "MD5", "Value": p.md5.upper()},
        ContentGeometry=(
            '<gml:Polygon srsName="http://www.opengis.net/gml/srs/epsg.xml#4326" '
            'xmlns:gml="http://www.opengis.net/gml"><gml:outerBoundaryIs><gml:LinearRing>'
            f"<gml:coordinates>{ring}</gml:coordinates></gml:LinearRing></gml:outerBoundaryIs></gml:Polygon>"
        ),
    )
    d["__metadata"] = dict(d.get("__metadata", {}), id=odata, uri=odata, media_src=f"{odata}/$value")
    d.setdefault("Attributes", {"__deferred": {}})
    return d


def _cdse_stamp(when: datetime) -> str:
    """CDSE writes times in UTC with milliseconds: 2024-07-09T07:46:19.024Z."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _cdse_attributes(p: FakeProduct) -> list[dict]:
    """The typed attributes ``$expand=Attributes`` lists (the subset s2lake filters on and reads)."""
    values = (("Double", "cloudCover", p.cloud), ("String", "productType", "S2MSI2A"), ("String", "tileId", p.tile))
    return [
        {"@odata.type": f"#OData.CSC.{kind}Attribute", "Name": name, "Value": value, "ValueType": kind}
        for kind, name, value in values
    ]


def _cdse_item(p: FakeProduct, checksum: str, expand: bool) -> dict:
    """A product as CDSE's OData answers it (fields of the documented response, see the OData and
    "Upcoming changes" pages of documentation.dataspace.copernicus.eu); ``checksum`` "none" models the
    products CDSE lists with an empty ``Checksum`` and a zero ``ContentLength``."""
    published = _cdse_stamp(p.sensing + timedelta(hours=4))
    geom = shapely_wkt.loads(p.footprint_wkt)
    item = {
        "@odata.mediaContentType": "application/octet-stream",
        "Id": p.uuid,
        "Name": p.name + ".SAFE",
        "ContentType": "application/octet-stream",
        "ContentLength": len(p.data) if checksum != "none" else 0,
        "OriginDate": _cdse_stamp(p.sensing + timedelta(hours=3)),
        "PublicationDate": published,
        "ModificationDate": published,
        "Online": p.online,
        "EvictionDate": "9999-12-31T23:59:59.999Z",
        "S3Path": f"/eodata/Sentinel-2/MSI/L2A/{p.sensing:%Y/%m/%d}/{p.name}.SAFE",
        "Checksum": (
            [
                {"Value": p.md5, "Algorithm": "MD5", "ChecksumDate": published},
                {"Value": p.blake3, "Algorithm": "BLAKE3", "ChecksumDate": published},
            ]
            if checksum == "all"
            else []
        ),
        "ContentDate": {"Start": _cdse_stamp(p.sensing), "End": _cdse_stamp(p.sensing)},
        "Footprint": f"geography'SRID=4326;{geom.wkt}'",
        "GeoFootprint": mapping(geom),
    }
    if expand:
        item["Attributes"] = _cdse_attributes(p)
    return item


def _stac_item(p: FakeProduct, base: str, oidc: bool, preview: str | None = "thumbnail") -> dict:
    """A CDSE STAC 1.1 item (the recorded one with this product's values): tile in ``grid:code``, the
    zipped product as the ``Product`` asset at ``…/odata/v1/Products(<Id>)/$value`` with an MD5
    multihash ``file:checksum`` (``d50110`` + digest), as the real item has; ``oidc`` adds the real
    asset's ``auth:refs: [oidc]`` and the server then wants a bearer token for it."""
    template = TEMPLATES["stac_item"]
    item = copy.deepcopy(template) if template else {"type": "Feature", "stac_version": "1.1.0", "properties": {}}
    item["id"] = p.name
    item["collection"] = "sentinel-2-l2a"
    geom = shapely_wkt.loads(p.footprint_wkt)
    item["geometry"] = mapping(geom)
    item["bbox"] = list(geom.bounds)
    stamp = p.sensing.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    item["properties"].update(
        {
            "datetime": stamp,
            "start_datetime": stamp,
            "end_datetime": stamp,
            "eo:cloud_cover": p.cloud,
            "grid:code": f"MGRS-{p.tile}",
            "product:type": "S2MSI2A",
        }
    )
    item["links"] = [{"rel": "self", "href": f"{base}collections/sentinel-2-l2a/items/{p.name}"}]
    asset = copy.deepcopy((template or {}).get("assets", {}).get("Product", {}))
    asset.update(
        {
            "href": f"{base.removesuffix('stac/')}odata/v1/Products({p.uuid})/$value",
            "file:size": len(p.data),
            "file:checksum": "d50110" + p.md5,
            "file:local_path": f"{p.name}.SAFE.zip",
            "type": "application/zip",
            "roles": ["data", "metadata", "archive"],
            "title": "Zipped product",
        }
    )
    if oidc:
        asset["auth:refs"] = ["oidc"]
    else:
        asset.pop("auth:refs", None)
    item["assets"] = {"Product": asset, **_stac_file_assets(p, base.removesuffix("stac/"), oidc)}
    if p.quicklook is not None and preview is not None:
        # CDSE STAC 1.1's thumbnail: the OData asset URL, a JPEG of ~20 KB (``-ql.jpg`` in the SAFE's folder)
        thumbnail = {
            "href": f"{base.removesuffix('stac/')}odata/v1/Assets({p.quicklook_id})/$value",
            "type": f"image/{p.quicklook.lower()}",
            "roles": ["thumbnail"] if preview == "thumbnail" else ["overview"],
            "title": "Quicklook",
        }
        if oidc:
            thumbnail["auth:refs"] = ["oidc"]
        item["assets"][preview] = thumbnail
    return item


def _stac_file_assets(p: FakeProduct, root: str, oidc: bool) -> dict:
    """One asset per file of the SAFE, shaped like CDSE STAC 1.1's band and metadata assets: an s3 ``href``
    (not HTTP: clients must take the alternate), the OData ``Nodes`` URL as ``alternate.https.href``."""
    safe = f"{p.name}.SAFE"
    assets = {}
    for rel in p.files():
        nodes = "/".join(f"Nodes({part})" for part in [safe, *rel.split("/")])
        https = {"href": f"{root}odata/v1/Products({p.uuid})/{nodes}/$value", "alternate:name": "HTTPS"}
        if oidc:
            https["auth:refs"] = ["oidc"]
        assets[rel.replace("/", "_")] = {
            "href": f"s3://eodata/Sentinel-2/MSI/L2A/{p.sensing:%Y/%m/%d}/{safe}/{rel}",
            "alternate": {"https": https},
            "file:local_path": f"{safe}/{rel}",
            "file:size": (p.safe / rel).stat().st_size,
            "roles": ["data"],
        }
    return assets


# -- the server -------------------------------------------------------------------------------------
class StandInServer:
    """One mirror: ``kind`` is dhus, cdse or stac."""

    def __init__(
        self,
        kind: str,
        products: list[FakeProduct],
        *,
        bandwidth: int | None = None,
        max_connections: int | None = None,
        username: str = "alice",
        password: str = "s3cret-pw",
        token_ttl: float = 600.0,
        page_limit: int = 1000,
        max_skip: int = 10_000,
        cdse_checksums: str = "all",
        replay: bool = False,
        stac_oidc: bool = False,
        redirect_to: str | None = None,
        link_base: str | None = None,
        tls: tuple[Path, Path] | None = None,
        cog_root: Path | None = None,
        stac_preview: str | None = "thumbnail",
    ) -> None:
        self.kind = kind
        self.products = {p.uuid: p for p in products}
        self.bandwidth = bandwidth
        self.max_connections = max_connections
        self.username = username
        self.password = password
        self.token_ttl = token_ttl
        self.page_limit = page_limit
        self.max_skip = max_skip
        self.cdse_checksums = cdse_checksums
        self.stac_oidc = stac_oidc  # STAC: the Product asset needs a bearer token (CDSE STAC's auth:refs oidc)
        self.redirect_to = redirect_to  # answer every GET with a redirect to this base URL, same path
        self.link_base = link_base  # base URL written into STAC asset hrefs and next links (default: own)
        self.tls = tls  # (certificate, key): serve https
        self.cog_root = cog_root  # files served under /cog/ with single-range requests (STAC items and their COGs)
        self.stac_preview = stac_preview  # STAC: the quicklook asset's key (thumbnail, rendered_preview or none)
        self.assets = {p.quicklook_id: p for p in products if p.quicklook is not None}
        self.faults = Faults()
        self.stats = Stats()
        self.tokens: dict[str, float] = {}
        self.refresh_tokens: set[str] = set()
        self._slots = threading.Semaphore(max_connections) if max_connections else None
        self.recordings = _recordings() if kind == "dhus" and replay else {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        root = {"dhus": "dhus/", "cdse": "odata/v1", "stac": "stac/"}[self.kind]
        return f"{self.base}{root}"

    @property
    def base(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/"

    @property
    def download_host(self) -> str:
        """The origin CDSE's face redirects ``$value`` to (``localhost``: another host by name)."""
        return f"http://localhost:{self.port}"

    @property
    def links(self) -> str:
        return self.link_base or self.url

    @property
    def token_url(self) -> str:
        return f"{self.base}auth/realms/CDSE/protocol/openid-connect/token"

    def start(self) -> StandInServer:
        server = self

        class Handler(_Handler):
            owner = server

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if self.tls:

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def by_name(self, name: str) -> FakeProduct:
        return next(p for p in self.products.values() if p.name == name)


class _Handler(BaseHTTPRequestHandler):
    owner: StandInServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return

    # -- helpers ------------------------------------------------------------------------------
    def _json(self, body: object, status: int = 200, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _status(self, status: int, headers: dict[str, str] | None = None, text: str = "") -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _basic_ok(self) -> bool:

        expected = base64.b64encode(f"{self.owner.username}:{self.owner.password}".encode()).decode()
        return self.headers.get("Authorization") == f"Basic {expected}"

    def _bearer_state(self) -> str:
        value = self.headers.get("Authorization", "")
        if not value.startswith("Bearer "):
            return "missing"
        expiry = self.owner.tokens.get(value[7:])
        if expiry is None:
            return "unknown"
        return "ok" if time.monotonic() < expiry else "expired"

    def _count(self, key: str) -> None:
        with self.owner.stats.lock:
            self.owner.stats.requests[key] += 1

    # -- routing ------------------------------------------------------------------------------
    def _record(self) -> None:
        with self.owner.stats.lock:
            self.owner.stats.authorization.append(
                (self.headers.get("Host", ""), unquote(urlparse(self.path).path), self.headers.get("Authorization"))
            )

    def _redirected(self) -> bool:
        """Answer with a redirect to ``redirect_to`` (same path and query) when the server is set to."""
        if self.owner.redirect_to is None:
            return False
        self._status(302, {"Location": self.owner.redirect_to.rstrip("/") + self.path})
        return True

    def do_HEAD(self) -> None:
        self._record()
        if self._redirected():
            return
        if self._cog_file() is not None:
            return self._serve_cog(head=True)
        # sentinelsat asks DHuS for the file name with HEAD before downloading.
        match = re.fullmatch(DHUS_VALUE, unquote(urlparse(self.path).path))
        product = self.owner.products.get(match[1]) if match else None
        if product is None or not self._basic_ok():
            self.send_response(404 if product is None else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Disposition", f'attachment; filename="{product.name}.zip"')
        self.send_header("Content-Length", str(len(product.data)))
        self.end_headers()

    def do_POST(self) -> None:
        self._record()
        path = urlparse(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        if self.owner.faults.down:
            return self._drop()
        if path.endswith("/protocol/openid-connect/token"):
            return self._token(parse_qs(body))
        if path.endswith("/search") and self.owner.kind == "stac":
            return self._stac_search(json.loads(body or "{}"))
        self._status(404)

    def do_GET(self) -> None:
        parsed = urlparse(self.path)
        path = unquote(parsed.path)
        query = parse_qs(parsed.query, keep_blank_values=True)
        self._record()
        if self.owner.faults.down:
            return self._drop()
        if self._redirected():
            return
        if self._cog_file() is not None:
            return self._serve_cog(head=False)
        kind = self.owner.kind
        if kind == "dhus":
            return self._dhus(path, query)
        if kind == "cdse":
            return self._cdse(path, query)
        return self._stac(path, query)

    def _cog_file(self) -> Path | None:
        """The file under ``cog_root`` a ``/cog/<name>`` request names (no sub-folders, no escape), or None."""
        root = self.owner.cog_root
        match = re.fullmatch(r"/cog/([^/]+)", unquote(urlparse(self.path).path))
        if root is None or match is None or match[1].startswith("."):
            return None
        return root / match[1]

    def _serve_cog(self, head: bool) -> None:
        """A file as object stores serve COGs: whole, or one ``bytes=a-b`` range (206), recorded per request."""
        path = self._cog_file()
        assert path is not None
        if not path.is_file():
            return self._status(404, text="no such file")
        size = path.stat().st_size
        start, end = 0, size - 1
        range_header = self.headers.get("Range")
        if range_header:
            match = re.fullmatch(r"bytes=(\d+)-(\d*)", range_header.strip())
            if match is None or int(match[1]) >= size:
                return self._status(416, {"Content-Range": f"bytes */{size}"})
            start, end = int(match[1]), min(int(match[2] or size - 1), size - 1)
        with path.open("rb") as fh:
            fh.seek(start)
            body = fh.read(end - start + 1)
        self.send_response(206 if range_header else 200)
        self.send_header("Content-Type", "application/json" if path.suffix == ".json" else "image/tiff")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        if range_header:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        sent = 0 if head else len(body)
        if not head:
            self._send(body)
        with self.owner.stats.lock:
            self.owner.stats.cog_requests.append((self.command, path.name, range_header, sent))

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    # -- DHuS ---------------------------------------------------------------------------------
    def _dhus(self, path: str, query: dict) -> None:
        if not self._basic_ok():
            return self._status(401, {"WWW-Authenticate": 'Basic realm="DHuS"'}, "Unauthorized")
        recorded = self.owner.recordings.get(_replay_key(path[len("/dhus/") :], query))
        if recorded is not None:  # the real service's answer to exactly this request
            self._count("replayed")
            body = recorded[1].replace("https://apihub.copernicus.eu/apihub/", self.owner.url)
            return self._status(recorded[0], {"Content-Type": "application/json"}, body)
        if path == "/dhus/api/stub/version":
            return self._json({"value": "0.14.4"})
        if path == "/dhus/search":
            self._count("search")
            return self._dhus_search(query)
        if quicklook := re.fullmatch(DHUS_QUICKLOOK, path):
            return self._serve_quicklook(self.owner.products.get(quicklook[1]))
        if nodes := re.fullmatch(DHUS_NODES, path):
            product = self.owner.products.get(nodes[1])
            return self._serve_node(product, re.findall(r"Nodes\('([^']+)'\)", nodes[2]))
        match = re.fullmatch(DHUS_ODATA, path)
        if not match or match[1] not in self.owner.products:
            return self._status(404, text="not found")
        product = self.owner.products[match[1]]
        if match[2] == "/$value":
            if not product.online:
                self._count("lta_trigger")
                product.lta_triggered = True
                return self._status(202, text="Offline product, retrieval triggered")
            return self._serve(product)
        if match[2] and "Filename" in match[2]:
            return self._status(200, text=product.name + ".SAFE")
        if match[2] == "/Online/$value":
            self._count("online_check")
            if product.lta_triggered and not product.online:
                product.lta_polls -= 1
                product.online = product.lta_polls < 0
            return self._json(product.online)
        self._count("odata")
        return self._json({"d": _dhus_odata(product, self.owner.url)})

    def _dhus_search(self, query: dict) -> None:
        q = query.get("q", [""])[0]
        rows = int(query.get("rows", ["100"])[0])
        start = int(query.get("start", ["0"])[0])
        found = [p for p in self.owner.products.values() if _dhus_match(p, q)]
        found.sort(key=lambda p: p.sensing)
        page = found[start : start + rows]
        feed = {k: v for k, v in copy.deepcopy(TEMPLATES["feed"]).items() if k != "entry"}
        feed["opensearch:totalResults"] = str(len(found))
        feed["opensearch:startIndex"] = str(start)
        feed["opensearch:itemsPerPage"] = str(rows)
        if page:
            feed["entry"] = [_dhus_entry(p, self.owner.url) for p in page]
        self._json({"feed": feed})

    # -- CDSE ---------------------------------------------------------------------------------
    def _token(self, form: dict) -> None:
        grant = form.get("grant_type", [""])[0]
        if grant == "password":
            if (
                form.get("username", [""])[0] != self.owner.username
                or form.get("password", [""])[0] != self.owner.password
            ):
                return self._json({"error": "invalid_grant"}, 401)
        elif grant == "refresh_token":
            if form.get("refresh_token", [""])[0] not in self.owner.refresh_tokens:
                return self._json({"error": "invalid_grant"}, 400)
        else:
            return self._json({"error": "unsupported_grant_type"}, 400)
        self._count("token_" + grant)
        access, refresh = secrets.token_hex(16), secrets.token_hex(16)
        self.owner.tokens[access] = time.monotonic() + self.owner.token_ttl
        self.owner.refresh_tokens.add(refresh)
        self._json(
            {
                "access_token": access,
                "expires_in": self.owner.token_ttl,
                "refresh_token": refresh,
                "refresh_expires_in": 3600,
                "token_type": "Bearer",
            }
        )

    def _bearer_refusal(self, product: FakeProduct) -> str | None:
        """Why a download is refused (missing, unknown or expired token), or None when it may go on."""
        state = self._bearer_state()
        if state == "ok" and self.owner.faults.peek(product.name) == "expired_token":
            self.owner.faults.take(product.name)
            state = "expired"
        return None if state == "ok" else f"token {state}"

    def _cdse(self, path: str, query: dict) -> None:
        if path == "/odata/v1/Products":
            self._count("search")
            return self._cdse_search(query)
        if assets := re.fullmatch(CDSE_ASSETS, path):
            return self._cdse_assets(self.owner.products.get(assets[1]))
        if asset := re.fullmatch(ASSET_VALUE, path):
            product = self.owner.assets.get(asset[1])
            if product is not None and (refused := self._bearer_refusal(product)):
                return self._json({"detail": refused}, 401)
            return self._serve_quicklook(product)
        match = re.fullmatch(r"/odata/v1/Products\(([^)]+)\)/\$value", path) or re.fullmatch(CDSE_NODES, path)
        if not match or match[1] not in self.owner.products:
            return self._status(404, text="not found")
        product = self.owner.products[match[1]]
        if not self.headers.get("Host", "").startswith("localhost:"):
            # Like CDSE: the catalogue host answers $value with a redirect to the download host, same path
            # (here 127.0.0.1 plays catalogue.dataspace.copernicus.eu and localhost the download host).
            with self.owner.stats.lock:
                self.owner.stats.auth_headers_on_redirect.append("Authorization" in self.headers)
            return self._status(301, {"Location": f"{self.owner.download_host}{self.path}"})
        if refused := self._bearer_refusal(product):
            return self._json({"detail": refused}, 401)
        if not product.online:
            return self._status(202, text="Offline product, retrieval triggered")
        if match.re.pattern == CDSE_NODES:
            return self._serve_node(product, re.findall(r"Nodes\(([^()]+)\)", match[2]))
        return self._serve(product)

    def _cdse_assets(self, product: FakeProduct | None) -> None:
        """``Products(<Id>)/Assets``: what ``$expand=Assets`` adds to a product (its quicklook, if any)."""
        if product is None:
            return self._status(404, text="not found")
        assets = []
        if product.quicklook is not None:
            assets.append(
                {
                    "Type": "QUICKLOOK",
                    "Id": product.quicklook_id,
                    "DownloadLink": f"{self.owner.url}/Assets({product.quicklook_id})/$value",
                    "S3Path": f"/eodata/Sentinel-2/MSI/L2A/{product.sensing:%Y/%m/%d}/{product.name}.SAFE",
                }
            )
        self._json({"@odata.context": "$metadata#Assets", "value": assets})

    def _cdse_search(self, query: dict) -> None:
        """``/odata/v1/Products`` with the documented options and limits; anything else is a 400."""
        try:
            options = {k: v[-1] for k, v in query.items()}
            unknown = set(options) - {"$filter", "$orderby", "$top", "$skip", "$count", "$expand"}
            if unknown:
                raise ValueError(f"unsupported options {sorted(unknown)}")
            top = int(options.get("$top", "20"))
            skip = int(options.get("$skip", "0"))
            if not 0 <= top <= min(1000, self.owner.page_limit):
                raise ValueError(f"$top must be an integer in <0,{min(1000, self.owner.page_limit)}>")
            if not 0 <= skip <= min(10_000, self.owner.max_skip):
                raise ValueError(f"$skip must be an integer in <0,{min(10_000, self.owner.max_skip)}>")
            count = options.get("$count", "false")
            if count not in ("True", "true", "1", "False", "false", "0"):
                raise ValueError("$count must be one of True, true, 1, False, false, 0")
            expand = options.get("$expand")
            if expand not in (None, "Attributes", "Assets"):
                raise ValueError("$expand accepts Attributes or Assets")
            order = options.get("$orderby")
            order_match = re.fullmatch(
                r"(ContentDate/Start|ContentDate/End|PublicationDate|ModificationDate)(?: (asc|desc))?", order or ""
            )
            if order is not None and not order_match:
                raise ValueError(f"$orderby does not accept `{order}`")
            filt = options.get("$filter", "")
            found = [p for p in self.owner.products.values() if not filt or _cdse_eval(filt, p)]
        except ValueError as exc:
            return self._json({"detail": {"message": f"Invalid request: {exc}"}}, 400)
        # Unordered without $orderby (here: by Id); with it, ties are broken by Id so paging is stable.
        found.sort(key=lambda p: p.uuid)
        if order_match:
            found.sort(key=lambda p: p.sensing, reverse=order_match[2] == "desc")
        context = "$metadata#Products(Attributes())" if expand == "Attributes" else "$metadata#Products"
        body: dict = {"@odata.context": context, "value": []}
        if count in ("True", "true", "1"):
            body["@odata.count"] = len(found)
        body["value"] = [
            _cdse_item(p, self.owner.cdse_checksums, expand == "Attributes") for p in found[skip : skip + top]
        ]
        if skip + top < len(found):
            body["@odata.nextLink"] = f"{self.owner.url}/Products?" + urlencode({**options, "$skip": str(skip + top)})
        self._json(body)

    # -- STAC ---------------------------------------------------------------------------------
    def _stac(self, path: str, query: dict) -> None:
        base = self.owner.url
        if path in ("/stac/", "/stac"):
            return self._json(
                {
                    "type": "Catalog",
                    "id": "stand-in",
                    "stac_version": "1.1.0",
                    "description": "stand-in STAC API",
                    "conformsTo": [
                        "https://api.stacspec.org/v1.0.0/core",
                        "https://api.stacspec.org/v1.0.0/item-search",
                        "https://api.stacspec.org/v1.0.0/collections",
                    ],
                    "links": [
                        {"rel": "self", "href": base, "type": "application/json"},
                        {"rel": "root", "href": base, "type": "application/json"},
                        {"rel": "search", "href": f"{base}search", "type": "application/geo+json", "method": "POST"},
                        {"rel": "search", "href": f"{base}search", "type": "application/geo+json", "method": "GET"},
                        {"rel": "data", "href": f"{base}collections", "type": "application/json"},
                    ],
                }
            )
        if path == "/stac/conformance":
            return self._json({"conformsTo": ["https://api.stacspec.org/v1.0.0/item-search"]})
        match = re.fullmatch(r"/odata/v1/Products\(([^)]+)\)/\$value", path) or re.fullmatch(CDSE_NODES, path)
        if match and match[1] in self.owner.products:
            product = self.owner.products[match[1]]
            if self.owner.stac_oidc and (refused := self._bearer_refusal(product)):
                return self._json({"detail": refused}, 401)
            if match.re.pattern == CDSE_NODES:
                return self._serve_node(product, re.findall(r"Nodes\(([^()]+)\)", match[2]))
            return self._serve(product)
        if (asset := re.fullmatch(ASSET_VALUE, path)) and self.owner.stac_preview is not None:
            product = self.owner.assets.get(asset[1])
            if product is not None and self.owner.stac_oidc and (refused := self._bearer_refusal(product)):
                return self._json({"detail": refused}, 401)
            return self._serve_quicklook(product)
        if path == "/stac/search":
            body = {k: v[0] for k, v in query.items()}
            return self._stac_search(body)
        self._status(404, text="not found")

    def _stac_search(self, body: dict) -> None:
        self._count("search")
        area = shape(body["intersects"]) if body.get("intersects") else None
        when = body.get("datetime") or "../.."
        lo, _, hi = when.partition("/")
        limit = int(body.get("limit") or 10)
        offset = int(body.get("token") or 0)
        found = []
        for p in sorted(self.owner.products.values(), key=lambda p: p.sensing):
            if area is not None and not area.intersects(shapely_wkt.loads(p.footprint_wkt)):
                continue
            if lo not in ("", "..") and p.sensing < _parse_time(lo):
                continue
            if hi not in ("", "..") and p.sensing > _parse_time(hi):
                continue
            found.append(p)
        page = found[offset : offset + limit]
        result = {
            "type": "FeatureCollection",
            "features": [_stac_item(p, self.owner.links, self.owner.stac_oidc, self.owner.stac_preview) for p in page],
            "numberMatched": len(found),
            "numberReturned": len(page),
            "links": [],
        }
        if offset + limit < len(found):
            nxt = dict(body, token=str(offset + limit))
            result["links"].append({"rel": "next", "href": f"{self.owner.links}search", "method": "POST", "body": nxt})
        self._json(result)

    # -- downloads ----------------------------------------------------------------------------
    def _serve_node(self, product: FakeProduct | None, nodes: list[str]) -> None:
        """One file of the product's SAFE (after the face's own auth checks), or 404."""
        found = product.file(nodes) if product is not None else None
        if product is None or found is None:
            return self._status(404, text="no such node")
        rel, data = found
        self._count("node")
        self._serve(product, f"{product.name}/{rel}", data)

    def _serve_quicklook(self, product: FakeProduct | None) -> None:
        """The product's quicklook image (after the face's own auth checks), or 404 when it has none."""
        if product is None or product.quicklook is None:
            return self._status(404, text="no quicklook")
        self._count("quicklook")
        self._serve(
            product, f"{product.name}/quicklook", product.quicklook_bytes(), f"image/{product.quicklook.lower()}"
        )

    def _serve(
        self, product: FakeProduct, key: str | None = None, data: bytes | None = None, kind: str = "application/zip"
    ) -> None:
        """Send the product's archive, or with ``key`` and ``data`` one of its files (of Content-Type ``kind``)."""
        owner = self.owner
        if owner._slots is not None and not owner._slots.acquire(blocking=False):
            return self._status(429, {"Retry-After": "1"}, "too many connections")
        with owner.stats.lock:
            owner.stats.active += 1
            owner.stats.peak_active = max(owner.stats.peak_active, owner.stats.active)
        try:
            self._serve_bytes(key or product.name, product.data if data is None else data, kind)
        finally:
            with owner.stats.lock:
                owner.stats.active -= 1
            if owner._slots is not None:
                owner._slots.release()

    def _serve_bytes(self, key: str, data: bytes, kind: str = "application/zip") -> None:
        owner = self.owner
        self._count("download")
        fault = owner.faults.take(key)
        if fault == "500":
            return self._status(500, text="Internal Server Error")
        if fault == "429":
            return self._status(429, {"Retry-After": str(owner.faults.retry_after)}, "slow down")
        if fault == "down":
            owner.faults.down = True
            return self._drop()
        if fault == "drip":
            return self._drip(data)
        if fault == "oversize":
            return self._oversize(data)
        if fault == "corrupt":
            data = bytearray(data)
            middle = len(data) // 2
            data[middle : middle + 64] = bytes(64)
            data = bytes(data)
        if fault == "truncate":
            data = data[: len(data) * 2 // 3]
        start = 0
        range_header = self.headers.get("Range")
        if range_header and fault not in ("corrupt", "truncate"):
            start = int(re.match(r"bytes=(\d+)-", range_header)[1])
            with owner.stats.lock:
                owner.stats.range_requests[key] += 1
        body = data[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        cut = len(body) // 2 if fault in ("drop", "timeout") else len(body)
        if not self._send(body[:cut]):
            return
        if fault == "timeout":
            time.sleep(owner.faults.timeout_sleep)
        if fault in ("drop", "timeout"):
            return self._drop()
        with owner.stats.lock:
            if fault == "corrupt":
                owner.stats.corrupt_sent[key] += 1
            elif fault != "truncate":
                owner.stats.completed[key] += 1

    def _drip(self, data: bytes) -> None:
        """Announce the whole product, then send one byte every ``drip_seconds`` (a connection kept alive
        forever by a server far below any useful rate), and drop after ``drip_for`` seconds."""
        faults = self.owner.faults
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        until = time.monotonic() + faults.drip_for
        for byte in data:
            if time.monotonic() > until or not self._send(bytes([byte])):
                break
            time.sleep(faults.drip_seconds)
        self._drop()

    def _oversize(self, data: bytes) -> None:
        """The product followed by ``oversize_bytes`` more (a body longer than the catalogue declared)."""
        faults = self.owner.faults
        body = data + bytes(faults.oversize_bytes)
        self.send_response(200)
        if faults.announce_oversize:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")  # no length: the body ends when the connection does
            self.close_connection = True
        self.end_headers()
        self._send(body)
        self._drop()

    def _send(self, data: bytes) -> bool:
        """Write ``data`` at most at the per-connection bandwidth cap; False if the client went away."""
        cap = self.owner.bandwidth
        chunk = 16 * 1024 if cap else 256 * 1024
        started = time.monotonic()
        sent = 0
        try:
            for pos in range(0, len(data), chunk):
                piece = data[pos : pos + chunk]
                # counted before the write: a client that has every byte may check the count at once, before
                # this thread runs again (a piece the client never takes is counted, as a server's log would)
                with self.owner.stats.lock:
                    self.owner.stats.bytes_sent += len(piece)
                self.wfile.write(piece)
                sent += len(piece)
                if cap:
                    ahead = sent / cap - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return False
        return True


# -- query matching -------------------------------------------------------------------------------
def _parse_time(text: str) -> datetime:
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _dhus_match(p: FakeProduct, q: str) -> bool:
    m = re.search(r'beginPosition:\["?([^" ]+)"? TO "?([^" \]]+)"?\]', q, re.I)
    if m and not (_parse_time(m[1]) <= p.sensing <= _parse_time(m[2])):
        return False
    if (m := re.search(r'producttype:"?(\w+)"?', q)) and m[1] != "S2MSI2A":
        return False
    if (m := re.search(r'cloudcoverpercentage:\["?([\d.]+)"? TO "?([\d.]+)"?\]', q)) and not (
        float(m[1]) <= p.cloud <= float(m[2])
    ):
        return False
    if (m := re.search(r'tileid:"?(\w+)"?', q)) and m[1] != p.tile:
        return False
    m = re.search(r'footprint:"Intersects\((.*?)\)"', q)
    return m is None or shapely_wkt.loads(m[1]).intersects(shapely_wkt.loads(p.footprint_wkt))


#: A date literal as CDSE accepts it: ISO 8601 with seconds, optional fraction, Z or an offset (none: UTC).
_ODATA_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)?"
_CDSE_COLLECTION = re.compile(r"Collection/Name eq '([\w-]+)'")
_CDSE_DATE = re.compile(rf"ContentDate/(Start|End) (eq|gt|ge|lt|le) ({_ODATA_TIME})")
_CDSE_ATTRIBUTE = re.compile(
    r"Attributes/OData\.CSC\.(String|Double|Integer|DateTimeOffset)Attribute/any\(att:att/Name eq '(\w+)' and "
    r"att/OData\.CSC\.\1Attribute/Value (eq|gt|ge|lt|le) ('[^']*'|-?\d+(?:\.\d+)?)\)"
)
_CDSE_INTERSECTS = re.compile(r"OData\.CSC\.Intersects\(area=geography'SRID=4326;([A-Z]+ ?\(.*\))'\)")
_CDSE_CONTAINS = re.compile(r"(contains|startswith|endswith)\(Name,'([^']*)'\)")
_COMPARE = {
    "eq": lambda a, b: a == b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}


def _split_top(expr: str, word: str) -> list[str]:
    """``expr`` split on `` word `` outside parentheses and quotes."""
    parts, depth, quoted, start, i = [], 0, False, 0, 0
    sep = f" {word} "
    while i < len(expr):
        ch = expr[i]
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and expr.startswith(sep, i):
            parts.append(expr[start:i])
            i += len(sep)
            start = i
            continue
        i += 1
    if depth or quoted:
        raise ValueError("unbalanced parentheses or quotes in $filter")
    return [*parts, expr[start:]]


def _closing(expr: str) -> int:
    """Index of the parenthesis closing the one that opens ``expr``."""
    depth, quoted = 0, False
    for i, ch in enumerate(expr):
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch in "()":
            depth += 1 if ch == "(" else -1
            if depth == 0:
                return i
    return -1


def _cdse_eval(expr: str, p: FakeProduct) -> bool:
    """Whether a product matches a ``$filter`` written in the syntax CDSE documents; ValueError otherwise."""
    expr = expr.strip()
    if len(alternatives := _split_top(expr, "or")) > 1:
        return any(_cdse_eval(e, p) for e in alternatives)
    if len(conditions := _split_top(expr, "and")) > 1:
        return all(_cdse_eval(e, p) for e in conditions)
    if expr.startswith("not "):
        return not _cdse_eval(expr[4:], p)
    if expr.startswith("(") and _closing(expr) == len(expr) - 1:
        return _cdse_eval(expr[1:-1], p)
    if m := _CDSE_COLLECTION.fullmatch(expr):
        return m[1] == "SENTINEL-2"
    if m := _CDSE_DATE.fullmatch(expr):
        return _COMPARE[m[2]](p.sensing, _parse_time(m[3]))
    if m := _CDSE_ATTRIBUTE.fullmatch(expr):
        kind, name, op, literal = m[1], m[2], m[3], m[4]
        attributes = {a["Name"]: a for a in _cdse_attributes(p)}
        if (kind == "String") != literal.startswith("'"):
            raise ValueError(f"a {kind}Attribute compares with a {'quoted' if kind == 'String' else 'numeric'} value")
        attribute = attributes.get(name)
        if attribute is None or attribute["ValueType"] != kind:
            return False
        value = literal.strip("'") if kind == "String" else float(literal)
        return _COMPARE[op](attribute["Value"], value)
    if m := _CDSE_INTERSECTS.fullmatch(expr):
        if m[1].startswith("MULTI"):
            raise ValueError("MULTIPOLYGON is not supported")  # CDSE OData documentation, "Disclaimers"
        try:
            area = shapely_wkt.loads(m[1])
        except Exception as exc:  # shapely raises GEOSException for unclosed rings and bad WKT
            raise ValueError(f"invalid geography: {exc}") from None
        return area.intersects(shapely_wkt.loads(p.footprint_wkt))
    if m := _CDSE_CONTAINS.fullmatch(expr):
        name = p.name + ".SAFE"
        return {"contains": m[2] in name, "startswith": name.startswith(m[2]), "endswith": name.endswith(m[2])}[m[1]]
    raise ValueError(f"cannot parse the $filter condition `{expr[:120]}`")
