"""``s2lake patches``: cut Level-2A products into BigEarthNet-style patches (Delta table ``patches``)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Cut Level-2A products into 1200 m patches and store them in the `patches` table.")
