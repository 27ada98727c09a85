"""Which layer of a multi-layer source (GeoPackage, FileGDB, zipped Shapefiles) to load.

GDAL reads the first layer when none is named, so a GeoPackage holding, say, CLC 2012 and CLC 2018
(or a change layer next to the status layer) would load whichever comes first without a word.
Without ``--layer`` a source must therefore hold one polygon layer; layers of points, lines or no
geometry at all (attribute tables, styles) are ignored, so the official single-layer files load as
before.
"""

from __future__ import annotations

import logging
from pathlib import Path

from s2lake.errors import ReferenceDataError

log = logging.getLogger(__name__)


def polygon_capable(geometry_type: str | None) -> bool:
    """True for polygon layers and for generic geometry layers (GDAL ``Unknown``), which may hold polygons."""
    if geometry_type is None:  # a table without geometry
        return False
    kind = geometry_type.lower()
    return "polygon" in kind or "surface" in kind or kind.startswith("unknown") or kind.startswith("geometry")


def pick_layer(src: Path) -> str | None:
    """The layer to read when the user named none: None for a single-layer source (GDAL's default),
    the only polygon layer of a multi-layer one; more than one polygon layer is refused."""
    # lazy: pyogrio costs ~2 s to import; only a load needs it
    import pyogrio

    layers = pyogrio.list_layers(src)
    if len(layers) <= 1:
        return None
    candidates = [(str(name), gtype) for name, gtype in layers if polygon_capable(gtype)]
    if len(candidates) == 1:
        log.info("%s: loading %s, its only polygon layer of %d layers", src, candidates[0][0], len(layers))
        return candidates[0][0]
    if not candidates:
        return None  # the first layer is read and refused for holding no polygons, naming --layer
    listing = "; ".join(
        f"{name} ({gtype}, {pyogrio.read_info(src, layer=name, force_feature_count=True)['features']} features)"
        for name, gtype in candidates
    )
    raise ReferenceDataError(
        f"{src} holds {len(candidates)} polygon layers: {listing}",
        fix=f"name the one to load with --layer, e.g. --layer {candidates[0][0]}",
    )
