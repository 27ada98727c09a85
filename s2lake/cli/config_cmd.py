"""``s2lake config``: show the effective configuration and where each value may come from."""

from __future__ import annotations

import typer

from s2lake.cli.context import app_context, friendly_errors

app = typer.Typer(help="Inspect the effective configuration (flags > S2LAKE_* env > file > defaults).")


@app.command("show")
@friendly_errors
def show(ctx: typer.Context) -> None:
    """Print the effective settings as YAML (secrets masked)."""
    import yaml

    data = app_context(ctx).settings.model_dump(mode="json")
    typer.echo(yaml.safe_dump(_mask(data), sort_keys=False))


def _mask(value: object) -> object:
    if isinstance(value, dict):
        return {
            k: ("***" if any(s in k.lower() for s in ("password", "token", "secret")) and v else _mask(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value
