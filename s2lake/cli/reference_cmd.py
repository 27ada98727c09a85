"""``s2lake reference``: load CORINE, NUTS and country layers as GeoParquet reference tables."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from s2lake.cli.context import app_context, emit, friendly_errors

app = typer.Typer(help="Load reference layers (CORINE Land Cover, NUTS, Natural Earth) as GeoParquet tables.")


class LoadKind(StrEnum):
    clc = "clc"
    nuts = "nuts"
    countries = "countries"


class SynthKind(StrEnum):
    clc = "clc"
    nuts = "nuts"


@app.command("load")
@friendly_errors
def load(
    ctx: typer.Context,
    kind: Annotated[
        LoadKind, typer.Argument(help="clc (CORINE 2018), nuts (GISCO NUTS) or countries (Natural Earth).")
    ],
    path: Annotated[Path, typer.Argument(help="GeoPackage, FileGDB, Shapefile (.shp/.zip), GeoJSON or GeoParquet.")],
    layer: Annotated[
        str | None,
        typer.Option(
            help="Layer to load from a multi-layer file (GeoPackage, FileGDB); needed with several polygon layers."
        ),
    ] = None,
    crs: Annotated[str | None, typer.Option(help="CRS of a source that declares none, e.g. EPSG:4326.")] = None,
    allow_unknown_codes: Annotated[
        bool,
        typer.Option(
            "--allow-unknown-codes",
            help="clc: load even when some CODE_18 values are not among the 44 CLC classes (by default the load "
            "is refused and the codes listed). Polygons with an unknown code are kept but give no label; "
            "polygons without a code are dropped; both are counted in the report, and patch_validation flags "
            "the patches left unlabelled. 999/990/995 (CORINE's NODATA/unclassified) never need the flag.",
        ),
    ] = False,
    fmt: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
) -> None:
    """Check CRS and codes, repair geometries and write reference/<kind>/ as sorted GeoParquet 1.1 (EPSG:3035).

    A multi-layer file (GeoPackage, FileGDB) loads its only polygon layer; with several, name one with --layer.

    Examples:

      s2lake reference load clc U2018_CLC2018_V2020_20u1.gpkg

      s2lake reference load nuts NUTS_RG_01M_2021_3035.gpkg

      s2lake reference load countries s2lake/data/countries/ne_admin0_europe.geojson
    """
    from sedona_jobs.reference import load_reference

    warehouse = app_context(ctx).warehouse
    warehouse.ensure_writable()
    report = load_reference(kind.value, path, warehouse, layer=layer, crs=crs, allow_unknown_codes=allow_unknown_codes)
    row = report.as_dict()
    row.pop("dropped_ids")
    emit(
        [{"field": k, "value": v} for k, v in row.items()] if fmt == "table" else [row],
        fmt,
        title=f"reference table {kind.value}",
    )


@app.command("synth")
@friendly_errors
def synth(
    ctx: typer.Context,
    kind: Annotated[SynthKind, typer.Argument(help="clc (CLC-like land cover) or nuts (NUTS-like regions).")],
    bbox: Annotated[
        tuple[float, float, float, float],
        typer.Option(help="XMIN YMIN XMAX YMAX in EPSG:3035 metres (easting, northing)."),
    ] = (4_300_000.0, 2_900_000.0, 4_400_000.0, 3_000_000.0),
    count: Annotated[int, typer.Option(help="Features (clc) or level-3 regions (nuts).")] = 10_000,
    vertices: Annotated[int, typer.Option(help="Approximate vertices per polygon.")] = 48,
    countries: Annotated[int, typer.Option(help="Countries (nuts only).")] = 3,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same layer).")] = 0,
) -> None:
    """Generate a CLC-like or NUTS-like layer (shared borders, holes, multipolygons) as a reference table.

    Example:

      s2lake reference synth clc --count 5000
    """
    from sedona_jobs.reference import write_synthetic
    from sedona_jobs.synth.reference_layers import synth_clc, synth_nuts

    warehouse = app_context(ctx).warehouse
    warehouse.ensure_writable()
    if kind is SynthKind.clc:
        gdf = synth_clc(bbox, count, vertices=vertices, seed=seed)
    else:
        gdf = synth_nuts(bbox, count, countries=countries, vertices=vertices, seed=seed)
    path = write_synthetic(gdf, warehouse, kind.value, bbox=bbox, count=count, vertices=vertices, seed=seed)
    typer.echo(f"{len(gdf)} {kind.value}-like features -> {path}")
