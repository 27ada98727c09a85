"""The four steps of ``s2lake run``, each through the Python API of its own command.

Every step finds its work in the warehouse itself, not in what an earlier step of the same run returned:
products landed and not yet patched (``products.status = 'landed'``), patches no complete label run has
labelled, marts whose inputs changed since their last build. A run killed anywhere therefore leaves work
the next run picks up, and a run with nothing new writes nothing.

The steps import ``ingest`` and ``sedona_jobs`` inside their functions: the core imports neither at module level
(the layering rule in the README).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s2lake.config import Settings
from s2lake.dbt.runner import build
from s2lake.pipeline.marts_inputs import marts_inputs, marts_up_to_date, record_build
from s2lake.pipeline.report import StepReport
from s2lake.tables.schemas import PATCHES, PRODUCTS
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse

log = logging.getLogger("s2lake.pipeline")


@dataclass
class PipelineContext:
    settings: Settings
    warehouse: Warehouse
    job: Any | None  # ingest.job.JobSpec, or None: nothing is searched
    state: Path  # the pipeline's local state folder (lock, marts record)
    progress: Any | None = None

    @property
    def store(self) -> TableStore:
        return TableStore(self.warehouse)


def ingest_step(ctx: PipelineContext) -> StepReport:
    """Search the job's catalogues and land what is new (``s2lake ingest run``)."""
    from ingest.job import run_job

    step = StepReport("ingest")
    if ctx.job is None:
        step.status, step.detail = "skipped", "no job file given: nothing searched; landed products still flow on"
        return step
    result = run_job(ctx.job, ctx.settings.ingest, ctx.warehouse, ctx.progress)
    step.counts = {
        "found": result.found,
        "selected": result.selected,
        "already_known": result.skipped_known,
        "landed": result.get.landed,
    }
    for product, reason in result.get.failed.items():
        step.fail_item(product, reason)
    for mirror, reason in result.mirror_failures.items():
        step.fail_item(f"mirror {mirror}", reason)
    if result.get.landed:
        step.status = "done"
    step.detail = (
        f"{result.found} found, {result.selected} selected, {result.skipped_known} already known, "
        f"{len(result.get.landed)} landed, {len(result.get.failed)} failed"
    )
    return step


def patches_step(ctx: PipelineContext) -> StepReport:
    """Cut the products landed but not yet patched (``s2lake patches build``), one commit each."""
    from sedona_jobs.patches import build_products

    step = StepReport("patches")
    landed = _landed_products(ctx.store)
    if not landed:
        step.detail = "no landed product waits for its patches"
        step.counts = {"products": [], "patches": 0}
        return step
    without_files = {pid for pid, path in landed.items() if not path}
    for pid in sorted(without_files):
        step.fail_item(pid, "the products table records no storage path for it; land it again with `s2lake ingest`")
    paths = [path for pid, path in sorted(landed.items()) if pid not in without_files]
    outcomes = build_products(paths, ctx.warehouse, ctx.settings.patches) if paths else []
    patched = [o for o in outcomes if o.status == "patched"]
    for outcome in outcomes:
        if outcome.status == "failed":
            step.fail_item(outcome.product_id, outcome.reason or "unknown reason")
    step.counts = {"products": [o.product_id for o in patched], "patches": sum(o.patches for o in patched)}
    step.status = "done" if patched else "nothing new"
    step.detail = f"{len(patched)} products cut into {step.counts['patches']} patches, {len(step.failures)} failed"
    return step


def labels_step(ctx: PipelineContext) -> StepReport:
    """Label the patches not labelled yet (``s2lake labels build --new-only``), or say why not."""
    from sedona_jobs.labels import build_new_labels
    from sedona_jobs.reference.geoparquet import table_exists

    step = StepReport("labels")
    if ctx.store.open(PATCHES.name) is None or ctx.store.count(PATCHES.name) == 0:
        step.detail = "no patches yet"
        return step
    missing = [] if table_exists(ctx.warehouse, "clc") else ["clc"]
    settings = ctx.settings.labels
    countries = ("nuts", "countries") if settings.country_source == "auto" else (settings.country_source,)
    if not any(table_exists(ctx.warehouse, name) for name in countries):
        missing.append(" or ".join(countries))
    if missing:
        # A warehouse may be run for its patches alone; labelling starts once the reference data is loaded.
        step.status = "skipped"
        step.detail = (
            f"no reference data ({', '.join(missing)} not loaded): patches stay unlabelled and the marts are not "
            "built. Load them with `s2lake reference load clc PATH` and `s2lake reference load countries PATH` "
            "(or nuts); the next run labels every patch"
        )
        return step
    report = build_new_labels(
        ctx.warehouse,
        engine=settings.engine,
        country_source=settings.country_source,
        skip_unknown_epsg=settings.skip_unknown_epsg,
    )
    if report is None:
        step.detail = "every patch is labelled"
        step.counts = {"patches": 0}
        return step
    step.status = "done"
    step.counts = {"patches": report.patches, "carried_over": report.carried_over, "run_id": report.run_id}
    step.detail = (
        f"{report.patches} patches labelled ({report.landcover_rows} land-cover rows, {report.overlap_pairs} "
        f"overlapping pairs), {report.carried_over} kept from the previous run"
    )
    return step


def marts_step(ctx: PipelineContext) -> StepReport:
    """Rebuild the dbt marts (``s2lake models build``) when what they read has changed."""
    step = StepReport("marts")
    if ctx.store.open("label_runs") is None:
        step.status, step.detail = "skipped", "no labels yet: the marts need them"
        return step
    record = ctx.state / "marts_inputs.json"
    inputs = marts_inputs(ctx.store, ctx.settings.models)
    if marts_up_to_date(ctx.store, record, inputs):
        step.detail = "up to date: no table they read has changed since their last build"
        return step
    result = build(ctx.settings.models, ctx.warehouse, quiet=True)
    record_build(record, inputs)
    step.status = "done"
    step.counts = {"models": result.count("model"), "tests": result.count("test")}
    step.detail = f"dbt build on {result.target}: {result.count('model')} models, {result.count('test')} tests passed"
    return step


def _landed_products(store: TableStore) -> dict[str, str | None]:
    """product_id -> storage path of the products landed and not yet patched."""
    if store.open(PRODUCTS.name) is None:
        return {}
    rows = store.read(PRODUCTS.name, ["product_id", "storage_path"], where="status = 'landed'").to_pylist()
    return {row["product_id"]: row["storage_path"] for row in rows}
