"""The merged product model: one row per product name, with every mirror that offers it.

Catalogues disagree on ids, checksums and even archive bytes, so each mirror's view is kept as an
:class:`Offer`; the product's own metadata (tile, date, cloud cover, footprint) is the same everywhere
and is taken from the first catalogue that gives it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from s2lake.product_names import ProductName, strip_suffixes


@dataclass
class Offer:
    """What one mirror says about a product and how to fetch it there."""

    mirror: str
    remote_id: str
    url: str
    size: int | None = None
    checksum: str | None = None
    checksum_algorithm: str | None = None  # MD5, SHA3-256 or BLAKE3
    online: bool = True
    #: Per-file download URLs by path below the SAFE root (STAC items list them as assets); OData mirrors
    #: build theirs from the ``Nodes(...)`` path instead.
    files: dict[str, str] = field(default_factory=dict)
    #: The quicklook's URL where search gives it (STAC's ``thumbnail`` or ``rendered_preview`` asset); OData
    #: mirrors are asked per product instead (:meth:`~ingest.catalogues.base.Catalogue.quicklook_url`).
    quicklook: str | None = None


@dataclass
class Product:
    product_id: str
    tile: str | None = None
    sensing_start: datetime | None = None
    cloud_cover: float | None = None
    footprint_wkt: str | None = None
    level: str | None = None
    mission: str | None = None
    offers: dict[str, Offer] = field(default_factory=dict)

    @classmethod
    def from_name(cls, name: str, **facts: Any) -> Product:
        parts = ProductName.parse(name)
        values: dict[str, Any] = {"product_id": strip_suffixes(name)}
        if parts:
            values.update(tile=parts.tile, sensing_start=parts.sensing, level=parts.level, mission=parts.mission)
        values.update({k: v for k, v in facts.items() if v is not None})
        return cls(**values)

    @property
    def name(self) -> str:
        return self.product_id + ".SAFE"

    @property
    def size(self) -> int | None:
        sizes = [o.size for o in self.offers.values() if o.size]
        return max(sizes) if sizes else None

    def merge(self, other: Product) -> None:
        """Add another catalogue's view of the same product (first non-empty value wins)."""
        for attr in ("tile", "sensing_start", "cloud_cover", "footprint_wkt", "level", "mission"):
            if getattr(self, attr) is None:
                setattr(self, attr, getattr(other, attr))
        for mirror, offer in other.offers.items():
            self.offers.setdefault(mirror, offer)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["sensing_start"] = self.sensing_start.isoformat() if self.sensing_start else None
        data["size"] = self.size
        data["mirrors"] = sorted(self.offers)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Product:
        offers = {k: Offer(**v) for k, v in (data.get("offers") or {}).items()}
        start = data.get("sensing_start")
        return cls(
            product_id=data["product_id"],
            tile=data.get("tile"),
            sensing_start=datetime.fromisoformat(start) if start else None,
            cloud_cover=data.get("cloud_cover"),
            footprint_wkt=data.get("footprint_wkt"),
            level=data.get("level"),
            mission=data.get("mission"),
            offers=offers,
        )


def merge_products(results: list[list[Product]]) -> list[Product]:
    """One product per name over all catalogues, sorted by sensing time then name."""
    merged: dict[str, Product] = {}
    for products in results:
        for product in products:
            if product.product_id in merged:
                merged[product.product_id].merge(product)
            else:
                merged[product.product_id] = product
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(merged.values(), key=lambda p: (p.sensing_start or epoch, p.product_id))
