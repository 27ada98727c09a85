"""``s2lake ben report``: import a BigEarthNet dataset, then print its figures and write an HTML page beside it.

The report is about the dataset in DATASET_DIR, not about the warehouse: the dataset is imported first
(`s2lake ben import`, which replaces rows by key, so reporting twice changes nothing) and the marts are built
over the patches read from its folders only (dbt var report_scope). Other datasets and SAFE-derived patches
in the same warehouse stay in their tables and out of the figures; `s2lake models build` afterwards builds
the marts over the whole warehouse again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from s2lake.cli.context import ExitCode, app_context, friendly_errors
from s2lake.errors import ConfigError

#: Where BigEarthNet v2 ships its metadata and reference maps, relative to the dataset folder (looked for
#: when --metadata / --reference-maps are not given).
METADATA_NAME = "metadata.parquet"
REFERENCE_MAPS_NAME = "Reference_Maps"


def html_path(dataset_dir: Path) -> Path:
    """The HTML page goes beside the dataset folder, never into it (the dataset stays as it was shipped)."""
    dataset_dir = dataset_dir.expanduser().resolve()
    return dataset_dir.parent / f"{dataset_dir.name}-report.html"


def dataset_inputs(dataset_dir: Path, metadata: Path | None, reference_maps: Path | None) -> tuple[Path | None, ...]:
    """The metadata file and reference maps to import: the ones given, else v2's own names inside the dataset
    folder when present (a v1 dataset has neither: its labels are in each patch's labels_metadata.json)."""
    if not dataset_dir.is_dir():
        raise ConfigError("the dataset folder does not exist", where=str(dataset_dir), fix="give the dataset's folder")
    if metadata is None and (dataset_dir / METADATA_NAME).is_file():
        metadata = dataset_dir / METADATA_NAME
    if reference_maps is None and (dataset_dir / REFERENCE_MAPS_NAME).is_dir():
        reference_maps = dataset_dir / REFERENCE_MAPS_NAME
    return metadata, reference_maps


@friendly_errors
def report(
    ctx: typer.Context,
    dataset_dir: Annotated[
        Path,
        typer.Argument(help="The dataset's folder (v2 or v1 layout); the HTML report is written beside it."),
    ],
    stats_list: Annotated[
        Path | None,
        typer.Option(help="Gzip-compressed CSV of patch ids (one per line): band statistics over these patches."),
    ] = None,
    split_out: Annotated[
        Path | None, typer.Option(help="Write the geographic split as a `train,test` CSV (validation in train).")
    ] = None,
    metadata: Annotated[
        Path | None,
        typer.Option(help=f"BigEarthNet v2 metadata.parquet [default: DATASET_DIR/{METADATA_NAME} when present]."),
    ] = None,
    reference_maps: Annotated[
        Path | None,
        typer.Option(
            help="Reference map rasters folder or GeoParquet polygons "
            f"[default: DATASET_DIR/{REFERENCE_MAPS_NAME} when present]."
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Import worker processes \\[env S2LAKE_PATCHES__WORKERS].")
    ] = None,
) -> None:
    """Import the dataset (idempotent), then print season counts, labels per patch, the three checks, band
    means and standard deviations, reference-map labels and overlaps of ITS patches (computed by the dbt
    marts), and write the HTML report. Exit code 1 when some files could not be read in full.

    Example: s2lake ben report BigEarthNet-S2 --stats-list train.csv.gz --split-out split.csv
    """
    from s2lake.ben_report.figures import checked_stats_list
    from s2lake.ben_report.figures import report as run_report
    from s2lake.cli.ben_cmd import echo_problems, run_import

    app_ctx = app_context(ctx)
    metadata, reference_maps = dataset_inputs(dataset_dir, metadata, reference_maps)
    if stats_list is not None:
        checked_stats_list(stats_list)  # refused before the import, not after it
    count = workers or app_ctx.settings.patches.workers
    imported = run_import(app_ctx, dataset_dir, metadata, reference_maps, count)
    if not imported.patch_ids:
        raise ConfigError(
            "the dataset folder holds no patch folders (only metadata was imported)",
            where=str(dataset_dir),
            fix="give the folder holding the patch folders (v2 <product>/<patch_id>/, v1 <name>/)",
        )
    html = html_path(dataset_dir)
    result = run_report(
        app_ctx.warehouse,
        app_ctx.settings.models,
        stats_list=stats_list,
        split_out=split_out,
        html_out=html,
        scope=imported.patch_ids,
    )
    typer.echo(result.text())
    if result.split_counts is not None:
        counts = ", ".join(f"{name} {n}" for name, n in result.split_counts.items())
        typer.echo(f"wrote {split_out}: {counts}", err=True)
    typer.echo(f"wrote {html}", err=True)
    if imported.problems:
        echo_problems(imported.problems)
        raise typer.Exit(ExitCode.PARTIAL)
