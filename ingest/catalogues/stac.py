"""STAC APIs (CDSE STAC 1.1, Earth Search, Planetary Computer) through pystac-client.

Items map to products by their SAFE name (``s2:product_uri`` where the catalogue gives it, the item
id otherwise); the zipped product, where a catalogue offers one, is the asset with the ``archive``
role (CDSE's ``Product``), and its ``file:checksum`` (a multihash) becomes the offer's checksum.

A real CDSE STAC 1.1 item (``../shared/data/api_responses/stac_odc_stac_0.5.3/*_cdse_stac_v110.json``)
names its tile in ``grid:code`` (``MGRS-33UWP``), has no ``s2:product_uri`` (the id is the SAFE name
without ``.SAFE``), and its ``Product`` asset points at
``download.dataspace.copernicus.eu/odata/v1/Products(<Id>)/$value`` with ``auth:refs: [oidc]`` (a
Keycloak bearer token, as for OData) and an MD5 multihash (``d50110`` + 32 hex digits).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shapely import wkt as shapely_wkt
from shapely.geometry import mapping, shape

from ingest.catalogues.base import Catalogue, SearchQuery
from ingest.products import Offer, Product
from s2lake.errors import CatalogueError
from s2lake.product_names import strip_suffixes

#: Multihash function codes (https://github.com/multiformats/multicodec) of the checksums we verify.
MULTIHASH_CODES = {0xD5: "MD5", 0x16: "SHA3-256", 0x1E: "BLAKE3", 0x12: "SHA2-256"}
#: Digest sizes in bytes; a multihash announcing another size cannot be verified and is ignored.
DIGEST_BYTES = {"MD5": 16, "SHA3-256": 32, "BLAKE3": 32, "SHA2-256": 32}
DEFAULT_COLLECTIONS = {"L2A": "sentinel-2-l2a", "L1C": "sentinel-2-l1c"}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return value, pos
        shift += 7


def decode_multihash(text: str) -> tuple[str, str] | None:
    """``file:checksum`` (hex multihash) → (hex digest, algorithm), or None when unknown or malformed."""
    try:
        data = bytes.fromhex(text)
        code, pos = _varint(data, 0)
        length, pos = _varint(data, pos)
    except (ValueError, IndexError):
        return None
    digest = data[pos:]
    algorithm = MULTIHASH_CODES.get(code)
    if algorithm is None or len(digest) != length or length != DIGEST_BYTES[algorithm]:
        return None
    return digest.hex(), algorithm


def _tile(props: dict[str, Any]) -> str | None:
    code = props.get("grid:code") or ""
    if code.startswith("MGRS-"):
        return code[5:]
    if props.get("s2:mgrs_tile"):
        return props["s2:mgrs_tile"]
    parts = [props.get("mgrs:utm_zone"), props.get("mgrs:latitude_band"), props.get("mgrs:grid_square")]
    return f"{int(parts[0]):02d}{parts[1]}{parts[2]}" if all(parts) else None


def _archive_asset(assets: dict[str, Any]) -> dict[str, Any] | None:
    for key, asset in assets.items():
        if "archive" in (asset.get("roles") or []) or key == "Product":
            return asset
    return None


def _http_href(asset: dict[str, Any]) -> str | None:
    """The asset's HTTP address: its href, or its ``alternate`` https one (CDSE STAC gives s3:// hrefs
    with the OData ``Nodes(...)`` URL as ``alternate.https.href``)."""
    for href in (asset.get("href"), (asset.get("alternate") or {}).get("https", {}).get("href")):
        if isinstance(href, str) and href.startswith(("https://", "http://")):
            return href
    return None


def quicklook_asset(assets: dict[str, Any]) -> str | None:
    """The HTTP address of the item's preview image: ``thumbnail`` (CDSE STAC 1.1, Earth Search; or an asset
    with that role), else ``rendered_preview`` (Planetary Computer)."""
    by_role = [a for a in assets.values() if "thumbnail" in (a.get("roles") or [])]
    for asset in (assets.get("thumbnail"), *by_role, assets.get("rendered_preview")):
        if isinstance(asset, dict) and (href := _http_href(asset)):
            return href
    return None


def file_assets(assets: dict[str, Any], safe_name: str) -> dict[str, str]:
    """Per-file URLs by path below the SAFE root, from assets whose ``file:local_path`` lies in the SAFE
    (CDSE STAC 1.1: every band, ``MTD_MSIL2A.xml``, ``MTD_TL.xml``, ``manifest.safe``)."""
    files = {}
    for asset in assets.values():
        local = asset.get("file:local_path") or ""
        href = _http_href(asset)
        if href and local.startswith(f"{safe_name}/"):
            files[local.removeprefix(f"{safe_name}/")] = href
    return files


class StacCatalogue(Catalogue):
    def _client(self):
        # lazy: pystac-client costs ~0.5 s to import; only STAC mirrors use it
        from pystac_client import Client
        from pystac_client.stac_api_io import StacApiIO

        # pystac-client's own session would send a bearer token to every link a catalogue hands out (next
        # pages anywhere); the mirror's session gives it to the mirror's allowed origins only.
        stac_io = StacApiIO()
        stac_io.session = self.session
        try:
            return Client.open(self.mirror.url, stac_io=stac_io)
        except Exception as exc:  # pystac-client raises several unrelated types for an unreachable API
            raise CatalogueError(f"STAC API unreachable: {exc}", where=self.mirror.url) from None

    def _collection(self, level: str) -> str:
        return self.mirror.collection or DEFAULT_COLLECTIONS[level]

    def search(self, query: SearchQuery) -> list[Product]:
        args: dict[str, Any] = {
            "collections": [self._collection(query.level)],
            "datetime": [query.start.astimezone(UTC), query.end.astimezone(UTC)],
            "limit": self.mirror.page_size,
        }
        if query.geometry_wkt:
            args["intersects"] = mapping(shapely_wkt.loads(query.geometry_wkt))
        self.limiter.wait()
        try:
            items = list(self._client().search(**args).items_as_dicts())
        except CatalogueError:
            raise
        except Exception as exc:
            raise CatalogueError(f"STAC search failed: {exc}", where=self.mirror.url) from None
        products = [self._product(item) for item in items]
        return [p for p in products if query.accepts(p)]

    def _product(self, item: dict[str, Any]) -> Product:
        props = item.get("properties", {})
        name = props.get("s2:product_uri") or item["id"]
        asset = _archive_asset(item.get("assets", {})) or {}
        checksum = decode_multihash(asset.get("file:checksum", "")) if asset.get("file:checksum") else None
        offer = Offer(
            mirror=self.name,
            remote_id=item["id"],
            url=asset.get("href", ""),
            size=int(asset["file:size"]) if asset.get("file:size") else None,
            checksum=checksum[0] if checksum else None,
            checksum_algorithm=checksum[1] if checksum else None,
            files=file_assets(item.get("assets", {}), f"{strip_suffixes(name)}.SAFE"),
            quicklook=quicklook_asset(item.get("assets", {})),
        )
        when = props.get("datetime") or props.get("start_datetime")
        return Product.from_name(
            name,
            tile=_tile(props),
            sensing_start=datetime.fromisoformat(when.replace("Z", "+00:00")) if when else None,
            cloud_cover=props.get("eo:cloud_cover"),
            footprint_wkt=shape(item["geometry"]).wkt if item.get("geometry") else None,
            offers={self.name: offer},
        )

    def file_url(self, offer: Offer, product_name: str, rel: str) -> str | None:
        return offer.files.get(rel)

    def count_all(self, level: str) -> int:
        self.limiter.wait()
        search = self._client().search(collections=[self._collection(level)], limit=1, max_items=1)
        return int(search.matched() or 0)
