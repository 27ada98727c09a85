"""Catalogue backends, one per protocol, behind :class:`~ingest.catalogues.base.Catalogue`."""

from __future__ import annotations

from ingest.catalogues.base import Catalogue, SearchQuery
from s2lake.config.ingest import MirrorSettings


def open_catalogue(mirror: MirrorSettings) -> Catalogue:
    """The backend for a mirror's protocol (imported lazily: sentinelsat and pystac are not light)."""
    if mirror.protocol == "dhus":
        from ingest.catalogues.dhus import DhusCatalogue

        return DhusCatalogue(mirror)
    if mirror.protocol == "cdse_odata":
        from ingest.catalogues.cdse import CdseCatalogue

        return CdseCatalogue(mirror)
    from ingest.catalogues.stac import StacCatalogue

    return StacCatalogue(mirror)


__all__ = ["Catalogue", "SearchQuery", "open_catalogue"]
