"""Patch generation against bare JPEG 2000 decoding, side by side in one run.

    uv run python bench/patchgen.py [--product SAFE] [--pixels 10980] [--workers N] [--mode band|product]

(a) *bare decode*: every one of the product's 13 band files read whole with rasterio, spread over
the same number of worker processes, with the same GDAL settings as the builder; nothing else.
(b) *patch build*: ``build_products`` on the same product into a fresh warehouse (windowed reads,
patches, statistics, Arrow, Parquet, one Delta commit).

It prints patches/s, decode throughput (Mpx/s), the ratio of (b)'s throughput to (a)'s (goal >= 0.75:
cutting should cost little beyond decoding, which nobody can avoid) and the peak resident memory of
the process tree during each phase (sampled from /proc every 50 ms; Linux only). Without
``--product`` a full-size synthetic tile is generated first (several minutes, not timed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants, from /proc."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * PAGE
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    stack += [int(c) for c in f.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


class PeakRss:
    """Samples the process tree's RSS in a thread while the ``with`` block runs."""

    def __enter__(self) -> PeakRss:
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(os.getpid()))
            self._stop.wait(0.05)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _decode(path: str) -> int:
    """Read one band file whole (the bare decode); returns its pixel count."""
    os.environ["GDAL_NUM_THREADS"] = "1"  # as the builder's workers (see sedona_jobs.patches.workers)
    import rasterio

    with rasterio.open(path) as raster:
        return int(raster.read(1).size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--product", type=Path, help="an L2A .SAFE to use (default: generate one)")
    parser.add_argument("--pixels", type=int, default=10980, help="size of the generated tile (10 m pixels)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--mode", choices=("band", "product"), default="band")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "s2lake-bench")
    args = parser.parse_args()

    from s2lake.config.patches import PatchesSettings
    from s2lake.sentinel2 import ALL_LAYERS
    from s2lake.warehouse import Warehouse
    from sedona_jobs.patches import build_products
    from sedona_jobs.safe import open_product

    product_path = args.product
    if product_path is None:
        from sedona_jobs.synth import write_l2a

        existing = sorted(args.workdir.glob(f"bench-{args.pixels}/*.SAFE"))
        if existing:
            product_path = existing[0]
        else:
            print(f"generating a {args.pixels} px synthetic tile in {args.workdir} (not timed) ...", flush=True)
            product_path = write_l2a(args.workdir / f"bench-{args.pixels}", pixels=args.pixels, nodata_fraction=0.05)
    product = open_product(product_path)
    paths = [product.bands[layer.name].path for layer in ALL_LAYERS]
    print(f"product  {product.product_id}  ({len(paths)} band files, {args.workers} workers, {args.mode} mode)")

    # Largest files first so the pool's tail is short, like the builder's layer grouping.
    paths.sort(key=lambda p: -os.path.getsize(p))
    with PeakRss() as decode_rss, ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
        list(pool.map(_decode, paths[:1]))  # start the workers outside the timing (the builder's do too)
        started = time.perf_counter()
        pixels = sum(pool.map(_decode, paths))
        decode_s = time.perf_counter() - started

    warehouse = Warehouse.at(tempfile.mkdtemp(prefix="warehouse-", dir=args.workdir))
    settings = PatchesSettings(mode=args.mode, workers=args.workers)
    try:
        with PeakRss() as build_rss:
            started = time.perf_counter()
            [outcome] = build_products([product_path], warehouse, settings)
            build_s = time.perf_counter() - started
    finally:
        shutil.rmtree(warehouse.root, ignore_errors=True)  # ~1 GB per full tile
    if outcome.status != "patched":
        raise SystemExit(f"build failed: {outcome.reason}")

    patches = outcome.patches
    print(
        f"(a) bare decode   {decode_s:8.1f} s   {pixels / decode_s / 1e6:8.1f} Mpx/s   "
        f"= {patches / decode_s:7.1f} patches/s if cutting were free   peak RSS {decode_rss.peak / 2**20:7.0f} MiB"
    )
    print(
        f"(b) patch build   {build_s:8.1f} s   {pixels / build_s / 1e6:8.1f} Mpx/s   "
        f"= {patches / build_s:7.1f} patches/s ({patches} patches)      peak RSS {build_rss.peak / 2**20:7.0f} MiB"
    )
    ratio = decode_s / build_s
    print(f"ratio (b)/(a) throughput: {ratio:.2f}  (goal >= 0.75: {'met' if ratio >= 0.75 else 'NOT met'})")


if __name__ == "__main__":
    main()
