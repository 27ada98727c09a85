"""``s2lake export shards``: Parquet or WebDataset training shards with an index and a dataset card."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import typer

from s2lake.cli.context import app_context, friendly_errors
from s2lake.errors import ExportError
from s2lake.logs import progress

_UNITS = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


def _size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*([KMG]?B?)\s*", text.upper())
    if not match:
        raise ExportError(f"--shard-size {text!r} is not a size", where="--shard-size", fix="write e.g. 512MB or 1GB")
    return int(match.group(1)) * _UNITS[match.group(2) if match.group(2) != "K" else "KB"]


@friendly_errors
def shards(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(help="Folder to create, or to finish (a rerun resumes it).")],
    where: Annotated[
        str | None, typer.Option(help="SQL condition on the patches columns, e.g. \"tile = '33UUU'\".")
    ] = None,
    split: Annotated[
        Literal["train", "validation", "test"] | None, typer.Option(help="Only this split (geographic_split mart).")
    ] = None,
    fmt: Annotated[Literal["parquet", "webdataset"], typer.Option("--format", help="Shard format.")] = "parquet",
    shard_size: Annotated[str, typer.Option(help="Uncompressed pixel bytes per shard, e.g. 512MB.")] = "512MB",
) -> None:
    """Write the patches as training shards: one row (Parquet) or sample (WebDataset tar) per patch with every
    band at its native resolution, labels, split, georeference and an RGB thumbnail; index.json and README.md.
    Deterministic; OUT is complete once index.json exists; a rerun skips the shards already written.

    Example: s2lake export shards shards-train --split train --format parquet
    """
    from s2lake.shards import export_shards

    with progress() as bar:
        task = bar.add_task("patches", total=None)
        report = export_shards(
            app_context(ctx).warehouse,
            out,
            where,
            split=split,
            fmt=fmt,
            shard_bytes=_size(shard_size),
            on_progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    rate = report.patches / report.seconds if report.seconds else 0.0
    typer.echo(
        f"wrote {report.out}: {report.patches} patches in {report.shards} shards "
        f"({report.written} written, {report.skipped} already complete), {rate:.0f} patches/s",
        err=True,
    )
