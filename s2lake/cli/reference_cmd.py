"""``s2lake reference``: load CORINE, NUTS and country layers as GeoParquet reference tables."""

from __future__ import annotations

import typer

app = typer.Typer(help="Load reference layers (CORINE Land Cover, NUTS, Natural Earth) as GeoParquet tables.")
