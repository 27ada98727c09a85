"""``export ben`` against the bare cost of writing the same arrays as GeoTIFFs, and training shards against the
GeoTIFF folders as a loader's input, side by side in one run.

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

Shards, on the same patches (issue 11's goals: writing >= 2,000 patches/s; a loader reads shards >= 20x as
many samples/s as the GeoTIFF folders):
(c) *write*: ``export_shards`` as Parquet and as WebDataset (``--shard-size``, default 64MB: about 400
patches a shard) into fresh folders, end to end and from the first shard on (without the fixed selection
and metadata reads), by wall clock and by CPU time (all threads).
(d) *read*: every sample, bands at native resolution, in one process: ``s2lake.datasets.Shards`` over each
shard folder, and the folder tree ``export ben`` wrote (b) read as BigEarthNet users do, one GeoTIFF per
band (``rasterio.open(...).read(1)``, and ``tifffile.imread``, the faster of the two is the baseline).
"""

from __future__ import annotations

import argparse
import logging
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

import numpy as np
import rasterio
from patchgen import PeakRss, tree_rss
from rasterio.crs import CRS
from rasterio.transform import Affine

from s2lake.sentinel2 import BANDS
from sedona_jobs.export.geotiff import PROFILE

# Above: what the floor's workers need. They are spawned and re-import this script, so the export, shard and
# warehouse modules (and pyarrow.compute, tifffile) are imported inside the functions of the main process:
# a worker that loaded them would be a heavier floor than the one measured.

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
    import pyarrow.compute as pc

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
    parser.add_argument("--shard-size", type=int, default=64 * 2**20, help="bytes of pixels per shard")
    args = parser.parse_args()

    logging.getLogger("s2lake.export").setLevel(logging.ERROR)  # the "no labels run" warnings, once per run

    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    warehouse = make_input(args.workdir, args.products)
    npy = args.workdir / f"arrays-{args.products}"
    shutil.rmtree(npy, ignore_errors=True)
    patches = dump_arrays(warehouse, npy)
    print(f"{patches} patches, {patches * BAND_FILES} band files, {args.workers} workers")

    best: dict[str, tuple[float, int]] = {}
    for repeat in range(args.repeat):
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
            if phase == "floor" or repeat < args.repeat - 1:  # the last export's folders are the loader's input
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
    shards(warehouse, args.workdir, args.workdir / "out-export", patches, args.shard_size, args.repeat)
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def write_shards(warehouse_root: Path, out: Path, fmt: str, shard_bytes: int) -> tuple[float, float, float, float]:
    """(seconds, CPU seconds) end to end, then the same from the first shard on."""
    from s2lake.shards import export_shards
    from s2lake.warehouse import Warehouse

    marks: list[tuple[float, float]] = []

    def first(done: int, total: int) -> None:
        if not marks:  # called once the selection, metadata and journal are ready, before any shard
            marks.append((time.perf_counter(), cpu_seconds()))

    start, cpu = time.perf_counter(), cpu_seconds()
    export_shards(Warehouse.at(warehouse_root), out, fmt=fmt, shard_bytes=shard_bytes, on_progress=first)
    end, cpu_end = time.perf_counter(), cpu_seconds()
    return end - start, cpu_end - cpu, end - marks[0][0], cpu_end - marks[0][1]


def read_shards(root: Path) -> int:
    from s2lake.datasets import Shards

    return sum(1 for sample in Shards(root) if sample["bands"]["B02"] is not None)


def read_geotiff_folders(root: Path, library: str) -> int:
    """Every patch folder of ``export ben``: one file per band, as a BigEarthNet loader opens them."""
    import tifffile

    from sedona_jobs.export.ben_layout import BAND_NAMES, PATCHES_DIR

    samples = 0
    with rasterio.Env():
        for folder in sorted((root / PATCHES_DIR).glob("*/*")):
            if library == "rasterio":
                bands = {}
                for band in BAND_NAMES:
                    with rasterio.open(folder / f"{folder.name}_{band}.tif") as src:
                        bands[band] = src.read(1)
            else:
                bands = {band: tifffile.imread(folder / f"{folder.name}_{band}.tif") for band in BAND_NAMES}
            samples += bands["B02"] is not None
    return samples


def shards(warehouse: Path, workdir: Path, ben: Path, patches: int, shard_bytes: int, repeat: int) -> None:
    """Phases (c) and (d) of the module doc; prints the rates, the ratios and whether the goals are met."""
    write: dict[str, tuple[float, float, float, float]] = {}
    for _ in range(repeat):
        for fmt in ("parquet", "webdataset"):
            out = workdir / f"shards-{fmt}"
            shutil.rmtree(out, ignore_errors=True)
            figures = write_shards(warehouse, out, fmt, shard_bytes)
            write[fmt] = tuple(map(min, zip(write.get(fmt, figures), figures, strict=True)))  # best of each
    print(f"\nshards ({shard_bytes // 2**20} MB of pixels each): write, best of {repeat}")
    print(f"{'format':11s} {'end to end/s':>13s} {'(CPU-based)':>12s} {'shards only/s':>14s} {'(CPU-based)':>12s}")
    for fmt, (seconds, cpu, shard_seconds, shard_cpu) in write.items():
        print(
            f"{fmt:11s} {patches / seconds:13.0f} {patches / cpu:12.0f} {patches / shard_seconds:14.0f}"
            f" {patches / shard_cpu:12.0f}"
        )
    readers = {
        "parquet shards": lambda: read_shards(workdir / "shards-parquet"),
        "webdataset shards": lambda: read_shards(workdir / "shards-webdataset"),
        "GeoTIFF folders (rasterio)": lambda: read_geotiff_folders(ben, "rasterio"),
        "GeoTIFF folders (tifffile)": lambda: read_geotiff_folders(ben, "tifffile"),
    }
    read: dict[str, tuple[float, float]] = {}
    for _ in range(repeat):
        for name, reader in readers.items():
            start, cpu = time.perf_counter(), cpu_seconds()
            samples = reader()
            seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
            assert samples == patches, (name, samples, patches)
            read[name] = tuple(map(min, zip(read.get(name, (seconds, cpu)), (seconds, cpu), strict=True)))
    print(f"\nloader, one process, every sample (bands at native resolution), best of {repeat}")
    print(f"{'input':27s} {'samples/s':>10s} {'(CPU-based)':>12s}")
    for name, (seconds, cpu) in read.items():
        print(f"{name:27s} {patches / seconds:10.0f} {patches / cpu:12.0f}")
    tiff = {
        basis: min(read[name][basis] for name in read if name.startswith("GeoTIFF")) for basis in (0, 1)
    }  # the faster GeoTIFF reader is the baseline
    write_rate = min(patches / write[fmt][2] for fmt in write)
    write_cpu_rate = min(patches / write[fmt][3] for fmt in write)
    print("goals (judged by wall clock; CPU-based figures beside them, steadier on a shared machine):")
    for fmt in ("parquet", "webdataset"):
        wall, cpu = (tiff[basis] / read[f"{fmt} shards"][basis] for basis in (0, 1))
        met = "met" if wall >= 20 else "NOT met"
        print(f"  {fmt} shards read / GeoTIFF folders: {wall:.1f}x (CPU-based {cpu:.1f}x), goal 20x: {met}")
    met = "met" if write_rate >= 2000 else "NOT met"
    print(
        f"  shard writing, slower format: {write_rate:.0f} patches/s (CPU-based {write_cpu_rate:.0f}),"
        f" goal 2,000: {met}"
    )
    for fmt in ("parquet", "webdataset"):
        shutil.rmtree(workdir / f"shards-{fmt}", ignore_errors=True)
    shutil.rmtree(ben, ignore_errors=True)


if __name__ == "__main__":
    main()
