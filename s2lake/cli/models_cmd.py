"""``s2lake models``: build the dbt project (label sets, statistics, validation, splits)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Build the derived tables with dbt (targets: duckdb embedded, spark cluster).")
