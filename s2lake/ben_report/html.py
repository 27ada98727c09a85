"""The report as one self-contained HTML page: the printed figures, a map of the patches coloured by
split, and bar charts of seasons and labels.

Drawn with the pieces of `s2lake report` (:mod:`s2lake.report`): its bar charts, map projection and atomic,
autoescaped page writing, so a name from the tables cannot inject markup or script and no CDN is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from s2lake.report.charts import bars
from s2lake.report.page import render, write_page
from s2lake.report.patch_map import MAP_HEIGHT, MAP_WIDTH, SPLIT_COLOURS, MapFrame, lonlat_centres
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse

SEASONS = ("spring", "summer", "fall", "winter")


@dataclass
class MapPatch:
    patch_id: str
    split: str
    x: float
    y: float
    size: float


_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>BigEarthNet dataset report</title>
<style>
body{font-family:sans-serif;margin:2em;max-width:60em} table{border-collapse:collapse}
td{padding:0 1em 0 0;font-family:monospace} h2{margin-top:1.5em} .legend span{margin-right:1.5em}
</style></head><body>
<h1>BigEarthNet dataset report</h1>
<h2>Figures</h2>
<table>{% for name, value in figures %}<tr><td>{{ name }}</td><td>{{ value }}</td></tr>{% endfor %}</table>
<h2>Patches by split</h2>
<p class="legend">{% for split, colour in colours.items() %}<span><svg width="12" height="12"><rect width="12"
 height="12" fill="{{ colour }}"/></svg> {{ split }} ({{ split_counts.get(split, 0) }})</span>{% endfor %}</p>
<svg id="map" width="{{ width }}" height="{{ height }}" viewBox="0 0 {{ width }} {{ height }}"
 style="border:1px solid #ccc">{% for p in patches %}<rect x="{{ '%.2f' % p.x }}" y="{{ '%.2f' % p.y }}"
 width="{{ '%.2f' % p.size }}" height="{{ '%.2f' % p.size }}" fill="{{ colours[p.split] }}" fill-opacity="0.8"><title>{{
 p.patch_id }} ({{ p.split }})</title></rect>{% endfor %}</svg>
{% for title, bars in charts %}<h2>{{ title }}</h2>
<svg width="{{ width }}" height="{{ 22 * bars | length + 4 }}">{% for b in bars %}
<g transform="translate(0,{{ 22 * loop.index0 }})"><text x="0" y="15" font-size="12">{{ b.name }}</text>
<rect x="260" y="3" width="{{ '%.1f' % b.width }}" height="16" fill="#4477aa"/>
<text x="{{ '%.1f' % (265 + b.width) }}" y="15" font-size="12">{{ b.value }}</text></g>{% endfor %}</svg>
{% endfor %}</body></html>
"""


def write_html(
    warehouse: Warehouse, figures: list[tuple[str, str]], out: Path, scope: Sequence[str] | None = None
) -> None:
    """Render the page next to ``out`` and rename it into place, so no half-written report is left. The map
    shows the ``scope`` patches (the report's dataset) when given, else every patch of the warehouse."""
    store = TableStore(warehouse)
    patches = _map_patches(store, scope)
    split_counts: dict[str, int] = {}
    for p in patches:
        split_counts[p.split] = split_counts.get(p.split, 0) + 1
    seasons = dict(figures)
    charts = [
        ("Dataset patches per season", bars([(s, int(seasons.get(s, "0"))) for s in SEASONS])),
        ("Dataset patches per label", bars(_label_counts(store))),
    ]
    page = render(
        _TEMPLATE,
        figures=figures,
        patches=patches,
        colours=SPLIT_COLOURS,
        split_counts=split_counts,
        charts=charts,
        width=MAP_WIDTH,
        height=MAP_HEIGHT,
    )
    write_page(page, out)


def _label_counts(store: TableStore) -> list[tuple[str, int]]:
    rows = store.read("label_stats", columns=["label", "patches"]).to_pylist()
    return sorted(((r["label"], int(r["patches"])) for r in rows), key=lambda x: (-x[1], x[0]))


def _map_patches(store: TableStore, scope: Sequence[str] | None) -> list[MapPatch]:
    """Patch squares in the map box (no margin: the page shows the dataset's extent only)."""
    bounds = store.read("patches", columns=["patch_id", "epsg", "ulx", "uly", "lrx", "lry"])
    if scope is not None:
        bounds = bounds.filter(pc.is_in(bounds["patch_id"], pa.array(list(scope), pa.string())))
    split = store.read("geographic_split", columns=["patch_id", "split"])
    split_of = dict(zip(split["patch_id"].to_pylist(), split["split"].to_pylist(), strict=True))
    if bounds.num_rows == 0:
        return []
    lon, lat, edge_deg = lonlat_centres(bounds)
    frame = MapFrame.around(lon, lat, edge_deg)
    x, y = frame.px(lon, lat)
    size = max(edge_deg * frame.scale, 2.0)
    return [
        MapPatch(
            patch_id=pid, split=split_of.get(pid, "not in dataset"), x=x[i] - size / 2, y=y[i] - size / 2, size=size
        )
        for i, pid in enumerate(bounds["patch_id"].to_pylist())
    ]
