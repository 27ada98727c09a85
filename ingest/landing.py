"""Landing verified products under the warehouse's ``landing/`` and in the ``products`` Delta table.

Files go through fsspec (HDFS through hdfs-native, no JVM: :mod:`s2lake.warehouse_fs`), so the landing zone
can be local, HDFS or S3. On a local warehouse the SAFE folder is moved into place with one rename; on a
remote one it is uploaded under a hidden name beside its place and then renamed, so a half-copied product
never looks landed.
"""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
from shapely import wkt as shapely_wkt

from ingest.products import Product
from ingest.state import ProductState
from s2lake.contained_paths import inside, inside_uri
from s2lake.errors import S2LakeError
from s2lake.product_names import ProductName
from s2lake.tables.schemas import PRODUCTS
from s2lake.tables.store import TableStore
from s2lake.tiling_grid import tile_info
from s2lake.warehouse import Warehouse
from s2lake.warehouse_fs import fsspec_fs


def land_tree(warehouse: Warehouse, staged: Path, name: str) -> str:
    """Move a staged file or folder to ``landing/<name>``; return its URI.

    ``name`` is a product name (``….SAFE`` or ``….zip``) and the landed copy replaces an older one, so
    both the grammar and the containment in ``landing/`` are proven before anything is removed or moved.
    """
    ProductName.require(name, where=f"landing a product into {warehouse.landing_uri}")
    if warehouse.is_local:
        dest = inside(warehouse.landing_uri, name)
        target = str(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.is_dir():
            shutil.rmtree(dest)  # a product landed again replaces the old copy
        elif dest.exists():
            dest.unlink()
        staged.replace(dest)
        return target
    target = inside_uri(warehouse.landing_uri, name)
    fs, path = fsspec_fs(target)
    _, partial = fsspec_fs(inside_uri(warehouse.landing_uri, f".{name}.partial-{uuid.uuid4().hex[:8]}"))
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    try:
        fs.put(str(staged), partial, recursive=staged.is_dir())
        if fs.exists(path):
            fs.rm(path, recursive=True)
        # A rename on HDFS; a copy then delete elsewhere (fsspec's default mv), which needs recursive for a folder.
        fs.mv(partial, path, recursive=staged.is_dir())
    except BaseException:
        if fs.exists(partial):
            fs.rm(partial, recursive=True)
        raise
    if staged.is_dir():
        shutil.rmtree(staged)
    else:
        staged.unlink()
    return target


def _epsg(tile: str | None) -> int | None:
    """EPSG code of the tile's UTM zone, from the ESA tiling grid (None for unknown tiles)."""
    if not tile:
        return None

    try:
        return tile_info(tile).epsg
    except (KeyError, ValueError, S2LakeError):
        return None


def warm_product_rows(products: list[Product]) -> None:
    """Build (and drop) a first row now: the first :func:`product_rows` reads the tiling grid and makes
    pyarrow import pandas for time-zone-aware timestamps, seconds on a busy machine. A run calls this on a
    background thread while its transfers go on, so its final commit does not wait for them."""
    for product in products[:1]:
        product_rows([ProductState(product, "queued", None, 0, None, None)])


def product_rows(states: list[ProductState]) -> pa.Table:
    """Rows of the ``products`` table for products that landed or failed."""
    now = datetime.now(UTC)
    rows = []
    for state in states:
        product: Product = state.product
        parts = ProductName.parse(product.product_id)
        offer = product.offers.get(state.mirror or "") or next(iter(product.offers.values()), None)
        footprint = shapely_wkt.loads(product.footprint_wkt).wkb if product.footprint_wkt else None
        rows.append(
            {
                "product_id": product.product_id,
                "product_name": product.name,
                "mission": product.mission,
                "processing_level": product.level,
                "tile": product.tile,
                "epsg": _epsg(product.tile),
                "sensing_start": product.sensing_start,
                "processing_baseline": parts.baseline if parts else None,
                "relative_orbit": parts.relative_orbit if parts else None,
                "cloud_cover": product.cloud_cover,
                "size_bytes": (offer.size if offer and offer.size else product.size),
                "checksum": offer.checksum if offer else None,
                "checksum_algorithm": offer.checksum_algorithm if offer else None,
                "footprint": footprint,
                "mirrors": sorted(product.offers),
                "storage_path": state.storage_path,
                "status": state.status,
                "status_reason": state.reason or "",
                "patch_count": None,
                "fetched": state.fetched,
                "fetched_files": state.fetched_files,
                "fetched_bytes": state.fetched_bytes,
                "ingestion_time": now,
            }
        )
    return pa.Table.from_pylist(rows, schema=PRODUCTS.schema)


def upsert_products(warehouse: Warehouse, states: list[ProductState]) -> int:
    """Upsert landed/failed products into the ``products`` table in one commit; return the row count."""
    if not states:
        return 0
    TableStore(warehouse).upsert(PRODUCTS, product_rows(states))
    return len(states)


def known_products(warehouse: Warehouse) -> set[str]:
    """Products already landed (or patched) in the warehouse: a scheduled run skips them."""
    store = TableStore(warehouse)
    if store.open(PRODUCTS.name) is None:
        return set()
    table = store.read(PRODUCTS.name, columns=["product_id", "status"])
    rows = zip(table["product_id"].to_pylist(), table["status"].to_pylist(), strict=True)
    return {pid for pid, status in rows if status != "failed"}
