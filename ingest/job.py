"""Scheduled runs: ``s2lake ingest run JOB.yaml`` = search → select → get → land.

Runs are incremental and idempotent: products already in the ``products`` table (or landed in the
scheduler state) are skipped, so a cron job can repeat the same JOB file. A lock (``flock`` on
``_state/ingest.lock``) keeps two runs from overlapping; the kernel releases it when a process dies,
so a crashed run never leaves a stale lock behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ingest.aoi import load_aoi
from ingest.catalogues import SearchQuery
from ingest.landing import known_products
from ingest.ranking import latest_ranks
from ingest.scheduler import GetReport, Scheduler, state_dir
from ingest.search import search_all
from ingest.selection import select_lowest_cloud
from s2lake.config.ingest import IngestSettings
from s2lake.errors import ConfigError, S2LakeError
from s2lake.locks import hold
from s2lake.warehouse import Warehouse


class CatalogueUnavailable(S2LakeError):
    """No mirror answered the search."""


class JobSpec(BaseModel):
    """A scheduled ingestion job (YAML)."""

    model_config = ConfigDict(extra="forbid")

    aoi: str | None = Field(None, description="GeoJSON/WKT/CSV file (relative to the job file) or tiles like 33UUP.")
    tiles: list[str] | str | None = Field(
        None, description="MGRS tiles instead of an aoi: a list ([32UPU, 32UQU]) or one string ('32UPU,32UQU')."
    )
    start: date | None = None
    end: date | None = None
    days_back: int | None = Field(None, ge=1, description="Rolling window ending today (instead of start/end).")
    level: Literal["L1C", "L2A"] = "L2A"
    max_cloud: float = Field(100.0, ge=0, le=100)
    select: Literal["all", "lowest_cloud"] = "lowest_cloud"
    per_year: bool = False
    mirrors: list[str] = Field(default_factory=list, description="Names of configured mirrors to use (all if empty).")

    @model_validator(mode="after")
    def _area(self) -> JobSpec:
        """One area: ``tiles`` is the same as an ``aoi`` of tile names, so it becomes that."""
        if (self.aoi is None) == (self.tiles is None):
            raise ValueError("give either aoi (a file or tiles) or tiles, not both and not neither")
        if self.tiles is not None:
            tiles = self.tiles.split(",") if isinstance(self.tiles, str) else self.tiles
            self.aoi = ",".join(t.strip() for t in tiles if t.strip())
            if not self.aoi:
                raise ValueError("tiles is empty")
        return self

    @model_validator(mode="after")
    def _window(self) -> JobSpec:
        if self.days_back is None and (self.start is None or self.end is None):
            raise ValueError("give start and end dates, or days_back")
        if self.start and self.end and self.end < self.start:
            raise ValueError("end is before start")
        return self

    def window(self, today: date | None = None) -> tuple[datetime, datetime]:
        if self.days_back is not None:
            end = today or datetime.now(UTC).date()
            start = end - timedelta(days=self.days_back)
        else:
            assert self.start is not None and self.end is not None
            start, end = self.start, self.end
        # The end date is included: search up to the start of the next day.
        return (
            datetime.combine(start, time(), tzinfo=UTC),
            datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC),
        )


def load_job(path: Path) -> JobSpec:
    if not path.is_file():
        raise ConfigError(f"job file {path} does not exist", fix="pass an existing job file (YAML, see docs/ingest.md)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        job = JobSpec.model_validate(data)
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot parse {path}: {exc}", fix="correct the YAML syntax") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'job'}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid job file: {problems}", where=str(path), fix="see docs/ingest.md") from None
    assert job.aoi is not None  # set by the _area validator
    aoi = Path(job.aoi)
    if not aoi.is_absolute() and (path.parent / aoi).is_file():
        job.aoi = str(path.parent / aoi)
    return job


@contextmanager
def run_lock(warehouse: Warehouse) -> Iterator[Path]:
    """The warehouse's ingest lock (:func:`s2lake.locks.hold`): one ``ingest run`` or ``ingest get`` at a time."""
    folder = state_dir(warehouse)
    path = folder / "ingest.lock"
    with hold(path, "this warehouse's ingest runs", "ingest"):
        yield path


@dataclass
class RunReport:
    found: int = 0
    selected: int = 0
    skipped_known: int = 0
    mirror_failures: dict[str, str] = field(default_factory=dict)
    get: GetReport = field(default_factory=GetReport)

    def as_dict(self) -> dict:
        return {
            "found": self.found,
            "selected": self.selected,
            "skipped_known": self.skipped_known,
            "landed": len(self.get.landed),
            "failed": len(self.get.failed),
            "failures": self.get.failed,
            "mirror_failures": self.mirror_failures,
            "bytes": self.get.bytes,
        }


def run_job(job: JobSpec, settings: IngestSettings, warehouse: Warehouse, progress: object | None = None) -> RunReport:
    mirrors = [m for m in settings.mirrors if m.enabled and (not job.mirrors or m.name in job.mirrors)]
    unknown = set(job.mirrors) - {m.name for m in settings.mirrors}
    if unknown:
        raise ConfigError(
            f"job names unknown mirrors: {', '.join(sorted(unknown))}",
            fix="declare them under ingest.mirrors in the s2lake configuration",
        )
    if not mirrors:
        raise ConfigError("no mirrors configured", fix="declare ingest.mirrors in the s2lake configuration")
    report = RunReport()
    with run_lock(warehouse):
        aoi = load_aoi(job.aoi)
        start, end = job.window()
        query = SearchQuery(start, end, aoi.geometry_wkt, aoi.tiles, job.level, job.max_cloud)
        result = search_all(mirrors, query)
        report.mirror_failures = result.failures
        if result.failures and len(result.failures) == len(mirrors):
            raise CatalogueUnavailable(
                "every mirror failed: " + "; ".join(f"{k}: {v}" for k, v in result.failures.items()),
                fix="check the network and the mirrors' URLs and credentials",
            )
        report.found = len(result.products)
        chosen = select_lowest_cloud(result.products, job.per_year) if job.select == "lowest_cloud" else result.products
        report.selected = len(chosen)
        known = known_products(warehouse)
        todo = [p for p in chosen if p.product_id not in known]
        report.skipped_known = len(chosen) - len(todo)
        scheduler = Scheduler(settings, warehouse, latest_ranks(warehouse), progress, mirrors)
        report.get = scheduler.run(todo)
    return report
