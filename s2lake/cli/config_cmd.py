"""``s2lake config``: show the effective configuration and where each value may come from."""

from __future__ import annotations

import typer
import yaml

from s2lake.cli.context import app_context, friendly_errors
from s2lake.config.masking import masked

app = typer.Typer(help="Inspect the effective configuration (flags > S2LAKE_* env > file > defaults).")


@app.command("show")
@friendly_errors
def show(ctx: typer.Context) -> None:
    """Print the effective settings as YAML (secrets and passwords in URLs masked).

    Examples:

      s2lake config show

      S2LAKE_WAREHOUSE=/data/lake s2lake --config s2lake.yaml config show
    """
    data = app_context(ctx).settings.model_dump(mode="json")
    typer.echo(yaml.safe_dump(masked(data), sort_keys=False))
