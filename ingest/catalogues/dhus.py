"""DHuS mirrors (collaborative ground segments, any Data Hub Software instance) through sentinelsat.

sentinelsat speaks DHuS OpenSearch and OData correctly, so it is used unchanged; this module only maps
its answers onto :class:`~ingest.products.Product`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from ingest.catalogues.base import PRODUCT_TYPES, Catalogue, SearchQuery
from ingest.products import Offer, Product, product_id
from s2lake.config.ingest import MirrorSettings
from s2lake.errors import CatalogueError


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DhusCatalogue(Catalogue):
    def __init__(self, mirror: MirrorSettings) -> None:
        super().__init__(mirror)
        self._api = None

    @property
    def api_url(self) -> str:
        return self.mirror.url if self.mirror.url.endswith("/") else self.mirror.url + "/"

    @property
    def api(self):
        if self._api is None:
            from sentinelsat import SentinelAPI

            basic = self.auth.basic()
            user, password = basic if basic else (None, None)
            self._api = SentinelAPI(user, password, api_url=self.api_url, show_progressbars=False, timeout=60)
            self._api.page_size = min(self.mirror.page_size, 100)
        return self._api

    def _query(self, **kwargs: object) -> dict:
        from sentinelsat.exceptions import SentinelAPIError

        self.limiter.wait()
        try:
            return self.api.query(**kwargs)
        except SentinelAPIError as exc:
            raise CatalogueError(f"DHuS search failed: {exc.msg}", where=self.api_url) from None

    def search(self, query: SearchQuery) -> list[Product]:
        common = {
            "date": (_iso(query.start), _iso(query.end)),
            "platformname": "Sentinel-2",
            "producttype": PRODUCT_TYPES[query.level],
            "cloudcoverpercentage": (0, query.max_cloud),
        }
        found: dict = {}
        if query.geometry_wkt:
            found.update(self._query(area=query.geometry_wkt, **common))
        else:
            for tile in query.tiles:
                found.update(self._query(tileid=tile, **common))
        products = [p for p in (self._product(uuid, props) for uuid, props in found.items()) if query.accepts(p)]
        # OpenSearch gives no exact size or checksum, OData does: one request per product, in parallel
        # within the mirror's connection limit.
        with ThreadPoolExecutor(max_workers=self.mirror.max_connections) as pool:
            offers = list(pool.map(self.prepare, (p.offers[self.name] for p in products)))
        for product, offer in zip(products, offers, strict=True):
            product.offers[self.name] = offer
        return products

    def _product(self, uuid: str, props: dict) -> Product:
        name = props.get("filename") or props["title"]
        offer = Offer(
            mirror=self.name,
            remote_id=uuid,
            url=f"{self.api_url}odata/v1/Products('{uuid}')/$value",
            online=str(props.get("ondemand", "false")).lower() != "true",
        )
        start = props.get("beginposition")
        return Product.from_name(
            product_id(name),
            tile=props.get("tileid"),
            sensing_start=start.replace(tzinfo=UTC) if isinstance(start, datetime) else None,
            cloud_cover=props.get("cloudcoverpercentage"),
            footprint_wkt=props.get("footprint"),
            offers={self.name: offer},
        )

    def prepare(self, offer: Offer) -> Offer:
        """DHuS search results carry no exact size or checksum: ask OData, as sentinelsat does (once).

        The online flag is not refreshed here: an offline product answers 202 to the download itself.
        """
        if offer.size is not None:
            return offer
        self.limiter.wait()
        info = self.api.get_product_odata(offer.remote_id)
        # sentinelsat stores the checksum under its algorithm's lower-cased name: "md5" on most DHuS
        # instances, "sha3-256" on newer ones (the same two its own download verifies).
        algorithm = next((a for a in ("sha3-256", "md5") if info.get(a)), None)
        return Offer(
            mirror=offer.mirror,
            remote_id=offer.remote_id,
            url=offer.url,
            size=int(info["size"]),
            checksum=info[algorithm] if algorithm else None,
            checksum_algorithm=algorithm.upper() if algorithm else None,
            online=bool(info.get("Online", True)),
        )

    def is_online(self, offer: Offer) -> bool:
        """Poll DHuS's Online flag, so waiting for the long-term archive does not trigger it again."""
        self.limiter.wait()
        return bool(self.api.is_online(offer.remote_id))

    def count_all(self, level: str) -> int:
        self.limiter.wait()
        return int(self.api.count(platformname="Sentinel-2", producttype=PRODUCT_TYPES[level]))
