"""GeoParquet 1.1 reference tables: spatially sorted, with a bbox covering column, replaced atomically.

Why this layout: the join engines (SedonaDB, Sedona on Spark, DuckDB) prune Parquet row groups by
the ``bbox`` covering column's statistics. Pruning only pays off when neighbouring polygons share
row groups, so rows are written in Hilbert-curve order of their bounding-box centres and row groups
are kept modest (``ROW_GROUP_ROWS``): a patch then touches a handful of row groups, not all of them.

A table is written into a temporary folder beside its final place and swapped in with two renames,
so readers never see a half-written table and a failed load leaves the previous table untouched. On an
``hdfs://`` warehouse the file is written on the local disk first and uploaded into that temporary folder
(hdfs-native, see :mod:`s2lake.warehouse_fs`); the renames are then HDFS renames, atomic on the NameNode.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from pyproj import CRS

from s2lake.errors import ReferenceDataError
from s2lake.warehouse import Warehouse
from s2lake.warehouse_fs import arrow_fs, fsspec_fs
from sedona_jobs.reference.layers import LAYERS, TARGET_EPSG

ROW_GROUP_ROWS = 8192
DATA_FILE = "part-00000.parquet"
MANIFEST = "_manifest.json"


def reference_dir(warehouse: Warehouse, name: str) -> str:
    """The folder of reference table ``name``: a local path or a URI."""
    return warehouse.reference_uri(name)


def write_table(gdf: Any, warehouse: Warehouse, name: str, manifest: dict[str, Any]) -> str:
    """Write a GeoDataFrame (EPSG:3035) as a sorted GeoParquet 1.1 table and swap it into place."""
    fs, final = fsspec_fs(reference_dir(warehouse, name))
    parent = final.rsplit("/", 1)[0]
    fs.makedirs(parent, exist_ok=True)
    staging = f"{parent}/.{name}.staging-{uuid.uuid4().hex[:8]}"
    try:
        if warehouse.is_local:
            Path(staging).mkdir()
            _write_files(gdf, Path(staging), manifest)
        else:
            with tempfile.TemporaryDirectory(prefix="s2lake-reference-") as scratch:
                _write_files(gdf, Path(scratch), manifest)
                fs.put(scratch, staging, recursive=True)
        old = f"{parent}/.{name}.old-{uuid.uuid4().hex[:8]}"
        if fs.exists(final):
            fs.mv(final, old)
        fs.mv(staging, final)
        with contextlib.suppress(OSError):
            fs.rm(old, recursive=True)
    except BaseException:
        with contextlib.suppress(OSError):
            fs.rm(staging, recursive=True)
        raise
    return f"{reference_dir(warehouse, name)}/{DATA_FILE}"


def _write_files(gdf: Any, folder: Path, manifest: dict[str, Any]) -> None:
    if len(gdf):
        order = gdf.geometry.hilbert_distance(level=16).to_numpy().argsort(kind="stable")
        gdf = gdf.iloc[order].reset_index(drop=True)
    gdf.to_parquet(
        folder / DATA_FILE,
        index=False,
        schema_version="1.1.0",
        write_covering_bbox=True,
        row_group_size=ROW_GROUP_ROWS,
        compression="zstd",
    )
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")


def table_exists(warehouse: Warehouse, name: str) -> bool:
    fs, folder = fsspec_fs(reference_dir(warehouse, name))
    return fs.isfile(f"{folder}/{DATA_FILE}")


def require_table(warehouse: Warehouse, name: str) -> str:
    """The data file of a reference table (path or URI), after checking it exists, is non-empty and is
    EPSG:3035."""
    folder = reference_dir(warehouse, name)
    data = f"{folder}/{DATA_FILE}"
    layer = LAYERS[name]
    if not table_exists(warehouse, name):
        raise ReferenceDataError(
            f"reference table `{name}` ({layer.title}) is missing",
            where=folder,
            fix=f"load it with `s2lake reference load {name} PATH` (download: {layer.where_to_get}) "
            f"or generate one with `s2lake reference synth {name}`",
        )
    fs, path = arrow_fs(data)
    with fs.open_input_file(path) as source:
        meta = pq.read_metadata(source)
    if meta.num_rows == 0:
        raise ReferenceDataError(
            f"reference table `{name}` is empty",
            where=data,
            fix=f"reload it from a non-empty source with `s2lake reference load {name} PATH`",
        )
    geo = json.loads((meta.metadata or {}).get(b"geo", b"{}"))
    column = geo.get("columns", {}).get("geometry")
    if column is None:
        raise ReferenceDataError(
            f"reference table `{name}` has no GeoParquet geometry column",
            where=data,
            fix=f"write it with `s2lake reference load {name} PATH`, not by hand",
        )
    epsg = _epsg_of(column.get("crs"))
    if epsg != TARGET_EPSG:
        raise ReferenceDataError(
            f"reference table `{name}` is in {('EPSG:' + str(epsg)) if epsg else 'an unknown CRS'}, "
            f"the joins need EPSG:{TARGET_EPSG}",
            where=data,
            fix=f"reload it with `s2lake reference load {name} PATH`, which reprojects or rejects the source",
        )
    return data


def _epsg_of(crs: Any) -> int | None:
    if crs is None:
        return 4326  # GeoParquet: a missing crs means OGC:CRS84

    try:
        return CRS.from_user_input(crs).to_epsg()
    except Exception:
        return None
