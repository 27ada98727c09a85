"""Download throughput and bytes per product: band-level (``--bands patches``) against whole products.

Writes small L2A products with the synthesiser (JPEG 2000 bands, the resampled 20 m / 60 m copies,
``manifest.safe``), serves them from three stand-in mirrors on 127.0.0.1 (DHuS, CDSE OData and STAC
faces from the test suite), each capping every connection's bandwidth and refusing connections beyond
its limit, and runs s2lake's scheduler twice side by side in one run: ``bands: patches`` (per-file
``Nodes(...)`` paths and STAC file assets) and ``bands: all`` (whole archives, extracted). It prints:

* bytes fetched per product, patches / whole (goal <= 0.65), on the synthetic products and, as the
  headline, on a real product's file-size table (the CDSE STAC 1.1 item in ``../shared/data``: every
  asset's ``file:size`` and the zipped product's), with the files picked by the patch job's own rule.
  The synthesiser writes no TCI, AOT or WVP layers and its bands compress differently from real ones,
  so the synthetic ratio is not the real one;
* the HEADLINE: end-to-end throughput of the default ``bands: patches`` (first request to the last product
  landed and committed to the ``products`` Delta table, extraction included) as a share of the sum of the
  mirrors' caps (goal >= 90 %); per mode, the same and the transfer phase alone beside it. At the end of a
  run idle connections take files of the products still under way (:class:`ingest.band_download.SharedFiles`),
  which the tail of a run depends on;
* files or products transferred to completion more than once (goal 0).

    uv run python bench/downloads.py [--products 8] [--pixels 600] [--rate-scale 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.catalogues import SearchQuery
from ingest.scheduler import Scheduler
from ingest.search import search_all
from s2lake.config.ingest import IngestSettings, MirrorSettings, SchedulerSettings
from s2lake.testing.standin_catalogues import CDSE_STAC_ITEM, FakeProduct, StandInServer, product_from_safe
from s2lake.warehouse import Warehouse
from sedona_jobs.safe import ProductMetadata, files_read
from sedona_jobs.synth.l2a import write_l2a

#: (face, connection limit, bytes/s per connection)
MIRRORS = (("dhus", 3, 300_000), ("cdse", 2, 450_000), ("stac", 1, 600_000))
AREA = "POLYGON((0 40, 20 40, 20 60, 0 60, 0 40))"


def real_product_ratio(item_path: Path) -> tuple[int, int] | None:
    """(bytes of the files the patch job reads, bytes of the zipped product) of a real CDSE STAC item."""
    if not item_path.is_file():
        return None
    assets = json.loads(item_path.read_text())["assets"]
    safe = f"{json.loads(item_path.read_text())['id']}.SAFE/"
    sizes = {
        a["file:local_path"].removeprefix(safe): int(a["file:size"]) for a in assets.values() if "file:local_path" in a
    }
    jp2 = tuple(rel.removesuffix(".jp2") for rel in sizes if rel.endswith(".jp2"))
    meta = ProductMetadata("", "L2A", "", datetime.now(UTC), "", None, None, None, {}, jp2)
    wanted = ["manifest.safe", *files_read(meta, str(item_path))]
    return sum(sizes[rel] for rel in wanted), int(assets["Product"]["file:size"])


@contextmanager
def mirrors(products: list[FakeProduct], scale: float) -> Iterator[tuple[list[StandInServer], list[MirrorSettings]]]:
    servers, settings = [], []
    for kind, limit, rate in MIRRORS:
        server = StandInServer(
            kind, products, bandwidth=int(rate * scale), max_connections=limit, username="bench", password="bench-pw"
        ).start()
        servers.append(server)
        extra: dict = {"username_env": "BENCH_USER", "password_env": "BENCH_PASSWORD"} if kind != "stac" else {}
        if kind == "cdse":
            extra.update(token_url=server.token_url, download_hosts=[server.download_host])
        protocol = {"cdse": "cdse_odata"}.get(kind, kind)
        settings.append(MirrorSettings(name=kind, protocol=protocol, url=server.url, max_connections=limit, **extra))
    try:
        yield servers, settings
    finally:
        for server in servers:
            server.stop()


def run(products: list[FakeProduct], bands: str, scale: float) -> dict:
    """One ``ingest get`` of every product in ``bands`` mode, on fresh mirrors and a fresh warehouse."""
    with mirrors(products, scale) as (servers, settings):
        query = SearchQuery(datetime(2015, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC), AREA)
        found = search_all(settings, query)
        assert not found.failures, found.failures
        ingest = IngestSettings(
            mirrors=settings, bands=bands, scheduler=SchedulerSettings(max_connections=sum(m[1] for m in MIRRORS))
        )
        with tempfile.TemporaryDirectory() as tmp:
            started = time.monotonic()
            report = Scheduler(ingest, Warehouse.at(tmp)).run(found.products)
            seconds = time.monotonic() - started
        completed = [n for s in servers for n in s.stats.completed.values()]
        return {
            "landed": len(report.landed),
            "failed": len(report.failed),
            "bytes_sent": sum(s.stats.bytes_sent for s in servers),
            "landed_bytes": report.bytes,
            "seconds": seconds,
            "transfer_seconds": report.transfer_seconds,
            "duplicates": sum(1 for n in completed if n > 1),
            "per_mirror": [(s.kind, sum(s.stats.completed.values()), s.stats.peak_active) for s in servers],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=8)
    parser.add_argument("--pixels", type=int, default=600, help="edge of the synthetic products at 10 m")
    parser.add_argument("--rate-scale", type=float, default=1.0, help="multiply every mirror's caps")
    args = parser.parse_args()
    os.environ["BENCH_USER"], os.environ["BENCH_PASSWORD"] = "bench", "bench-pw"
    cap = sum(limit * rate * args.rate_scale for _, limit, rate in MIRRORS)

    with tempfile.TemporaryDirectory() as tmp:
        tiles = ("32UNA", "32UPA", "33UUP")
        safes = [
            write_l2a(
                tmp,
                tile=tiles[i % 3],
                date=f"2021-{1 + i % 12:02d}-{5 + i // 12:02d}",
                pixels=args.pixels,
                all_resolutions=True,
                seed=i,
                workers=1,
            )
            for i in range(args.products)
        ]
        products = [product_from_safe(safe) for safe in safes]
        results = {bands: run(products, bands, args.rate_scale) for bands in ("patches", "all")}

    report(products, results, cap, args)


def report(products: list[FakeProduct], results: dict[str, dict], cap: float, args: argparse.Namespace) -> None:
    caps = ", ".join(f"{kind} {n} x {rate * args.rate_scale / 1e6:.2f}" for kind, n, rate in MIRRORS)
    print(f"products            {len(products)} synthetic L2A ({args.pixels} px, resampled copies, no TCI/AOT/WVP)")
    print(f"sum of caps         {cap / 1e6:.2f} MB/s ({caps} MB/s per connection); goal: end to end >= 90%")
    for bands, r in results.items():
        sent = r["bytes_sent"]
        e2e = sent / r["seconds"]
        transfer = sent / r["transfer_seconds"] if r["transfer_seconds"] else 0.0
        print(f"\n--bands {bands}")
        print(f"  landed / failed   {r['landed']} / {r['failed']}")
        print(f"  bytes fetched     {sent / 1e6:.2f} MB ({sent / len(products) / 1e6:.3f} MB per product)")
        for kind, done, peak in r["per_mirror"]:
            print(f"  mirror {kind:5s}      {done} transfers, peak {peak} conn")
        print(f"  END TO END        {e2e / 1e6:.2f} MB/s in {r['seconds']:.2f} s = {e2e / cap:.1%} of the caps")
        print(f"  transfer phase    {transfer / 1e6:.2f} MB/s in {r['transfer_seconds']:.2f} s = {transfer / cap:.1%}")
        print(f"  duplicates        {r['duplicates']}  (goal 0)")
    patches, whole = results["patches"]["bytes_sent"], results["all"]["bytes_sent"]
    print("\nbytes per product, patches / whole (goal <= 0.65)")
    print(f"  synthetic         {patches / whole:.3f}  ({patches} / {whole} bytes)")
    real = real_product_ratio(CDSE_STAC_ITEM)
    if real is None:
        print("  real product      (no ../shared/data: the CDSE STAC item with real file sizes is missing)")
    else:
        needed, archive = real
        print(
            f"  REAL PRODUCT      {needed / archive:.3f}  ({needed / 1e6:.1f} MB of a {archive / 1e6:.1f} MB archive,"
        )
        print(f"                    file sizes of {CDSE_STAC_ITEM.name})")
    headline = results["patches"]
    print(
        f"\nHEADLINE end to end, --bands patches (default): {headline['bytes_sent'] / headline['seconds'] / cap:.1%}"
        " of the sum of the mirrors' caps, extraction and commit included (goal >= 90%)"
    )


if __name__ == "__main__":
    main()
