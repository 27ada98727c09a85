"""BigEarthNet import + report of generated patches: patches/s, projected time for BigEarthNet v2, peak memory.

    uv run python bench/ben.py [--patches 10000] [--workers 2] [--data DIR] [--compare 200] [--no-report]

1. A v2 dataset (``sedona_jobs.synth.bigearthnet.generate_v2``: 100 patches per product plus an overlapping twin for 1
   in 10, metadata.parquet, one reference map raster per patch) is generated once into ``--data``
   (default ``~/.cache/s2lake-bench/ben-v2-N``) and reused by later runs (not timed).
2. Read paths side by side, same ``--compare`` patches, same process, alternating, best of 2: every band
   file read with rasterio per file (the import's read path before tifffile: GDAL open, band 1, transform,
   CRS) against :func:`s2lake.ben.geotiff_reader.read_geotiff`; CPU ms per patch and the ratio.
3. ``s2lake ben report DATASET`` on a fresh warehouse, as a user runs it: ONE command that imports the
   dataset (``--workers`` processes) and builds and prints the report (``--no-report``: ``s2lake ben
   import`` alone). Printed: patches/s of the import (from the command's own log line) and of the whole
   command, the time BigEarthNet v2's 549,488 patches would take at that rate, the CPU seconds of the
   whole process tree (the command, its import workers) and the rate that CPU time allows on 2 otherwise
   idle cores, and the peak resident memory of the process tree (sampled from /proc).

The machine this runs on is shared: wall time depends on the load (printed before and after). The rate
that compares with the goal is the wall rate on 2 idle cores; on a loaded machine the CPU-based rate is
its estimate (the work is CPU-bound: band files are read from the page cache, both cores are busy with
workers during the import, and the report's fixed cost is counted in full).

Goal (issue 14): import + report >= 300 patches/s on 2 cores (549,488 patches in <= 31 min).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.patchgen import PeakRss
from s2lake.ben.geotiff_reader import read_geotiff, read_with_rasterio
from s2lake.ben.layout import find_patch_folders
from s2lake.ben.patch_reader import configure_worker
from s2lake.sentinel2 import BANDS
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


#: The import's own log line (s2lake.ben.importer.import_dataset), how the import's share is told apart.
IMPORT_LINE = re.compile(r"ben import: (\d+) patches in ([0-9.]+) s")


@dataclass
class Run:
    patches: int
    import_seconds: float
    seconds: float
    cpu: float
    peak_rss: int


def run_command(root: Path, workers: int, report: bool) -> Run:
    """``s2lake ben report`` (or ``ben import`` without ``report``) of the generated dataset in ``root`` on a
    fresh warehouse."""
    command = shutil.which("s2lake", path=str(Path(sys.executable).parent)) or shutil.which("s2lake")
    inputs = ["--metadata", str(root / "metadata.parquet"), "--reference-maps", str(root / "Reference_Maps")]
    step = ["report" if report else "import", str(root / "BigEarthNet-S2"), *inputs]
    with tempfile.TemporaryDirectory(prefix="s2lake-bench-ben-") as scratch, PeakRss() as rss:
        cpu, started = cpu_seconds(), time.monotonic()
        done = subprocess.run(
            [command, "--warehouse", scratch, "ben", *step, "--workers", str(workers)], capture_output=True, text=True
        )
        seconds, used = time.monotonic() - started, cpu_seconds() - cpu
    if done.returncode != 0:
        raise SystemExit(f"s2lake ben {step[0]} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    found = IMPORT_LINE.search(done.stderr)
    if found is None:
        raise SystemExit(f"no import line in the command's log:\n{done.stderr[-2000:]}")
    return Run(int(found[1]), float(found[2]), seconds, used, rss.peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patches", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data", type=Path, help="dataset folder (generated there once, then reused)")
    parser.add_argument("--compare", type=int, default=200, help="patches for the read-path comparison (0: none)")
    parser.add_argument("--no-report", action="store_true", help="time the import alone (s2lake ben import)")
    args = parser.parse_args()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "s2lake-bench"
    root = args.data or cache / f"ben-v2-{args.patches}"
    count = dataset(root, args.patches, args.workers)
    data = root / "BigEarthNet-S2"
    if args.compare:
        compare_read_paths(data, args.compare)
    print(f"load   : {' '.join(f'{x:.1f}' for x in os.getloadavg())} (1/5/15 min) on {os.cpu_count()} cores, before")
    if sys.flags.dont_write_bytecode:
        print("python : PYTHONDONTWRITEBYTECODE is set: every process compiles what it imports (dbt: seconds of CPU)")
    run = run_command(root, args.workers, not args.no_report)
    print(f"load   : {' '.join(f'{x:.1f}' for x in os.getloadavg())} (1/5/15 min), after")
    assert run.patches == count, (run.patches, count)
    what = "import" if args.no_report else "import + report"
    rate, idle_rate = run.patches / run.seconds, run.patches / (run.cpu / 2)
    print(
        f"import : {run.patches} patches in {run.import_seconds:6.1f} s = {run.patches / run.import_seconds:6.1f} "
        f"patches/s (wall, the command's log)"
    )
    print(
        f"wall   : {what} (s2lake ben {'import' if args.no_report else 'report'}, {args.workers} workers) "
        f"{run.seconds:6.1f} s = {rate:6.1f} patches/s -> {BEN_V2_PATCHES:,} patches in "
        f"{BEN_V2_PATCHES / rate / 60:5.1f} min"
    )
    print(
        f"cpu    : {run.cpu:6.1f} s = {run.cpu / run.patches * 1e3:.2f} ms/patch -> on 2 idle cores at most "
        f"{idle_rate:6.1f} patches/s -> {BEN_V2_PATCHES:,} patches in {BEN_V2_PATCHES / idle_rate / 60:5.1f} min"
    )
    print(f"memory : peak RSS of the process tree (command + workers) {run.peak_rss / 2**20:6.0f} MiB")
    print(
        f"goal   : {what} >= {GOAL:.0f} patches/s on 2 cores: wall {'met' if rate >= GOAL else 'NOT met'}, "
        f"CPU-bound projection for 2 idle cores {'met' if idle_rate >= GOAL else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
