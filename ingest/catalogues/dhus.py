"""DHuS mirrors (collaborative ground segments, any Data Hub Software instance) through sentinelsat.

sentinelsat speaks DHuS OpenSearch and OData correctly, so it is used unchanged; this module only maps
its answers onto :class:`~ingest.products.Product`.

OpenSearch results carry no exact size or checksum; OData does, one request per product. Search does
not ask for them: a search of thousands of products would cost thousands of requests for products
that are mostly never downloaded. The scheduler calls :meth:`DhusCatalogue.prepare` once per product
right before its transfer instead, so search results (and product lists) have no DHuS size or
checksum until then.
"""

from __future__ import annotations

from datetime import UTC, datetime

import requests

from ingest.catalogues.base import PRODUCT_TYPES, Catalogue, SearchQuery
from ingest.products import Offer, Product
from ingest.transfer import Gone
from s2lake.config.ingest import MirrorSettings
from s2lake.errors import CatalogueError, DownloadError


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
            # lazy: sentinelsat costs ~0.3 s to import; only DHuS mirrors use it
            from sentinelsat import SentinelAPI

            api = SentinelAPI(None, None, api_url=self.api_url, show_progressbars=False, timeout=60)
            # sentinelsat's own session would carry plain Basic credentials; the mirror's session gives
            # them to the mirror's allowed origins only, redirects included (see ingest.auth).
            self.session.headers["User-Agent"] = api.session.headers["User-Agent"]
            api.session = self.session
            api.page_size = min(self.mirror.page_size, 100)
            self._api = api
        return self._api

    def _query(self, **kwargs: object) -> dict:
        # lazy: sentinelsat costs ~0.3 s to import; only DHuS mirrors use it
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
        return [p for p in (self._product(uuid, props) for uuid, props in found.items()) if query.accepts(p)]

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
            name,
            tile=props.get("tileid"),
            sensing_start=start.replace(tzinfo=UTC) if isinstance(start, datetime) else None,
            cloud_cover=props.get("cloudcoverpercentage"),
            footprint_wkt=props.get("footprint"),
            offers={self.name: offer},
        )

    def prepare(self, offer: Offer) -> Offer:
        """Exact size and checksum from OData, as sentinelsat reads them (once: a prepared offer is kept).

        Failures are those of a transfer, so the scheduler retries, or tries another mirror when this
        one no longer has the product.
        """
        if offer.size is not None:
            return offer
        # lazy: sentinelsat costs ~0.3 s to import; only DHuS mirrors use it
        from sentinelsat.exceptions import InvalidKeyError, SentinelAPIError, UnauthorizedError

        self.limiter.wait()
        try:
            info = self.api.get_product_odata(offer.remote_id)
        except UnauthorizedError as exc:
            raise CatalogueError(
                f"DHuS refused the credentials: {exc.msg}", where=self.api_url, fix="check the mirror's credentials"
            ) from None
        except SentinelAPIError as exc:
            status = exc.response.status_code if exc.response is not None else None
            if isinstance(exc, InvalidKeyError) or status in (404, 410):
                raise Gone(f"OData has no product {offer.remote_id}") from None
            raise DownloadError(f"OData size and checksum request failed: {exc}") from None
        except requests.RequestException as exc:
            raise DownloadError(f"OData size and checksum request failed: {type(exc).__name__}: {exc}") from None
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

    def file_url(self, offer: Offer, product_name: str, rel: str) -> str:
        """``…/odata/v1/Products('<uuid>')/Nodes('<name>.SAFE')/Nodes('GRANULE')/…/$value``: DHuS's
        per-file access (keys quoted, unlike CDSE's)."""
        nodes = "/".join(f"Nodes('{part}')" for part in [product_name, *rel.split("/")])
        return f"{self.api_url}odata/v1/Products('{offer.remote_id}')/{nodes}/$value"

    def quicklook_url(self, offer: Offer) -> str:
        """``…/odata/v1/Products('<uuid>')/Products('Quicklook')/$value``: DHuS's quicklook, a derived product
        of the product (a 404 there means it has none)."""
        return f"{self.api_url}odata/v1/Products('{offer.remote_id}')/Products('Quicklook')/$value"

    def is_online(self, offer: Offer) -> bool:
        """Poll DHuS's Online flag, so waiting for the long-term archive does not trigger it again."""
        self.limiter.wait()
        return bool(self.api.is_online(offer.remote_id))

    def count_all(self, level: str) -> int:
        self.limiter.wait()
        return int(self.api.count(platformname="Sentinel-2", producttype=PRODUCT_TYPES[level]))
