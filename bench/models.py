"""Benchmark: full `dbt build` (duckdb target) at continental scale, ten million patches over Europe.

Builds two warehouses side by side in one run, the full size and a tenth (by default 303 and 30 real MGRS
tiles spread over Europe's countries, four dates each, one per season, of 91 x 91 patches: 10,036,572 and
993,720 patches), and prints for each the build time, the time per patch, the peak memory (RSS of the build
process) against the memory budget (--budget, 4 GB: DuckDB's default limit; the build's own DuckDB memory_limit,
models.duckdb_memory_limit, is lower since it covers DuckDB's buffer pool only), and the slowest models; then the ratio
of the time per patch (goal: at most 1.0, the models scale linearly). The warehouses are generated chunk by
chunk of tiles (sedona_jobs/synth/warehouse.py: memory stays bounded) and the build runs as
`s2lake models build` in a subprocess so that its peak memory is measured alone, without the generator's.

    uv run python bench/models.py                  # 303 tiles x 4 seasons = 10,036,572 patches, and 30 tiles
    uv run python bench/models.py --tiles 12       # quick look
    uv run python bench/models.py --root /scratch  # where the warehouses go (~4 GB for ten million patches)
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from s2lake.config.models import ModelsSettings
from s2lake.dbt.runner import state_dir
from s2lake.warehouse import Warehouse
from sedona_jobs.synth.warehouse import europe_layout, stream

GRID = 91
SEASONS = (4,)


def run(tiles: int, root: Path) -> dict:
    warehouse = Warehouse.at(root / f"warehouse-{tiles}")
    start = time.perf_counter()
    patches = stream(warehouse, europe_layout(tiles), grid=GRID, dates_per_tile=SEASONS).patches
    generate_s = time.perf_counter() - start
    start = time.perf_counter()
    cli = Path(sys.executable).parent / "s2lake"
    build = subprocess.Popen([str(cli), "-w", warehouse.root, "models", "build", "--quiet"])
    peak_kb = _watch_peak_kb(build)
    if build.returncode != 0:
        raise SystemExit(f"models build failed (exit {build.returncode})")
    build_s = time.perf_counter() - start
    results = json.loads((state_dir(warehouse, "duckdb") / "target" / "run_results.json").read_text())["results"]
    slowest = sorted(((r["execution_time"], r["unique_id"].split(".")[-1]) for r in results), reverse=True)[:5]
    shutil.rmtree(warehouse.root, ignore_errors=True)  # before the next size: ten million patches take ~4 GB
    return {
        "tiles": tiles,
        "patches": patches,
        "generate_s": generate_s,
        "build_s": build_s,
        "peak_bytes": peak_kb * 1024,
        "us_per_patch": build_s / patches * 1e6,
        "slowest": slowest,
    }


def _watch_peak_kb(proc: subprocess.Popen) -> int:
    """The build's own peak RSS (VmHWM, read until it exits).

    Not ``getrusage(RUSAGE_CHILDREN)``: Linux carries a process's ru_maxrss over fork and exec, so the
    child would report this process's RSS as its own peak.
    """
    status, peak = Path(f"/proc/{proc.pid}/status"), 0
    while proc.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(0.05)
    proc.wait()
    return peak


def memory_bytes(limit: str) -> int:
    """DuckDB's reading of a memory_limit such as ``4GB`` (powers of 1000) or ``4GiB`` (powers of 1024)."""
    match = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?)(i?)B\s*", limit, re.IGNORECASE)
    if match is None:
        raise SystemExit(f"cannot read the memory size {limit!r}")
    base = 1024 if match[3] else 1000
    return int(float(match[1]) * base ** " KMGT".index(match[2].upper() or " "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiles", type=int, default=303, help="European tiles of the full size (4 x 8,281 patches)")
    parser.add_argument("--root", type=Path, default=None, help="folder for the warehouses (default: a temp folder)")
    parser.add_argument("--budget", default="4GB", help="peak RSS the build must stay within (default: 4GB)")
    args = parser.parse_args()
    limit = ModelsSettings().duckdb_memory_limit
    root = Path(tempfile.mkdtemp(prefix="s2lake-bench-models-", dir=args.root))
    try:
        small = run(max(1, args.tiles // 10), root)
        full = run(args.tiles, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    header = ("", "tiles", "patches", "generate s", "build s", "us/patch")
    print("  ".join(f"{h:>{w}}" for h, w in zip(header, (5, 5, 10, 10, 8, 8), strict=True)) + "  peak RSS of the build")
    for name, r in (("tenth", small), ("full", full)):
        within = "within" if r["peak_bytes"] <= memory_bytes(args.budget) else "OVER"
        print(
            f"{name:>5}  {r['tiles']:>5}  {r['patches']:>10,}  {r['generate_s']:>10.1f}  {r['build_s']:>8.1f}"
            f"  {r['us_per_patch']:>8.2f}  {r['peak_bytes'] / 1e9:.2f} GB ({within} {args.budget};"
            f" DuckDB memory_limit {limit})"
        )
        print("       slowest: " + ", ".join(f"{node} {s:.1f} s" for s, node in r["slowest"]))
    ratio = full["us_per_patch"] / small["us_per_patch"]
    print(
        f"ratio full/tenth: patches {full['patches'] / small['patches']:.1f}x, build time "
        f"{full['build_s'] / small['build_s']:.1f}x, time per patch {ratio:.2f}x (goal <= 1.0: "
        f"{'met' if ratio <= 1.0 else 'missed'})"
    )


if __name__ == "__main__":
    main()
