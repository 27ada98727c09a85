"""What every command shares: the effective settings, the warehouse, error handling, exit codes."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ParamSpec, TypeVar

import typer

from s2lake.config import Settings
from s2lake.errors import S2LakeError
from s2lake.logs import console
from s2lake.warehouse import Warehouse

log = logging.getLogger("s2lake")


class ExitCode(IntEnum):
    """Exit codes a scheduler can act on."""

    OK = 0
    PARTIAL = 1  # the command ran but some items (products, downloads) failed
    USAGE = 2  # bad flags, configuration or input: fix and rerun
    LOCKED = 3  # another run holds the lock: try later
    FAILED = 4  # nothing could be done (environment, warehouse, all mirrors down)


@dataclass
class AppContext:
    settings: Settings

    @property
    def warehouse(self) -> Warehouse:
        return Warehouse.at(self.settings.warehouse)


def app_context(ctx: typer.Context) -> AppContext:
    root = ctx.find_root()
    if not isinstance(root.obj, AppContext):  # pragma: no cover - only when the callback was bypassed
        raise RuntimeError("s2lake context missing")
    return root.obj


P = ParamSpec("P")
R = TypeVar("R")


def friendly_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn :class:`S2LakeError` into one red line and exit code 2 (usage) or 4 (environment)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except S2LakeError as exc:
            from s2lake.errors import ConfigError, ProductError, ReferenceDataError

            console.print(f"[bold red]error:[/] {exc.message}", highlight=False, soft_wrap=True)
            usage = isinstance(exc, ConfigError | ProductError | ReferenceDataError)
            raise typer.Exit(ExitCode.USAGE if usage else ExitCode.FAILED) from None

    return wrapper


def emit(rows: list[dict[str, Any]], fmt: str, title: str | None = None) -> None:
    """Print rows as a rich table (stderr-safe), JSON or CSV on stdout."""
    import csv
    import json
    import sys

    if fmt == "json":
        sys.stdout.write(json.dumps(rows, default=str, indent=None) + "\n")
        return
    if fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0].keys()) if rows else [])
        writer.writeheader()
        writer.writerows(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for key in rows[0].keys() if rows else []:
        table.add_column(str(key), overflow="fold")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    Console().print(table)
