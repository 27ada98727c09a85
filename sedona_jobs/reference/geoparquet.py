"""GeoParquet 1.1 reference tables: spatially sorted, with a bbox covering column, replaced atomically.

Why this layout: the join engines (SedonaDB, Sedona on Spark, DuckDB) prune Parquet row groups by
the ``bbox`` covering column's statistics. Pruning only pays off when neighbouring polygons share
row groups, so rows are written in Hilbert-curve order of their bounding-box centres and row groups
are kept modest (``ROW_GROUP_ROWS``): a patch then touches a handful of row groups, not all of them.

A table is written into a temporary folder beside its final place and swapped in with two renames,
so readers never see a half-written table and a failed load leaves the previous table untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from s2lake.errors import ReferenceDataError, WarehouseError
from s2lake.warehouse import Warehouse
from sedona_jobs.reference.layers import LAYERS, TARGET_EPSG

ROW_GROUP_ROWS = 8192
DATA_FILE = "part-00000.parquet"
MANIFEST = "_manifest.json"


def reference_dir(warehouse: Warehouse, name: str) -> Path:
    if not warehouse.is_local:
        raise WarehouseError(
            f"reference tables are written to local warehouses only, not {warehouse.root}",
            fix="load reference tables into a local warehouse and copy the folder to the object store",
        )
    return Path(warehouse.reference_uri(name))


def write_table(gdf: Any, warehouse: Warehouse, name: str, manifest: dict[str, Any]) -> Path:
    """Write a GeoDataFrame (EPSG:3035) as a sorted GeoParquet 1.1 table and swap it into place."""
    final = reference_dir(warehouse, name)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = final.parent / f".{name}.staging-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        if len(gdf):
            order = gdf.geometry.hilbert_distance(level=16).to_numpy().argsort(kind="stable")
            gdf = gdf.iloc[order].reset_index(drop=True)
        gdf.to_parquet(
            staging / DATA_FILE,
            index=False,
            schema_version="1.1.0",
            write_covering_bbox=True,
            row_group_size=ROW_GROUP_ROWS,
            compression="zstd",
        )
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
        old = final.parent / f".{name}.old-{uuid.uuid4().hex[:8]}"
        if final.exists():
            os.rename(final, old)
        os.rename(staging, final)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final / DATA_FILE


def require_table(warehouse: Warehouse, name: str) -> Path:
    """The data file of a reference table, after checking it exists, is non-empty and is EPSG:3035."""
    folder = reference_dir(warehouse, name)
    data = folder / DATA_FILE
    layer = LAYERS[name]
    if not data.is_file():
        raise ReferenceDataError(
            f"reference table `{name}` ({layer.title}) is missing",
            where=str(folder),
            fix=f"load it with `s2lake reference load {name} PATH` (download: {layer.where_to_get}) "
            f"or generate one with `s2lake reference synth {name}`",
        )
    meta = pq.read_metadata(data)
    if meta.num_rows == 0:
        raise ReferenceDataError(
            f"reference table `{name}` is empty",
            where=str(data),
            fix=f"reload it from a non-empty source with `s2lake reference load {name} PATH`",
        )
    geo = json.loads((meta.metadata or {}).get(b"geo", b"{}"))
    column = geo.get("columns", {}).get("geometry")
    if column is None:
        raise ReferenceDataError(
            f"reference table `{name}` has no GeoParquet geometry column",
            where=str(data),
            fix=f"write it with `s2lake reference load {name} PATH`, not by hand",
        )
    epsg = _epsg_of(column.get("crs"))
    if epsg != TARGET_EPSG:
        raise ReferenceDataError(
            f"reference table `{name}` is in {('EPSG:' + str(epsg)) if epsg else 'an unknown CRS'}, "
            f"the joins need EPSG:{TARGET_EPSG}",
            where=str(data),
            fix=f"reload it with `s2lake reference load {name} PATH`, which reprojects or rejects the source",
        )
    return data


def _epsg_of(crs: Any) -> int | None:
    if crs is None:
        return 4326  # GeoParquet: a missing crs means OGC:CRS84
    from pyproj import CRS

    try:
        return CRS.from_user_input(crs).to_epsg()
    except Exception:
        return None
