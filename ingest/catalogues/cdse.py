"""The Copernicus Data Space Ecosystem OData API (``catalogue.dataspace.copernicus.eu/odata/v1``).

Request shapes follow CDSE's OData documentation (documentation.dataspace.copernicus.eu/APIs/OData.html):
``$filter`` on ``Collection/Name``, ``ContentDate/Start`` (``YYYY-MM-DDThh:mm:ss.sssZ`` literals),
``OData.CSC.Intersects(area=geography'SRID=4326;POLYGON (...)')`` and typed attributes
(``Attributes/OData.CSC.StringAttribute/any(att:att/Name eq 'productType' and ...)``); ``$orderby``
on ``ContentDate/Start``; ``$expand=Attributes``; ``$count=True``. The service caps ``$top`` at 1000
and ``$skip`` at 10,000, so a search is paged inside a time window and a window holding more products
than ``$skip`` can reach is split in two (recursively). MULTIPOLYGON areas are not supported by the
service, so a multi-part area is searched one polygon at a time. Products are downloaded from
``zipper.dataspace.copernicus.eu/odata/v1/Products(<Id>)/$value`` with a Keycloak bearer token.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import shapely
from shapely import wkt as shapely_wkt
from shapely.geometry import Point, Polygon, shape

from ingest.catalogues.base import PRODUCT_TYPES, Catalogue, SearchQuery
from ingest.products import Offer, Product
from ingest.transfer import classify
from s2lake.errors import CatalogueError, DownloadError

#: Preferred checksum when CDSE lists several (BLAKE3 is fastest to verify).
CHECKSUM_PREFERENCE = ("BLAKE3", "SHA3-256", "MD5")
#: A window this short that still overflows $skip cannot be split further.
MIN_WINDOW = timedelta(seconds=1)
#: Decimal places of footprint coordinates sent to the service (~0.1 m): keeps URLs short.
WKT_DECIMALS = 6


def _odata_time(value: datetime) -> str:
    """A date literal as CDSE's examples write it: UTC, milliseconds, ``Z`` (e.g. 2022-05-03T00:00:00.000Z)."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _attribute(kind: str, name: str, op: str, literal: str) -> str:
    """A typed attribute condition, written exactly as the CDSE OData documentation shows it."""
    return (
        f"Attributes/OData.CSC.{kind}Attribute/any(att:att/Name eq '{name}' and "
        f"att/OData.CSC.{kind}Attribute/Value {op} {literal})"
    )


def _areas(geometry_wkt: str) -> list[Polygon | Point]:
    """The parts of an area CDSE can search: polygons and points, one request each (it rejects MULTIPOLYGON).

    A line is replaced by its convex hull when that is a polygon (three or more points not in a row).
    """
    geom = shapely_wkt.loads(geometry_wkt)
    parts = []
    for part in getattr(geom, "geoms", [geom]):
        part = part if isinstance(part, Polygon | Point) else part.convex_hull
        if not isinstance(part, Polygon | Point) or part.is_empty:
            raise CatalogueError(
                f"the area of interest holds a {part.geom_type}, CDSE OData searches polygons and points",
                where="search area",
                fix="give a polygon (or several) as the area, or MGRS tiles",
            )
        parts.append(part)
    return parts


def spatial_filters(query: SearchQuery) -> list[str | None]:
    """One spatial condition per request: per MGRS tile (``tileId``), else per polygon of the area."""
    if query.tiles:
        return [_attribute("String", "tileId", "eq", f"'{tile}'") for tile in query.tiles]
    if query.geometry_wkt:
        return [
            f"OData.CSC.Intersects(area=geography'SRID=4326;{shapely.to_wkt(p, rounding_precision=WKT_DECIMALS)}')"
            for p in _areas(query.geometry_wkt)
        ]
    return [None]


def build_filter(
    query: SearchQuery, start: datetime, end: datetime, collection: str, spatial: str | None = None
) -> str:
    """The OData ``$filter`` of a search window: sensing start in [start, end), plus one spatial condition."""
    parts = [
        f"Collection/Name eq '{collection}'",
        f"ContentDate/Start ge {_odata_time(start)}",
        f"ContentDate/Start lt {_odata_time(end)}",
        _attribute("String", "productType", "eq", f"'{PRODUCT_TYPES[query.level]}'"),
    ]
    if query.max_cloud < 100:
        parts.append(_attribute("Double", "cloudCover", "le", f"{query.max_cloud:.2f}"))
    if spatial:
        parts.append(spatial)
    return " and ".join(parts)


def _footprint(item: dict[str, Any]) -> str | None:
    if item.get("GeoFootprint"):
        return shape(item["GeoFootprint"]).wkt
    text = item.get("Footprint") or ""
    if ";" in text:
        return text.split(";", 1)[1].rstrip("'")
    return None


def _checksum(item: dict[str, Any]) -> tuple[str | None, str | None]:
    """The preferred non-empty checksum; CDSE often lists none or empty values."""
    given = {c.get("Algorithm", "").upper(): c.get("Value") for c in item.get("Checksum") or [] if c.get("Value")}
    for algorithm in CHECKSUM_PREFERENCE:
        if given.get(algorithm):
            return given[algorithm], algorithm
    return None, None


class CdseCatalogue(Catalogue):
    @property
    def root(self) -> str:
        return self.mirror.url.rstrip("/")

    @property
    def download_root(self) -> str:
        return (self.mirror.download_url or self.mirror.url).rstrip("/")

    @property
    def collection(self) -> str:
        return self.mirror.collection or "SENTINEL-2"

    def _get(self, params: dict[str, str]) -> dict[str, Any]:
        self.limiter.wait()
        url = f"{self.root}/Products"
        try:
            response = requests.get(url, params=params, timeout=60)
        except requests.RequestException as exc:
            raise CatalogueError(f"CDSE OData unreachable: {type(exc).__name__}", where=url) from None
        if response.status_code != 200:
            raise CatalogueError(
                f"CDSE OData answered HTTP {response.status_code}: {response.text[:200]}",
                where=url,
                fix="check the mirror URL; narrow the search if the service rejects it",
            )
        return response.json()

    def _page(self, filt: str, skip: int, count: bool) -> dict[str, Any]:
        params = {
            "$filter": filt,
            "$top": str(self.mirror.page_size),
            "$skip": str(skip),
            "$orderby": "ContentDate/Start asc",
            "$expand": "Attributes",
        }
        if count:
            params["$count"] = "True"
        return self._get(params)

    def _window(self, query: SearchQuery, start: datetime, end: datetime, spatial: str | None) -> list[dict[str, Any]]:
        filt = build_filter(query, start, end, self.collection, spatial)
        first = self._page(filt, 0, count=True)
        total = int(first.get("@odata.count", len(first.get("value", []))))
        page = self.mirror.page_size
        # The last page starts at the largest multiple of $top below the total; $skip may not pass max_skip.
        if total and (total - 1) // page * page > self.mirror.max_skip:
            if end - start <= MIN_WINDOW:
                raise CatalogueError(
                    f"more than {self.mirror.max_skip + page} products within {start} … {end}",
                    where=self.root,
                    fix="narrow the area or the dates",
                )
            middle = start + (end - start) / 2
            return self._window(query, start, middle, spatial) + self._window(query, middle, end, spatial)
        items = list(first.get("value", []))
        skip = page
        while skip < total:
            items += self._page(filt, skip, count=False).get("value", [])
            skip += page
        return items

    def search(self, query: SearchQuery) -> list[Product]:
        items: dict[str, dict[str, Any]] = {}  # by Id: a product in two tiles' or polygons' answers counts once
        for spatial in spatial_filters(query):
            for item in self._window(query, query.start, query.end, spatial):
                items.setdefault(str(item["Id"]), item)
        products = [self._product(item) for item in items.values()]
        return [p for p in products if query.accepts(p)]

    def _product(self, item: dict[str, Any]) -> Product:
        attrs = {a.get("Name"): a.get("Value") for a in item.get("Attributes") or []}
        checksum, algorithm = _checksum(item)
        size = int(item.get("ContentLength") or 0) or None
        offer = Offer(
            mirror=self.name,
            remote_id=str(item["Id"]),
            url=f"{self.download_root}/Products({item['Id']})/$value",
            size=size,
            checksum=checksum,
            checksum_algorithm=algorithm,
            online=bool(item.get("Online", True)),
        )
        start = (item.get("ContentDate") or {}).get("Start")
        cloud = attrs.get("cloudCover")
        return Product.from_name(
            item["Name"],
            sensing_start=datetime.fromisoformat(start.replace("Z", "+00:00")) if start else None,
            cloud_cover=float(cloud) if cloud is not None else None,
            footprint_wkt=_footprint(item),
            tile=attrs.get("tileId"),
            offers={self.name: offer},
        )

    def file_url(self, offer: Offer, product_name: str, rel: str) -> str:
        """``…/Products(<Id>)/Nodes(<name>.SAFE)/Nodes(GRANULE)/…/Nodes(<file>)/$value``: CDSE's per-file
        access (OData documentation, "Product download" of single files), on the download host."""
        nodes = "/".join(f"Nodes({part})" for part in [product_name, *rel.split("/")])
        url = f"{self.download_root}/Products({offer.remote_id})/{nodes}/$value"
        session = self._session  # not created here: this is asked before any transfer, also by the scheduler
        return session.moved(url) if session is not None else url  # straight where the last 301 sent it

    def quicklook_url(self, offer: Offer) -> str | None:
        """The ``DownloadLink`` of the product's ``QUICKLOOK`` asset (``GET …/Products(<Id>)/Assets``, the
        list ``$expand=Assets`` gives: ``Type``, ``Id``, ``DownloadLink`` on ``…/Assets(<Id>)/$value``), or None
        when CDSE lists none. Asked through the mirror's session, so failures are those of a transfer."""
        url = f"{self.root}/Products({offer.remote_id})/Assets"
        try:
            response = self.session.get(url, timeout=60)
        except requests.RequestException as exc:
            raise DownloadError(f"asset list request failed: {type(exc).__name__}") from None
        with response:
            if response.status_code != 200:
                classify(response.status_code, response.headers)
            try:
                assets = response.json().get("value") or []
            except ValueError:
                raise DownloadError("asset list is not JSON") from None
        for asset in assets:
            link = asset.get("DownloadLink") if isinstance(asset, dict) else None
            if asset.get("Type") == "QUICKLOOK" and isinstance(link, str) and link.startswith(("https://", "http://")):
                return link
        return None

    def count_all(self, level: str) -> int:
        filt = f"Collection/Name eq '{self.collection}' and " + _attribute(
            "String", "productType", "eq", f"'{PRODUCT_TYPES[level]}'"
        )
        body = self._get({"$filter": filt, "$top": "0", "$count": "True"})
        return int(body.get("@odata.count", 0))
