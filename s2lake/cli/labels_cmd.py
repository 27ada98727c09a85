"""``s2lake labels``: label patches with land cover and country (Sedona spatial joins)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Join patches with CORINE and NUTS/country tables: patch_landcover, patch_country, overlaps.")
