"""``s2lake ingest mirrors rank``: measure each mirror and score it.

Four measures, each scaled to 0…1 against the best mirror, then weighted (default 1.5 / 1 / 1 / 0.5):
download speed over a bounded sample (a Range request of ``rank_sample_bytes``), latency of a small
catalogue request, products available for the test tiles, and total products. A mirror that fails a
measure scores 0 on it. Results are appended to the ``mirror_ranks`` Delta table; the scheduler uses
the latest score of each mirror.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, time
from time import monotonic

import pyarrow as pa
import requests
import urllib3

from ingest.catalogues import SearchQuery, open_catalogue
from ingest.transfer import Pace, TransferLimits, body_blocks
from s2lake.config.ingest import IngestSettings, MirrorSettings, SchedulerSettings
from s2lake.errors import DownloadError, S2LakeError
from s2lake.tables.schemas import TableSpec, col
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse

MIRROR_RANKS = TableSpec(
    name="mirror_ranks",
    description="Measurements and scores of the ingest mirrors, one row per mirror and ranking run.",
    key=("mirror", "measured_at"),
    schema=pa.schema(
        [
            col("mirror", pa.string(), "Mirror name from the configuration", False),
            col("protocol", pa.string(), "dhus, cdse_odata or stac"),
            col("latency_ms", pa.float64(), "Duration of a small catalogue request (ms); NULL if it failed"),
            col("speed_bytes_per_s", pa.float64(), "Download speed over the bounded sample; NULL if not measured"),
            col("sample_bytes", pa.int64(), "Bytes downloaded to measure the speed"),
            col("test_tile_products", pa.int64(), "Products found for the test tiles"),
            col("total_products", pa.int64(), "Products of the level the mirror offers in total"),
            col("score", pa.float64(), "Weighted score (higher is better)", False),
            col("errors", pa.string(), "What failed while measuring (empty if nothing)"),
            col("measured_at", pa.timestamp("us", tz="UTC"), "When the ranking ran (UTC)", False),
        ]
    ),
)


@dataclass
class Measurement:
    mirror: str
    protocol: str
    latency_ms: float | None = None
    speed_bytes_per_s: float | None = None
    sample_bytes: int = 0
    test_tile_products: int = 0
    total_products: int = 0
    score: float = 0.0
    errors: str = ""


def _speed(session: requests.Session, url: str, sample: int, cfg: SchedulerSettings) -> tuple[float, int]:
    """Bytes per second over a sample of ``sample`` bytes, under the limits of any transfer."""
    limits = TransferLimits.from_settings(cfg)
    pace = Pace(limits)
    pace.expect(sample)
    headers = {"Range": f"bytes=0-{sample - 1}"}
    try:
        with session.get(url, headers=headers, stream=True, timeout=cfg.timeout_seconds) as response:
            response.raise_for_status()
            got = 0
            for block in body_blocks(response, limits.max_bytes, pace, 64 * 1024):
                got += len(block)
                if got >= sample:
                    break
    except urllib3.exceptions.HTTPError as exc:
        raise DownloadError(f"{type(exc).__name__}: {str(exc)[:160]}") from None
    return round(got / max(monotonic() - pace.started, 1e-6)), got


def measure(mirror: MirrorSettings, settings: IngestSettings, now: datetime) -> Measurement:
    m = Measurement(mirror.name, mirror.protocol)
    errors = []
    catalogue = open_catalogue(mirror)
    try:
        started = monotonic()
        m.total_products = catalogue.count_all(settings.level)
        m.latency_ms = round((monotonic() - started) * 1000, 1)
    except (S2LakeError, requests.RequestException) as exc:
        errors.append(f"count: {getattr(exc, 'message', exc)}")
    products = []
    if settings.rank_test_tiles:
        query = SearchQuery(
            start=datetime.combine(settings.rank_since, time(), tzinfo=UTC),
            end=now,
            tiles=tuple(settings.rank_test_tiles),
            level=settings.level,
        )
        try:
            products = catalogue.search(query)
            m.test_tile_products = len(products)
        except (S2LakeError, requests.RequestException) as exc:
            errors.append(f"search: {getattr(exc, 'message', exc)}")
    offer = next((p.offers[mirror.name] for p in products if p.offers[mirror.name].url), None)
    if offer is not None:
        try:
            m.speed_bytes_per_s, m.sample_bytes = _speed(
                catalogue.session, offer.url, settings.rank_sample_bytes, settings.scheduler
            )
        except (S2LakeError, requests.RequestException) as exc:
            errors.append(f"speed: {getattr(exc, 'message', exc)}")
    else:
        errors.append("speed: no downloadable product for the test tiles")
    catalogue.close()
    m.errors = "; ".join(errors)
    return m


def score(measurements: list[Measurement], settings: IngestSettings) -> None:
    """Scale each measure to the best mirror and weight it (in place)."""
    w = settings.rank_weights

    def best(values: list[float]) -> float:
        return max(values) if values and max(values) > 0 else 1.0

    top_speed = best([m.speed_bytes_per_s or 0 for m in measurements])
    top_avail = best([float(m.test_tile_products) for m in measurements])
    top_total = best([float(m.total_products) for m in measurements])
    latencies = [m.latency_ms for m in measurements if m.latency_ms]
    fastest = min(latencies) if latencies else 1.0
    for m in measurements:
        m.score = round(
            w.speed * (m.speed_bytes_per_s or 0) / top_speed
            + w.latency * (fastest / m.latency_ms if m.latency_ms else 0)
            + w.availability * m.test_tile_products / top_avail
            + w.total * m.total_products / top_total,
            4,
        )


def rank_mirrors(settings: IngestSettings, warehouse: Warehouse | None = None) -> list[Measurement]:
    """Measure every enabled mirror concurrently, score, store (when given a warehouse), best first."""
    now = datetime.now(UTC)
    mirrors = [m for m in settings.mirrors if m.enabled]
    with ThreadPoolExecutor(max_workers=max(1, len(mirrors))) as pool:
        measurements = list(pool.map(lambda m: measure(m, settings, now), mirrors))
    score(measurements, settings)
    measurements.sort(key=lambda m: -m.score)
    if warehouse is not None and measurements:
        rows = [dict(asdict(m), measured_at=now) for m in measurements]
        TableStore(warehouse).upsert(MIRROR_RANKS, pa.Table.from_pylist(rows, schema=MIRROR_RANKS.schema))
    return measurements


def latest_ranks(warehouse: Warehouse) -> dict[str, float]:
    """The latest score of each mirror ({} when never ranked)."""
    store = TableStore(warehouse)
    if store.open(MIRROR_RANKS.name) is None:
        return {}
    table = store.read(MIRROR_RANKS.name, columns=["mirror", "score", "measured_at"]).to_pylist()
    latest: dict[str, tuple] = {}
    for row in table:
        if row["mirror"] not in latest or row["measured_at"] > latest[row["mirror"]][0]:
            latest[row["mirror"]] = (row["measured_at"], row["score"])
    return {name: value[1] for name, value in latest.items()}
