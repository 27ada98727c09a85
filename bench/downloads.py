"""Download scheduler throughput: 3 throttled mirrors with different connection limits.

Starts three stand-in mirrors on 127.0.0.1 (DHuS, CDSE OData, STAC faces from the test suite), each
capping every connection's bandwidth and refusing connections beyond its limit, all offering the same
products. `s2lake`'s scheduler downloads, verifies, extracts and lands everything; the script prints
the aggregate throughput as a share of the sum of the mirrors' caps (goal ≥ 90%) and the number of
products transferred to completion more than once (goal 0), measured side by side in one run.

    uv run python bench/downloads.py [--products 60] [--size-kb 1024]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.catalogues import SearchQuery
from ingest.scheduler import Scheduler
from ingest.search import search_all
from s2lake.config.ingest import IngestSettings, MirrorSettings, SchedulerSettings
from s2lake.warehouse import Warehouse
from tests.ingest.catalogue_server import StandInServer, generate_products

#: (face, connection limit, bytes/s per connection)
MIRRORS = (("dhus", 3, 1_000_000), ("cdse", 2, 1_500_000), ("stac", 1, 2_000_000))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=60)
    parser.add_argument("--size-kb", type=int, default=1024)
    args = parser.parse_args()

    os.environ["BENCH_USER"], os.environ["BENCH_PASSWORD"] = "bench", "bench-pw"
    products = generate_products(args.products, ["32UNA", "32UPA", "33UUP"], step_days=3, payload=args.size_kb * 1024)
    servers, mirrors = [], []
    for kind, limit, rate in MIRRORS:
        server = StandInServer(
            kind, products, bandwidth=rate, max_connections=limit, username="bench", password="bench-pw"
        )
        servers.append(server.start())
        extra = {"username_env": "BENCH_USER", "password_env": "BENCH_PASSWORD"} if kind != "stac" else {}
        if kind == "cdse":
            extra["token_url"] = server.token_url
        mirrors.append(
            MirrorSettings(
                name=kind,
                protocol={"cdse": "cdse_odata"}.get(kind, kind),
                url=server.url,
                max_connections=limit,
                **extra,
            )
        )
    cap = sum(limit * rate for _, limit, rate in MIRRORS)
    settings = IngestSettings(mirrors=mirrors, scheduler=SchedulerSettings(max_connections=sum(m[1] for m in MIRRORS)))
    query = SearchQuery(
        datetime(2020, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC), "POLYGON((0 40, 20 40, 20 60, 0 60, 0 40))"
    )
    try:
        found = search_all(mirrors, query)
        assert not found.failures, found.failures
        with tempfile.TemporaryDirectory() as tmp:
            started = time.monotonic()
            report = Scheduler(settings, Warehouse.at(tmp)).run(found.products)
            seconds = time.monotonic() - started
    finally:
        for server in servers:
            server.stop()
    total = sum(len(p.data) for p in products)
    completions = {p.name: sum(s.stats.completed[p.name] for s in servers) for p in products}
    duplicates = sum(1 for n in completions.values() if n > 1)
    transfer = total / report.transfer_seconds
    end_to_end = total / seconds
    print(f"products            {len(products)} x {args.size_kb} KiB = {total / 1e6:.1f} MB")
    print(f"landed / failed     {len(report.landed)} / {len(report.failed)}")
    for (kind, limit, rate), server in zip(MIRRORS, servers, strict=True):
        got = sum(server.stats.completed.values())
        print(
            f"mirror {kind:5s}        {limit} conn x {rate / 1e6:.1f} MB/s, {got} products, "
            f"peak {server.stats.peak_active} conn"
        )
    print(f"sum of caps         {cap / 1e6:.2f} MB/s")
    print(f"transfer phase      {transfer / 1e6:.2f} MB/s in {report.transfer_seconds:.2f} s (first byte to last)")
    print(f"end to end          {end_to_end / 1e6:.2f} MB/s in {seconds:.2f} s (with extraction and Delta commit)")
    print(f"share of caps       {transfer / cap:.1%} transfer phase, {end_to_end / cap:.1%} end to end  (goal >= 90%)")
    print(f"duplicates          {duplicates}  (goal 0)")


if __name__ == "__main__":
    main()
