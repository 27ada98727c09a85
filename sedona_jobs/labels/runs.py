"""Label runs: the three label tables move together although Delta commits them one at a time.

A ``labels build`` writes ``patch_landcover``, ``patch_country`` and ``patch_overlaps`` in three
commits; a run killed between them would leave the tables from different runs. So every row carries
the run's ``run_id``, the run is recorded in ``label_runs`` as ``running`` before its first commit and
marked ``complete`` only after its last one, and readers (the dbt staging models, macro
``s2lake_label_run``) take the rows of the latest complete run. Until a new run is complete the
previous one's rows stay in the tables; the new run removes rows of older runs only afterwards
(:meth:`LabelRun.prune`), and a run that never completes is removed by the next one that does.

Run ids start with the UTC start time, so they sort by age: "latest" is the largest id, a plain
string comparison that every engine (DuckDB, Spark, delta-rs predicates) does the same way.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

import pyarrow as pa

from s2lake.tables.schemas import LABEL_RUNS, PATCH_COUNTRY, PATCH_LANDCOVER, PATCH_OVERLAPS, TableSpec
from s2lake.tables.store import TableStore, sql_literal

log = logging.getLogger(__name__)

#: The tables a run writes (``labels build`` commits them in parallel).
LABEL_TABLES = (PATCH_LANDCOVER, PATCH_COUNTRY, PATCH_OVERLAPS)
RUN_ID = "run_id"


def new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}"


def pending_runs(store: TableStore) -> tuple[str | None, list[dict]]:
    """The run readers use (latest complete) and the runs after it that are not complete: a run under way,
    killed before its last commit (``running``) or ``failed``. Nothing when ``label_runs`` is missing."""
    if store.open(LABEL_RUNS.name) is None:
        return None, []
    runs = store.read(LABEL_RUNS.name, ["run_id", "status", "started"]).to_pylist()
    current = max((r["run_id"] for r in runs if r["status"] == "complete"), default=None)
    later = [r for r in runs if r["status"] != "complete" and (current is None or r["run_id"] > current)]
    return current, sorted(later, key=lambda r: r["run_id"])


class LabelRun:
    """The writes of one run: :meth:`begin`, :meth:`commit` each table, :meth:`complete`, :meth:`prune` each table."""

    def __init__(self, store: TableStore, engine: str, country_source: str) -> None:
        self.store = store
        self.started = datetime.now(UTC)
        self.run_id = new_run_id(self.started)
        self.row = {
            "run_id": self.run_id,
            "status": "running",
            "started": self.started,
            "engine": engine,
            "country_source": country_source,
        }

    def begin(self) -> None:
        """Record the run as ``running`` before its first commit: a run killed later stays visible."""
        self._record()

    def commit(self, spec: TableSpec, table: pa.Table) -> None:
        """Add the run's rows of one table (one commit); older runs' rows stay until :meth:`prune`."""
        rows = table.append_column(spec.schema.field(RUN_ID), pa.array([self.run_id] * table.num_rows, pa.string()))
        if self._legacy(spec):
            # Written before runs existed: no rows a reader could tell apart, so replace them at once.
            self.store.overwrite(spec, rows)
        else:
            self.store.append(spec, rows)
        counts = {PATCH_COUNTRY.name: "patches", PATCH_LANDCOVER.name: "landcover_rows"}
        self.row[counts.get(spec.name, "overlap_rows")] = table.num_rows

    def complete(self) -> None:
        """Mark the run complete: from this commit on, readers see its rows."""
        self.row.update(status="complete", finished=datetime.now(UTC))
        self._record()

    def fail(self, reason: str) -> None:
        """Best effort: a run that raised says why (a killed run stays ``running``)."""
        self.row.update(status="failed", finished=datetime.now(UTC), reason=reason[:2000])
        try:
            self._record()
        except Exception as exc:  # the warehouse may be what failed; the original error is what matters
            log.error("could not mark label run %s failed: %s", self.run_id, exc)

    def prune(self, spec: TableSpec) -> None:
        """Remove older runs' rows (complete, failed or killed) from one table (one commit); runs that started
        later are left alone."""
        self.store.delete(spec, f"{RUN_ID} < {sql_literal(self.run_id)}")

    def _record(self) -> None:
        row = {name: self.row.get(name) for name in LABEL_RUNS.schema.names}
        self.store.upsert(LABEL_RUNS, pa.Table.from_pylist([row], schema=LABEL_RUNS.schema))

    def _legacy(self, spec: TableSpec) -> bool:
        table = self.store.open(spec.name)
        return table is not None and RUN_ID not in table.schema().to_arrow().names
