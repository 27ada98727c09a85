"""``s2lake ingest``: search catalogues, select, rank mirrors, download and land products."""

from __future__ import annotations

import typer

app = typer.Typer(help="Search DHuS, CDSE OData and STAC catalogues at once; select, download and land products.")
