"""Benchmark of the land-cover join: s2lake vs SedonaDB with GEOS vs DuckDB spatial vs geopandas, in one run.

Workload (generated once, cached under ``bench/out/labels/``):

* >= 1,000,000 CLC-like polygons (``sedona_jobs.synth.reference_layers.synth_clc``) over a 1000 km x 1000 km box
  in EPSG:3035, stored exactly as `s2lake reference load` stores CLC (sorted GeoParquet 1.1);
* >= 100,000 patches: every 1200 m patch of 13 real Sentinel-2 tiles (UTM zones 32 and 33, tiles
  overlapping by 9.8 km), stored in a Delta ``patches`` table without pixels.

Each engine runs in its own child process (its peak memory and CPU time are its own) and does the same
work: read the patches from Delta, transform the footprints UTM -> EPSG:3035, read the CLC polygons of
the same window (the patches' EPSG:3035 envelope, 1 m wider: what `labels build` reads), intersect, sum
the areas per patch and class:

* ``s2lake``: the whole `labels build` (``build_labels``): land cover with ``S2L_ClipArea`` (convex
  clip, no overlay), country, overlaps, *and* the Delta commits of the three tables;
* ``s2lake_landcover``: s2lake's land-cover SQL alone (``sql/labels_patch_landcover.sql``), no writes;
* ``sedonadb_geos``, ``duckdb``, ``geopandas``: the textbook ``ST_Area(ST_Intersection(...))``, a GEOS
  overlay per pair, on SedonaDB, DuckDB spatial and geopandas/shapely (land cover only, no writes).

Every engine's (patch, class, area) rows are then compared row by row with geopandas' (a row one side
lacks counts as area 0): any pair whose areas differ by more than 1e-6 m2 is a mismatch, reported with
examples. For ``s2lake`` the rows compared are those the run wrote to ``patch_landcover``.

Printed: wall seconds, CPU seconds (user + system, all threads), patches/s, ratio to the SedonaDB run
with GEOS overlays, peak RSS, rows and mismatches.

    uv run python bench/labels.py                                # full size
    uv run python bench/labels.py --polygons 100000 --tiles 2    # quick look
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

#: patches/s: 4x the SedonaDB run with GEOS overlays, for all three tables and their writes, on 2 cores.
GOAL = 66_700
GOAL_RATIO = 4.0
ENGINES = ("s2lake", "s2lake_landcover", "sedonadb_geos", "duckdb", "geopandas")
REFERENCE = "geopandas"  # the engine whose rows the others are compared with
BASELINE = "sedonadb_geos"  # the engine ratios are taken to
TOLERANCE_M2 = 1e-6
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
    from s2lake.shipped_data import SHIPPED_COUNTRIES
    from s2lake.tables.schemas import PATCHES
    from s2lake.tables.store import TableStore
    from s2lake.tiling_grid import tile_info, tiles_intersecting
    from s2lake.warehouse import Warehouse
    from sedona_jobs.labels.demo_labels import patches_bbox_3035
    from sedona_jobs.labels.patch_rows import patch_table
    from sedona_jobs.reference import load_reference, write_synthetic
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
        # The window `labels build` reads (labels_patch_extent.sql + labels_clc_window.sql): the patches'
        # EPSG:3035 envelope, 1 m wider.
        "window": patches_bbox_3035(warehouse, margin_m=1),
        "results": str(workdir / "results"),
    }


def run_s2lake(setup: dict) -> tuple[dict, object]:
    """The whole `labels build`, Delta commits included; its rows are read back from patch_landcover."""
    from s2lake.warehouse import Warehouse
    from sedona_jobs.labels.build import build_labels

    report = build_labels(Warehouse.at(setup["warehouse"]), country_source="countries")

    def written():
        from s2lake.tables.store import TableStore, sql_literal

        rows = TableStore(Warehouse.at(setup["warehouse"])).read(
            "patch_landcover", ["patch_id", "clc_code", "area_m2"], where=f"run_id = {sql_literal(report.run_id)}"
        )
        return rows.filter(rows.column("area_m2").to_numpy() > 0)

    extra = {
        "reported_patches_per_s": report.patches_per_second,
        "write_seconds": report.write_seconds,
        "overlap_pairs": report.overlap_pairs,
    }
    return extra, written


def run_s2lake_landcover(setup: dict) -> tuple[dict, object]:
    from sedona_jobs.labels.sql_files import read_sql

    return _sedonadb_landcover(setup, read_sql("labels_patch_landcover"))


def run_sedonadb_geos(setup: dict) -> tuple[dict, object]:
    return _sedonadb_landcover(setup, GEOS_LANDCOVER.format(patches="patch_geoms", clc="clc"))


def _sedonadb_landcover(setup: dict, sql: str) -> tuple[dict, object]:
    """The label job's inputs (patches read and reprojected, CLC windowed), then ``sql`` on them."""
    from s2lake.warehouse import Warehouse
    from sedona_jobs.labels.build import register_inputs
    from sedona_jobs.labels.engines import SedonaDBEngine

    engine = SedonaDBEngine()
    register_inputs(Warehouse.at(setup["warehouse"]), engine, country_source="countries")
    table = engine.query(sql)
    return {}, lambda: _plain(table).filter(table.column("area_m2").to_numpy() > 0)


def run_duckdb(setup: dict) -> tuple[dict, object]:
    from s2lake.duckdb_session import connect
    from s2lake.tables.store import TableStore
    from s2lake.warehouse import Warehouse
    from sedona_jobs.labels.engines import PATCH_COLUMNS

    con = connect()
    patches = TableStore(Warehouse.at(setup["warehouse"])).read("patches", columns=PATCH_COLUMNS)
    con.register("patches_in", patches)
    clc = setup["clc"].replace("'", "''")
    x0, y0, x1, y1 = setup["window"]
    # The bbox covering column lets DuckDB skip row groups outside the window, as SedonaDB does.
    window = f"""
        clc AS (
            SELECT code_18, geometry FROM read_parquet('{clc}')
            WHERE bbox.xmax >= {x0!r} AND bbox.xmin <= {x1!r} AND bbox.ymax >= {y0!r} AND bbox.ymin <= {y1!r}
              AND ST_Intersects(geometry, ST_MakeEnvelope({x0!r}, {y0!r}, {x1!r}, {y1!r}))
        )
    """
    footprints = """
        WITH footprints AS (
            SELECT patch_id,
                   ST_Transform(ST_GeomFromWKB(footprint), 'EPSG:' || epsg, 'EPSG:3035', always_xy := true) AS geom
            FROM patches_in
        ),
    """
    table = con.sql(footprints + window + GEOS_LANDCOVER.format(patches="footprints", clc="clc")).fetch_arrow_table()
    return {}, lambda: table


def run_geopandas(setup: dict) -> tuple[dict, object]:
    import geopandas as gpd
    import numpy as np
    import pyarrow as pa
    import shapely

    from s2lake.tables.store import TableStore
    from s2lake.warehouse import Warehouse

    patches = TableStore(Warehouse.at(setup["warehouse"])).read("patches", columns=["patch_id", "epsg", "footprint"])
    epsg = np.asarray(patches.column("epsg"))
    ids = np.asarray(patches.column("patch_id").to_pylist(), dtype=object)
    geoms = shapely.from_wkb(np.asarray(patches.column("footprint").to_pylist(), dtype=object))
    parts = [
        gpd.GeoDataFrame({"patch_id": ids[epsg == code]}, geometry=geoms[epsg == code], crs=int(code)).to_crs(3035)
        for code in np.unique(epsg)
    ]
    left_ids = np.concatenate([p.patch_id.to_numpy() for p in parts])
    left = np.concatenate([p.geometry.values for p in parts])
    # bbox= reads only the row groups and rows whose bbox covering meets the window.
    clc = gpd.read_parquet(setup["clc"], columns=["code_18", "geometry"], bbox=tuple(setup["window"]))
    clc = clc[clc.intersects(shapely.box(*setup["window"]))]
    li, ri = clc.sindex.query(left, predicate="intersects")
    area = shapely.area(shapely.intersection(left[li], clc.geometry.values[ri]))
    frame = gpd.pd.DataFrame({"patch_id": left_ids[li], "clc_code": clc.code_18.values[ri], "area_m2": area})
    grouped = frame.groupby(["patch_id", "clc_code"], sort=False, as_index=False)["area_m2"].sum()
    grouped = grouped[grouped.area_m2 > 0]
    return {}, lambda: pa.Table.from_pandas(grouped, preserve_index=False)


def _plain(table):
    """The compared columns as string/float64 (SedonaDB returns string views, which pyarrow cannot filter)."""
    import pyarrow as pa

    schema = pa.schema([("patch_id", pa.string()), ("clc_code", pa.string()), ("area_m2", pa.float64())])
    return table.select(schema.names).cast(schema)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(engine: str, setup: dict) -> None:
    # Load the libraries before the clock starts: the bench measures the work, not Python imports.
    import deltalake  # noqa: F401
    import duckdb  # noqa: F401
    import geopandas  # noqa: F401
    import pyarrow.parquet as pq
    import sedona.db  # noqa: F401

    import sedona_jobs.labels.build  # noqa: F401  (compiles or loads S2L_ClipArea's kernel)

    cpu, started = _cpu_seconds(), time.perf_counter()
    result, rows = globals()[f"run_{engine}"](setup)
    result.update(seconds=time.perf_counter() - started, cpu_seconds=_cpu_seconds() - cpu)
    table = rows().select(["patch_id", "clc_code", "area_m2"])
    out = Path(setup["results"]) / f"{engine}.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out)
    result.update(engine=engine, peak_rss_mb=_peak_mb(), rows=table.num_rows, path=str(out))
    print("RESULT " + json.dumps(result), flush=True)


def compare(reference: Path, other: Path) -> dict:
    """Row by row: (patch, class) pairs whose areas differ by more than TOLERANCE_M2 (a missing row is 0)."""
    import pandas as pd

    cols = ["patch_id", "clc_code", "area_m2"]
    a = pd.read_parquet(reference, columns=cols).astype({"patch_id": str, "clc_code": str})
    b = pd.read_parquet(other, columns=cols).astype({"patch_id": str, "clc_code": str})
    duplicates = int(b.duplicated(["patch_id", "clc_code"]).sum())
    both = a.merge(b, on=["patch_id", "clc_code"], how="outer", suffixes=("_ref", ""), indicator=True)
    both = both.fillna({"area_m2_ref": 0.0, "area_m2": 0.0})
    both["diff"] = (both.area_m2 - both.area_m2_ref).abs()
    bad = both[both["diff"] > TOLERANCE_M2].sort_values("diff", ascending=False)
    return {
        "mismatches": len(bad) + duplicates,
        "duplicates": duplicates,
        "only_reference": int((bad._merge == "left_only").sum()),
        "only_this": int((bad._merge == "right_only").sum()),
        "max_diff_m2": float(both["diff"].max()) if len(both) else 0.0,
        "examples": bad.head(5)[["patch_id", "clc_code", "area_m2_ref", "area_m2"]].to_dict("records"),
    }


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
    results = {}
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
        results[engine] = result
        print(f"{engine}: {result['seconds']:.1f} s, {result['cpu_seconds']:.1f} s CPU", flush=True)

    reference = results.get(REFERENCE)
    for r in results.values():
        r.update(compare(Path(reference["path"]), Path(r["path"])) if reference else {"mismatches": None})
    base = results.get(BASELINE, {}).get("patches_per_s")
    print(f"\n{'engine':<18}{'seconds':>9}{'CPU s':>8}{'patches/s':>11}{'x ' + BASELINE:>18}{'peak MB':>9}"
          f"{'rows':>11}{'mismatches':>12}{'max diff m2':>13}")  # fmt: skip
    for r in results.values():
        ratio = f"{r['patches_per_s'] / base:.2f}" if base else "-"
        bad = "-" if r["mismatches"] is None else f"{r['mismatches']:,}"
        diff = f"{r['max_diff_m2']:.1e}" if r["mismatches"] is not None else "-"
        print(
            f"{r['engine']:<18}{r['seconds']:>9.2f}{r['cpu_seconds']:>8.1f}{r['patches_per_s']:>11,.0f}{ratio:>18}"
            f"{r['peak_rss_mb']:>9,.0f}{r['rows']:>11,}{bad:>12}{diff:>13}"
        )
    for r in results.values():
        if r.get("mismatches"):
            print(
                f"\nMISMATCH {r['engine']} vs {REFERENCE}: {r['mismatches']:,} (patch, class) rows differ by more than "
                f"{TOLERANCE_M2:g} m2 ({r['only_reference']:,} only in {REFERENCE}, {r['only_this']:,} only in "
                f"{r['engine']}, {r['duplicates']:,} duplicated); largest first:"
            )
            for example in r["examples"]:
                print(f"  {example}")
    s2lake = results.get("s2lake")
    if s2lake:
        print(
            f"\n`labels build` (all three tables, {s2lake['write_seconds']:.2f} s of Delta writes included) printed "
            f"{s2lake['reported_patches_per_s']:,.0f} patches/s; goal {GOAL:,} patches/s"
            + (f", {GOAL_RATIO:g}x {BASELINE}: {s2lake['patches_per_s'] / base:.2f}x" if base else "")
        )


if __name__ == "__main__":
    main()
