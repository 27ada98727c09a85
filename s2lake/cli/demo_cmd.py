"""``s2lake demo``: the main job on generated data, offline, on the embedded engine.

The demo is a list of steps (:data:`STEPS`) run in order on one :class:`DemoRun`; each step does
its work through the same Python API as the real commands and notes what it did. Later parts of the
pipeline (labels, dbt models, splits) add their step to the list, before the closing SQL query.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

from s2lake.cli.context import AppContext, app_context, emit, friendly_errors
from s2lake.errors import S2LakeError
from s2lake.logs import console

#: The question the demo asks the warehouse at the end: which scene classes the patches contain.
SAMPLE_SQL = """\
SELECT scene_class, count(*) AS patches
FROM (SELECT unnest(scene_classes) AS scene_class FROM patches)
GROUP BY scene_class
ORDER BY patches DESC, scene_class"""


@dataclass
class DemoRun:
    """What the steps share: where things go and what each step did (printed at the end)."""

    app: AppContext
    workdir: Path
    pixels: int
    product: Path | None = None
    report: Path | None = None
    facts: list[tuple[str, str]] = field(default_factory=list)

    def note(self, what: str, value: object) -> None:
        self.facts.append((what, str(value)))


def synthesise(run: DemoRun) -> None:
    """Generate one Level-2A product (or reuse the one a previous demo generated)."""
    from sedona_jobs.synth.l2a import write_l2a

    folder = run.workdir / "products" / f"{run.pixels}px"
    existing = sorted(folder.glob("S2A_MSIL2A_*_T33UUU_*.SAFE")) if folder.is_dir() else []
    run.product = existing[0] if existing else write_l2a(folder, pixels=run.pixels, nodata_fraction=0.05, seed=42)
    run.note("product", run.product)


def cut_patches(run: DemoRun) -> None:
    """Cut the product into patches (``s2lake patches build --replace``): one Delta commit."""
    from sedona_jobs.patches import build_products

    [outcome] = build_products([run.product], run.app.warehouse, run.app.settings.patches, replace=True)
    if outcome.status != "patched":
        raise S2LakeError(f"the demo product could not be cut: {outcome.reason}")
    run.note("patches written", f"{outcome.patches} ({outcome.patches / outcome.seconds:.1f} patches/s)")


def label(run: DemoRun) -> None:
    """Label the patches: CLC-like land cover, the shipped Natural Earth countries, overlaps."""
    from sedona_jobs.labels.demo_labels import demo_step

    report = demo_step(run.app.warehouse)
    countries = ", ".join(f"{code}: {n}" for code, n in sorted(report.countries.items(), key=str))
    run.note("labels", f"{report.landcover_rows} land-cover rows; countries {countries}")
    run.note("labelling speed", f"{report.patches_per_second:.0f} patches/s ({report.engine})")


def marts(run: DemoRun) -> None:
    """Build the dbt marts (``s2lake models build``): label sets, statistics, validation, split."""
    from s2lake.dbt.demo_marts import demo_step

    report = demo_step(run.app.settings.models, run.app.warehouse)
    run.note("dbt marts", f"{report.models} models, {report.tests} data tests passed in {report.seconds:.1f} s")
    run.note("validation", ", ".join(f"{k} {v}" for k, v in report.validation.items()))
    run.note("geographic split", ", ".join(f"{k} {v}" for k, v in report.splits.items()))
    run.note("labels per patch", report.labels_per_patch)


def report(run: DemoRun) -> None:
    """Write the HTML report of the warehouse (``s2lake report``) beside the generated product."""
    from s2lake.report.html_report import write_report

    written = write_report(run.app.warehouse, run.workdir / "report.html")
    run.report = written.path
    run.note("HTML report", f"{written.path} ({written.bytes / 1e6:.1f} MB)")


def query(run: DemoRun) -> None:
    """Ask the warehouse a question with SQL through DuckDB, as an analyst would."""
    from s2lake.duckdb_session import connect

    result = connect(run.app.warehouse).sql(SAMPLE_SQL)
    rows = [dict(zip(result.columns, values, strict=True)) for values in result.fetchall()]
    typer.echo(f'\n$ s2lake sql "{" ".join(SAMPLE_SQL.split())}"', err=False)
    emit(rows, "table")


Step = tuple[str, Callable[[DemoRun], None]]
STEPS: list[Step] = [
    ("synthesise a Level-2A product", synthesise),
    ("cut it into 1200 m patches", cut_patches),
    ("label land cover and country (Sedona spatial joins)", label),
    ("build the dbt marts: label sets, statistics, validation, split", marts),
    ("write the HTML report", report),
    ("query the patches with SQL", query),
]


@friendly_errors
def demo(
    ctx: typer.Context,
    pixels: Annotated[
        int, typer.Option(help="Edge of the generated product in 10 m pixels (multiple of 6; full tile 10980).")
    ] = 2400,
    workdir: Annotated[Path, typer.Option(help="Where the generated product and report.html are kept.")] = Path(
        "demo-output"
    ),
) -> None:
    """Run the whole pipeline on a generated product and print what it did.

    Offline, no JVM: a synthetic L2A product (ESA SAFE layout, JPEG 2000 bands) goes in, its patches
    land in the warehouse's Delta tables, and a SQL query answers from them.

    Examples:

      s2lake demo

      s2lake -w /tmp/demo-lake demo --pixels 10980 --workdir /tmp/demo-products
    """
    from s2lake.tables.store import TableStore

    run = DemoRun(app_context(ctx), workdir.resolve(), pixels)
    run.app.warehouse.ensure_writable()
    timings = []
    for number, (title, step) in enumerate(STEPS, start=1):
        console.print(f"[bold]step {number}/{len(STEPS)}:[/] {title}")
        started = time.perf_counter()
        step(run)
        timings.append({"step": title, "seconds": round(time.perf_counter() - started, 1)})
    store = TableStore(run.app.warehouse)
    run.note("warehouse", run.app.warehouse.root)
    for name in store.names():
        run.note(f"table {name}", f"version {store.require(name).version()}, {store.count(name)} rows")
    typer.echo("")
    emit(timings, "table", title="demo steps")
    emit([{"what": what, "value": value} for what, value in run.facts], "table", title="what the demo did")
    typer.echo(f"report: {run.report}")
