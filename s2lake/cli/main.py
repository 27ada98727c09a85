"""Entry point of the ``s2lake`` command.

Global options (warehouse, configuration file, log level) are read here once and shared with every
subcommand through :class:`~s2lake.cli.context.AppContext`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from s2lake import __version__
from s2lake.cli import (
    ben_cmd,
    cluster_cmd,
    config_cmd,
    demo_cmd,
    export_cmd,
    ingest_cmd,
    labels_cmd,
    models_cmd,
    patches_cmd,
    reference_cmd,
    report_cmd,
    run_cmd,
    shards_cmd,
    spark_cmd,
    split_cmd,
    sql_cmd,
    synth_cmd,
    tables_cmd,
)
from s2lake.cli.context import AppContext, friendly_errors
from s2lake.config import load_settings
from s2lake.logs import setup_logging

app = typer.Typer(
    name="s2lake",
    help=(
        "s2lake turns Sentinel-2 Level-2A products into labelled, analysis-ready patch archives "
        "stored as Delta tables.\n\n"
        "Typical session: `s2lake demo` (everything on generated data), or "
        '`s2lake patches build PRODUCT.SAFE` then `s2lake sql "SELECT count(*) FROM patches"`.'
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"s2lake {__version__}")
        raise typer.Exit()


@app.callback()
@friendly_errors
def main(
    ctx: typer.Context,
    warehouse: Annotated[
        str | None,
        typer.Option(
            "--warehouse",
            "-w",
            help="Warehouse root, a local path or URI \\[env S2LAKE_WAREHOUSE; default ./warehouse].",
            show_default=False,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Configuration file (YAML/TOML) \\[env S2LAKE_CONFIG; ./s2lake.yaml]."),
    ] = None,
    log_level: Annotated[
        str | None, typer.Option("--log-level", help="DEBUG, INFO, WARNING or ERROR \\[env S2LAKE_LOG_LEVEL].")
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    settings = load_settings(config, warehouse=warehouse, log_level=log_level)
    setup_logging(settings.log_level)
    ctx.obj = AppContext(settings)


app.command("sql")(sql_cmd.sql)
app.command("tables")(tables_cmd.tables)
app.command("demo")(demo_cmd.demo)
app.command("run")(run_cmd.run)
app.command("report")(report_cmd.report)
app.add_typer(config_cmd.app, name="config")
app.add_typer(synth_cmd.app, name="synth")
app.add_typer(patches_cmd.app, name="patches")
app.add_typer(ingest_cmd.app, name="ingest")
app.add_typer(reference_cmd.app, name="reference")
app.add_typer(labels_cmd.app, name="labels")
app.add_typer(models_cmd.app, name="models")
app.add_typer(split_cmd.app, name="split")
app.add_typer(spark_cmd.app, name="spark")
app.add_typer(cluster_cmd.app, name="cluster")
app.add_typer(export_cmd.app, name="export")
export_cmd.app.command("shards")(shards_cmd.shards)
app.command("retile")(export_cmd.retile)
app.add_typer(ben_cmd.app, name="ben")
