"""``labels build``: patch_landcover, patch_country and patch_overlaps from one run of the join SQL.

All three tables are computed before any is written, so bad input (missing reference table, unknown
EPSG, empty patches) fails before the warehouse changes; each table then gets the run's rows in one
Delta commit, and the run counts only once ``label_runs`` marks it complete (:mod:`.runs`). The
whole build holds the writer locks of the four tables (:mod:`s2lake.locks`): a second build on the
same warehouse stops at once with exit code 3.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
from pyproj import CRS
from pyproj.exceptions import CRSError

from s2lake.errors import ConfigError, ProductError, ReferenceDataError
from s2lake.locks import table_locks
from s2lake.tables.schemas import CORE_TABLES, LABEL_RUNS, PATCH_COUNTRY, PATCH_LANDCOVER, PATCH_OVERLAPS, TableSpec
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.labels.engines import Engine, SedonaDBEngine, SparkEngine
from sedona_jobs.labels.runs import LABEL_TABLES, RUN_ID, LabelRun
from sedona_jobs.labels.sql_files import read_sql
from sedona_jobs.reference.codelists import clc_classes
from sedona_jobs.reference.geoparquet import reference_dir, require_table, table_exists

log = logging.getLogger(__name__)

CountrySource = Literal["auto", "nuts", "countries"]


@dataclass
class LabelsReport:
    engine: str
    country_source: str
    patches: int
    landcover_rows: int
    patches_without_clc: int
    patches_without_country: int
    overlap_pairs: int
    skipped_unknown_epsg: int
    seconds: float  # the whole run: engine start, joins and (once written) the Delta commits
    countries: dict[str, int] = field(default_factory=dict)
    run_id: str | None = None
    carried_over: int = 0  # patches whose labels an incremental run kept from the previous run
    write_seconds: float = 0.0  # of ``seconds``: the Delta commits of the run (:func:`write_labels`)

    @property
    def patches_per_second(self) -> float:
        """Patches over the whole run, writes included: what a user waits for, not the joins alone."""
        return self.patches / self.seconds if self.seconds else 0.0


def make_engine(name: str) -> Engine:
    if name == "sedonadb":
        return SedonaDBEngine()
    if name == "spark":
        from s2lake.spark import build_session, sedona_jars_available, start_session

        missing = sedona_jars_available()
        if missing is not None:
            raise ConfigError(
                f"cannot run the label joins on Spark: {missing}", fix="use --engine sedonadb, or supply the jar"
            )
        spark = start_session(build_session, "Sedona and Delta")
        return SparkEngine(spark)
    raise ConfigError(f"unknown engine {name!r}", fix="use --engine sedonadb or --engine spark")


def pick_country_source(warehouse: Warehouse, wanted: CountrySource) -> str:
    """NUTS level 0 when loaded (``auto``), otherwise the Natural Earth countries table."""
    if wanted != "auto":
        return wanted
    for name in ("nuts", "countries"):
        if table_exists(warehouse, name):
            return name
    raise ReferenceDataError(
        "no country reference table (nuts or countries) in the warehouse",
        where=reference_dir(warehouse, ""),
        fix="load one: `s2lake reference load nuts PATH` or `s2lake reference load countries "
        "s2lake/data/countries/ne_admin0_europe.geojson` (shipped)",
    )


def register_inputs(
    warehouse: Warehouse,
    engine: Engine,
    *,
    country_source: CountrySource = "auto",
    skip_unknown_epsg: bool = False,
    labelled: pa.Table | None = None,
) -> tuple[str, int]:
    """Check the inputs and create the views the join SQL reads; return (country source, skipped patches).

    ``labelled`` (a ``patch_id`` column) names patches already labelled: ``patches_in`` then holds only the
    others, and ``patches_labelled`` those of the named ones still in the table (see :mod:`.incremental`).
    """
    store = TableStore(warehouse)
    store.require("patches")
    clc_path = require_table(warehouse, "clc")
    source = pick_country_source(warehouse, country_source)
    country_path = require_table(warehouse, source)

    engine.register_patches(store)
    if labelled is not None:
        engine.register_arrow("labelled_ids", labelled)
        engine.materialize("patches_labelled", read_sql("labels_patches_labelled"))
        engine.materialize("patches_in", read_sql("labels_patches_new"))
    skipped = _check_epsg(engine, skip_unknown_epsg)
    engine.register_arrow("clc_classes", clc_classes())
    engine.register_geoparquet("clc_source", clc_path)
    engine.register_geoparquet(source, country_path)
    engine.materialize("country_areas", read_sql(f"labels_country_areas_{_sql_suffix(source)}"))
    if engine.query("SELECT COUNT(*) AS n FROM country_areas").column("n")[0].as_py() == 0:
        raise ReferenceDataError(
            f"the {source} table has no country areas" + (" (no LEVL_CODE 0 regions)" if source == "nuts" else ""),
            where=str(country_path),
            fix="load the NUTS file that holds all levels (or at least level 0), or use --country-source countries",
        )
    engine.materialize("patch_geoms", read_sql("labels_patch_geoms"))
    engine.view("clc", read_sql("labels_clc_window", extent_wkt=_extent_wkt(engine)))
    return source, skipped


def compute_labels(
    warehouse: Warehouse,
    engine: Engine,
    *,
    country_source: CountrySource = "auto",
    skip_unknown_epsg: bool = False,
    labelled: pa.Table | None = None,
) -> tuple[dict[str, pa.Table], LabelsReport]:
    """Run the join SQL; return the three tables (not yet written) and a report.

    With ``labelled`` (see :func:`register_inputs`) the tables hold the other patches' rows only, and the
    overlaps of those patches with each other and with the labelled ones.
    """
    started = time.perf_counter()
    source, skipped = register_inputs(
        warehouse, engine, country_source=country_source, skip_unknown_epsg=skip_unknown_epsg, labelled=labelled
    )
    tables = {
        PATCH_LANDCOVER.name: engine.query(read_sql("labels_patch_landcover")),
        PATCH_COUNTRY.name: engine.query(read_sql("labels_patch_country")),
    }
    engine.materialize("patch_shrunk", read_sql("labels_patch_shrunk"))
    tables[PATCH_OVERLAPS.name] = engine.query(read_sql("labels_patch_overlaps"))
    if labelled is not None:
        tables[PATCH_OVERLAPS.name] = pa.concat_tables(
            [tables[PATCH_OVERLAPS.name], _overlaps_with_labelled(engine)], promote_options="permissive"
        )
    tables = {name: conform(CORE_TABLES[name], t) for name, t in tables.items()}
    landcover, country = tables[PATCH_LANDCOVER.name], tables[PATCH_COUNTRY.name]
    codes = pc.value_counts(country.column("country_code").combine_chunks()).to_pylist()
    report = LabelsReport(
        engine=engine.name,
        country_source=source,
        patches=country.num_rows,
        landcover_rows=landcover.num_rows,
        patches_without_clc=pc.sum(landcover.column("no_clc_coverage")).as_py() or 0,
        patches_without_country=country.column("country_code").null_count,
        overlap_pairs=tables[PATCH_OVERLAPS.name].num_rows,
        skipped_unknown_epsg=skipped,
        seconds=time.perf_counter() - started,
        countries={str(c["values"]): c["counts"] for c in codes},
    )
    return tables, report


def build_labels(
    warehouse: Warehouse,
    *,
    engine: str = "sedonadb",
    country_source: CountrySource = "auto",
    skip_unknown_epsg: bool = False,
) -> LabelsReport:
    """Compute and write patch_landcover, patch_country and patch_overlaps (one commit each) as one run."""
    names = [*(spec.name for spec in LABEL_TABLES), LABEL_RUNS.name]
    with table_locks(warehouse, names, "labels build"):
        started = time.perf_counter()
        tables, report = compute_labels(
            warehouse, make_engine(engine), country_source=country_source, skip_unknown_epsg=skip_unknown_epsg
        )
        report.run_id = write_labels(TableStore(warehouse), tables, report, started)
    log.info(
        "labelled %d patches with %s in %.1f s, %.1f s of it writing (%.0f patches/s): %d land-cover rows, "
        "%d without CLC, %d without country, %d overlapping pairs",
        report.patches,
        report.engine,
        report.seconds,
        report.write_seconds,
        report.patches_per_second,
        report.landcover_rows,
        report.patches_without_clc,
        report.patches_without_country,
        report.overlap_pairs,
    )
    return report


def write_labels(store: TableStore, tables: dict[str, pa.Table], report: LabelsReport, started: float) -> str:
    """Write the three tables as one label run (see :mod:`.runs`); return its run id.

    ``report.seconds`` becomes the time since ``started`` (``time.perf_counter()`` when the run began) once
    the run's rows are in place, so the speed a run reports includes its writes.
    """
    writing = time.perf_counter()
    run = LabelRun(store, report.engine, report.country_source)
    run.begin()
    try:
        # The three tables are separate Delta tables, so their commits may overlap: delta-rs encodes and
        # writes Parquet without the GIL. Readers see none of the rows before complete() in any order.
        _each_table(lambda spec: run.commit(spec, tables[spec.name]))
        run.complete()
    except BaseException as exc:
        run.fail(str(exc) or type(exc).__name__)
        raise
    _each_table(run.prune)
    report.write_seconds = time.perf_counter() - writing
    report.seconds = time.perf_counter() - started
    return run.run_id


def _each_table(write: Callable[[TableSpec], None]) -> None:
    """``write`` each label table, in parallel threads; the first error is raised once all have ended."""
    with ThreadPoolExecutor(len(LABEL_TABLES), thread_name_prefix="labels-write") as pool:
        futures = [pool.submit(write, spec) for spec in LABEL_TABLES]
    for future in futures:
        future.result()


def _overlaps_with_labelled(engine: Engine) -> pa.Table:
    """Overlaps of the new patches with the labelled ones: the same footprint statements run over
    ``patches_labelled`` (``patches_in`` and ``patch_geoms`` are re-pointed; every result that read them is
    already computed or materialised)."""
    engine.materialize("patches_in", "SELECT * FROM patches_labelled")
    engine.materialize("patch_geoms", read_sql("labels_patch_geoms"))
    engine.materialize("labelled_shrunk", read_sql("labels_patch_shrunk"))
    return engine.query(read_sql("labels_patch_overlaps_labelled"))


def _extent_wkt(engine: Engine) -> str:
    """Envelope of all patches in EPSG:3035, 1 m larger on each side (WKT for labels_clc_window.sql)."""
    e = engine.query(read_sql("labels_patch_extent")).to_pylist()[0]
    x0, y0, x1, y1 = e["xmin"] - 1, e["ymin"] - 1, e["xmax"] + 1, e["ymax"] + 1
    return f"POLYGON(({x0!r} {y0!r}, {x1!r} {y0!r}, {x1!r} {y1!r}, {x0!r} {y1!r}, {x0!r} {y0!r}))"


def _sql_suffix(source: str) -> str:
    return "nuts" if source == "nuts" else "natural_earth"


def _check_epsg(engine: Engine, skip_unknown: bool) -> int:
    """Fail (or, with ``skip_unknown``, leave out) patches whose EPSG code PROJ does not know."""

    counts = engine.query(
        "SELECT epsg, COUNT(*) AS n, MIN(tile) AS tile FROM patches_in GROUP BY epsg ORDER BY epsg"
    ).to_pylist()
    if not counts:
        raise ProductError("the patches table is empty", fix="build patches first: `s2lake patches build PRODUCT`")
    bad = []
    for row in counts:
        try:
            crs = CRS.from_epsg(int(row["epsg"]))
            if not crs.is_projected:
                raise CRSError("not a projected CRS")
        except (CRSError, TypeError, ValueError):
            bad.append(row)
    if not bad:
        return 0
    described = ", ".join(f"EPSG:{r['epsg']} ({r['n']} patches, e.g. tile {r['tile']})" for r in bad)
    if not skip_unknown:
        raise ProductError(
            f"patches have unknown or non-projected EPSG codes: {described}",
            fix="rebuild those products' patches, or pass --skip-unknown-epsg to label the others",
        )
    good = ", ".join(str(int(r["epsg"])) for r in counts if r not in bad)
    if not good:
        raise ProductError(f"no patch has a usable EPSG code: {described}", fix="rebuild the products' patches")
    log.warning("leaving out patches with unknown EPSG codes: %s", described)
    engine.materialize("patches_in", f"SELECT * FROM patches_in WHERE epsg IN ({good})")
    return sum(r["n"] for r in bad)


def conform(spec: TableSpec, table: pa.Table) -> pa.Table:
    """Cast engine output (string views, nullable flags) to the table's schema without the run id (which
    :class:`.runs.LabelRun` adds); sort for stable files."""
    schema = pa.schema([f for f in spec.schema if f.name != RUN_ID])
    table = table.select(schema.names).cast(schema)
    keys = [c for c in ("patch_id", "clc_code", "patch_id_a", "patch_id_b") if c in table.column_names]
    return table.sort_by([(k, "ascending") for k in keys])
