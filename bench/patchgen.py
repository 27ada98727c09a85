"""Patch generation against bare JPEG 2000 decoding, and the cost of the checksum check, side by side in one run.

    uv run python bench/patchgen.py [--product SAFE] [--pixels 10980] [--workers N] [--mode band|product] [--repeat 2]

(a) *bare decode*: every one of the product's 13 band files read whole with rasterio, spread over
the same number of worker processes, with the same GDAL settings as the builder; nothing else.
(b) *patch build*: ``build_products`` on the same product into a fresh warehouse (windowed reads,
patches, statistics, Arrow, Parquet, one Delta commit), with the default check of every file read
against the checksums of ``manifest.safe``.
(c) the same build with ``verify_checksums=False`` (``--no-verify-checksums``).
(d) *COG input*: ``build_products`` on a STAC item of the same scene as Cloud-optimised GeoTIFFs
(``sedona_jobs.synth.l2a.cog.write_cog_item``, written beside the product first, not timed): no JPEG 2000
at all, windows read from local COGs. Goal: >= 5x the bare JPEG 2000 decode rate (a) in patches/s.
(a') the bare decode of (a) on the COGs instead, for scale: what reading costs with no JPEG 2000.

It prints patches/s, decode throughput (Mpx/s), the ratio of (b)'s throughput to (a)'s (goal >= 0.90:
cutting should cost little beyond decoding, which nobody can avoid), the CPU seconds of every phase (getrusage
of this process and its reaped workers: on a machine others load, wall-clock ratios move with their load, CPU
ratios much less) and the same ratios in CPU time, the cost of the checksum check
as (b)/(c) build time (builds alternate, best of ``--repeat``) and as the time ``open_product`` spends
hashing (with minus without the check, best of three), and the peak resident memory of the process
tree during each phase (sampled from /proc every 50 ms; Linux only). Without ``--product`` a full-size
synthetic tile is generated first (several minutes, not timed); ``--pixels 5490`` gives a quarter
tile where a full one takes too long.
"""

from __future__ import annotations

import argparse
import os
import resource
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


def _decode(path: str) -> tuple[int, float]:
    """Read one band file whole (the bare decode); returns its pixel count and the CPU seconds it took."""
    os.environ["GDAL_NUM_THREADS"] = "1"  # as the builder's workers (see sedona_jobs.patches.workers)
    import rasterio

    started = time.process_time()
    with rasterio.open(path) as raster:
        return int(raster.read(1).size), time.process_time() - started


def _cpu_seconds() -> float:
    """CPU time (user + system) of this process's threads and of its children reaped so far."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _decode_all(pool: ProcessPoolExecutor, paths: list[str]) -> tuple[int, float, float]:
    """(pixels, wall seconds, CPU seconds) of decoding ``paths`` in the pool's (already started) workers."""
    started = time.perf_counter()
    done = list(pool.map(_decode, paths))
    return sum(n for n, _ in done), time.perf_counter() - started, sum(c for _, c in done)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--product", type=Path, help="an L2A .SAFE to use (default: generate one)")
    parser.add_argument("--pixels", type=int, default=10980, help="size of the generated tile (10 m pixels)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--mode", choices=("band", "product"), default="band")
    parser.add_argument("--repeat", type=int, default=2, help="builds with and without checksums, best of N each")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "s2lake-bench")
    parser.add_argument("--no-cog", action="store_true", help="skip (d), the COG input build")
    args = parser.parse_args()

    from s2lake.config.patches import PatchesSettings
    from s2lake.sentinel2 import ALL_LAYERS
    from s2lake.warehouse import Warehouse
    from sedona_jobs.patches import build_products
    from sedona_jobs.safe import open_product

    product_path = args.product
    if product_path is None:
        from sedona_jobs.synth.l2a import write_l2a

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
        pixels, decode_s, decode_cpu = _decode_all(pool, paths)

    cog_item = None if args.no_cog else _cog_item(Path(product_path), args.workdir)

    cog_decode_s = None
    if cog_item:
        from sedona_jobs.patches.stac_item import open_item

        cog_paths = [open_item(str(cog_item)).bands[layer.name].path for layer in ALL_LAYERS]
        cog_paths.sort(key=lambda p: -os.path.getsize(p))
        with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
            list(pool.map(_decode, cog_paths[:1]))
            cog_pixels, cog_decode_s, cog_decode_cpu = _decode_all(pool, cog_paths)
            assert cog_pixels == pixels

    def build(verify: bool, source: Path = product_path) -> tuple[float, int, int, float]:
        """(seconds, patches, peak RSS, CPU seconds) of one build into a fresh warehouse."""
        warehouse = Warehouse.at(tempfile.mkdtemp(prefix="warehouse-", dir=args.workdir))
        settings = PatchesSettings(mode=args.mode, workers=args.workers, verify_checksums=verify)
        try:
            with PeakRss() as rss:
                cpu, started = _cpu_seconds(), time.perf_counter()
                [outcome] = build_products([source], warehouse, settings)
                seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
        finally:
            shutil.rmtree(warehouse.root, ignore_errors=True)  # ~1 GB per full tile
        if outcome.status != "patched":
            raise SystemExit(f"build failed: {outcome.reason}")
        return seconds, outcome.patches, rss.peak, cpu

    def open_seconds(verify: bool) -> float:
        """Best of three ``open_product`` calls (the whole up-front check, hashing included or not)."""
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            open_product(product_path, verify_checksums=verify)
            best = min(best, time.perf_counter() - started)
        return best

    # (b), (c) and (d) alternate, best of --repeat each: on a shared machine one build can be slowed by others.
    # (d) runs in the same rounds, so all three see the same load.
    runs, cog_runs = [], []
    for _ in range(args.repeat):
        runs += [(verify, build(verify)) for verify in (True, False)]
        if cog_item:
            cog_runs.append(build(False, cog_item))
    build_s, patches, build_rss, build_cpu = min(r for verify, r in runs if verify)
    plain_s, _, plain_rss, plain_cpu = min(r for verify, r in runs if not verify)
    hashing_s = open_seconds(True) - open_seconds(False)
    band_bytes = sum(os.path.getsize(p) for p in paths) if Path(paths[0]).exists() else product.size_bytes

    print(
        f"(a) bare decode   {decode_s:8.1f} s   {pixels / decode_s / 1e6:8.1f} Mpx/s   "
        f"= {patches / decode_s:7.1f} patches/s if cutting were free   peak RSS {decode_rss.peak / 2**20:7.0f} MiB   "
        f"CPU {decode_cpu:6.1f} s"
    )
    print(
        f"(b) patch build   {build_s:8.1f} s   {pixels / build_s / 1e6:8.1f} Mpx/s   "
        f"= {patches / build_s:7.1f} patches/s ({patches} patches)      peak RSS {build_rss / 2**20:7.0f} MiB   "
        f"CPU {build_cpu:6.1f} s"
    )
    print(
        f"(c) no checksums  {plain_s:8.1f} s   {pixels / plain_s / 1e6:8.1f} Mpx/s   "
        f"= {patches / plain_s:7.1f} patches/s                    peak RSS {plain_rss / 2**20:7.0f} MiB   "
        f"CPU {plain_cpu:6.1f} s"
    )
    if cog_runs:
        cog_s, cog_patches, cog_rss, cog_cpu = min(cog_runs)
        assert cog_patches == patches, f"COG input gave {cog_patches} patches, the SAFE {patches}"
        print(
            f"(d) COG input     {cog_s:8.1f} s   {pixels / cog_s / 1e6:8.1f} Mpx/s   "
            f"= {patches / cog_s:7.1f} patches/s                    peak RSS {cog_rss / 2**20:7.0f} MiB   "
            f"CPU {cog_cpu:6.1f} s"
        )
        print(
            f"(a') bare COG decode {cog_decode_s:5.1f} s   {pixels / cog_decode_s / 1e6:8.1f} Mpx/s   "
            f"= {decode_s / cog_decode_s:.1f}x the bare JPEG 2000 decode (a)   CPU {cog_decode_cpu:6.1f} s "
            f"({decode_cpu / cog_decode_cpu:.1f}x less)"
        )
        speedup = decode_s / cog_s
        print(
            f"ratio (d)/(a) patches/s: {speedup:.2f}  (goal >= 5: {'met' if speedup >= 5 else 'NOT met'});  "
            f"in CPU time: {decode_cpu / cog_cpu:.2f}"
        )
    ratio = decode_s / build_s
    print(
        f"ratio (b)/(a) throughput: {ratio:.2f}  (goal >= 0.90: {'met' if ratio >= 0.90 else 'NOT met'});  "
        f"in CPU time: {decode_cpu / build_cpu:.2f}"
    )
    print(
        f"checksum check: build (b)/(c) time {build_s / plain_s:.3f}; hashing in open_product "
        f"{hashing_s:.2f} s for {band_bytes / 2**20:.0f} MiB of bands "
        f"({band_bytes / max(hashing_s, 1e-9) / 2**20:.0f} MiB/s, {100 * hashing_s / plain_s:.1f} % of a build)"
    )
    print("every build (s), in run order:", ", ".join(f"{'b' if v else 'c'} {r[0]:.1f}" for v, r in runs))
    if cog_runs:
        print("COG input builds (s):", ", ".join(f"{r[0]:.1f}" for r in cog_runs))


def _cog_item(product: Path, workdir: Path) -> Path:
    """The STAC item of the product's COGs, written once into ``workdir`` (re-encoding is not timed)."""
    from sedona_jobs.synth.l2a.cog import write_cog_item

    existing = sorted((workdir / "cog").glob(f"{product.name.removesuffix('.SAFE')}_COG/*.json"))
    if existing:
        return existing[0]
    print(f"writing the COG form of {product.name} (not timed) ...", flush=True)
    return write_cog_item(product, workdir / "cog")


if __name__ == "__main__":
    main()
