"""``s2lake models``: build the dbt project (label sets, statistics, validation, splits)."""

from __future__ import annotations

import shlex
import time
from typing import Annotated, Literal

import typer

from s2lake.cli.context import app_context, friendly_errors, with_flags

app = typer.Typer(help="Build the derived tables with dbt (targets: duckdb embedded, spark cluster).")


@app.command("build")
@friendly_errors
def build(
    ctx: typer.Context,
    target: Annotated[
        Literal["duckdb", "spark"] | None,
        typer.Option(help="dbt target \\[models.target; default duckdb]. spark uses models.spark_method."),
    ] = None,
    select: Annotated[
        list[str] | None,
        typer.Option("--select", "-s", help="dbt node selection, e.g. `geographic_split+` (repeatable)."),
    ] = None,
    split_method: Annotated[
        Literal["concentric", "train_test", "blocks"] | None,
        typer.Option(help="Geographic split method \\[models.split_method; default concentric]."),
    ] = None,
    min_label_fraction: Annotated[
        float | None, typer.Option(help="Minimum area fraction of a label \\[models.min_label_fraction; 0].")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only print dbt's errors.")] = False,
) -> None:
    """Run `dbt build` (seeds, models, data tests) over the warehouse; marts land as Delta tables.

    Example: s2lake models build --target duckdb --select patch_labels+
    """
    from s2lake.dbt.runner import MARTS
    from s2lake.dbt.runner import build as run_build
    from s2lake.spark.metastore import register_after_build

    app_ctx = app_context(ctx)
    settings = with_flags(
        ctx, app_ctx.settings.models, target=target, split_method=split_method, min_label_fraction=min_label_fraction
    )
    start = time.perf_counter()
    result = run_build(settings, app_ctx.warehouse, select=select, quiet=quiet)
    register_after_build(settings, app_ctx.warehouse, "models build")
    typer.echo(
        f"dbt build on {result.target}: {result.count('model')} models, {result.count('seed')} seeds, "
        f"{result.count('test')} tests passed in {time.perf_counter() - start:.1f} s; "
        f"marts under {app_ctx.warehouse.path('tables')}: {', '.join(MARTS)}",
        err=True,
    )


@app.command("env")
@friendly_errors
def env(
    ctx: typer.Context,
    target: Annotated[
        Literal["duckdb", "spark"] | None, typer.Option(help="dbt target the exports are for \\[models.target].")
    ] = None,
) -> None:
    """Print the shell exports a plain `dbt build` in models/ needs for this warehouse and configuration.

    `s2lake models build` sets them itself; use this to run dbt as dbt users do (dbt build, dbt test
    --select ..., dbt docs generate). Without them the profile's defaults point at ../warehouse, s2lake's
    default warehouse seen from models/. A plain dbt run takes none of s2lake's locks: run it when no
    `s2lake models build` runs on the same warehouse.

    Examples:

      eval "$(s2lake -w /data/lake models env)" && cd models && dbt build --vars "$S2LAKE_DBT_VARS"

      s2lake models env --target spark
    """

    from s2lake.dbt.runner import dbt_cli_env

    app_ctx = app_context(ctx)
    settings = with_flags(ctx, app_ctx.settings.models, target=target)
    for name, value in dbt_cli_env(settings, app_ctx.warehouse).items():
        typer.echo(f"export {name}={shlex.quote(value)}")
