"""Patch and label jobs on Spark (local[2] and a local standalone cluster) next to the embedded engine, in one run.

    uv run python bench/spark.py                          # 4 products of 2400 px (1,600 patches), ~10 min
    uv run python bench/spark.py --products 8 --pixels 4800   # more work per fixed cost

Inputs: ``--products`` synthetic Level-2A products of tile 33UUU (``sedona_jobs.synth.l2a``, a time series:
one date per product), generated once and kept under ``--workdir`` (not timed). Every engine cuts the
same products with the same settings (``--workers``, checksum check on, NO_DATA patches kept).

Measured, each engine in its own child process (so its start-up and peak memory are its own):

* ``embedded``: ``patches build`` in product and band mode (``--workers`` processes), then ``labels
  build`` (land cover, country, overlaps) on those patches with a synthetic CLC layer sized as
  ``s2lake demo`` sizes it and the shipped Natural Earth countries (prepared first, not timed).
* ``spark local[2]`` and ``spark standalone``: ``patches build --engine spark`` in product and band
  mode. The cluster is ``s2lake cluster up --no-thrift`` (HDFS, master, one 2-core worker; always
  brought down at the end), and the bench's application asks it for both cores. The fixed start-up cost
  is kept apart from the throughput: the session start (JVM, SparkContext), then one warm-up build of
  one product per mode into a scratch warehouse (first Python workers, class loading, Delta's first
  commit; on the cluster also the executor launch), then the timed builds of all products, each into
  a fresh warehouse. ``fixed`` = session start + what the warm-up builds took beyond the steady rate.
* ``labels build --engine spark`` needs Apache Sedona for Spark 4.1 (docs/cluster.md); it runs on each
  Spark master (Sedona session start, a warm-up run, a timed run) only when
  ``s2lake.spark.sedona_jars_available()`` finds the jar, and otherwise a line says why not.

Printed: seconds, patches/s, the ratio to the embedded engine in the same mode, start-up and warm-up
seconds, peak resident memory (the child's process tree, i.e. the driver JVM and local executors; on
the cluster plus the worker's tree with its executors; sampled every 50 ms from /proc, Linux only).
Before any figure counts, every build's rows are checked against the embedded engine's: same patch ids
and identical metadata, statistics and footprints (``band_stats`` holds per-band sums and sums of
squares, so differing pixels show); label row counts likewise. A mismatch ends the run with exit 1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.patchgen import PeakRss, tree_rss
from s2lake.config.patches import PatchesSettings
from s2lake.shipped_data import SHIPPED_COUNTRIES
from s2lake.spark import JARS_ENV, build_session, delta_jars_available, delta_session, jar_folder, sedona_jars_available
from s2lake.spark.cluster import APP_CONF, ClusterState
from s2lake.tables.schemas import PATCHES
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.labels import build_labels
from sedona_jobs.labels.demo_labels import KM2_PER_POLYGON, MAX_POLYGONS, patches_bbox_3035
from sedona_jobs.patches import build_products
from sedona_jobs.reference import load_reference, write_synthetic
from sedona_jobs.synth.l2a import write_l2a
from sedona_jobs.synth.reference_layers import synth_clc

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent / "s2lake")
#: A run's child processes get this long (seconds) before the bench gives up on them.
CHILD_TIMEOUT = 3600
#: Columns compared between engines: everything but the pixel arrays (which ``band_stats`` summarises).
PIXEL_COLUMNS = ("b01", "b02", "b03", "b04", "b05", "b06", "b07", "b08", "b8a", "b09", "b11", "b12", "scl")
MODES = ("product", "band")


class TreesRss(PeakRss):
    """:class:`PeakRss` over this process's tree plus other trees (the cluster worker and its executors)."""

    def __init__(self, *pids: int) -> None:
        self.pids = pids

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(os.getpid()) + sum(tree_rss(p) for p in self.pids))
            self._stop.wait(0.05)


def products(workdir: Path, count: int, pixels: int) -> list[Path]:
    """``count`` products of tile 33UUU, one date each (generated once, then reused)."""
    folder = workdir / f"products-{pixels}px"
    found = []
    for n in range(count):
        date = f"2018-{3 + n % 9:02d}-{10 + n // 9:02d}"
        existing = sorted(folder.glob(f"S2?_MSIL2A_{date.replace('-', '')}T*.SAFE"))
        if existing:
            found.append(existing[0])
            continue
        print(f"generating product {n + 1}/{count} ({pixels} px, not timed) ...", flush=True)
        mission = "S2A" if n % 2 == 0 else "S2B"
        found.append(write_l2a(folder, pixels=pixels, date=date, seed=100 + n, mission=mission, nodata_fraction=0.05))
    return found


def build(paths: list[str], warehouse: str, mode: str, workers: int, spark: object | None) -> dict:
    """One ``patches build`` into ``warehouse``: seconds and patches per product (fails loudly)."""
    engine = "spark" if spark is not None else "sedonadb"
    settings = PatchesSettings(engine=engine, mode=mode, workers=workers)
    started = time.perf_counter()
    outcomes = build_products(paths, Warehouse.at(warehouse), settings, spark=spark)
    seconds = time.perf_counter() - started
    failed = [f"{o.product_id}: {o.reason}" for o in outcomes if o.status != "patched"]
    if failed:
        raise SystemExit(f"{engine} {mode} build failed: {'; '.join(failed)}")
    return {"seconds": seconds, "patches": sum(o.patches for o in outcomes), "warehouse": warehouse}


def label(warehouse: str, engine: str) -> dict:
    started = time.perf_counter()
    report = build_labels(Warehouse.at(warehouse), engine=engine, country_source="countries")
    return {
        "seconds": time.perf_counter() - started,
        "patches": report.patches,
        "landcover_rows": report.landcover_rows,
        "overlap_pairs": report.overlap_pairs,
        "countries": report.countries,
    }


def prepare_references(warehouse: str) -> int:
    """CLC-like polygons around the patches (sized as ``s2lake demo`` sizes them) and the shipped
    countries, as ``s2lake reference synth clc`` and ``reference load countries`` write them."""
    target = Warehouse.at(warehouse)
    bbox = patches_bbox_3035(target)
    count = int(min(max((bbox[2] - bbox[0]) * (bbox[3] - bbox[1]) / 1e6 / KM2_PER_POLYGON, 100), MAX_POLYGONS))
    write_synthetic(synth_clc(bbox, count, seed=0), target, "clc", bbox=bbox, count=count, seed=0)
    load_reference("countries", SHIPPED_COUNTRIES, target)
    return count


def run_embedded(setup: dict) -> dict:
    out: dict = {"builds": {}}
    for mode in MODES:
        with PeakRss() as rss:
            result = build(setup["products"], f"{setup['run']}/embedded-{mode}", mode, setup["workers"], None)
        out["builds"][mode] = result | {"peak_rss": rss.peak}
    labelled = out["builds"]["product"]["warehouse"]
    out["clc_polygons"] = prepare_references(labelled)
    with PeakRss() as rss:
        cold = label(labelled, "sedonadb")
        warm = label(labelled, "sedonadb")
    out["labels"] = warm | {"cold_seconds": cold["seconds"], "peak_rss": rss.peak}
    return out


def run_spark(setup: dict) -> dict:
    """Session start, one warm-up build per mode, then the timed builds (and labels when Sedona is there)."""
    # The Delta-only session takes its jars from the environment; point it at the Maven-resolved folder.
    os.environ.setdefault(JARS_ENV, str(jar_folder()))
    master, run, workers = setup["master"], setup["run"], setup["workers"]
    tag = setup["tag"]
    conf = {"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false"} | setup["conf"]
    out: dict = {"builds": {}, "warmup": {}}
    started = time.perf_counter()
    spark = delta_session("s2lake-bench", master=master, extra=conf)
    out["session_seconds"] = time.perf_counter() - started
    for mode in MODES:
        out["warmup"][mode] = build(setup["products"][:1], f"{run}/{tag}-warmup-{mode}", mode, workers, spark)
    for mode in MODES:
        with TreesRss(*setup["watch"]) as rss:
            out["builds"][mode] = build(setup["products"], f"{run}/{tag}-{mode}", mode, workers, spark)
        out["builds"][mode]["peak_rss"] = rss.peak
    spark.stop()
    if sedona_jars_available() is None:
        out["labels"] = spark_labels(setup, conf, out["builds"]["product"]["warehouse"])
    return out


def spark_labels(setup: dict, conf: dict, warehouse: str) -> dict:
    """``labels build --engine spark`` on the Spark-built patches with the embedded run's reference tables:
    a Sedona session (``labels build`` picks up the active one), a warm-up run, then the timed run."""
    source = Warehouse.at(setup["embedded_warehouse"]).reference_uri("")
    shutil.copytree(source, Warehouse.at(warehouse).reference_uri(""), dirs_exist_ok=True)
    with TreesRss(*setup["watch"]) as rss:
        started = time.perf_counter()
        spark = build_session("s2lake-bench-labels", master=setup["master"], extra=conf)
        session_seconds = time.perf_counter() - started
        cold = label(warehouse, "spark")
        warm = label(warehouse, "spark")
        spark.stop()
    return warm | {"cold_seconds": cold["seconds"], "session_seconds": session_seconds, "peak_rss": rss.peak}


def child(kind: str, setup: dict) -> None:
    result = run_embedded(setup) if kind == "embedded" else run_spark(setup)
    print("RESULT " + json.dumps(result), flush=True)


def spawn(kind: str, setup: dict) -> dict:
    """Run one engine in a child process; its log goes to ``<run>/<tag>.log``."""
    log = Path(setup["run"]) / f"{setup.get('tag', kind)}.log"
    with log.open("w") as err:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", kind, "--setup", json.dumps(setup)],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            timeout=CHILD_TIMEOUT,
            check=False,
        )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"{setup.get('tag', kind)} failed (exit {proc.returncode}); {log} ends with:\n{tail}")
    return json.loads(lines[-1].removeprefix("RESULT "))


def cluster_up(folder: Path) -> tuple[dict, float]:
    """``s2lake cluster up --no-thrift`` as a user runs it; returns (state, seconds)."""
    started = time.perf_counter()
    done = subprocess.run([CLI, "cluster", "up", "--dir", str(folder), "--no-thrift"], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    state = ClusterState.load(folder)
    if done.returncode != 0 or state is None:
        raise SystemExit(f"`s2lake cluster up` failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    return {"master": state.addresses["spark_master"], "worker_pid": state.processes["worker"].pid}, seconds


def cluster_down(folder: Path) -> None:
    done = subprocess.run([CLI, "cluster", "down", "--dir", str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        print(f"WARNING: `s2lake cluster down --dir {folder}` failed:\n{done.stdout}\n{done.stderr}", file=sys.stderr)


def patch_rows(warehouse: str):
    """The patches table without pixel arrays, in patch_id order (what the engines must agree on)."""
    columns = [name for name in PATCHES.schema.names if name not in PIXEL_COLUMNS]
    return TableStore(Warehouse.at(warehouse)).read("patches", columns=columns).sort_by("patch_id")


def check(results: dict[str, dict]) -> list[str]:
    """What differs from the embedded product-mode build (rows, labels); empty when all agree."""
    expected = patch_rows(results["embedded"]["builds"]["product"]["warehouse"])
    problems = []
    for name, result in results.items():
        for mode, run in result["builds"].items():
            rows = patch_rows(run["warehouse"])
            if rows.num_rows != expected.num_rows or run["patches"] != expected.num_rows:
                problems.append(f"{name} {mode}: {rows.num_rows} rows ({run['patches']} reported), "
                                f"embedded {expected.num_rows}")  # fmt: skip
            elif not rows.equals(expected):
                problems.append(f"{name} {mode}: same row count, different rows")
    want = results["embedded"]["labels"]
    for name, result in results.items():
        got = result.get("labels")
        keys = ("patches", "landcover_rows", "overlap_pairs", "countries")
        if got and any(got[k] != want[k] for k in keys):
            problems.append(f"{name} labels: {[got[k] for k in keys]} vs embedded {[want[k] for k in keys]}")
    return problems


def report(results: dict[str, dict], cluster_seconds: float | None, args: argparse.Namespace) -> None:
    mib = 2**20
    base = {mode: results["embedded"]["builds"][mode] for mode in MODES}
    print(f"\npatches build: {args.products} products x {base['product']['patches'] // args.products} patches, "
          f"{args.workers} workers/cores")  # fmt: skip
    print(f"{'engine':<18}{'mode':<9}{'seconds':>9}{'patches/s':>11}{'x embedded':>12}{'peak MiB':>10}")
    for name, result in results.items():
        for mode, run in result["builds"].items():
            rate = run["patches"] / run["seconds"]
            ratio = rate / (base[mode]["patches"] / base[mode]["seconds"])
            peak = run["peak_rss"] / mib
            print(f"{name:<18}{mode:<9}{run['seconds']:>9.1f}{rate:>11.1f}{ratio:>12.2f}{peak:>10,.0f}")

    print("\nfixed start-up cost (not in the figures above)")
    for name, result in results.items():
        if "session_seconds" not in result:
            continue
        parts = [f"session start {result['session_seconds']:.1f} s"]
        extra = result["session_seconds"]
        for mode, warm in result["warmup"].items():
            steady = warm["patches"] / (result["builds"][mode]["patches"] / result["builds"][mode]["seconds"])
            parts.append(f"warm-up {mode} {warm['seconds']:.1f} s ({warm['patches']} patches, {steady:.1f} s steady)")
            extra += max(warm["seconds"] - steady, 0.0)
        if name == "spark standalone" and cluster_seconds is not None:
            parts.insert(0, f"cluster up {cluster_seconds:.1f} s")
        print(f"{name:<18}{'; '.join(parts)}; fixed ~ {extra:.1f} s per session")

    embedded = results["embedded"]
    labels = embedded["labels"]
    print(
        f"\nlabels build: {labels['patches']} patches, {embedded['clc_polygons']:,} CLC-like polygons, shipped "
        f"countries; {labels['landcover_rows']} land-cover rows, {labels['overlap_pairs']} overlap pairs"
    )
    print(f"{'engine':<18}{'first s':>9}{'seconds':>9}{'labelled patches/s':>20}{'peak MiB':>10}")
    for name, result in results.items():
        got = result.get("labels")
        if got:
            rate = got["patches"] / got["seconds"]
            peak = got["peak_rss"] / mib
            print(f"{name:<18}{got['cold_seconds']:>9.1f}{got['seconds']:>9.2f}{rate:>20,.0f}{peak:>10,.0f}")
    unmeasured = [name for name, result in results.items() if "labels" not in result]
    if unmeasured:
        print(f"{' and '.join(unmeasured)}: not measured: {sedona_jars_available()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=4, help="synthetic products (one date each)")
    parser.add_argument("--pixels", type=int, default=2400, help="product edge, 10 m pixels (120 per patch)")
    parser.add_argument("--workers", type=int, default=2, help="embedded worker processes, Spark cores and band groups")
    parser.add_argument("--targets", default="embedded,local,standalone", help="which of embedded,local,standalone")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "s2lake-bench-spark")
    parser.add_argument("--keep", action="store_true", help="keep the run's warehouses and logs")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--setup", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, json.loads(args.setup))
        return

    missing = delta_jars_available()
    if missing:
        raise SystemExit(f"Spark cannot run Delta Lake here: {missing}; run `uv run s2lake spark jars` first")
    args.workdir.mkdir(parents=True, exist_ok=True)
    paths = [str(p) for p in products(args.workdir, args.products, args.pixels)]
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    run = Path(tempfile.mkdtemp(prefix="run-", dir=args.workdir))
    targets = set(args.targets.split(","))
    setup = {"products": paths, "run": str(run), "workers": args.workers}
    results: dict[str, dict] = {}
    cluster_seconds = None
    try:
        print("embedded engine ...", flush=True)
        results["embedded"] = spawn("embedded", setup | {"tag": "embedded"})
        setup["embedded_warehouse"] = results["embedded"]["builds"]["product"]["warehouse"]
        cores = {"spark.sql.shuffle.partitions": str(args.workers)}
        if "local" in targets:
            print(f"spark local[{args.workers}] ...", flush=True)
            local = setup | {"tag": "local", "master": f"local[{args.workers}]", "conf": cores, "watch": []}
            results[f"spark local[{args.workers}]"] = spawn("spark", local)
        if "standalone" in targets:
            print("spark standalone: s2lake cluster up ...", flush=True)
            folder = run / "cluster"
            try:
                state, cluster_seconds = cluster_up(folder)
                # The cluster's app settings (docs/cluster.md) give an app one core to leave the other to
                # the Thrift server; without it the bench's app takes the worker's cores.
                conf = APP_CONF | cores | {"spark.cores.max": str(args.workers)}
                cluster = {"tag": "standalone", "master": state["master"], "conf": conf}
                results["spark standalone"] = spawn("spark", setup | cluster | {"watch": [state["worker_pid"]]})
            finally:
                cluster_down(folder)
        problems = check(results)
        report(results, cluster_seconds, args)
    finally:
        if not args.keep:
            shutil.rmtree(run, ignore_errors=True)
    # Other work on the machine skews every figure; the load says how quiet the run was.
    print(f"\nwhole run {time.perf_counter() - started:.0f} s (not counting the generation of the inputs); load "
          f"average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after ({os.cpu_count()} cores)")  # fmt: skip
    if problems:
        raise SystemExit("engines disagree, the figures compare different work:\n  " + "\n  ".join(problems))
    print("rows: every build wrote the embedded engine's rows (patch ids, metadata, band statistics, footprints)")


if __name__ == "__main__":
    main()
