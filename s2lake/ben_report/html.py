"""The report as one self-contained HTML page: the printed figures, a map of the patches coloured by
split, and bar charts of seasons and labels.

The charts are inline SVG written here by hand: the project has no plotting library, and a page that
must open offline (no CDN) needs nothing more than rectangles and text. Every value from the tables
(patch ids, label names) goes through Jinja's autoescaping, so a name cannot inject markup or script.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from jinja2 import Environment

from s2lake.errors import WarehouseError
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse

SPLIT_COLOURS = {"train": "#1b9e77", "validation": "#7570b3", "test": "#d95f02", "not in dataset": "#bbbbbb"}
SEASONS = ("spring", "summer", "fall", "winter")
MAP_WIDTH, MAP_HEIGHT = 720, 480


@dataclass
class Bar:
    name: str
    value: int
    width: float


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
        ("Dataset patches per season", _bars([(s, int(seasons.get(s, "0"))) for s in SEASONS])),
        ("Dataset patches per label", _bars(_label_counts(store))),
    ]
    page = (
        Environment(autoescape=True)
        .from_string(_TEMPLATE)
        .render(
            figures=figures,
            patches=patches,
            colours=SPLIT_COLOURS,
            split_counts=split_counts,
            charts=charts,
            width=MAP_WIDTH,
            height=MAP_HEIGHT,
        )
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    try:
        partial.write_text(page, encoding="utf-8")
        partial.replace(out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise WarehouseError(f"cannot write the HTML report: {exc.strerror or exc}", where=str(out)) from exc


def _bars(counts: list[tuple[str, int]]) -> list[Bar]:
    top = max((v for _, v in counts), default=0) or 1
    return [Bar(name, value, 400.0 * value / top) for name, value in counts]


def _label_counts(store: TableStore) -> list[tuple[str, int]]:
    rows = store.read("label_stats", columns=["label", "patches"]).to_pylist()
    return sorted(((r["label"], int(r["patches"])) for r in rows), key=lambda x: (-x[1], x[0]))


def _map_patches(store: TableStore, scope: Sequence[str] | None) -> list[MapPatch]:
    """Patch centroids in lon/lat (each CRS transformed once with pyproj), scaled into the map box with
    an equirectangular projection around the mean latitude; squares keep the patches' relative size."""
    from pyproj import Transformer

    bounds = store.read("patches", columns=["patch_id", "epsg", "ulx", "uly", "lrx", "lry"])
    if scope is not None:
        bounds = bounds.filter(pc.is_in(bounds["patch_id"], pa.array(list(scope), pa.string())))
    split = store.read("geographic_split", columns=["patch_id", "split"])
    split_of = dict(zip(split["patch_id"].to_pylist(), split["split"].to_pylist(), strict=True))
    if bounds.num_rows == 0:
        return []
    lon = np.empty(bounds.num_rows)
    lat = np.empty(bounds.num_rows)
    cx = ((bounds["ulx"].to_numpy() + bounds["lrx"].to_numpy()) / 2).astype(float)
    cy = ((bounds["uly"].to_numpy() + bounds["lry"].to_numpy()) / 2).astype(float)
    epsg = bounds["epsg"].to_numpy()
    for code in np.unique(epsg):
        rows = epsg == code
        to_wgs84 = Transformer.from_crs(int(code), 4326, always_xy=True)
        lon[rows], lat[rows] = to_wgs84.transform(cx[rows], cy[rows])
    edge_deg = float(pc.max(pc.subtract(bounds["lrx"], bounds["ulx"])).as_py()) / 111_320.0
    x = lon * math.cos(math.radians(float(np.mean(lat))))
    span = max(float(x.max() - x.min()), float(lat.max() - lat.min()), edge_deg) * 1.05
    scale = min(MAP_WIDTH, MAP_HEIGHT) / span
    size = max(edge_deg * scale, 2.0)
    ids = bounds["patch_id"].to_pylist()
    return [
        MapPatch(
            patch_id=pid,
            split=split_of.get(pid, "not in dataset"),
            x=(x[i] - x.min()) * scale + 2,
            y=(lat.max() - lat[i]) * scale + 2,
            size=size,
        )
        for i, pid in enumerate(ids)
    ]
