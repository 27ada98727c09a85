"""Open a STAC item whose Level-2A band assets are COGs as an :class:`~sedona_jobs.safe.L2AProduct`.

STAC catalogues serve Sentinel-2 L2A as one Cloud-optimised GeoTIFF per band (Earth Search's
``sentinel-2-l2a``, Planetary Computer's ``sentinel-2-l2a``), described by an item: product facts in
its properties (``s2:product_uri``, ``datetime``, ``proj:epsg``/``proj:code``, ...) and each band's grid
in its asset's ``proj:transform``/``proj:shape``. The product this module returns names COG paths
instead of JPEG 2000 files, so the patch cutter reads windows of them with the very same code as a
SAFE, and the rows are the same as the SAFE's of the same scene: no SAFE, no JPEG 2000, no download.

Asset keys differ between catalogues: Earth Search v1 names bands by common name (``blue``,
``nir08``, ``scl``), Planetary Computer and Earth Search v0 by band id (``B02``, ``B8A``, ``SCL``),
CDSE adds the resolution (``B02_10m``). All three are recognised; the band's native resolution is
the one read.

DNs: the patches hold ESA's digital numbers. Earth Search v1 subtracts ``BOA_ADD_OFFSET`` from the
COGs of baseline 04.00+ products (``earthsearch:boa_offset_applied: true``), clipping at 0; such an item
is refused rather than mixed with SAFE-built patches whose DNs differ by 1000.

Checksums: items rarely carry ``file:checksum``, and a COG read by ranges is never whole on disk to
hash, so ``--verify-checksums`` has nothing to check here; the header check of every band against the
item's proj metadata (:func:`~sedona_jobs.patches.cog_reader.check_cog`) is what catches a wrong file.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from s2lake.errors import ProductError
from s2lake.product_names import GRAMMAR, ProductName
from s2lake.sentinel2 import ALL_LAYERS, BANDS, BANDS_BY_NAME
from sedona_jobs.patches.cog_reader import check_cog, configure_remote_reads, raster_path
from sedona_jobs.safe import BandFile, L2AProduct

#: Earth Search v1 asset keys (STAC eo common names) -> ESA band names.
COMMON_NAMES = {
    "coastal": "B01",
    "blue": "B02",
    "green": "B03",
    "red": "B04",
    "rededge1": "B05",
    "rededge2": "B06",
    "rededge3": "B07",
    "nir": "B08",
    "nir08": "B8A",
    "nir09": "B09",
    "swir16": "B11",
    "swir22": "B12",
    "scl": "SCL",
}
#: Band-id asset keys, optionally with the resolution (CDSE): ``B02``, ``B8A``, ``SCL``, ``B02_10m``.
_BAND_KEY = re.compile(r"(?P<band>B\d[\dA]|SCL)(?:_(?P<res>\d{2})m)?", re.IGNORECASE)
#: Largest item document read (real items are ~20-60 kB).
ITEM_MAX_BYTES = 16 << 20
_ITEM_FIX = "give a STAC item of a Sentinel-2 Level-2A product (e.g. from Earth Search's sentinel-2-l2a collection)"


def is_stac_item(source: str) -> bool:
    """Whether ``patches build`` should read ``source`` as a STAC item (a URL or a ``.json`` file) not a SAFE."""
    return urlparse(source).scheme in ("http", "https") or source.lower().endswith(".json")


def open_item(source: str) -> L2AProduct:
    """Read and check a STAC item and every band's COG header; raise :class:`ProductError` naming what is
    missing (which asset or property, in which item) and how to fix it."""
    configure_remote_reads()
    item = _load(source)
    props = item.get("properties")
    assets = item.get("assets")
    if item.get("type") != "Feature" or not isinstance(props, dict) or not isinstance(assets, dict):
        raise ProductError("not a STAC item (no Feature with properties and assets)", where=source, fix=_ITEM_FIX)
    product_id = str(props.get("s2:product_uri") or props.get("sentinel:product_id") or "").removesuffix(".SAFE")
    name = ProductName.parse(product_id)
    if name is None:
        raise ProductError(
            f"the item names no Sentinel-2 product (s2:product_uri {product_id[:200]!r}; {GRAMMAR})",
            where=f"{source} properties",
            fix=_ITEM_FIX,
        )
    if name.level != "L2A":
        raise ProductError("this item is a Level-1C product", where=source, fix="use the Level-2A item of the scene")
    if props.get("earthsearch:boa_offset_applied") is True:
        raise ProductError(
            "the catalogue subtracted BOA_ADD_OFFSET from this item's DNs (earthsearch:boa_offset_applied); "
            "patches hold ESA's DNs, which cannot be restored where the catalogue clipped values at 0",
            where=f"{source} properties",
            fix="patch the SAFE of this product (s2lake ingest get), or an item whose COGs keep ESA's DNs",
        )
    by_band = _band_assets(assets, source)
    epsg = _epsg(props, by_band["B02"][1], source)
    grids = {band: _grid(key, asset, props, source) for band, (key, asset) in by_band.items()}
    (ulx, uly), _ = grids["B02"]
    bands = {}
    for layer in ALL_LAYERS:
        key, asset = by_band[layer.name]
        (x, y), shape = grids[layer.name]
        if not isinstance(asset.get("href"), str) or not asset["href"]:
            raise ProductError(f"asset {key!r} has no href", where=f"{source} assets.{key}", fix=_ITEM_FIX)
        band = BandFile(layer.name, layer.resolution, raster_path(asset["href"], source))
        bands[layer.name] = check_cog(band, epsg, x, y, shape)
    sizes = [asset.get("file:size") for _, asset in by_band.values()]
    return L2AProduct(
        source=source,
        product_id=product_id,
        product_name=f"{product_id}.SAFE",
        mission=name.mission,
        processing_level="L2A",
        tile=name.tile,
        epsg=epsg,
        ulx=ulx,
        uly=uly,
        sensing_start=_datetime(props, source),
        datatake=name.datatake,
        processing_baseline=str(props.get("s2:processing_baseline") or name.baseline),
        relative_orbit=int(props.get("sat:relative_orbit") or name.relative_orbit),
        cloud_cover=float(props.get("eo:cloud_cover") or 0.0),
        quantification=10000,
        boa_add_offset={b.name: -1000 if name.baseline >= "04.00" else 0 for b in BANDS},
        bands=bands,
        size_bytes=sum(sizes) if all(isinstance(s, int) for s in sizes) else 0,
    )


def _load(source: str) -> dict[str, Any]:
    """The item document, from a local file or fetched anonymously (no netrc, no auth header) over http(s)."""
    if urlparse(source).scheme in ("http", "https"):
        import requests

        try:
            with requests.get(source, auth=_anonymous, timeout=60, stream=True) as response:
                response.raise_for_status()
                data = response.raw.read(ITEM_MAX_BYTES + 1, decode_content=True)
        except requests.RequestException as exc:
            raise ProductError(
                f"cannot fetch the STAC item ({exc})", where=source, fix="check the URL and the network"
            ) from None
    else:
        path = Path(source)
        if not path.is_file():
            raise ProductError("STAC item not found", where=source, fix="check the path")
        with path.open("rb") as fh:
            data = fh.read(ITEM_MAX_BYTES + 1)
    if len(data) > ITEM_MAX_BYTES:
        raise ProductError(f"the STAC item is larger than {ITEM_MAX_BYTES >> 20} MB", where=source, fix=_ITEM_FIX)
    try:
        item = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProductError(f"the STAC item is not valid JSON ({exc})", where=source, fix=_ITEM_FIX) from None
    if not isinstance(item, dict):
        raise ProductError("the STAC item is not a JSON object", where=source, fix=_ITEM_FIX)
    return item


def _anonymous(request: Any) -> Any:
    """A requests auth hook that adds nothing: passing it stops requests from adding ``~/.netrc`` credentials."""
    return request


def _band_of(key: str, asset: dict[str, Any]) -> str | None:
    """The ESA band an asset holds at its native resolution (by key, then by its single eo:bands name)."""
    if key.lower() in COMMON_NAMES:
        return COMMON_NAMES[key.lower()]
    match = _BAND_KEY.fullmatch(key)
    if match is None:
        eo = asset.get("eo:bands")
        names = [b.get("name") for b in eo] if isinstance(eo, list) else []
        match = _BAND_KEY.fullmatch(names[0]) if len(names) == 1 and isinstance(names[0], str) else None
        if match is None or match["res"]:
            return None
    layer = BANDS_BY_NAME.get(match["band"].upper())
    if layer is None or (match["res"] and int(match["res"]) != layer.resolution):
        return None  # B10 (L1C only) or a resampled copy
    return layer.name


def _band_assets(assets: dict[str, Any], source: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each of the 13 layers -> (asset key, asset): a GeoTIFF at the band's native resolution."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    other_formats: dict[str, str] = {}
    for key, asset in assets.items():
        if not isinstance(asset, dict) or "data" not in asset.get("roles", ["data"]):
            continue
        band = _band_of(key, asset)
        if band is None or band in found:
            continue
        media = str(asset.get("type", "image/tiff"))
        if media.startswith("image/tiff"):
            found[band] = (key, asset)
        else:
            other_formats[band] = f"{key} ({media})"
    missing = [layer.name for layer in ALL_LAYERS if layer.name not in found]
    if missing:
        offered = [other_formats[b] for b in missing if b in other_formats]
        raise ProductError(
            f"the item has no COG asset for band(s) {', '.join(missing)}"
            + (f"; only {', '.join(offered)}" if offered else ""),
            where=f"{source} assets",
            fix="patches need the 12 bands and SCL as GeoTIFF assets, keyed by band id (B02, SCL) or common "
            "name (blue, scl); use a catalogue that serves COGs (Earth Search sentinel-2-l2a), or patch the SAFE",
        )
    return found


def _epsg(props: dict[str, Any], asset: dict[str, Any], source: str) -> int:
    for holder in (asset, props):
        if isinstance(holder.get("proj:epsg"), int):
            return holder["proj:epsg"]
        code = holder.get("proj:code")
        if isinstance(code, str) and (match := re.fullmatch(r"EPSG:(\d+)", code)):
            return int(match[1])
    raise ProductError(
        "the item has no proj:epsg (or proj:code EPSG:<n>) in its properties or B02 asset",
        where=f"{source} properties",
        fix="use an item with the STAC projection extension (every Sentinel-2 L2A catalogue writes it)",
    )


def _grid(key: str, asset: dict[str, Any], props: dict[str, Any], source: str) -> tuple[tuple[float, float], tuple]:
    """((ulx, uly), (rows, cols)) of an asset from its proj:transform and proj:shape (asset, else item)."""
    transform = asset.get("proj:transform", props.get("proj:transform"))
    shape = asset.get("proj:shape", props.get("proj:shape"))
    if not (isinstance(transform, list) and len(transform) >= 6 and isinstance(shape, list) and len(shape) == 2):
        raise ProductError(
            f"asset {key!r} has no usable proj:transform and proj:shape",
            where=f"{source} assets.{key}",
            fix="use an item with the STAC projection extension on its band assets (proj:transform, proj:shape)",
        )
    return (float(transform[2]), float(transform[5])), (int(shape[0]), int(shape[1]))


def _datetime(props: dict[str, Any], source: str) -> datetime:
    try:
        when = datetime.fromisoformat(str(props.get("datetime") or props.get("start_datetime")))
    except ValueError:
        raise ProductError(
            "the item has no valid datetime", where=f"{source} properties.datetime", fix=_ITEM_FIX
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
