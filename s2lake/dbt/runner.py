"""Run ``dbt build`` on the project in ``models/`` with values from the s2lake configuration.

dbt is driven in-process through ``dbtRunner`` (no shell-out, the result objects say which node
failed and why). The profile (``models/profiles.yml``) reads ``S2LAKE_DBT_*`` variables that are set
here for the duration of the run; dbt's own files (``target/``, logs, the DuckDB database, the
external Parquet files, Spark's metastore) go to ``<warehouse>/_state/dbt/<target>`` so several
warehouses, and several people, never share them.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import shlex
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s2lake.config.models import ModelsSettings
from s2lake.errors import ModelsError
from s2lake.locks import table_locks
from s2lake.spark import JARS_ENV, jar_folder, session_config, without_jars
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from s2lake.warehouse_fs import fsspec_fs

log = logging.getLogger("s2lake.models")

PROJECT_DIR = Path(__file__).resolve().parents[2] / "models"
MARTS = (
    "patch_labels",
    "season_stats",
    "label_stats",
    "overlap_counts",
    "patch_validation",
    "patch_validation_summary",
    "band_stats",
    "geographic_split",
    "patch_cloud_snow",
    "reference_map_labels",
    "ben_report",
)
#: Marts built only on request: listed_band_stats when a stats list is given (`s2lake ben report`).
OPTIONAL_MARTS = ("listed_band_stats",)
#: Sources every warehouse needs, and the command that makes each.
REQUIRED_SOURCES = {"patches": "s2lake patches build"}
#: Sources of the SAFE path: required unless the warehouse holds an imported BigEarthNet dataset
#: (ben_metadata), whose patches carry their metadata and labels with them.
SAFE_SOURCES = {
    "products": "s2lake patches build / s2lake ingest",
    "patch_landcover": "s2lake labels build",
    "patch_country": "s2lake labels build",
    "patch_overlaps": "s2lake labels build",
    "label_runs": "s2lake labels build",
}
#: BigEarthNet's tables (`s2lake ben import`): optional everywhere.
BEN_SOURCES = ("ben_metadata", "reference_map_polygons")


@dataclass
class NodeResult:
    node: str
    kind: str
    status: str
    message: str | None
    seconds: float


@dataclass
class BuildResult:
    target: str
    state_dir: Path
    nodes: list[NodeResult] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for n in self.nodes if n.kind == kind)

    @property
    def failed(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.status in {"error", "fail", "runtime error"}]


def dbt_vars(
    settings: ModelsSettings,
    warehouse: Warehouse,
    absent: list[str] | None = None,
    stats_list: str = "",
    report_scope: str = "",
) -> dict[str, Any]:
    """The project vars (models/dbt_project.yml) from the configuration."""
    return {
        "absent_sources": absent or [],
        "stats_list": stats_list,
        "report_scope": report_scope,
        "source_root": settings.source_root or warehouse.path("tables"),
        "source_format": settings.source_format,
        "min_label_fraction": settings.min_label_fraction,
        "unlabelled_threshold": settings.unlabelled_threshold,
        "split_method": settings.split_method,
        "split_train_share": settings.split_train_share,
        "split_validation_share": settings.split_validation_share,
        "split_block_patches": settings.split_block_patches,
        "split_share_tolerance": settings.split_share_tolerance,
    }


def state_dir(warehouse: Warehouse, target: str) -> Path:
    """dbt's local files: inside a local warehouse, else in a per-warehouse temporary folder (dbt and
    the Spark driver need a local disk even when the tables live on HDFS or S3)."""
    if warehouse.is_local:
        return Path(warehouse.root) / "_state" / "dbt" / target
    safe = "".join(c if c.isalnum() else "_" for c in warehouse.root)
    return Path(tempfile.gettempdir()) / "s2lake-dbt" / safe / target


def profile_env(settings: ModelsSettings, warehouse: Warehouse, target: str) -> dict[str, str]:
    """The S2LAKE_DBT_* variables models/profiles.yml reads."""
    state = state_dir(warehouse, target)
    return {
        "S2LAKE_DBT_WAREHOUSE": warehouse.root,
        "S2LAKE_DBT_STATE": str(state),
        "S2LAKE_DBT_DUCKDB_PATH": str(state / "s2lake.duckdb"),
        "S2LAKE_DBT_EXTERNAL_ROOT": str(state / "marts"),
        "S2LAKE_DBT_DUCKDB_MEMORY": settings.duckdb_memory_limit,
        "S2LAKE_DBT_SPARK_FILE_FORMAT": settings.spark_file_format,
        "S2LAKE_DBT_SPARK_HOST": settings.spark_host,
        "S2LAKE_DBT_SPARK_PORT": str(settings.spark_port),
        # The Thrift server acts as the connecting user on HDFS (impersonation): connect as the user running
        # s2lake, as beeline and pyhive do, so dbt may write where that user's other commands write.
        "S2LAKE_DBT_SPARK_USER": getpass.getuser(),
        # dbt must not phone home: s2lake runs offline.
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }


def dbt_cli_env(settings: ModelsSettings, warehouse: Warehouse) -> dict[str, str]:
    """What a plain `dbt build` in models/ needs to do what `s2lake models build` does: the profile's
    variables, the profile's target, dbt's own files (target/, logs/) in the warehouse's state folder, and
    the project vars of the configuration as S2LAKE_DBT_VARS (dbt reads vars only from --vars)."""
    state = state_dir(warehouse, settings.target)
    extra = _spark_session_env(settings) if settings.target == "spark" and settings.spark_method == "session" else {}
    project_vars = dbt_vars(settings, warehouse) | {"absent_sources": "auto"}
    return (
        profile_env(settings, warehouse, settings.target)
        | extra
        | {
            "DBT_PROFILES_DIR": str(PROJECT_DIR),
            "DBT_TARGET": profile_target(settings, settings.target),
            "DBT_TARGET_PATH": str(state / "target"),
            "DBT_LOG_PATH": str(state / "logs"),
            "S2LAKE_DBT_VARS": json.dumps(project_vars),
        }
    )


def profile_target(settings: ModelsSettings, target: str) -> str:
    """The profiles.yml output of ``target``: spark runs in a local session or through a Thrift server."""
    return "spark_thrift" if target == "spark" and settings.spark_method == "thrift" else target


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def build(
    settings: ModelsSettings,
    warehouse: Warehouse,
    *,
    target: str | None = None,
    select: list[str] | None = None,
    quiet: bool = False,
    stats_list: str = "",
    report_scope: str = "",
) -> BuildResult:
    """``dbt build`` (seeds, models, tests) on ``target``; raises :class:`ModelsError` on any failure and
    :class:`~s2lake.errors.LockedError` while another build holds the marts' writer locks.

    ``stats_list``: a gzip-compressed CSV of patch ids; the mart ``listed_band_stats`` is built over them.
    ``report_scope``: a gzip-compressed CSV of patch ids; every mart covers these patches only.
    """
    target = target or settings.target
    if target not in {"duckdb", "spark"}:
        raise ModelsError(f"unknown dbt target {target!r}", fix="use --target duckdb or --target spark")
    if target == "duckdb" and not warehouse.is_local:
        # dbt-duckdb reads the sources with DuckDB's delta_scan, which cannot reach HDFS or object stores.
        raise ModelsError(
            f"the duckdb target needs a local warehouse, not {warehouse.root}",
            fix="use --target spark (dbt-spark through the Thrift server: `s2lake cluster up` prints its "
            "S2LAKE_MODELS__SPARK_* settings), or build the marts in a local warehouse",
        )
    if not (PROJECT_DIR / "dbt_project.yml").is_file():
        raise ModelsError(
            f"the dbt project is missing at {PROJECT_DIR}",
            fix="run s2lake from a source checkout (the models/ folder sits next to the s2lake package)",
        )
    absent = _absent_sources(settings, warehouse)
    extra_env = _spark_session_env(settings) if target == "spark" and settings.spark_method == "session" else {}
    warehouse.ensure_writable()
    state = state_dir(warehouse, target)
    (state / "marts").mkdir(parents=True, exist_ok=True)
    dbt_target = profile_target(settings, target)
    args = [
        "build",
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(PROJECT_DIR),
        "--target",
        dbt_target,
        "--target-path",
        str(state / "target"),
        "--log-path",
        str(state / "logs"),
        "--vars",
        json.dumps(dbt_vars(settings, warehouse, absent, stats_list, report_scope)),
    ]
    if select:
        args += ["--select", *select]
    if quiet:
        args.append("--quiet")
    # lazy: dbt costs seconds to import; only a build runs it
    from dbt.cli.main import dbtRunner

    log.info("dbt build --target %s (project %s)", dbt_target, PROJECT_DIR)
    # One build at a time per warehouse: both would write the same marts and dbt's DuckDB file.
    environment = profile_env(settings, warehouse, target) | extra_env
    with table_locks(warehouse, (*MARTS, *OPTIONAL_MARTS), "models build"), _environment(environment):
        outcome = dbtRunner().invoke(args)
    result = BuildResult(target=target, state_dir=state)
    if outcome.exception is not None:
        raise ModelsError(
            f"dbt could not run: {outcome.exception}",
            where=str(PROJECT_DIR),
            fix=f"see dbt's log in {state / 'logs' / 'dbt.log'}; check the profile values (`s2lake config show`)",
        )
    for item in getattr(outcome.result, "results", None) or []:
        result.nodes.append(
            NodeResult(
                node=item.node.unique_id,
                kind=item.node.resource_type,
                status=str(item.status),
                message=item.message,
                seconds=float(item.execution_time or 0.0),
            )
        )
    if not outcome.success or result.failed:
        details = "; ".join(f"{n.node}: {n.status} ({_one_line(n.message)})" for n in result.failed) or "see log"
        raise ModelsError(
            f"dbt build on target {target} failed: {details}",
            where=str(state / "logs" / "dbt.log"),
            fix="a failing test names the rows it found: query them with `s2lake sql`, fix the input tables "
            "or the settings (models.*), then rerun `s2lake models build`",
        )
    return result


def _one_line(message: str | None, limit: int = 300) -> str:
    text = " ".join((message or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def session_target_conf(settings: ModelsSettings) -> dict[str, str]:
    """Spark settings of the dbt ``session`` target: those of every Spark session s2lake starts
    (:func:`s2lake.spark.session_config`: the defaults file, then the jar folder, S2LAKE_SPARK_JARS or the one
    `s2lake spark jars` resolved).

    Without a jar folder the session is plain Spark (:func:`s2lake.spark.without_jars`), which serves Parquet
    sources and marts only: resolving spark.jars.packages at session start would download behind the user's back.
    """
    if jar_folder() is not None:
        return session_config()
    if settings.spark_file_format == "delta" or settings.source_format == "delta":
        raise ModelsError(
            "the spark target reads and writes Delta tables, and the local Spark session has no Delta jars",
            where=f"{JARS_ENV} (unset)",
            fix=f"run `s2lake spark jars` (Maven) or set {JARS_ENV} to a folder holding the Delta jars, use "
            "models.spark_method thrift "
            "with a cluster, or set models.source_format and models.spark_file_format to parquet",
        )
    return without_jars(session_config())


def _spark_session_env(settings: ModelsSettings) -> dict[str, str]:
    """dbt-spark starts the session's JVM through pyspark, which passes PYSPARK_SUBMIT_ARGS to spark-submit.

    Only ``spark.*`` keys go along: spark-submit drops any other key with a warning, and the models call no
    Sedona function. The profile's ``server_side_parameters`` still win, being set on the session builder.
    """
    conf = session_target_conf(settings)
    args = [f"--conf {shlex.quote(f'{key}={value}')}" for key, value in conf.items() if key.startswith("spark.")]
    return {"PYSPARK_SUBMIT_ARGS": " ".join([*args, "pyspark-shell"])}


def _absent_sources(settings: ModelsSettings, warehouse: Warehouse) -> list[str]:
    """The optional source tables the warehouse lacks; fails before dbt starts when a required one is
    missing, naming the command that makes it.

    With ``models.source_root`` set (sources exported elsewhere, e.g. as Parquet) only BigEarthNet's
    tables may be absent, judged by their folders; dbt reports any other missing source itself.
    """
    if settings.source_root is not None:
        fs, root = fsspec_fs(settings.source_root)
        return [name for name in BEN_SOURCES if not fs.exists(f"{root}/{name}")]

    store = TableStore(warehouse)
    names = [*REQUIRED_SOURCES, *SAFE_SOURCES, *BEN_SOURCES]
    absent = [name for name in names if store.open(name) is None]
    makers = REQUIRED_SOURCES | ({} if "ben_metadata" not in absent else SAFE_SOURCES)
    missing = [name for name in makers if name in absent]
    if missing:
        raise ModelsError(
            f"source table(s) {', '.join(missing)} missing from warehouse {warehouse.root}",
            fix="build them first: "
            + "; ".join(sorted({makers[m] for m in missing}))
            + " (or import a BigEarthNet dataset: s2lake ben import)",
        )
    return absent
