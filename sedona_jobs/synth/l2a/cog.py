"""The same product as Cloud-optimised GeoTIFFs plus a STAC item, as STAC catalogues serve Level-2A today.

Written from a SAFE the synthesiser made (its native bands decoded and re-encoded losslessly), so
both forms of one product hold the same pixels and the patches built from either must be equal.
The layout follows Earth Search's ``sentinel-2-l2a`` collection: one COG per band (DEFLATE with
horizontal differencing, 512 px internal tiles, overviews), asset keys by common name (``blue``,
``nir08``, ``scl``), product facts in the item's properties and each band's grid in its asset's
``proj:transform``/``proj:shape``. Asset hrefs are relative, so the folder can be served as it is.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyproj
import rasterio
import shapely
import shapely.geometry

from s2lake.sentinel2 import ALL_LAYERS
from sedona_jobs.patches.stac_item import COMMON_NAMES
from sedona_jobs.safe import L2AProduct, open_product

#: COG creation options (GDAL COG driver): what Earth Search uses, tiles small enough that a patch strip
#: fetches little beyond itself.
COG_OPTIONS = {"COMPRESS": "DEFLATE", "PREDICTOR": "2", "BLOCKSIZE": "512", "OVERVIEWS": "AUTO"}


def write_cog_item(safe: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write ``<product_id>_COG/`` (13 COGs + ``<product_id>.json``) next to ``safe`` (or in ``out_dir``);
    return the item's path. Assembled in a hidden folder and renamed at the end, like the SAFE."""
    product = open_product(safe)
    out = Path(out_dir) if out_dir is not None else Path(safe).parent
    final = out / f"{product.product_id}_COG"
    staging = out / f".{final.name}.partial-{os.getpid()}"
    staging.mkdir(parents=True)
    try:
        assets = {key: _write_cog(product, band, staging) for key, band in _keys().items()}
        item = _item(product, assets)
        (staging / f"{product.product_id}.json").write_text(json.dumps(item, indent=1))
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final / f"{product.product_id}.json"


def _keys() -> dict[str, str]:
    """Asset key (common name) -> band, in the patch layers' order."""
    by_band = {band: key for key, band in COMMON_NAMES.items()}
    return {by_band[layer.name]: layer.name for layer in ALL_LAYERS}


def _write_cog(product: L2AProduct, band: str, folder: Path) -> dict[str, object]:
    path = folder / f"{band}.tif"
    with rasterio.open(product.bands[band].path) as src:
        data = src.read(1)
        profile = {
            "driver": "COG",
            "width": src.width,
            "height": src.height,
            "count": 1,
            "dtype": "uint16",
            "crs": src.crs,
            "transform": src.transform,
            "nodata": 0,
            **COG_OPTIONS,
        }
        transform = src.transform
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
    return {
        "href": f"./{path.name}",
        "type": "image/tiff; application=geotiff; profile=cloud-optimized",
        "roles": ["data"],
        "eo:bands": [{"name": band}],
        "gsd": product.bands[band].resolution,
        "proj:shape": list(data.shape),
        "proj:transform": [transform.a, transform.b, transform.c, transform.d, transform.e, transform.f],
        "file:size": path.stat().st_size,
    }


def _item(product: L2AProduct, assets: dict[str, dict[str, object]]) -> dict[str, object]:
    rows, cols = product.bands["B02"].shape
    box = shapely.box(product.ulx, product.uly - rows * 10, product.ulx + cols * 10, product.uly)
    to_wgs84 = pyproj.Transformer.from_crs(product.epsg, 4326, always_xy=True)
    lonlat = shapely.transform(box, lambda xy: np.column_stack(to_wgs84.transform(xy[:, 0], xy[:, 1])))
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": [
            "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
            "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
            "https://stac-extensions.github.io/file/v2.1.0/schema.json",
        ],
        "id": product.product_id,
        "collection": "sentinel-2-l2a",
        "bbox": list(lonlat.bounds),
        "geometry": shapely.geometry.mapping(lonlat),
        "properties": {
            "datetime": product.sensing_start.isoformat().replace("+00:00", "Z"),
            "platform": f"sentinel-2{product.mission[-1].lower()}",
            "constellation": "sentinel-2",
            "eo:cloud_cover": product.cloud_cover,
            "proj:epsg": product.epsg,
            "mgrs:utm_zone": int(product.tile[:2]),
            "mgrs:latitude_band": product.tile[2],
            "mgrs:grid_square": product.tile[3:],
            "s2:product_uri": product.product_name,
            "s2:processing_baseline": product.processing_baseline,
            "sat:relative_orbit": product.relative_orbit,
        },
        "links": [],
        "assets": assets,
    }
