"""``s2lake export``: BigEarthNet v2 datasets out of the warehouse, and ``s2lake retile``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from s2lake.cli.context import app_context, friendly_errors
from s2lake.logs import progress

app = typer.Typer(help="Write datasets (BigEarthNet v2 trees, zipped partitions) from the warehouse.")


def _workers(workers: int | None) -> int:
    return workers or os.cpu_count() or 1


@app.command("ben")
@friendly_errors
def ben(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(help="Folder to create (must not exist).")],
    where: Annotated[
        str | None, typer.Option(help="SQL condition on the patches columns, e.g. \"tile = '33UUU'\".")
    ] = None,
    zip_per: Annotated[
        int | None, typer.Option(min=1, help="Zip the patch files in partitions of N patches, with manifest.json.")
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Writer processes \\[default all cores].")] = None,
) -> None:
    """Write patches as a BigEarthNet v2 dataset: BigEarthNet-S2/<product>/<patch_id>/<patch_id>_B01.tif ...,
    Reference_Maps/..., metadata.parquet. OUT appears only when complete.

    Example: s2lake export ben ben-33UUU --where "tile = '33UUU'" --zip-per 1000
    """
    from sedona_jobs.export.ben_export import export_ben

    with progress() as bar:
        task = bar.add_task("patches", total=None)
        report = export_ben(
            app_context(ctx).warehouse,
            out,
            where,
            workers=_workers(workers),
            zip_per=zip_per,
            on_progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    zipped = f", {report.zips} zips" if zip_per else ""
    maps = f"{report.reference_maps} reference maps"
    typer.echo(f"wrote {report.out}: {report.patches} patches, {maps}{zipped}", err=True)


@app.command("extract")
@friendly_errors
def extract(
    zipdir: Annotated[Path, typer.Argument(help="Folder written by `export ben --zip-per` (manifest.json, zips).")],
    out: Annotated[Path, typer.Argument(help="Folder to create with the v2 tree (must not exist).")],
    workers: Annotated[int | None, typer.Option(min=1, help="Extraction threads \\[default all cores].")] = None,
) -> None:
    """Unpack zipped partitions after checking every zip's SHA-256 against the manifest; members that
    would leave OUT, are not files of the listed patches, or inflate past the archive limits are refused.

    Example:

      s2lake export extract ben-zips/ BigEarthNet-v2/ --workers 4
    """
    from sedona_jobs.export.zip_parts import extract_zips

    with progress() as bar:
        task = bar.add_task("zips", total=None)
        patches = extract_zips(
            zipdir,
            out,
            workers=_workers(workers),
            on_progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    typer.echo(f"extracted {patches} patches into {out}", err=True)


@friendly_errors
def retile(
    geotiff: Annotated[Path, typer.Argument(help="A patch band GeoTIFF, e.g. ..._B02.tif.")],
    out_dir: Annotated[Path, typer.Argument(help="Folder for the parts <stem>_A.tif, _B.tif, ...")],
    parts: Annotated[int, typer.Option(help="Number of parts: a square number (4 = 2 x 2).")] = 4,
) -> None:
    """Split a patch band into equal square sub-patches (row-major from the upper left), then verify that
    they reassemble the original's bounds and pixels.

    Example:

      s2lake retile S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP_26_57_B02.tif parts/ --parts 4
    """
    from sedona_jobs.export.retile import retile as split

    for path in split(geotiff, out_dir, parts):
        typer.echo(str(path))
