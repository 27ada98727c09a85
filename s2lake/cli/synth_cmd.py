"""``s2lake synth``: generate realistic Sentinel-2 products (exact SAFE layout) for demos and tests."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from s2lake.cli.context import friendly_errors
from s2lake.logs import console, progress

app = typer.Typer(help="Generate realistic synthetic Sentinel-2 products (SAFE layout, JPEG 2000 bands).")


@app.command("l2a")
@friendly_errors
def l2a(
    out_dir: Annotated[Path, typer.Argument(help="Folder the .SAFE product is written into (created if needed).")],
    tile: Annotated[str, typer.Option(help="MGRS tile of the ESA tiling grid, e.g. 33UUU.")] = "33UUU",
    date: Annotated[str, typer.Option(help="Sensing date, YYYY-MM-DD.")] = "2018-05-10",
    pixels: Annotated[
        int, typer.Option(help="Edge length at 10 m, cropped from the tile origin (multiple of 6); full tile 10980.")
    ] = 10980,
    nodata_fraction: Annotated[
        float, typer.Option(help="Share of the product outside the orbit swath (DN 0 in every band, SCL 0).")
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same product, bit for bit.")] = 0,
    mission: Annotated[str, typer.Option(help="S2A, S2B, S2C or S2D.")] = "S2A",
    baseline: Annotated[
        str, typer.Option(help="Processing baseline; >= 04.00 adds BOA_ADD_OFFSET -1000 (DN = 10000 x refl + 1000).")
    ] = "05.10",
    cloud: Annotated[
        float, typer.Option(help="Cloud cover in percent (medium/high probability + thin cirrus).")
    ] = 10.0,
    all_resolutions: Annotated[
        bool, typer.Option("--all-resolutions", help="Also write ESA's resampled copies in R20m and R60m.")
    ] = False,
    workers: Annotated[
        int | None, typer.Option(help="Processes encoding bands in parallel [default: all cores; 1 for small crops].")
    ] = None,
    cog: Annotated[
        bool,
        typer.Option(
            "--cog",
            help="Also write the product as STAC serves it: <product>_COG/ next to the .SAFE, with one COG per "
            "band and a STAC item (<product>.json) that `patches build` reads.",
        ),
    ] = False,
) -> None:
    """Write a Level-2A product with ESA's exact SAFE layout, names and metadata.

    Example: s2lake synth l2a ./products --tile 33UUU --date 2018-05-10 --pixels 1200 --nodata-fraction 0.1
    """
    from sedona_jobs.synth.l2a import write_l2a
    from sedona_jobs.synth.l2a.product import band_layers

    started = time.perf_counter()
    with progress() as bar:
        task = bar.add_task("encoding bands (JPEG 2000)", total=len(band_layers(all_resolutions)))
        product = write_l2a(
            out_dir,
            tile=tile,
            date=date,
            pixels=pixels,
            nodata_fraction=nodata_fraction,
            seed=seed,
            mission=mission,
            baseline=baseline,
            cloud=cloud,
            all_resolutions=all_resolutions,
            workers=workers,
            on_file=lambda _name: bar.advance(task),
        )
    size = sum(p.stat().st_size for p in product.rglob("*") if p.is_file())
    console.print(
        f"wrote {product.name} ({size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s", highlight=False
    )
    typer.echo(str(product))
    if cog:
        from sedona_jobs.synth.l2a.cog import write_cog_item

        typer.echo(str(write_cog_item(product)))
