"""Render a Jinja page and put it in place atomically: a report is never left half written."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jinja2 import Environment

from s2lake.errors import WarehouseError


def render(template: str, **values: Any) -> str:
    """Autoescaped: patch ids, label and country names from the tables cannot inject markup or script."""
    return Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(template).render(**values)


def write_page(page: str, out: Path) -> None:
    """Write ``page`` beside ``out`` and rename it into place (a crash leaves the old file or none)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    try:
        partial.write_text(page, encoding="utf-8")
        partial.replace(out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise WarehouseError(f"cannot write the HTML report: {exc.strerror or exc}", where=str(out)) from exc
