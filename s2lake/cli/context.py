"""What every command shares: the effective settings, flag overrides, the warehouse, error handling, exit codes."""

from __future__ import annotations

import csv
import functools
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated, Any, Literal, ParamSpec, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text

from s2lake.config import Settings
from s2lake.config.masking import masked
from s2lake.errors import ConfigError, LockedError, ProductError, QueryError, ReferenceDataError, S2LakeError
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


Section = TypeVar("Section", bound=BaseModel)


def with_flags(ctx: typer.Context, section: Section, **flags: Any) -> Section:
    """``section`` of the loaded settings with the flags the user gave on top, validated by its own model.

    Flags outrank every other source but must obey the same ranges and choices as the configuration file,
    so the section is built again through its pydantic model (``model_copy`` would skip validation) and a
    bad value becomes one :class:`ConfigError` naming the flag. ``flags`` are keyed by the command's
    parameter name, which is the section's field name; as in :func:`~s2lake.config.load_settings`, a
    setting's flag defaults to ``None`` and ``None`` means "not given", so the settings keep their value.
    """
    given = {name: value for name, value in flags.items() if value is not None}
    if not given:
        return section
    try:
        return type(section).model_validate(section.model_dump() | given)
    except ValidationError as exc:
        problems = "; ".join(_flag_problem(ctx, err["loc"], err["msg"], given) for err in exc.errors())
        raise ConfigError(
            f"invalid option {problems}", where=ctx.command_path, fix=f"see `{ctx.command_path} --help`"
        ) from None


def _flag_problem(ctx: typer.Context, loc: tuple[int | str, ...], msg: str, given: dict[str, Any]) -> str:
    """One validation error in the user's terms; a check across fields (empty ``loc``) names every given flag."""
    field = str(loc[0]) if loc else None
    names = [field] if field in given else list(given)
    options = {p.name: p.opts[0] for p in ctx.command.params}
    got = ", ".join(repr(masked(given[name], name)) for name in names)
    return f"{', '.join(options[name] for name in names)}: {msg} (got {got})"


P = ParamSpec("P")
R = TypeVar("R")


def friendly_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn :class:`S2LakeError` into one line and its exit code (:func:`exit_code_for`)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except S2LakeError as exc:
            code = exit_code_for(exc)
            label = "[bold yellow]locked:[/]" if code == ExitCode.LOCKED else "[bold red]error:[/]"
            console.print(f"{label} {exc.message}", highlight=False, soft_wrap=True)
            raise typer.Exit(code) from None

    return wrapper


def exit_code_for(exc: S2LakeError) -> ExitCode:
    """The exit code of a command stopped by ``exc``: 3 locked, 2 bad input, 4 environment."""
    if isinstance(exc, LockedError):
        return ExitCode.LOCKED
    if isinstance(exc, ConfigError | ProductError | QueryError | ReferenceDataError):
        return ExitCode.USAGE
    return ExitCode.FAILED


#: ``--format`` and ``--json`` as every command that prints rows offers them.
FormatOption = Annotated[
    Literal["table", "json", "csv"],
    typer.Option("--format", "-f", help="table (for people), json or csv (for scripts)."),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Same as --format json.")]


def output_format(fmt: str, json_flag: bool) -> str:
    """The format asked for: ``--json`` is the shortcut for ``--format json``."""
    return "json" if json_flag else fmt


def emit(rows: list[dict[str, Any]], fmt: str, title: str | None = None, columns: list[str] | None = None) -> None:
    """Print rows as a rich table (stderr-safe), JSON or CSV on stdout.

    ``columns`` names the columns when there may be no rows, so an empty CSV still has its header and an
    empty table its column titles.
    """

    names = columns if columns is not None else (list(rows[0].keys()) if rows else [])
    if fmt == "json":
        sys.stdout.write(json.dumps(rows, default=str, indent=None) + "\n")
        return
    if fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=names)
        if names:
            writer.writeheader()
        writer.writerows(rows)
        return

    table = Table(title=title, show_lines=False)
    for key in names:
        table.add_column(str(key), overflow="fold")
    for row in rows:
        table.add_row(*(Text("" if row.get(key) is None else str(row.get(key))) for key in names))  # no markup
    Console().print(table)
