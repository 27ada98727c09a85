"""``s2lake split``: export the geographic train/validation/test split."""

from __future__ import annotations

import typer

app = typer.Typer(help="Export the geographic train/test split built by `s2lake models build`.")
