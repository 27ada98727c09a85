"""One search over every configured mirror at once, merged by product name.

A failing mirror is reported, not fatal: the other mirrors' results still come back, and the caller
decides (the CLI prints the failures and exits PARTIAL).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ingest.catalogues import SearchQuery, open_catalogue
from ingest.products import Product, merge_products
from s2lake.config.ingest import MirrorSettings
from s2lake.errors import S2LakeError

log = logging.getLogger(__name__)


@dataclass
class SearchResult:
    products: list[Product]
    failures: dict[str, str] = field(default_factory=dict)  # mirror -> reason
    counts: dict[str, int] = field(default_factory=dict)  # mirror -> products found


def search_all(mirrors: list[MirrorSettings], query: SearchQuery) -> SearchResult:
    active = [m for m in mirrors if m.enabled]
    results: dict[str, list[Product]] = {}
    failures: dict[str, str] = {}

    def one(mirror: MirrorSettings) -> None:
        try:
            results[mirror.name] = open_catalogue(mirror).search(query)
        except S2LakeError as exc:
            failures[mirror.name] = exc.message
        except Exception as exc:  # a mirror's bug or outage must not sink the others' results
            failures[mirror.name] = f"{type(exc).__name__}: {exc}"
        if mirror.name in failures:
            log.warning("mirror %s failed: %s", mirror.name, failures[mirror.name])

    with ThreadPoolExecutor(max_workers=max(1, len(active))) as pool:
        list(pool.map(one, active))
    merged = merge_products([results[m.name] for m in active if m.name in results])
    return SearchResult(merged, failures, {name: len(found) for name, found in results.items()})
