"""``s2lake demo``: the main job on generated data, offline, on the embedded engine."""

from __future__ import annotations

import typer

from s2lake.cli.context import friendly_errors


@friendly_errors
def demo(ctx: typer.Context) -> None:
    """Run the whole pipeline on a generated product and print what it did."""
