"""``s2lake labels``: label patches with land cover and country (Sedona spatial joins)."""

from __future__ import annotations

from typing import Annotated

import typer

from s2lake.cli.context import app_context, emit, friendly_errors, with_flags

app = typer.Typer(help="Join patches with CORINE and NUTS/country tables: patch_landcover, patch_country, overlaps.")


@app.command("build")
@friendly_errors
def build(
    ctx: typer.Context,
    engine: Annotated[
        str | None, typer.Option(help="sedonadb (embedded) or spark (Sedona on Spark) \\[env S2LAKE_LABELS__ENGINE].")
    ] = None,
    country_source: Annotated[
        str | None, typer.Option(help="auto, nuts or countries \\[env S2LAKE_LABELS__COUNTRY_SOURCE].")
    ] = None,
    skip_unknown_epsg: Annotated[
        bool | None,
        typer.Option("--skip-unknown-epsg/--fail-unknown-epsg", help="Leave out patches with unknown EPSG codes."),
    ] = None,
    new_only: Annotated[
        bool,
        typer.Option("--new-only", help="Label only the patches no complete run has labelled; keep the others' rows."),
    ] = False,
    fmt: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
) -> None:
    """Write patch_landcover, patch_country and patch_overlaps for every patch (one Delta commit each).

    Needs the `clc` reference table and `nuts` or `countries` (see `s2lake reference --help`).
    With --new-only the run still holds every patch's rows (the same as a full run's), computing only the new ones.

    Examples:

      s2lake labels build

      s2lake labels build --new-only --country-source nuts --format json
    """
    from s2lake.spark.metastore import register_after_build
    from sedona_jobs.labels import build_labels, build_new_labels

    context = app_context(ctx)
    settings = with_flags(
        ctx,
        context.settings.labels,
        engine=engine,
        country_source=country_source,
        skip_unknown_epsg=skip_unknown_epsg,
    )
    label = build_new_labels if new_only else build_labels
    report = label(
        context.warehouse,
        engine=settings.engine,
        country_source=settings.country_source,
        skip_unknown_epsg=settings.skip_unknown_epsg,
    )
    if report is None:
        typer.echo("every patch is labelled already: nothing to do", err=True)
        return
    register_after_build(context.settings.models, context.warehouse, "labels build")
    row = {k: v for k, v in vars(report).items() if k != "countries"}
    row["patches_per_s"] = round(report.patches_per_second)
    row["countries"] = ", ".join(f"{k}:{v}" for k, v in sorted(report.countries.items(), key=str))
    emit([{"field": k, "value": v} for k, v in row.items()] if fmt == "table" else [row], fmt, title="labels")
