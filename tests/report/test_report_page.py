"""`s2lake report` on a warehouse the real demo pipeline wrote, opened in Debian's headless Chromium.

The browser (driven by Playwright, launched from /usr/bin/chromium, no Playwright browser download) must draw
the map, every chart and every quicklook, request nothing but the file itself, and switch the map's
colouring without script. The figures on the page must be the marts' figures; --where must narrow them.
"""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile

from s2lake.duckdb_session import connect
from s2lake.warehouse import Warehouse

S2LAKE = str(Path(sys.executable).parent / "s2lake")
CHROMIUM = Path("/usr/bin/chromium")
CHARTS = ("chart-split", "chart-season", "chart-label", "chart-country", "chart-validation", "chart-bands")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def s2lake(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([S2LAKE, *args], capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The demo's warehouse and the report it wrote (25 patches of one generated product)."""
    root = tmp_path_factory.mktemp("report")
    done = s2lake("-w", str(root / "wh"), "demo", "--pixels", "600", "--workdir", str(root / "demo"))
    assert done.returncode == 0, done.stderr[-3000:]
    [printed] = re.findall(r"^report: (.+)$", done.stdout, re.MULTILINE)
    assert Path(printed) == root / "demo" / "report.html"
    return root / "wh", Path(printed)


def open_in_chromium(page_file: Path, shot: Path) -> dict:
    """Load the page, record every request, measure what was drawn, click through the colourings."""
    if not CHROMIUM.is_file():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run does)")
    # lazy: playwright (a dev dependency) drives a browser; only this test needs it, and only with chromium installed
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_file.as_uri(), wait_until="load")
        drawn = page.evaluate(
            """(charts) => {
              const box = (el) => { const r = el.getBoundingClientRect(); return [r.width, r.height]; };
              const map = document.querySelector('#map');
              const fill = () => getComputedStyle(document.querySelector('#map rect.p')).fill;
              const fills = {split: fill()};
              for (const key of ['l', 'c']) {
                document.querySelector(`label[for=by-${key}]`).click();
                fills[key] = fill();
              }
              return {
                map: box(map), patches: map.querySelectorAll('rect.p').length,
                countries: map.querySelectorAll('g.countries path').length, fills,
                charts: Object.fromEntries(charts.map((id) => { const el = document.getElementById(id);
                  return [id, el ? {box: box(el), shapes: el.querySelectorAll('rect').length} : null]; })),
                images: [...document.querySelectorAll('#quicklooks img')].map((i) => [i.complete, i.naturalWidth]),
              };
            }""",
            list(CHARTS),
        )
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    drawn["requests"] = requests
    return drawn


def test_report_renders_offline_in_headless_chromium(demo, tmp_path):
    _, report = demo
    drawn = open_in_chromium(report, tmp_path / "shot.png")
    # Nothing but the page itself was fetched (the quicklooks are data: URIs).
    assert [url for url in drawn["requests"] if not url.startswith("data:")] == [report.as_uri()]
    assert all(url.startswith("data:image/png;base64,") for url in drawn["requests"] if url != report.as_uri())
    width, height = drawn["map"]
    assert width > 0 and height > 0
    assert drawn["patches"] == 25 and drawn["countries"] > 0
    for chart, seen in drawn["charts"].items():
        assert seen is not None, chart
        assert seen["box"][0] > 0 and seen["box"][1] > 0 and seen["shapes"] > 0, chart
    # Colouring switches with the radio buttons, without script: split, label and country colours differ.
    assert len(set(drawn["fills"].values())) == 3
    assert drawn["images"] and all(done and natural == 60 for done, natural in drawn["images"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with MemoryFile((tmp_path / "shot.png").read_bytes()) as memory, memory.open() as png:
            pixels = png.read()
    assert png.width == 1100 and png.height > 2000
    colours = np.unique(pixels.reshape(pixels.shape[0], -1), axis=1).shape[1]
    assert colours > 50  # drawn, not a blank page
    page = report.read_text(encoding="utf-8")
    assert "<script" not in page and "http://" not in page and "https://" not in page


def test_page_shows_the_marts_figures(demo):
    warehouse, report = demo
    page = report.read_text(encoding="utf-8")
    con = connect(Warehouse(str(warehouse)))
    for band, mean, std in con.sql("SELECT band, mean, std FROM band_stats").fetchall():
        assert f"{mean:.1f} ± {std:.1f}" in page, band
    for season, patches in con.sql("SELECT season, patches FROM season_stats WHERE scope = 'all'").fetchall():
        assert re.search(rf">{season}<title>{season}</title></text>\s*<rect[^>]*/>\s*<text[^>]*>{patches}<", page)


def test_where_narrows_the_page(demo, tmp_path):
    warehouse, _ = demo
    out = tmp_path / "train.html"
    done = s2lake("-w", str(warehouse), "report", str(out), "--where", "split = 'train'")
    assert done.returncode == 0, done.stderr
    train = connect(Warehouse(str(warehouse))).sql("SELECT count(*) FROM geographic_split WHERE split = 'train'")
    [(count,)] = train.fetchall()
    assert f"{count} of 25 patches" in done.stdout
    page = out.read_text(encoding="utf-8")
    assert page.count('<rect class="p ') == count < 25
    split_chart = page[page.index('id="chart-split"') : page.index("</svg>", page.index('id="chart-split"'))]
    assert ">train<" in split_chart and ">test<" not in split_chart and ">validation<" not in split_chart


@pytest.mark.parametrize(
    ("where", "says"),
    [
        ("no_such_column = 1", "not a valid condition"),
        ("1 = 1; DROP TABLE patches", "not a valid condition"),
        ("1 = 1); DROP TABLE patches; SELECT (1", "more than one statement"),
        ("tile = 'ZZZZZ'", "matches no patch"),
        ("len(read_text('/etc/passwd')) > 0", "--where"),
    ],
)
def test_bad_where_is_a_clear_error(demo, tmp_path, where, says):
    warehouse, _ = demo
    out = tmp_path / "bad.html"
    done = s2lake("-w", str(warehouse), "report", str(out), "--where", where)
    assert done.returncode == 2, done.stderr
    assert says in done.stderr and "dominant_label" in done.stderr  # the fix lists the columns
    assert not out.exists() and not list(tmp_path.glob(".bad.html.partial-*"))
