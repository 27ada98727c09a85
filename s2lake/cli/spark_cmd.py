"""``s2lake spark``: the cluster engine's JVM jars and the Thrift server's metastore."""

from __future__ import annotations

from typing import Annotated

import typer

from s2lake.cli.context import app_context, emit, friendly_errors

app = typer.Typer(help="Spark (cluster engine): Maven-resolved jars, metastore registration.")


@app.command("jars")
@friendly_errors
def jars(
    hadoop: Annotated[
        bool, typer.Option("--hadoop/--no-hadoop", help="Also resolve the local cluster's Hadoop jars.")
    ] = True,
) -> None:
    """Resolve the pinned JVM jars with Maven (once; later runs reuse them) and print the Spark jar folder.

    s2lake's Spark sessions use that folder through spark.jars. A cluster without Maven gets the same
    folder by copying it and setting S2LAKE_SPARK_JARS to the copy.
    """
    from s2lake.spark.jars import fetch_sedona, resolve, sedona_missing_message

    folder = resolve("spark")
    if hadoop:
        typer.echo(f"hadoop jars: {resolve('hadoop')}", err=True)
    if fetch_sedona(folder) is None:
        typer.echo(f"warning: {sedona_missing_message(folder)}", err=True)
    typer.echo(str(folder))


@app.command("register")
@friendly_errors
def register(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Thrift server host \\[models.spark_host].")] = None,
    port: Annotated[int | None, typer.Option(help="Thrift server port \\[models.spark_port].")] = None,
    database: Annotated[str, typer.Option(help="Metastore database to register the tables in.")] = "default",
    fmt: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
) -> None:
    """Register the warehouse's Delta tables in the Thrift server's metastore (USING delta at their location).

    Run it after each build: new tables are added, a registration at another location or in another
    format is replaced, and the server's cached file listings are refreshed.
    """
    from s2lake.spark.metastore import register_tables

    context = app_context(ctx)
    models = context.settings.models
    done = register_tables(context.warehouse, host or models.spark_host, port or models.spark_port, database)
    emit([{"table": r.table, "action": r.action, "location": r.location} for r in done], fmt)
