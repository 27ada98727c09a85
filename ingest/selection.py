"""Selecting and describing search results.

Seasons are meteorological (DJF, MAM, JJA, SON) and are matched by NAME regardless of year: the
seeds' tool grouped by (year, season) and so split one winter over two groups. With ``per_year``
the years are kept apart and December belongs to the NEXT year's DJF (December 2020 + January and
February 2021 form winter 2021), so one winter is never split.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from ingest.products import Product

SEASONS = {12: "DJF", 1: "DJF", 2: "DJF", 3: "MAM", 4: "MAM", 5: "MAM", 6: "JJA", 7: "JJA", 8: "JJA"}
SEASON_ORDER = ("DJF", "MAM", "JJA", "SON")


def season(when: datetime) -> str:
    return SEASONS.get(when.month, "SON")


def season_year(when: datetime) -> int:
    """The year a meteorological season is counted in (December → next year's winter)."""
    return when.year + 1 if when.month == 12 else when.year


def select_lowest_cloud(products: list[Product], per_year: bool = False) -> list[Product]:
    """The product with the lowest cloud cover per MGRS tile and season (and year with ``per_year``).

    Products without a tile or date cannot be placed and are left out; ties go to the earlier product.
    """
    best: dict[tuple, Product] = {}
    for product in products:
        if not product.tile or not product.sensing_start:
            continue
        key: tuple = (product.tile, season(product.sensing_start))
        if per_year:
            key += (season_year(product.sensing_start),)
        rank = (
            product.cloud_cover if product.cloud_cover is not None else float("inf"),
            product.sensing_start,
            product.product_id,
        )
        current = best.get(key)
        if current is None or rank < (
            current.cloud_cover if current.cloud_cover is not None else float("inf"),
            current.sensing_start,
            current.product_id,
        ):
            best[key] = product
    return [best[k] for k in sorted(best, key=lambda k: (k[0], *k[2:], SEASON_ORDER.index(k[1])))]


def describe(products: list[Product]) -> dict:
    """Counts, sizes, tiles, cloud cover and seasons of a product list.

    Sizes cover the products whose size is known (``products_with_size``): a product only DHuS offers
    gets its size when it is downloaded, not from search.
    """
    sizes = [p.size for p in products if p.size]
    clouds = [p.cloud_cover for p in products if p.cloud_cover is not None]
    per_tile = Counter(p.tile or "?" for p in products)
    per_season = Counter(season(p.sensing_start) for p in products if p.sensing_start)
    total = len(products)
    return {
        "products": total,
        "products_with_size": len(sizes),
        "total_size_bytes": sum(sizes),
        "average_size_bytes": round(sum(sizes) / len(sizes)) if sizes else None,
        "tiles": len(per_tile),
        "products_per_tile": dict(sorted(per_tile.items())),
        "average_cloud_cover": round(sum(clouds) / len(clouds), 2) if clouds else None,
        "seasons": {
            s: {"products": per_season.get(s, 0), "share": round(per_season.get(s, 0) / total, 4) if total else 0.0}
            for s in SEASON_ORDER
        },
    }
