"""Horizontal bar charts as plain data for the pages' inline SVG templates.

Drawn by hand (rectangles and text in a Jinja template) rather than with a plotting library: the pages must
open offline with nothing fetched, the project has no plotting dependency, and bars are all they need.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Width in px of the longest bar; the label column is left of it, the value right of it.
BAR_SPACE = 400.0


@dataclass
class Bar:
    name: str
    value: int | float
    width: float
    #: The whisker's half length in px (a standard deviation), 0 for none.
    whisker: float = 0.0
    label: str = ""

    @property
    def text(self) -> str:
        return self.label or str(self.value)


def bars(counts: list[tuple[str, int]]) -> list[Bar]:
    """One bar per (name, count), the largest count at full width."""
    top = max((v for _, v in counts), default=0) or 1
    return [Bar(name, value, BAR_SPACE * value / top) for name, value in counts]


def bars_with_spread(rows: list[tuple[str, float, float]]) -> list[Bar]:
    """One bar per (name, mean, std) with a ±std whisker, scaled so that mean + std fits."""
    top = max((m + s for _, m, s in rows), default=0.0) or 1.0
    scale = BAR_SPACE / top
    return [Bar(name, mean, mean * scale, std * scale, f"{mean:.1f} ± {std:.1f}") for name, mean, std in rows]
