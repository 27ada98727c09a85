"""``s2lake report OUT.html``: the warehouse (or a --where selection of its patches) as one offline HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from s2lake.cli.context import app_context, friendly_errors


@friendly_errors
def report(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(help="The HTML file to write (replaced atomically).")],
    where: Annotated[
        str | None,
        typer.Option(
            help="SQL condition selecting the patches, on columns patch_id, product_id, tile, sensing_time, season, "
            "split, in_dataset, labels, dominant_label, country_code, country_name, cloud_cover."
        ),
    ] = None,
) -> None:
    """Write one self-contained HTML page (no script, nothing fetched): a map of the patches on the shipped
    country layer coloured by split, dominant label or country; the products and tiles with cloud cover and
    season; charts of seasons, labels, countries, validation checks and band statistics; sample true-colour
    quicklooks per label. Large warehouses are aggregated on the map (the page says so).

    Examples:

      s2lake report report.html

      s2lake report summer-de.html --where "season = 'summer' and country_code = 'DE'"
    """
    from s2lake.report.html_report import write_report

    written = write_report(app_context(ctx).warehouse, out, where)
    size = f"{written.bytes / 1e6:.1f} MB"
    typer.echo(f"wrote {written.path} ({size}): {written.selected} of {written.warehouse_patches} patches")
