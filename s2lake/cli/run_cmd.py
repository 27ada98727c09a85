"""``s2lake run [JOB]``: search and land what is new, cut, label, rebuild the marts; one summary, one lock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from s2lake.cli.context import JsonFlag, app_context, emit, friendly_errors
from s2lake.logs import console, progress


@friendly_errors
def run(
    ctx: typer.Context,
    job_file: Annotated[
        Path | None,
        typer.Argument(
            help="Ingest job file (YAML, as `ingest run JOB` takes). Without it nothing is searched.",
            show_default=False,
            metavar="JOB",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Search and land what is new, cut its patches, label them, rebuild the marts.

    One lock, one summary: what each step did and every failure with its reason.

    Incremental: a run with nothing new writes nothing and says so.

    Without reference data (clc, and nuts or countries) labels and marts are skipped with a message.

    Examples:

      s2lake --config /etc/s2lake/s2lake.yaml run /etc/s2lake/bavaria.yaml

      s2lake run job.yaml --json      # the summary as JSON on stdout

      s2lake run                      # no search: cut, label, build what is landed

    Exit codes: 0 ok or nothing new, 1 some products failed (retried next run),

    2 bad job file or configuration, 3 another run holds the lock,

    4 a step could not run (warehouse, every mirror down, dbt).

    Cron and systemd timer set-ups: docs/ingest.md, "Scheduling".
    """
    from ingest.job import load_job
    from s2lake.pipeline import StepReport, run_pipeline

    app_ctx = app_context(ctx)
    job = load_job(job_file) if job_file is not None else None

    def tell(step: StepReport) -> None:
        console.print(f"[bold]{step.step}:[/] {step.status}: {step.detail}", highlight=False, soft_wrap=True)

    with progress(transfer=True) as bars:
        report = run_pipeline(app_ctx.settings, app_ctx.warehouse, job, bars, on_step=tell)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), default=str))
    else:
        steps = [{"step": s.step, "status": s.status, "what": s.detail} for s in report.steps]
        emit(steps, "table", title="s2lake run")
        if report.failures:
            emit([vars(f) for f in report.failures], "table", title=f"{len(report.failures)} failures")
        if report.nothing_new:
            typer.echo("nothing new: no product landed, no patch cut or labelled, the marts are up to date")
    raise typer.Exit(report.exit_code)
