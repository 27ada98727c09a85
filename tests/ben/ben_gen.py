"""A warehouse holding a generated BigEarthNet dataset as `s2lake ben import` lands it: the `patches` table
(same schema as SAFE-derived patches, no SCL), `ben_metadata` and `reference_map_polygons` in the import's
schemas (s2lake/tables/schemas.py), and none of the SAFE path's tables (products, label tables). Written
directly with deltalake, so the marts' edge cases need no files: tests/ben/test_report_dataset.py runs the
real import over generated and real files.

Injected defects: wrong-size bands, NO_DATA pixels, patches without a metadata row, a metadata row without
labels, footprints overlapping across places (one patch shifted by half a patch) besides the same-place
dates; a few patches without metadata carry SCL scene classes, as SAFE-derived ones do.
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import shapely
from deltalake import write_deltalake

from s2lake.sentinel2 import SCL_CLASSES
from s2lake.tables.schemas import BEN_METADATA, PATCHES, REFERENCE_MAP_POLYGONS
from s2lake.warehouse import Warehouse
from sedona_jobs.synth.warehouse import CLC, generate

BEN19 = sorted({c[2] for c in CLC if c[2] is not None})


@dataclass
class BenDataset:
    warehouse: Warehouse
    patches: pa.Table
    metadata: pa.Table
    reference: pa.Table
    stats_list: Path
    not_in_metadata: set[str]


def generate_ben(root: Path, tiles: int = 3, grid: int = 8, seed: int = 11) -> BenDataset:
    rng = np.random.default_rng(seed)
    warehouse = Warehouse.at(root / "warehouse")
    base = generate(warehouse, tiles=tiles, grid=grid, dates_per_tile=(2, 1), seed=seed, defect_rate=0.04, write=False)
    rows = base.tables["patches"].to_pylist()
    ids = [r["patch_id"] for r in rows]
    n = len(rows)
    missing = set(rng.choice(ids, size=max(2, n // 25), replace=False))
    with_scl = [pid for pid in ids if pid in missing][: len(missing) // 2 + 1]
    scl_names = list(SCL_CLASSES.values())
    for i, r in enumerate(rows):
        r["band_stats"] = [s for s in r["band_stats"] if s["band"] != "SCL"]  # BigEarthNet ships no SCL
        r["product_id"] = r["patch_id"].rsplit("_", 2)[0]
        if r["patch_id"] in with_scl:
            r["scene_classes"] = sorted(rng.choice(scl_names, size=int(rng.integers(1, 5)), replace=False))
        if i == 5:  # shifted by half a patch: overlaps its right neighbour's interior
            r["ulx"] += 600.0
            r["lrx"] += 600.0
        r["footprint"] = shapely.box(r["ulx"], r["lry"], r["lrx"], r["uly"]).wkb
    patches = pa.Table.from_pylist(rows, schema=PATCHES.schema)
    listed = [pid for pid in ids if pid not in missing]
    label_sets = [sorted(rng.choice(BEN19, size=int(rng.integers(1, 6)), replace=False)) for _ in listed]
    label_sets[0] = []  # a metadata row without labels
    n_listed = len(listed)
    metadata = pa.table(
        {
            "patch_id": listed,
            "source": ["metadata.parquet"] * n_listed,
            "v1_name": [f"S2v1_{i}" for i in range(n_listed)],
            "labels": label_sets,
            "clc_codes": [None] * n_listed,
            "ben19_labels": label_sets,
            "unknown_labels": [[]] * n_listed,
            "split": rng.choice(["train", "validation", "test"], size=len(listed)),
            "country": rng.choice(["Austria", "Portugal", "Finland"], size=len(listed)),
            "s1_name": [f"S1_{i}" for i in range(len(listed))],
            "contains_seasonal_snow": rng.uniform(size=len(listed)) < 0.1,
            "contains_cloud_or_shadow": rng.uniform(size=len(listed)) < 0.2,
            "source_path": ["metadata.parquet"] * n_listed,
        },
    )
    metadata = pa.table(
        {
            f.name: metadata[f.name] if f.name in metadata.column_names else pa.nulls(n_listed, f.type)
            for f in BEN_METADATA.schema
        }
    ).cast(BEN_METADATA.schema)
    codes = [int(c[0]) for c in CLC] + [999]
    ref_rows = []
    for r in rows[: n - 3]:  # a few patches without a reference map
        for code in rng.choice(codes, size=int(rng.integers(1, 5)), replace=False):
            box = shapely.box(r["ulx"], r["lry"], r["ulx"] + 600, r["lry"] + 600)
            ref_rows.append((r["patch_id"], str(code), 0, box.wkb, r["epsg"], "geoparquet"))
    box = shapely.box(rows[0]["ulx"], rows[0]["lry"], rows[0]["ulx"] + 10, rows[0]["lry"] + 10).wkb
    ref_rows.append((rows[0]["patch_id"], "122", 0, box, rows[0]["epsg"], "geoparquet"))  # roads: no 19-class label
    reference = pa.table(
        {name: [row[i] for row in ref_rows] for i, name in enumerate(REFERENCE_MAP_POLYGONS.schema.names)},
        schema=REFERENCE_MAP_POLYGONS.schema,
    )
    write_deltalake(warehouse.table_uri("patches"), patches, partition_by=["tile"])
    write_deltalake(warehouse.table_uri("ben_metadata"), metadata)
    write_deltalake(warehouse.table_uri("reference_map_polygons"), reference)
    stats_list = root / "stats-list.csv.gz"
    chosen = [*rng.choice(ids, size=n // 3, replace=False), ids[0]]  # a duplicate counts once
    with gzip.open(stats_list, "wt", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["patch_id"])
        writer.writerows([pid] for pid in chosen)
    return BenDataset(warehouse, patches, metadata, reference, stats_list, missing)
