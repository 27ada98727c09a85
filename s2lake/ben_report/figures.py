"""The report over a warehouse: build the marts, then print the figures of the mart ``ben_report``.

With ``scope`` (the patch ids of one dataset, as `s2lake ben report DATASET_DIR` imports it) the build
covers those patches only (dbt var report_scope, macros/report_scope.sql): the warehouse may hold other
datasets and SAFE-derived patches, and the report still describes exactly the dataset it was given.

Every figure is computed in SQL by the dbt project (models/transform/marts/ben_report.sql and the marts it
reads), on whichever engine builds the marts; this module only checks the inputs, runs the build, prints
and writes files, so the printed block can never drift from what ``s2lake models build`` produces.
"""

from __future__ import annotations

import csv
import gzip
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from s2lake.ben_report.html import write_html
from s2lake.config.models import ModelsSettings
from s2lake.dbt.runner import build, state_dir
from s2lake.dbt.split_export import write_split_csv
from s2lake.errors import ConfigError
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse

log = logging.getLogger("s2lake.ben")

#: Characters a stats list path may not hold: the path is spliced into the SQL that reads it.
_UNSAFE_PATH_CHARS = ("'", "`", '"', "\\", "\n", "\r", "{", "}")


@dataclass
class Report:
    figures: list[tuple[str, str]]
    split_counts: dict[str, int] | None = None
    html: Path | None = None

    def text(self) -> str:
        """The printed block: one ``name: value`` line per figure, in the mart's order."""
        return "\n".join(f"{name}: {value}" for name, value in self.figures)


def report(
    warehouse: Warehouse,
    settings: ModelsSettings,
    *,
    stats_list: Path | None = None,
    split_out: Path | None = None,
    html_out: Path | None = None,
    target: str | None = None,
    scope: Sequence[str] | None = None,
) -> Report:
    """Build the marts (band statistics over ``stats_list`` when given, only the ``scope`` patches when given)
    and collect the report's figures; write the ``train,test`` split CSV to ``split_out`` and the HTML page to
    ``html_out`` when given."""
    listed = checked_stats_list(stats_list) if stats_list is not None else ""
    target = target or settings.target
    with scope_file(warehouse, target, scope) as scoped:
        build(settings, warehouse, target=target, quiet=True, stats_list=listed, report_scope=scoped)
    result = Report(figures=read_figures(warehouse))
    if split_out is not None:
        result.split_counts = write_split_csv(warehouse, split_out, validation="merge")
    if html_out is not None:
        write_html(warehouse, result.figures, html_out, scope)
        result.html = html_out
    return result


@contextmanager
def scope_file(warehouse: Warehouse, target: str, scope: Sequence[str] | None) -> Iterator[str]:
    """The ``scope`` ids as a gzip-compressed CSV in dbt's state folder for the length of the build ("" for no
    scope): a file, not a dbt var holding the ids, because a dataset has up to half a million of them."""
    if scope is None:
        yield ""
        return
    folder = state_dir(warehouse, target)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"report-scope-{os.getpid()}.csv.gz"
    try:
        with gzip.open(path, "wt", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([patch_id] for patch_id in scope)
        yield str(path)
    finally:
        path.unlink(missing_ok=True)


def read_figures(warehouse: Warehouse) -> list[tuple[str, str]]:
    rows = TableStore(warehouse).read("ben_report").to_pylist()
    return [(r["figure"], r["value"]) for r in sorted(rows, key=lambda r: r["figure_order"])]


def checked_stats_list(path: Path) -> str:
    """The absolute path of a readable gzip-compressed list, refused with the reason otherwise.

    Checked here because the engines' CSV readers would report a plain-text or missing file in their own
    terms (or, for an uncompressed file named .gz, not at all before reading garbage).
    """
    path = path.expanduser().resolve()
    where = str(path)
    if any(c in str(path) for c in _UNSAFE_PATH_CHARS):
        raise ConfigError(
            "the --stats-list path holds a quote, backslash, brace or line break",
            where=where,
            fix="rename or move the file to a plain path",
        )
    if not path.is_file():
        raise ConfigError("the --stats-list file does not exist", where=where, fix="give an existing .csv.gz file")
    if path.suffix != ".gz":
        raise ConfigError(
            "the --stats-list file must be gzip-compressed and named *.gz (both engines pick the codec by name)",
            where=where,
            fix=f"compress it: gzip -k {path.name}",
        )
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            f.readline()
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"the --stats-list file is not a gzip-compressed UTF-8 CSV: {exc}",
            where=where,
            fix="write one patch id per line and compress it with gzip",
        ) from exc
    return str(path)
