"""``s2lake patches``: cut Level-2A products into BigEarthNet-style patches (Delta table ``patches``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from s2lake.cli.context import ExitCode, app_context, emit, friendly_errors, with_flags
from s2lake.logs import progress

if TYPE_CHECKING:
    from rich.progress import TaskID

app = typer.Typer(help="Cut Level-2A products into 1200 m patches and store them in the `patches` table.")


@app.command("build")
@friendly_errors
def build(
    ctx: typer.Context,
    products: Annotated[
        list[str],
        typer.Argument(
            help="Level-2A products: .SAFE folders or .zip archives, or STAC items of their COGs (a .json file or "
            "an item URL; read by HTTP range requests, anonymously).",
            show_default=False,
        ),
    ],
    engine: Annotated[
        Literal["sedonadb", "spark"] | None,
        typer.Option(
            help="sedonadb: the embedded engine (local processes, no JVM); spark: Spark executors, one Delta "
            "commit per run \\[env S2LAKE_PATCHES__ENGINE; default sedonadb]."
        ),
    ] = None,
    mode: Annotated[
        Literal["band", "product"] | None,
        typer.Option(
            help="band: split each product's bands over the workers (few products); product: one "
            "product per worker (many products) \\[env S2LAKE_PATCHES__MODE; default band]."
        ),
    ] = None,
    drop_nodata: Annotated[
        bool | None,
        typer.Option("--drop-nodata/--keep-nodata", help="Drop patches with any NO_DATA pixel \\[default keep]."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes \\[env S2LAKE_PATCHES__WORKERS; default all cores].")
    ] = None,
    verify_checksums: Annotated[
        bool | None,
        typer.Option(
            "--verify-checksums/--no-verify-checksums",
            help="--no-verify-checksums skips the manifest.safe MD5/SHA3-256 check of the bands: damaged bands "
            "that still decode go into the patches unnoticed \\[env S2LAKE_PATCHES__VERIFY_CHECKSUMS; default verify].",
        ),
    ] = None,
    replace: Annotated[bool, typer.Option(help="Rebuild products that are already loaded (one commit each).")] = False,
    fmt: Annotated[Literal["table", "json", "csv"], typer.Option("--format", "-f", help="Summary format.")] = "table",
) -> None:
    """Cut products into 1200 m patches (12 bands + SCL, stats, scene classes) in one Delta commit each
    (with --engine spark: one commit for the run).

    Example: s2lake patches build S2A_MSIL2A_20180510T100031_N0510_R122_T33UUU_20180510T121500.SAFE
    """
    from s2lake.spark.metastore import register_after_build
    from sedona_jobs.patches import build_products

    app_ctx = app_context(ctx)
    settings = with_flags(
        ctx,
        app_ctx.settings.patches,
        engine=engine,
        mode=mode,
        drop_nodata=drop_nodata,
        workers=workers,
        verify_checksums=verify_checksums,
    )
    with _progress_hook(len(products)) as hook:
        outcomes = build_products(products, app_ctx.warehouse, settings, replace=replace, on_progress=hook)
    rows = [
        {
            "product_id": o.product_id,
            "status": o.status,
            "patches": o.patches,
            "seconds": round(o.seconds, 1),
            "reason": o.reason or "",
        }
        for o in outcomes
    ]
    emit(rows, fmt, title=f"patches build ({settings.engine}, {settings.mode} mode, {settings.workers} workers)")
    register_after_build(app_ctx.settings.models, app_ctx.warehouse, "patches build")
    if any(o.status == "failed" for o in outcomes):
        raise typer.Exit(ExitCode.PARTIAL)


@contextmanager
def _progress_hook(total: int) -> Iterator[Callable[[str, int, int], None]]:
    """Progress bars on stderr: one overall (products) and one per product (patch rows)."""
    with progress() as bar:
        overall = bar.add_task("products", total=total)
        tasks: dict[str, TaskID] = {}

        def hook(product_id: str, done: int, rows: int) -> None:
            if product_id not in tasks:
                tasks[product_id] = bar.add_task(product_id[:60], total=rows)
            bar.update(tasks[product_id], completed=done)
            if done == rows:
                bar.advance(overall)

        yield hook
