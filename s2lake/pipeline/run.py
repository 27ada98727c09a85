"""``s2lake run``: ingest → patches → labels → marts under one lock, for cron and systemd timers.

One pipeline lock (``flock`` on ``_state/locks/pipeline.lock``, :func:`s2lake.locks.hold`) covers the whole
run, so two scheduled runs never overlap and the second stops at once with exit code 3. Inside it each step
still takes its own locks (the ingest lock, the ``patches`` table, the label tables, the marts): they are
other files, taken one step at a time and each released before the next step, so the run never waits on
itself, and a hand-started ``patches build`` or ``labels build`` during a run is stopped by them as before.

A step that fails on its own (a warehouse error, dbt failing) is reported and the later steps still run on
what the warehouse holds; bad input (exit 2) and a held lock (exit 3) stop the run at once, as they would
stop the command of that step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ingest.scheduler import state_dir
from s2lake.config import Settings
from s2lake.errors import ConfigError, LockedError, S2LakeError
from s2lake.locks import hold
from s2lake.pipeline.report import PipelineReport, StepReport
from s2lake.pipeline.steps import PipelineContext, ingest_step, labels_step, marts_step, patches_step
from s2lake.warehouse import Warehouse

log = logging.getLogger("s2lake.pipeline")

STEPS: list[Callable[[PipelineContext], StepReport]] = [ingest_step, patches_step, labels_step, marts_step]


def run_pipeline(
    settings: Settings,
    warehouse: Warehouse,
    job: Any | None,
    progress: Any | None = None,
    on_step: Callable[[StepReport], None] | None = None,
) -> PipelineReport:
    """Run every step once under the pipeline lock; raise :class:`LockedError` or :class:`ConfigError` at once."""
    warehouse.ensure_writable()
    state = state_dir(warehouse)  # local, even for a remote warehouse: flock and the marts record need a disk
    ctx = PipelineContext(settings, warehouse, job, state / "pipeline", progress)
    report = PipelineReport()
    with hold(state / "locks" / "pipeline.lock", "this warehouse's pipeline (`s2lake run`)", "run"):
        for step in STEPS:
            name = step.__name__.removesuffix("_step")
            log.info("step %s", name)
            try:
                outcome = step(ctx)
            except (LockedError, ConfigError):
                raise
            except S2LakeError as exc:
                log.error("step %s failed: %s", name, exc.message)
                outcome = StepReport(name)
                outcome.fail_step(exc)
            report.steps.append(outcome)
            if on_step is not None:
                on_step(outcome)
    return report
