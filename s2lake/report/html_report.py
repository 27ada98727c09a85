"""The report page: figures, map, charts, tables and quicklooks of the selection, rendered into one file.

The page holds no script and loads nothing: charts and map are inline SVG, quicklooks are data: URIs, and
the map's colouring (split, dominant label, country) switches with three radio buttons and CSS sibling
selectors, so it works offline, from an e-mail attachment, or with JavaScript disabled.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from s2lake.report.charts import bars, bars_with_spread
from s2lake.report.figures import TABLE_ROWS, collect
from s2lake.report.page import render, write_page
from s2lake.report.patch_map import (
    MAP_HEIGHT,
    MAP_PATCH_LIMIT,
    MAP_WIDTH,
    SPLIT_COLOURS,
    MapFrame,
    country_shapes,
    lonlat_centres,
    map_cells,
)
from s2lake.report.quicklooks import PER_LABEL, quicklooks
from s2lake.report.selection import select_patches
from s2lake.warehouse import Warehouse

#: Colours of the most frequent labels and countries (ColorBrewer Paired and Dark2); the rest share OTHER.
PALETTE = (
    "#1f78b4",
    "#33a02c",
    "#e31a1c",
    "#ff7f00",
    "#6a3d9a",
    "#b15928",
    "#a6cee3",
    "#b2df8a",
    "#fb9a99",
    "#fdbf6f",
    "#cab2d6",
    "#ffff99",
    "#1b9e77",
    "#d95f02",
    "#7570b3",
    "#e7298a",
    "#66a61e",
    "#e6ab02",
    "#a6761d",
)
OTHER = "#999999"
#: Degrees of country layer shown around the patches, so even a few patches show where they are.
MAP_MARGIN_DEG = 0.3


@dataclass
class Colouring:
    key: str  # radio id suffix and CSS class prefix
    title: str
    legend: list[tuple[str, str, int]]  # name, colour, patches


@dataclass
class Written:
    path: Path
    selected: int
    warehouse_patches: int
    bytes: int


def write_report(warehouse: Warehouse, out: Path, where: str | None = None) -> Written:
    """Select, aggregate, draw, write ``out`` atomically."""
    con, missing = select_patches(warehouse, where)
    figures = collect(con)
    figures.missing_tables = missing
    looks = quicklooks(con)
    patches = con.execute(
        "SELECT patch_id, epsg, ulx, uly, lrx, lry, split, dominant_label, country_code FROM selected ORDER BY patch_id"
    ).fetch_arrow_table()
    lon, lat, edge = lonlat_centres(patches)
    frame = MapFrame.around(lon, lat, edge, MAP_MARGIN_DEG)
    colourings, indices = {}, {}
    for key, title, column in (
        ("s", "split", "split"),
        ("l", "dominant label", "dominant_label"),
        ("c", "country", "country_code"),
    ):
        values = patches[column].to_pylist()
        colourings[key], indices[key] = _colouring(key, title, values)
    cells, cell_px = map_cells(frame, lon, lat, edge, patches["patch_id"].to_pylist(), indices)
    page = render(
        TEMPLATE,
        where=where,
        f=figures,
        countries=country_shapes(frame),
        cells=cells,
        cell_px=cell_px,
        map_limit=MAP_PATCH_LIMIT,
        colourings=list(colourings.values()),
        width=MAP_WIDTH,
        height=MAP_HEIGHT,
        charts=[
            ("chart-split", "Selected patches per split", bars(figures.splits), ""),
            ("chart-season", "Dataset patches per season", bars(figures.seasons), ""),
            ("chart-label", "Dataset patches per label", bars(figures.labels), ""),
            ("chart-country", "Dataset patches per country", bars(figures.countries), ""),
            (
                "chart-validation",
                "Validation checks (patches failing each; in_dataset and total)",
                bars(figures.validation),
                "",
            ),
            (
                "chart-bands",
                "Band statistics: mean ± standard deviation of the valid pixels (digital numbers)",
                bars_with_spread(figures.bands),
                "over the dataset patches of the selection, from exact integer sums",
            ),
        ],
        quicklooks=looks,
        per_label=PER_LABEL,
        table_rows=TABLE_ROWS,
    )
    write_page(page, out)
    return Written(out, figures.selected, figures.warehouse_patches, len(page.encode("utf-8")))


def _colouring(key: str, title: str, values: list[str]) -> tuple[Colouring, list[int]]:
    """Categories by frequency, each with a colour (fixed for splits); beyond the palette they share OTHER."""
    counts = Counter(values)
    if key == "s":
        order = [name for name in SPLIT_COLOURS if name in counts]
        colours = [SPLIT_COLOURS[name] for name in order]
    else:
        order = sorted(counts, key=lambda v: (-counts[v], v))
        colours = [PALETTE[i] if i < len(PALETTE) else OTHER for i in range(len(order))]
    index = {name: i for i, name in enumerate(order)}
    legend = [(name, colour, counts[name]) for name, colour in zip(order, colours, strict=True)]
    return Colouring(key, title, legend), [index[v] for v in values]


TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>s2lake report</title>
<style>
body{font-family:sans-serif;margin:2em;max-width:62em} table{border-collapse:collapse;font-size:13px}
td,th{padding:1px 1em 1px 0;text-align:left} td{font-family:monospace} h2{margin-top:1.6em}
.note{color:#555;font-size:13px} .legend{display:none;font-size:13px} .legend span{margin-right:1.2em}
.swatch{display:inline-block;width:11px;height:11px;margin-right:3px;vertical-align:middle}
#map{border:1px solid #ccc;background:#e8f0f8} .p{fill-opacity:.9;stroke:#333;stroke-width:.3}
.looks figure{display:inline-block;margin:0 6px 6px 0} .looks img{image-rendering:pixelated;width:90px;height:90px}
{% for c in colourings %}
#by-{{ c.key }}:checked ~ .legend-{{ c.key }}{display:block}
{% for name, colour, n in c.legend %}
#by-{{ c.key }}:checked ~ #map .{{ c.key }}{{ loop.index0 }}{fill:{{ colour }}}
{% endfor %}
{% endfor %}
</style></head><body>
<h1>s2lake report</h1>
<p>{{ f.selected }} of the warehouse's {{ f.warehouse_patches }} patches
{%- if where %} selected by <code>--where {{ where }}</code>{% endif %}; {{ f.in_dataset }} of them are in the
dataset (pass every validation check). Distributions and band statistics count the dataset patches, the map,
split and checks every selected patch.</p>
{% if f.missing_tables %}<p class="note">Not in the warehouse yet, shown as empty:
{{ f.missing_tables | join(", ") }}.</p>{% endif %}

<h2>Map of the patches</h2>
<section id="map-section">
<span>Colour by:</span>
{% for c in colourings %}
<input type="radio" name="colour" id="by-{{ c.key }}"{% if loop.first %} checked{% endif %}>
<label for="by-{{ c.key }}">{{ c.title }}</label>
{% endfor %}
{% for c in colourings %}
<p class="legend legend-{{ c.key }}">{% for name, colour, n in c.legend %}<span><i class="swatch"
 style="background:{{ colour }}"></i>{{ name }} ({{ n }})</span>{% endfor %}</p>
{% endfor %}
<svg id="map" width="{{ width }}" height="{{ height }}" viewBox="0 0 {{ width }} {{ height }}">
<g class="countries" fill="#f6f3ea" stroke="#8a8a8a" stroke-width=".6" fill-rule="evenodd">
{% for c in countries %}<path d="{{ c.path }}"><title>{{ c.name }}</title></path>
{% endfor %}</g>
<g class="patches">
{% for p in cells %}<rect class="p {{ p.classes }}" x="{{ '%.1f' % p.x }}" y="{{ '%.1f' % p.y }}"
 width="{{ '%.1f' % p.size }}" height="{{ '%.1f' % p.size }}"><title>{{ p.title }}</title></rect>
{% endfor %}</g>
</svg>
</section>
<p class="note">Country layer: Natural Earth (public domain), shipped with s2lake.
{% if cell_px %}The {{ f.selected }} patches are aggregated into {{ cells | length }} cells of {{ '%.0f' % cell_px }} px
(at most {{ map_limit }} squares are drawn); each cell takes the most common value of its patches.
{% else %}One square per patch.{% endif %}</p>

{% for id, title, chart_bars, note in charts %}
<h2>{{ title }}</h2>
{% if chart_bars %}
<svg class="chart" id="{{ id }}" width="{{ width + 60 }}" height="{{ 22 * chart_bars | length + 4 }}">
{% for b in chart_bars %}<g transform="translate(0,{{ 22 * loop.index0 }})"><text x="0" y="15" font-size="12">{{
 b.name | truncate(40, true, "…") }}<title>{{ b.name }}</title></text>
<rect x="260" y="3" width="{{ '%.1f' % b.width }}" height="16" fill="#4477aa"/>
{% if b.whisker %}<line x1="{{ '%.1f' % (260 + b.width - b.whisker) }}" x2="{{ '%.1f' % (260 + b.width + b.whisker)
 }}" y1="11" y2="11" stroke="#222"/>{% endif %}<text x="{{ '%.1f' % (265 + b.width + b.whisker) }}" y="15"
 font-size="12">{{ b.text }}</text></g>
{% endfor %}</svg>
{% else %}<p class="note" id="{{ id }}">No data in the selection.</p>{% endif %}
{% if note %}<p class="note">{{ note }}.</p>{% endif %}
{% endfor %}

<h2>Products</h2>
{% for name, t in (("products", f.products), ("tiles", f.tiles)) %}
{% if name == "tiles" %}<h2>Tiles</h2>{% endif %}
<table id="table-{{ name }}"><tr>{% for c in t.columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for row in t.rows %}<tr>{% for v in row %}<td>{{ v if v is not none else "" }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% if t.total > t.rows | length %}<p class="note">The first {{ table_rows }} of {{ t.total }} {{ name }}.</p>{% endif %}
{% endfor %}

<h2>Sample quicklooks per dominant label</h2>
<p class="note">True colour (B04, B03, B02), up to {{ per_label }} patches per label picked by a hash of the patch id,
2x2 averaged and stretched between the 2nd and 98th percentile of each patch.</p>
<div class="looks" id="quicklooks">
{% for label, looks in quicklooks %}<h3>{{ label }}</h3>
{% for q in looks %}<figure><img src="{{ q.uri }}" alt="{{ q.patch_id }}" title="{{ q.patch_id }}"></figure>{% endfor %}
{% endfor %}</div>
</body></html>
"""
