"""``s2lake synth``: generate realistic Sentinel-2 products (exact SAFE layout) for demos and tests."""

from __future__ import annotations

import typer

app = typer.Typer(help="Generate realistic synthetic Sentinel-2 products (SAFE layout, JPEG 2000 bands).")
