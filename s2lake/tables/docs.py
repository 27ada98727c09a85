"""Render the table schemas as Markdown (``docs/schema.md``).

The schema doc is generated from :mod:`s2lake.tables.schemas` so that it cannot drift from the
code; a test fails when the committed doc is stale. Regenerate with
``uv run python -m s2lake.tables.docs > docs/schema.md``.
"""

from __future__ import annotations

import sys

from s2lake.tables import schemas
from s2lake.tables.schemas import CORE_TABLES


def render_markdown() -> str:
    lines = [
        "# Table schemas",
        "",
        "Generated from `s2lake/tables/schemas.py` (`uv run python -m s2lake.tables.docs > docs/schema.md`).",
        "The same comments are stored in each Delta table's log: `s2lake tables --schema NAME`.",
        "",
        "## Why this layout",
        "",
    ]
    why = (schemas.__doc__ or "").split("Why this layout:", 1)[-1].strip()
    lines += [why, ""]
    for spec in CORE_TABLES.values():
        lines += [f"## `{spec.name}`", "", spec.description, ""]
        lines += [
            f"Key: `{', '.join(spec.key)}`. Partitioned by: `{', '.join(spec.partition_by) or '(none)'}`.",
            "",
            "| column | type | null | comment |",
            "|---|---|---|---|",
        ]
        for field in spec.schema:
            comment = (field.metadata or {}).get(b"comment", b"").decode().replace("|", "\\|")
            lines.append(f"| `{field.name}` | `{field.type}` | {'yes' if field.nullable else 'no'} | {comment} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render_markdown())
