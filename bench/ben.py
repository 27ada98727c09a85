"""BigEarthNet import + report of generated patches: patches/s, projected time for BigEarthNet v2, peak memory.

    uv run python bench/ben.py [--patches 10000] [--workers 2] [--data DIR] [--compare 1000] [--no-report]

1. A v2 dataset (``sedona_jobs.synth.bigearthnet.generate_v2``: 100 patches per product plus an overlapping twin for 1
   in 10, metadata.parquet, one reference map raster per patch) is generated once into ``--data``
   (default ``~/.cache/s2lake-bench/ben-v2-N``) and reused by later runs (not timed).
2. Read paths side by side, same ``--compare`` patches, same process, alternating, best of 2: every band
   file read with rasterio per file (the import's read path before tifffile: GDAL open, band 1, transform,
   CRS) against :func:`s2lake.ben.geotiff_reader.read_geotiff`; CPU ms per patch and the ratio.
3. ``import_dataset`` into a fresh warehouse with ``--workers`` processes, then ``s2lake ben report`` on
   it through the CLI (as a user runs it), each timed. Printed: patches/s of the import and of import +
   report, the time BigEarthNet v2's 549,488 patches would take at that rate, the CPU seconds of the
   whole process tree (and the rate that CPU time allows on 2 otherwise idle cores: the machine is
   shared, so wall time depends on the load, printed before and after), and the peak resident memory
   of the process tree (workers and the report's subprocess included; sampled from /proc).

Goal (issue 14): import + report >= 300 patches/s on 2 cores (549,488 patches in <= 31 min).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.patchgen import PeakRss
from s2lake.ben.geotiff_reader import read_geotiff, read_with_rasterio
from s2lake.ben.importer import import_dataset
from s2lake.ben.layout import find_patch_folders
from s2lake.ben.patch_reader import configure_worker
from s2lake.sentinel2 import BANDS
from s2lake.warehouse import Warehouse
from sedona_jobs.synth.bigearthnet import generate_v2

GOAL = 300.0
BEN_V2_PATCHES = 549_488
MARKER = "generated.json"


def dataset(root: Path, patches: int, workers: int) -> int:
    """Generate the dataset into ``root`` unless a complete one is there; returns its patch count."""
    marker = root / MARKER
    if marker.exists():
        count = json.loads(marker.read_text())["patches"]
        print(f"dataset: {count} patches in {root} (generated before, reused)")
        return count
    shutil.rmtree(root, ignore_errors=True)  # an incomplete earlier generation
    started = time.monotonic()
    count = len(generate_v2(root, patches, workers=workers).patch_ids)
    marker.write_text(json.dumps({"patches": count}))
    print(f"dataset: generated {count} patches into {root} in {time.monotonic() - started:.0f} s (not timed)")
    return count


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the pool's workers, the report)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def compare_read_paths(root: Path, count: int) -> None:
    """CPU ms per patch reading all 12 band files of ``count`` patches: rasterio per file vs read_geotiff."""
    configure_worker()  # the import workers' GDAL settings
    folders = find_patch_folders(root).folders[:count]
    paths = [Path(f.path) / f"{f.name}_{b.name}.tif" for f in folders for b in BANDS]
    best = {"rasterio per file": float("inf"), "read_geotiff": float("inf")}
    for _ in range(2):
        for name, read in (("rasterio per file", read_with_rasterio), ("read_geotiff", read_geotiff)):
            started = time.process_time()
            for path in paths:
                read(path)
            best[name] = min(best[name], time.process_time() - started)
    old, new = (best[k] * 1e3 / len(folders) for k in best)
    print(
        f"read   : {len(folders)} patches, CPU per patch: rasterio per file {old:.2f} ms, read_geotiff {new:.2f} ms "
        f"= {old / new:.1f}x less"
    )


def run_report(dataset_dir: Path, warehouse: Path) -> float:
    """Seconds ``s2lake ben report DATASET_DIR`` takes on the imported warehouse (the user's command)."""
    command = shutil.which("s2lake", path=str(Path(sys.executable).parent)) or shutil.which("s2lake")
    started = time.monotonic()
    done = subprocess.run(
        [command, "--warehouse", str(warehouse), "ben", "report", str(dataset_dir)], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"s2lake ben report failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patches", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data", type=Path, help="dataset folder (generated there once, then reused)")
    parser.add_argument("--compare", type=int, default=1_000, help="patches for the read-path comparison (0: none)")
    parser.add_argument("--no-report", action="store_true", help="time the import alone")
    args = parser.parse_args()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "s2lake-bench"
    root = args.data or cache / f"ben-v2-{args.patches}"
    count = dataset(root, args.patches, args.workers)
    data = root / "BigEarthNet-S2"
    print(f"load   : {' '.join(f'{x:.1f}' for x in os.getloadavg())} (1/5/15 min) on {os.cpu_count()} cores, before")
    if args.compare:
        compare_read_paths(data, args.compare)
    with tempfile.TemporaryDirectory(prefix="s2lake-bench-ben-") as scratch, PeakRss() as rss:
        warehouse = Warehouse.at(scratch)
        cpu, started = cpu_seconds(), time.monotonic()
        result = import_dataset(data, warehouse, root / "metadata.parquet", root / "Reference_Maps", args.workers)
        imported, import_cpu = time.monotonic() - started, cpu_seconds() - cpu
        reported = None if args.no_report else run_report(data, Path(scratch))
        total_cpu = cpu_seconds() - cpu
    assert result.patches == count and not result.problems, (result.patches, result.problems[:5])
    print(
        f"import : {result.patches} patches in {imported:6.1f} s = {result.patches / imported:6.1f} patches/s, "
        f"CPU {import_cpu:6.1f} s = {import_cpu / result.patches * 1e3:.2f} ms/patch "
        f"({result.reference_polygons} reference polygons, {result.metadata_rows} metadata rows)"
    )
    print(
        "report : not measured (--no-report)" if reported is None else f"report : {reported:6.1f} s (s2lake ben report)"
    )
    wall = imported + (reported or 0.0)
    rate, idle_rate = result.patches / wall, result.patches / (total_cpu / 2)
    what = "import" if reported is None else "import + report"
    print(
        f"total  : {what} {rate:6.1f} patches/s on {args.workers} workers -> {BEN_V2_PATCHES:,} patches in "
        f"{BEN_V2_PATCHES / rate / 60:5.1f} min (goal >= {GOAL:.0f}/s: {'met' if rate >= GOAL else 'NOT met'})"
    )
    print(
        f"cpu    : {total_cpu:6.1f} s for {what}: on 2 idle cores at most {idle_rate:6.1f} patches/s -> "
        f"{BEN_V2_PATCHES / idle_rate / 60:5.1f} min"
    )
    print(f"memory : peak RSS of the process tree {rss.peak / 2**20:6.0f} MiB")
    print(f"load   : {' '.join(f'{x:.1f}' for x in os.getloadavg())} (1/5/15 min), after")


if __name__ == "__main__":
    main()
