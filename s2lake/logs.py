"""Logging and progress bars: one place so every command looks and behaves the same.

Logs go to stderr through rich so that ``--format json`` output on stdout stays machine-readable.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

console = Console(stderr=True)


def setup_logging(level: str = "INFO") -> None:
    """Configure the root logger once; repeated calls only change the level."""
    root = logging.getLogger()
    if not any(isinstance(h, RichHandler) for h in root.handlers):
        handler = RichHandler(console=console, show_path=False, rich_tracebacks=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
        root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("rasterio", "urllib3", "botocore", "fsspec", "py4j", "sentinelsat"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


@contextmanager
def progress(transfer: bool = False) -> Iterator[Progress]:
    """A rich progress display on stderr; ``transfer=True`` shows bytes and speed."""
    columns: list = [TextColumn("[bold]{task.description}"), BarColumn()]
    if transfer:
        columns += [DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn()]
    else:
        columns += [MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=console, transient=False, disable=not console.is_terminal) as bar:
        yield bar
