"""Benchmark of the land-cover join: SedonaDB vs DuckDB spatial vs geopandas, side by side in one run.

Workload (generated once, cached under ``bench/out/labels/``):

* >= 1,000,000 CLC-like polygons (``sedona_jobs.reference.synth_clc``) over a 1000 km x 1000 km box
  in EPSG:3035, stored exactly as `s2lake reference load` stores CLC (sorted GeoParquet 1.1);
* >= 100,000 patches: every 1200 m patch of 13 real Sentinel-2 tiles (UTM zones 32 and 33, tiles
  overlapping by 9.8 km), stored in a Delta ``patches`` table without pixels.

Each engine runs in its own child process (so its peak memory is its own) and does the same work:
transform footprints UTM -> EPSG:3035, intersect with CLC, sum areas per patch and class.

* ``sedonadb``: s2lake's own land-cover SQL (``sql/labels_patch_landcover.sql``), whose areas come
  from ``S2L_ClipArea`` (convex clip, no overlay); ``sedonadb_all_tables``: the whole `labels build`
  computation (land cover + country + overlaps);
* ``sedonadb_geos``, ``duckdb``, ``geopandas``: the textbook ``ST_Area(ST_Intersection(...))``, a GEOS
  overlay per pair, on SedonaDB, DuckDB spatial and geopandas/shapely.

Printed: seconds, patches/s, ratio to geopandas, peak RSS, and a check that the engines agree on the
total area.

    uv run python bench/labels.py                      # full size
    uv run python bench/labels.py --polygons 100000 --tiles 2   # quick look
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOAL = 26_700  # patches/s: 1000x the seeds' PostGIS rate (~1,600 patches/min)
ENGINES = ("sedonadb", "sedonadb_all_tables", "sedonadb_geos", "duckdb", "geopandas")
#: The textbook land-cover join, one GEOS overlay per (patch, polygon) pair: what SedonaDB, DuckDB and
#: geopandas users write (``patches``: patch_id + geom in EPSG:3035; ``clc``: code_18 + geometry).
GEOS_LANDCOVER = """
    SELECT * FROM (
        SELECT p.patch_id, c.code_18 AS clc_code, SUM(ST_Area(ST_Intersection(p.geom, c.geometry))) AS area_m2
        FROM {patches} AS p JOIN {clc} AS c ON ST_Intersects(p.geom, c.geometry)
        GROUP BY p.patch_id, c.code_18
    ) WHERE area_m2 > 0
"""
#: Tiles around 33UUU (Brandenburg / Saxony-Anhalt / Thuringia), zones 32 and 33.
TILE_BOX_LONLAT = (10.0, 50.3, 13.8, 53.3)
CLC_BOX_SIZE_M = 1_000_000


def _peak_mb() -> float:
    """Peak resident memory of this process. VmHWM, because Linux carries ru_maxrss over exec()
    from the parent (which may have generated a million polygons before starting this child)."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare(workdir: Path, polygons: int, tiles: int) -> dict:
    """Build (or reuse) the warehouse with patches and the CLC-like reference table."""
    import pyarrow.parquet as pq
    import shapely

    from s2lake.sentinel2 import PATCH_SIZE_M, PATCHES_PER_EDGE
    from s2lake.tables.schemas import PATCHES
    from s2lake.tables.store import TableStore
    from s2lake.tiling_grid import tile_info, tiles_intersecting
    from s2lake.warehouse import Warehouse
    from sedona_jobs.labels.demo_labels import patches_bbox_3035
    from sedona_jobs.labels.patch_rows import patch_table
    from sedona_jobs.reference import load_reference, write_synthetic
    from sedona_jobs.reference.layers import SHIPPED_COUNTRIES
    from sedona_jobs.synth.reference_layers import synth_clc

    warehouse = Warehouse.at(workdir / "warehouse")
    store = TableStore(warehouse)
    names = tiles_intersecting(shapely.box(*TILE_BOX_LONLAT))[:tiles]
    want = len(names) * PATCHES_PER_EDGE**2
    if store.open("patches") is None or store.count("patches") != want:
        rows = []
        for name in names:
            info = tile_info(name)
            for r in range(PATCHES_PER_EDGE):
                for c in range(PATCHES_PER_EDGE):
                    rows.append((f"BENCH_T{name}_{c}_{r}", name, info.epsg, info.ulx + c * PATCH_SIZE_M,
                                 info.uly - r * PATCH_SIZE_M))  # fmt: skip
        store.overwrite(PATCHES, patch_table(rows))
    clc_file = Path(warehouse.reference_uri("clc")) / "part-00000.parquet"
    if not clc_file.is_file() or pq.read_metadata(clc_file).num_rows < polygons:
        x0, y0, x1, y1 = patches_bbox_3035(warehouse, margin_m=0)
        cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, CLC_BOX_SIZE_M / 2
        bbox = (cx - half, cy - half, cx + half, cy + half)
        started = time.perf_counter()
        gdf = synth_clc(bbox, polygons, vertices=32, seed=11)
        print(f"generated {len(gdf):,} CLC-like polygons in {time.perf_counter() - started:.0f} s", flush=True)
        write_synthetic(gdf, warehouse, "clc", bbox=bbox, count=polygons, vertices=32, seed=11)
        del gdf
    if not (Path(warehouse.reference_uri("countries")) / "part-00000.parquet").is_file():
        load_reference("countries", SHIPPED_COUNTRIES, warehouse)
    return {
        "warehouse": warehouse.root,
        "tiles": names,
        "patches": store.count("patches"),
        "polygons": pq.read_metadata(clc_file).num_rows,
        "clc": str(clc_file),
    }


def run_sedonadb(setup: dict) -> dict:
    from sedona_jobs.labels.sql_files import read_sql

    return _sedonadb_landcover(setup, read_sql("labels_patch_landcover"))


def run_sedonadb_geos(setup: dict) -> dict:
    return _sedonadb_landcover(setup, GEOS_LANDCOVER.format(patches="patch_geoms", clc="clc"))


def _sedonadb_landcover(setup: dict, sql: str) -> dict:
    """The label job's inputs (patches read and reprojected, CLC windowed), then ``sql`` on them."""
    from s2lake.warehouse import Warehouse
    from sedona_jobs.labels.build import register_inputs
    from sedona_jobs.labels.engines import SedonaDBEngine

    started = time.perf_counter()
    engine = SedonaDBEngine()
    register_inputs(Warehouse.at(setup["warehouse"]), engine, country_source="countries")
    table = engine.query(sql)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": table.num_rows, "area_km2": _area_km2(table.column("area_m2"))}


def run_sedonadb_all_tables(setup: dict) -> dict:
    from s2lake.warehouse import Warehouse
    from sedona_jobs.labels.build import compute_labels
    from sedona_jobs.labels.engines import SedonaDBEngine

    started = time.perf_counter()
    tables, report = compute_labels(Warehouse.at(setup["warehouse"]), SedonaDBEngine(), country_source="countries")
    seconds = time.perf_counter() - started
    landcover = tables["patch_landcover"]
    return {
        "seconds": seconds,
        "rows": landcover.num_rows,
        "area_km2": _area_km2(landcover.column("area_m2")),
        "overlap_pairs": report.overlap_pairs,
    }


def run_duckdb(setup: dict) -> dict:
    from s2lake.duckdb_session import connect
    from s2lake.tables.store import TableStore
    from s2lake.warehouse import Warehouse
    from sedona_jobs.labels.engines import PATCH_COLUMNS

    started = time.perf_counter()
    con = connect()
    patches = TableStore(Warehouse.at(setup["warehouse"])).read("patches", columns=PATCH_COLUMNS)
    con.register("patches_in", patches)
    clc = setup["clc"].replace("'", "''")
    footprints = """
        WITH footprints AS (
            SELECT patch_id,
                   ST_Transform(ST_GeomFromWKB(footprint), 'EPSG:' || epsg, 'EPSG:3035', always_xy := true) AS geom
            FROM patches_in
        )
    """
    table = con.sql(
        footprints + GEOS_LANDCOVER.format(patches="footprints", clc=f"read_parquet('{clc}')")
    ).fetch_arrow_table()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": table.num_rows, "area_km2": _area_km2(table.column("area_m2"))}


def run_geopandas(setup: dict) -> dict:
    import geopandas as gpd
    import numpy as np
    import shapely

    from s2lake.tables.store import TableStore
    from s2lake.warehouse import Warehouse

    started = time.perf_counter()
    patches = TableStore(Warehouse.at(setup["warehouse"])).read("patches", columns=["patch_id", "epsg", "footprint"])
    epsg = np.asarray(patches.column("epsg"))
    geoms = shapely.from_wkb(np.asarray(patches.column("footprint").to_pylist(), dtype=object))
    parts = []
    for code in np.unique(epsg):
        mask = epsg == code
        ids = np.asarray(patches.column("patch_id").to_pylist(), dtype=object)[mask]
        parts.append(gpd.GeoDataFrame({"patch_id": ids}, geometry=geoms[mask], crs=int(code)).to_crs(3035))
    left = gpd.GeoDataFrame(
        {"patch_id": np.concatenate([p.patch_id.to_numpy() for p in parts])},
        geometry=np.concatenate([p.geometry.values for p in parts]),
        crs=3035,
    )
    clc = gpd.read_parquet(setup["clc"], columns=["code_18", "geometry"])
    li, ri = clc.sindex.query(left.geometry.values, predicate="intersects")
    area = shapely.area(shapely.intersection(left.geometry.values[li], clc.geometry.values[ri]))
    frame = gpd.pd.DataFrame({"patch_id": left.patch_id.values[li], "clc_code": clc.code_18.values[ri], "a": area})
    grouped = frame.groupby(["patch_id", "clc_code"], sort=False)["a"].sum()
    grouped = grouped[grouped > 0]
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": len(grouped), "area_km2": float(grouped.sum()) / 1e6}


def _area_km2(column) -> float:
    import pyarrow.compute as pc

    return (pc.sum(column).as_py() or 0.0) / 1e6


def child(engine: str, setup: dict) -> None:
    # Load the libraries before the clock starts: the bench measures the join, not Python imports.
    import deltalake  # noqa: F401
    import duckdb  # noqa: F401
    import geopandas  # noqa: F401
    import numba  # noqa: F401
    import pyarrow.dataset  # noqa: F401
    import sedona.db  # noqa: F401

    result = globals()[f"run_{engine}"](setup)
    result.update(engine=engine, peak_rss_mb=_peak_mb())
    print("RESULT " + json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--polygons", type=int, default=1_000_000)
    parser.add_argument("--tiles", type=int, default=13, help="Sentinel-2 tiles (8,281 patches each)")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench" / "out" / "labels")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--setup", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, json.loads(args.setup))
        return

    started = time.perf_counter()
    setup = prepare(args.workdir, args.polygons, args.tiles)
    print(
        f"workload: {setup['patches']:,} patches in {len(setup['tiles'])} tiles ({', '.join(setup['tiles'])}), "
        f"{setup['polygons']:,} CLC-like polygons; prepared in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    results = []
    for engine in args.engines.split(","):
        proc = subprocess.run(
            [sys.executable, __file__, "--child", engine, "--setup", json.dumps(setup)],
            capture_output=True,
            text=True,
            check=False,
        )
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            print(f"{engine}: failed (exit {proc.returncode})\n{proc.stderr[-2000:]}", flush=True)
            continue
        result = json.loads(lines[-1][len("RESULT ") :])
        result["patches_per_s"] = setup["patches"] / result["seconds"]
        results.append(result)
        print(f"{engine}: {result['seconds']:.1f} s", flush=True)

    base = next((r["patches_per_s"] for r in results if r["engine"] == "geopandas"), None)
    print(f"\n{'engine':<22}{'seconds':>9}{'patches/s':>12}{'x geopandas':>13}{'x goal':>8}{'peak MB':>9}"
          f"{'rows':>11}{'area km2':>12}")  # fmt: skip
    for r in results:
        ratio = f"{r['patches_per_s'] / base:.2f}" if base else "-"
        print(
            f"{r['engine']:<22}{r['seconds']:>9.1f}{r['patches_per_s']:>12,.0f}{ratio:>13}"
            f"{r['patches_per_s'] / GOAL:>8.2f}{r['peak_rss_mb']:>9,.0f}{r['rows']:>11,}{r['area_km2']:>12,.2f}"
        )
    areas = [r["area_km2"] for r in results]
    if areas:
        spread = (max(areas) - min(areas)) / max(areas) if max(areas) else 0.0
        print(f"\nengines agree on the intersected area to {spread:.1e} (relative); goal {GOAL:,} patches/s")


if __name__ == "__main__":
    main()
