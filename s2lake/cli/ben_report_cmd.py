"""``s2lake ben report``: the figures of a BigEarthNet dataset, printed, plus an HTML page beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from s2lake.cli.context import app_context, friendly_errors
from s2lake.errors import ConfigError
from s2lake.warehouse import Warehouse


def html_path(dataset_dir: Path) -> Path:
    """The HTML page goes beside the dataset folder, never into it (the dataset stays as it was shipped)."""
    dataset_dir = dataset_dir.expanduser().resolve()
    return dataset_dir.parent / f"{dataset_dir.name}-report.html"


def dataset_in_warehouse(dataset_dir: Path, warehouse: Warehouse) -> None:
    """The one place where DATASET_DIR meets the warehouse: the report reads the dataset's patches from the
    warehouse's tables (`s2lake ben import DATASET_DIR` lands them there; SAFE-derived patches from
    `s2lake patches build` are reported the same way)."""
    if not dataset_dir.is_dir():
        raise ConfigError("the dataset folder does not exist", where=str(dataset_dir), fix="give the dataset's folder")
    from s2lake.tables.store import TableStore

    if TableStore(warehouse).open("patches") is None:
        raise ConfigError(
            f"warehouse {warehouse.root} holds no patches",
            where=str(dataset_dir),
            fix="import the dataset first (s2lake ben import DATASET_DIR) or build patches from SAFE products",
        )


@friendly_errors
def report(
    ctx: typer.Context,
    dataset_dir: Annotated[Path, typer.Argument(help="The dataset's folder; the HTML report is written beside it.")],
    stats_list: Annotated[
        Path | None,
        typer.Option(help="Gzip-compressed CSV of patch ids (one per line): band statistics over these patches."),
    ] = None,
    split_out: Annotated[
        Path | None, typer.Option(help="Write the geographic split as a `train,test` CSV (validation in train).")
    ] = None,
) -> None:
    """Print season counts, labels per patch, the three checks, band means and standard deviations,
    reference-map labels and overlaps (computed by the dbt marts), then write the HTML report.

    Example: s2lake ben report BigEarthNet-S2 --stats-list train.csv.gz --split-out split.csv
    """
    from s2lake.ben_report.figures import report as run_report
    from s2lake.ben_report.html import write_html

    app_ctx = app_context(ctx)
    dataset_in_warehouse(dataset_dir, app_ctx.warehouse)
    result = run_report(app_ctx.warehouse, app_ctx.settings.models, stats_list=stats_list, split_out=split_out)
    typer.echo(result.text())
    if result.split_counts is not None:
        counts = ", ".join(f"{name} {n}" for name, n in result.split_counts.items())
        typer.echo(f"wrote {split_out}: {counts}", err=True)
    html = html_path(dataset_dir)
    write_html(app_ctx.warehouse, result.figures, html)
    typer.echo(f"wrote {html}", err=True)
