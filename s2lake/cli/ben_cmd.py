"""``s2lake ben``: BigEarthNet datasets in the warehouse (``ben import`` here, ``ben report`` in its own module)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from s2lake.cli import ben_report_cmd
from s2lake.cli.context import AppContext, ExitCode, app_context, emit, friendly_errors
from s2lake.logs import progress

if TYPE_CHECKING:
    from s2lake.ben.importer import ImportReport

app = typer.Typer(
    help="BigEarthNet datasets: import v1/v2 patch folders, metadata and reference maps; report their figures."
)
app.command("report")(ben_report_cmd.report)

#: Problem lines printed in full; the rest are counted (all of them are in the log at WARNING).
SHOWN_PROBLEMS = 20


@app.command("import")
@friendly_errors
def import_(
    ctx: typer.Context,
    dataset: Annotated[
        Path,
        typer.Argument(
            help="Folder of a BigEarthNet dataset: v2 <product>/<patch_id>/<patch_id>_B01.tif... or v1 "
            "<name>/<name>_B01.tif... + <name>_labels_metadata.json.",
            show_default=False,
        ),
    ],
    metadata: Annotated[
        Path | None, typer.Option(help="BigEarthNet v2 metadata.parquet (labels, split, country, flags).")
    ] = None,
    reference_maps: Annotated[
        Path | None,
        typer.Option(help="Folder of <patch_id>_reference_map.tif rasters, or a GeoParquet file of class polygons."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes \\[env S2LAKE_PATCHES__WORKERS; default all cores].")
    ] = None,
    fmt: Annotated[Literal["table", "json", "csv"], typer.Option("--format", "-f", help="Summary format.")] = "table",
) -> None:
    """Import BigEarthNet patches into `patches` (same schema as SAFE-derived ones), metadata into
    `ben_metadata` and reference maps into `reference_map_polygons`: one commit per table.

    Example: s2lake ben import BigEarthNet-S2 --metadata metadata.parquet --reference-maps Reference_Maps
    """
    app_ctx = app_context(ctx)
    count = workers or app_ctx.settings.patches.workers
    report = run_import(app_ctx, dataset, metadata, reference_maps, count)
    row = {
        "patches": report.patches,
        "v2_folders": report.v2_folders,
        "v1_folders": report.v1_folders,
        "metadata_rows": report.metadata_rows,
        "reference_polygons": report.reference_polygons,
        "problems": len(report.problems),
        "seconds": round(report.seconds, 1),
        "patches_per_s": round(report.patches / report.seconds, 1) if report.seconds else 0,
    }
    emit([row], fmt, title=f"ben import ({count} workers)")
    if report.problems:
        echo_problems(report.problems)
        raise typer.Exit(ExitCode.PARTIAL)


def run_import(
    app_ctx: AppContext, dataset: Path, metadata: Path | None, reference_maps: Path | None, workers: int
) -> ImportReport:
    """The import with progress bars, its problems logged at WARNING (shared by `ben import` and `ben report`)."""
    from s2lake.ben.importer import import_dataset

    with progress() as bar:
        tasks: dict[str, object] = {}

        def hook(what: str, done: int, total: int) -> None:
            if what not in tasks:
                tasks[what] = bar.add_task(what, total=total)
            bar.update(tasks[what], completed=done)

        report = import_dataset(dataset, app_ctx.warehouse, metadata, reference_maps, workers, hook)
    log = logging.getLogger("s2lake.ben")
    for line in report.problems:
        log.warning("%s", line)
    return report


def echo_problems(problems: list[str]) -> None:
    """The first :data:`SHOWN_PROBLEMS` problem lines on stderr, the rest counted."""
    shown = problems[:SHOWN_PROBLEMS]
    more = len(problems) - len(shown)
    typer.echo(
        "\n".join(["problems (the patches landed with what could be read):", *shown])
        + (f"\n... and {more} more (see the log)" if more else ""),
        err=True,
    )
