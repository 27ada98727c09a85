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

    Examples:

      s2lake spark jars

      s2lake spark jars --hadoop
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
    database: Annotated[
        str | None, typer.Option(help="Metastore database to register the tables in \\[models.register_database].")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
) -> None:
    """Register the warehouse's Delta tables in the Thrift server's metastore (USING delta at their location).

    Run it after each build: new tables are added, a registration at another location or in another
    format is replaced, and the server's cached file listings are refreshed.

    Examples:

      s2lake spark register --host thrift.example.org --port 10000

      s2lake -w hdfs://namenode:8020/s2lake spark register --format json
    """
    from s2lake.spark.metastore import register_tables

    context = app_context(ctx)
    models = context.settings.models
    done = register_tables(
        context.warehouse, host or models.spark_host, port or models.spark_port, database or models.register_database
    )
    emit([{"table": r.table, "action": r.action, "location": r.location} for r in done], fmt)


@app.command(
    "submit", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}, no_args_is_help=True
)
@friendly_errors
def submit(
    ctx: typer.Context,
    job: Annotated[
        str, typer.Argument(help="probe (diagnostics), patches (patches build) or labels (labels build), on Spark.")
    ],
    master: Annotated[
        str | None, typer.Option(help="spark://host:port or yarn \\[spark.master of the Spark defaults].")
    ] = None,
    deploy_mode: Annotated[
        str, typer.Option(help="client (driver here) or cluster (driver on the cluster; YARN only).")
    ] = "client",
    python: Annotated[
        str | None,
        typer.Option(help="Base interpreter of the archive, present at this path on every node \\[this one's]."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the spark-submit command, run nothing.")] = False,
) -> None:
    """Run an s2lake job on a Spark cluster; executors run the Python of an environment archive built from uv.lock.

    Arguments after `--` go to the job's command, e.g. `s2lake spark submit probe -- --tasks 8`. The archive
    (built once per lock and source state, cached) needs the same Python at the same path on every node.

    Examples:

      s2lake spark submit probe --master spark://127.0.0.1:7077 --dry-run

      s2lake -w hdfs://nn:8020/lake spark submit patches --master yarn --deploy-mode cluster -- /data/p.SAFE

      s2lake spark submit labels --master yarn
    """
    from s2lake.spark.submit import plan, run

    context = app_context(ctx)
    submission = plan(
        job,
        context.settings,
        context.warehouse,
        master=master,
        deploy_mode=deploy_mode,
        job_args=ctx.args,
        python=python,
    )
    if dry_run:
        built = "cached" if submission.archive.is_file() else "built by the first submission"
        typer.echo(f"# archive: {submission.archive} ({built})")
        typer.echo(submission.shell)
        return
    code = run(submission)
    if code:
        raise typer.Exit(code)


@app.command("probe")
@friendly_errors
def probe(
    tasks: Annotated[int, typer.Option(min=1, help="Tasks to spread over the executors.")] = 2,
    fmt: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
) -> None:
    """Report the Python (executable, prefix, version, s2lake location) of the driver and each executor.

    Meant as `s2lake spark submit probe`: executors must show the archive's Python in their working folder.

    Example:

      s2lake spark probe --tasks 4 --format json
    """
    from s2lake.spark import build_session
    from s2lake.spark.probe import probe as run_probe

    spark = build_session("s2lake-probe")
    try:
        rows = run_probe(spark, tasks)
    finally:
        spark.stop()
    emit(rows, fmt)
