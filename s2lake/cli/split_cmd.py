"""``s2lake split``: export the geographic train/validation/test split."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from s2lake.cli.context import app_context, friendly_errors

app = typer.Typer(help="Export the geographic train/test split built by `s2lake models build`.")


@app.command("export")
@friendly_errors
def export(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(help="CSV file to write.")],
    validation: Annotated[
        Literal["merge", "column", "drop"],
        typer.Option(
            help="What to do with validation patches: merge into train (the two-column train,test form), "
            "column (a third column `validation`), or drop."
        ),
    ] = "merge",
) -> None:
    """Write the split as BigEarthNet-style columns of patch names (header `train,test`).

    Column i of a row holds one patch of that split; shorter columns are padded with empty cells.
    Patches are sorted by name, so the file is the same for the same split.

    Examples:

      s2lake split export split.csv

      s2lake split export split_with_validation.csv --validation column
    """
    from s2lake.dbt.split_export import write_split_csv

    counts = write_split_csv(app_context(ctx).warehouse, out, validation=validation)
    summary = ", ".join(f"{name} {n}" for name, n in counts.items())
    typer.echo(f"wrote {out}: {summary} (validation: {validation})", err=True)
