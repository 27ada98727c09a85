"""``s2lake cluster``: a local HDFS + Spark standalone + Thrift server cluster on 127.0.0.1."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from s2lake.cli.context import app_context, emit, friendly_errors
from s2lake.errors import ConfigError

app = typer.Typer(
    help="Local cluster on 127.0.0.1: HDFS, Spark standalone master and worker, Thrift server, YARN on request."
)

DirOption = Annotated[
    Path | None, typer.Option("--dir", help="State folder (pids, ports, logs) \\[<warehouse>/_state/cluster].")
]


def _folder(ctx: typer.Context, folder: Path | None) -> Path:
    from s2lake.spark.cluster import default_folder

    if folder is not None:
        return folder
    warehouse = app_context(ctx).warehouse
    if not warehouse.is_local:
        raise ConfigError("the cluster's state folder must be local", fix="pass --dir")
    return default_folder(warehouse.state_uri)


@app.command("up")
@friendly_errors
def up(
    ctx: typer.Context,
    folder: DirOption = None,
    thrift: Annotated[bool, typer.Option("--thrift/--no-thrift", help="Start the Thrift server too.")] = True,
    yarn: Annotated[
        bool, typer.Option("--yarn", help="Also start YARN (ResourceManager + NodeManager); adds it to a running one.")
    ] = False,
) -> None:
    """Start the cluster (or report the one already running there) and print the addresses and exports.

    Examples:

      s2lake cluster up

      s2lake cluster up --yarn --dir /tmp/s2lake-cluster
    """
    from s2lake.spark.cluster import up as start

    state = start(_folder(ctx, folder), with_thrift=thrift, with_yarn=yarn)
    for name, address in state.addresses.items():
        typer.echo(f"# {name}: {address}")
    for key, value in state.exports.items():
        typer.echo(f"export {key}={shlex.quote(value)}")


@app.command("status")
@friendly_errors
def status(
    ctx: typer.Context, folder: DirOption = None, fmt: Annotated[str, typer.Option("--format")] = "table"
) -> None:
    """Each process of the cluster: running or not, its ports and whether they answer. Exit 4 if any is down.

    Examples:

      s2lake cluster status

      s2lake cluster status --format json
    """
    from s2lake.spark.cluster import status as probe

    found = probe(_folder(ctx, folder))
    rows = [
        {
            "process": name,
            "pid": info["pid"],
            "running": info["running"],
            "ports": " ".join(f"{what}={port}{'' if ok else '(closed)'}" for what, (port, ok) in info["ports"].items()),
            "log": info["log"],
        }
        for name, info in found.items()
    ]
    emit(rows, fmt)
    if not rows or not all(r["running"] for r in rows):
        raise typer.Exit(4)


@app.command("down")
@friendly_errors
def down(ctx: typer.Context, folder: DirOption = None) -> None:
    """Stop every process the cluster started (by process group) and check that none remains.

    Example:

      s2lake cluster down
    """
    from s2lake.spark.cluster import down as stop

    stopped = stop(_folder(ctx, folder))
    typer.echo(f"stopped: {', '.join(stopped)}" if stopped else "no cluster was running there")
