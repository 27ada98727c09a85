"""``export ben`` against the bare cost of writing the same arrays as GeoTIFFs, side by side in one run.

    uv run python bench/export.py [--products 2] [--workers 2] [--repeat 2]

Input (made once, not timed, cached under ``--workdir``): ``--products`` synthetic 2400 px Level-2A products
(``sedona_jobs.synth.l2a.write_l2a``, 20 x 20 = 400 patches each, one acquisition date per product) cut by
``patches build`` into one warehouse.

(a) *floor*: the pixels of every patch band, read from the table beforehand (not timed) into ``.npy`` files,
written as GeoTIFFs by a bare loop (``rasterio.open(path, "w", ...)`` + ``write``, the export's own creation
options, CRS built once, one GDAL environment), by as many processes as the export has workers, each its
share of the patches; nothing else: no table, no checks, no folders per patch, no metadata.
(b) *export*: ``export_ben`` of the whole table into a fresh folder with ``--workers``.

Printed per phase: seconds, patches/s, band files/s, CPU milliseconds per patch (all processes), and the
peak resident memory of the process tree over its size at the start (sampled from /proc every 50 ms; the
floor's includes the memory-mapped arrays it reads); the headline is export / floor throughput (1.0 = the
export costs nothing beyond writing the files), by wall clock and by CPU time. Phases alternate, best of
``--repeat`` each. The load average is printed before and after: the machine may be shared, and the
ratios (CPU time's above all) are what stay meaningful.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from patchgen import PeakRss, tree_rss

PIXELS = 2400  # 20 x 20 patches of 1200 m
BAND_FILES = 12


def make_input(workdir: Path, products: int) -> Path:
    """The warehouse with ``products`` x 400 patches (cached: reused when it exists)."""
    from s2lake.config.patches import PatchesSettings
    from s2lake.warehouse import Warehouse
    from sedona_jobs.patches import build_products
    from sedona_jobs.synth.l2a import write_l2a

    root = workdir / f"input-{products}"
    if (root / "done").exists():
        return root / "warehouse"
    shutil.rmtree(root, ignore_errors=True)
    warehouse = Warehouse.at(root / "warehouse")
    for i in range(products):
        print(f"  product {i + 1}/{products}: synthesising {PIXELS} px and cutting it (not timed) ...", flush=True)
        safe = write_l2a(root / "products", pixels=PIXELS, date=f"2018-05-{10 + i:02d}", seed=i, workers=2)
        (outcome,) = build_products([safe], warehouse, PatchesSettings(workers=2))
        assert outcome.status == "patched", outcome.reason
        shutil.rmtree(safe)
    (root / "done").touch()
    return root / "warehouse"


def dump_arrays(warehouse_root: Path, npy: Path) -> int:
    """Every band of every patch as ``<band>.npy`` (uint16, patches x side x side) plus the georeference."""
    import numpy as np
    import pyarrow.compute as pc

    from s2lake.sentinel2 import BANDS
    from s2lake.tables.store import TableStore
    from s2lake.warehouse import Warehouse

    npy.mkdir(parents=True, exist_ok=True)
    store = TableStore(Warehouse.at(warehouse_root))
    table = store.read("patches", ["patch_id", "epsg", "ulx", "uly", *(b.column for b in BANDS)]).sort_by("patch_id")
    for band in BANDS:
        flat = pc.list_flatten(table.column(band.column)).to_numpy().astype(np.uint16)
        np.save(npy / f"{band.name}.npy", flat.reshape(table.num_rows, band.patch_pixels, band.patch_pixels))
    np.save(npy / "place.npy", np.column_stack([table.column(c).to_numpy() for c in ("epsg", "ulx", "uly")]))
    return table.num_rows


def floor_worker(npy: str, out: str, share: int, shares: int) -> int:
    """Write patches ``share::shares`` from the .npy files: the bare rasterio loop."""
    import numpy as np
    import rasterio
    from rasterio.crs import CRS
    from rasterio.transform import Affine

    from s2lake.sentinel2 import BANDS
    from sedona_jobs.export.geotiff import PROFILE

    place = np.load(Path(npy) / "place.npy")
    arrays = {b.name: np.load(Path(npy) / f"{b.name}.npy", mmap_mode="r") for b in BANDS}
    crs = CRS.from_epsg(int(place[0, 0]))
    written = 0
    with rasterio.Env():
        for i in range(share, len(place), shares):
            for band in BANDS:
                pixels = np.asarray(arrays[band.name][i])
                transform = Affine(band.resolution, 0, place[i, 1], 0, -band.resolution, place[i, 2])
                path = Path(out) / f"{i}_{band.name}.tif"
                with rasterio.open(
                    path, "w", width=pixels.shape[1], height=pixels.shape[0], crs=crs, transform=transform, **PROFILE
                ) as dst:
                    dst.write(pixels, 1)
                written += 1
    return written


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its reaped children (the pools' workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run_floor(npy: Path, out: Path, workers: int) -> tuple[float, int]:
    out.mkdir(parents=True)
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        list(pool.map(int, [0] * workers))  # processes started before the clock: the floor is the writing alone
        start = time.perf_counter()
        files = sum(
            pool.map(floor_worker, [str(npy)] * workers, [str(out)] * workers, range(workers), [workers] * workers)
        )
        return time.perf_counter() - start, files


def run_export(warehouse_root: Path, out: Path, workers: int) -> tuple[float, int]:
    from s2lake.warehouse import Warehouse
    from sedona_jobs.export.ben_export import export_ben

    start = time.perf_counter()
    report = export_ben(Warehouse.at(warehouse_root), out, workers=workers)
    return time.perf_counter() - start, report.patches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=2, help="2400 px products (400 patches each)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each phase, best of N")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "s2lake-bench-export")
    args = parser.parse_args()
    import logging

    logging.getLogger("s2lake.export").setLevel(logging.ERROR)  # the "no labels run" warnings, once per run

    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    warehouse = make_input(args.workdir, args.products)
    npy = args.workdir / f"arrays-{args.products}"
    shutil.rmtree(npy, ignore_errors=True)
    patches = dump_arrays(warehouse, npy)
    print(f"{patches} patches, {patches * BAND_FILES} band files, {args.workers} workers")

    best: dict[str, tuple[float, int]] = {}
    for _ in range(args.repeat):
        for phase in ("floor", "export"):
            out = args.workdir / f"out-{phase}"
            shutil.rmtree(out, ignore_errors=True)
            base, cpu = tree_rss(os.getpid()), cpu_seconds()
            with PeakRss() as rss:
                if phase == "floor":
                    seconds, _ = run_floor(npy, out, args.workers)
                else:
                    seconds, _ = run_export(warehouse, out, args.workers)
            cpu = cpu_seconds() - cpu  # the pools are shut down: their processes' CPU time is counted
            shutil.rmtree(out, ignore_errors=True)
            if phase not in best or seconds < best[phase][0]:
                best[phase] = (seconds, cpu if phase not in best else min(cpu, best[phase][1]), rss.peak - base)
            elif cpu < best[phase][1]:
                best[phase] = (best[phase][0], cpu, best[phase][2])
    shutil.rmtree(npy, ignore_errors=True)

    print(f"{'phase':8s} {'seconds':>8s} {'patches/s':>10s} {'files/s':>9s} {'CPU ms/patch':>13s} {'peak RSS':>12s}")
    for phase, (seconds, cpu, peak) in best.items():
        rate = patches / seconds
        print(
            f"{phase:8s} {seconds:8.2f} {rate:10.1f} {rate * BAND_FILES:9.0f} {1000 * cpu / patches:13.1f}"
            f" {peak / 2**20:9.0f} MB"
        )
    print(f"export / floor throughput: {best['floor'][0] / best['export'][0]:.2f} (wall clock)")
    cpu_ratio = best["floor"][1] / best["export"][1]
    print(f"export / floor throughput: {cpu_ratio:.2f} (CPU time, steadier on a shared machine)")
    hours = 549_488 / (patches / best["export"][0]) / 3600
    print(f"BigEarthNet v2 (549,488 patches) at this rate: {hours:.1f} h")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
