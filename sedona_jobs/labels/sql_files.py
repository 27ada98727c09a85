"""The join SQL in ``sql/`` (one statement per file, the same text on every engine)."""

from __future__ import annotations

from pathlib import Path

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def read_sql(name: str, **params: str) -> str:
    """Text of ``sql/<name>.sql`` without comment lines, with ``{param}`` placeholders bound.

    Parameters are values the job computes (e.g. an envelope as WKT), never user input.
    """
    text = (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--")).strip()
    return body.format(**params) if params else body
