"""Benchmark: full `dbt build` (duckdb target) over a generated warehouse of ~1,000,000 patches.

Builds two warehouses side by side in one run, full-size and a tenth, and prints wall time, peak
memory (RSS of the build process) and the scaling ratio between them (10x the patches should cost
about 10x the time if the models scale linearly). The build runs as `s2lake models build` in a
subprocess so that its peak memory is measured alone, without the generator's.

    uv run python bench/models.py                  # 121 full tiles (91 x 91 patches) = 1,002,001 patches
    uv run python bench/models.py --tiles 12       # quick look
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from s2lake.warehouse import Warehouse
from sedona_jobs.synth.warehouse import generate


def run(tiles: int, root: Path) -> dict[str, float]:
    warehouse = Warehouse.at(root / f"warehouse-{tiles}")
    start = time.perf_counter()
    generated = generate(warehouse, tiles=tiles, grid=91, dates_per_tile=(1,), defect_rate=0.001)
    patches = generated.tables["patches"].num_rows
    generate_s = time.perf_counter() - start
    del generated
    start = time.perf_counter()
    cli = Path(sys.executable).parent / "s2lake"
    build = subprocess.Popen([str(cli), "-w", warehouse.root, "models", "build", "--quiet"])
    peak_kb = _watch_peak_kb(build)
    if build.returncode != 0:
        raise SystemExit(f"models build failed (exit {build.returncode})")
    build_s = time.perf_counter() - start
    return {
        "patches": patches,
        "generate_s": generate_s,
        "build_s": build_s,
        "peak_mb": peak_kb / 1024,
        "us_per_patch": build_s / patches * 1e6,
    }


def _watch_peak_kb(proc: subprocess.Popen) -> int:
    """The build's own peak RSS (VmHWM, read until it exits).

    Not ``getrusage(RUSAGE_CHILDREN)``: Linux carries a process's ru_maxrss over fork and exec, so the
    child would report this process's RSS after generating a million patches (6 GB) as its own peak.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiles", type=int, default=121, help="full tiles of 8,281 patches (121 = 1,002,001)")
    parser.add_argument("--keep", action="store_true", help="keep the generated warehouses")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="s2lake-bench-models-"))
    try:
        small = run(max(1, args.tiles // 10), root)
        full = run(args.tiles, root)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    for name, r in (("tenth", small), ("full", full)):
        print(
            f"{name:>5}: {r['patches']:>9,} patches  generate {r['generate_s']:7.1f} s  dbt build {r['build_s']:7.1f} s"
            f"  ({r['us_per_patch']:.1f} us/patch)  peak RSS of the build {r['peak_mb']:,.0f} MB"
        )
    print(
        f"ratio full/tenth: patches {full['patches'] / small['patches']:.1f}x, "
        f"build time {full['build_s'] / small['build_s']:.1f}x, time per patch "
        f"{full['us_per_patch'] / small['us_per_patch']:.2f}x"
    )


if __name__ == "__main__":
    main()
