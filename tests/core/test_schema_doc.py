"""The committed schema doc matches the schemas in code (it is generated, never hand-edited)."""

from pathlib import Path

from s2lake.tables.docs import render_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "schema.md"


def test_schema_doc_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == render_markdown(), (
        "docs/schema.md is stale: run `uv run python -m s2lake.tables.docs > docs/schema.md`"
    )
