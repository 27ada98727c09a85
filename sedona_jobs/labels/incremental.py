"""Label only the patches no complete run has labelled yet (``s2lake run``, ``labels build --new-only``).

Readers take the rows of the latest complete label run (:mod:`.runs`), so new labels cannot simply be
appended to that run: an incremental run is a whole run like a full one. It carries the previous run's
rows over (patches still in the ``patches`` table), adds the rows of the new patches (land cover, country,
and their overlaps with each other and with the labelled patches), and commits them under its own run id
with :func:`~.build.write_labels`. Rows of a patch depend on that patch and the reference tables only, and
an overlap on its two patches, so the tables equal those of a full run as long as what the previous run
read has not changed: a full run is done instead when there is no complete run yet, when a reference table
was loaded after that run started, or when the country source or the engine differ.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from s2lake.locks import table_locks
from s2lake.tables.schemas import CORE_TABLES, LABEL_RUNS, PATCH_COUNTRY, TableSpec
from s2lake.tables.store import TableStore, sql_literal
from s2lake.warehouse import Warehouse
from s2lake.warehouse_fs import fsspec_fs
from sedona_jobs.labels.build import (
    CountrySource,
    LabelsReport,
    compute_labels,
    conform,
    make_engine,
    pick_country_source,
    write_labels,
)
from sedona_jobs.labels.runs import LABEL_TABLES, RUN_ID, pending_runs
from sedona_jobs.reference.geoparquet import MANIFEST, reference_dir

log = logging.getLogger(__name__)


def build_new_labels(
    warehouse: Warehouse,
    *,
    engine: str = "sedonadb",
    country_source: CountrySource = "auto",
    skip_unknown_epsg: bool = False,
) -> LabelsReport | None:
    """Label the patches the latest complete run has not labelled, as one new run; ``None`` when there are none.

    The report counts the newly labelled patches (``patches``) and those whose labels were carried over
    (``carried_over``); the run written holds both.
    """
    names = [*(spec.name for spec in LABEL_TABLES), LABEL_RUNS.name]
    with table_locks(warehouse, names, "labels build"):
        started = time.perf_counter()
        store = TableStore(warehouse)
        current = _latest_complete(store)
        source = pick_country_source(warehouse, country_source)
        reason = _full_run_reason(warehouse, current, source, engine)
        if reason is not None:
            log.info("labelling every patch: %s", reason)
            tables, report = compute_labels(
                warehouse, make_engine(engine), country_source=source, skip_unknown_epsg=skip_unknown_epsg
            )
        else:
            assert current is not None
            where = f"{RUN_ID} = {sql_literal(current['run_id'])}"
            patch_ids = store.read("patches", ["patch_id"]).column("patch_id")
            previous = {spec.name: _kept(store.read(spec.name, where=where), patch_ids) for spec in LABEL_TABLES}
            labelled = previous[PATCH_COUNTRY.name].select(["patch_id"])
            if labelled.num_rows == len(patch_ids):
                return None
            tables, report = compute_labels(
                warehouse,
                make_engine(engine),
                country_source=source,
                skip_unknown_epsg=skip_unknown_epsg,
                labelled=labelled,
            )
            tables = {name: _merged(CORE_TABLES[name], previous[name], new) for name, new in tables.items()}
            report.carried_over = labelled.num_rows
        report.run_id = write_labels(store, tables, report, started)
    log.info("labelled %d new patches, carried over %d (run %s)", report.patches, report.carried_over, report.run_id)
    return report


def _latest_complete(store: TableStore) -> dict | None:
    """The ``label_runs`` row of the run readers see, or ``None``."""
    run_id, _ = pending_runs(store)
    if run_id is None:
        return None
    return store.read(LABEL_RUNS.name, where=f"run_id = {sql_literal(run_id)}").to_pylist()[0]


def _full_run_reason(warehouse: Warehouse, current: dict | None, source: str, engine: str) -> str | None:
    """Why the previous run's labels cannot be carried over, or ``None`` when they can."""
    if current is None:
        return "no complete label run yet"
    if current["country_source"] != source or current["engine"] != engine:
        return (
            f"the latest run used {current['engine']} with {current['country_source']}, this one {engine} with {source}"
        )
    for name in ("clc", source):
        loaded = _loaded_at(warehouse, name)
        if loaded is None or loaded >= current["started"]:
            return f"reference table `{name}` was loaded after the latest label run started"
    return None


def _loaded_at(warehouse: Warehouse, name: str) -> datetime | None:
    """When reference table ``name`` was loaded (its manifest); ``None`` when unknown."""
    fs, folder = fsspec_fs(reference_dir(warehouse, name))
    try:
        return datetime.fromisoformat(json.loads(fs.cat_file(f"{folder}/{MANIFEST}"))["loaded_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _merged(spec: TableSpec, previous: pa.Table, new: pa.Table) -> pa.Table:
    """The carried-over rows and the new ones as one table, in a full run's order (:func:`~.build.conform`)."""
    return conform(spec, pa.concat_tables([previous.select(new.column_names).cast(new.schema), new]))


def _kept(rows: pa.Table, patch_ids: pa.ChunkedArray) -> pa.Table:
    """The previous run's rows of patches still in the ``patches`` table (a rebuilt product may have fewer)."""
    if "patch_id_a" in rows.column_names:
        mask = pc.and_(pc.is_in(rows["patch_id_a"], patch_ids), pc.is_in(rows["patch_id_b"], patch_ids))
    else:
        mask = pc.is_in(rows["patch_id"], patch_ids)
    return rows.filter(mask)
