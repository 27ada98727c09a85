"""SparkSession for the cluster engine: ``spark-defaults.conf`` + Sedona + Delta.

Settings come from the repository's ``spark-defaults.conf`` (or ``$S2LAKE_SPARK_CONF``, or
``$SPARK_CONF_DIR/spark-defaults.conf``), so the embedded test session, dbt's ``session`` target and a
cluster job use the same documented file. The JVM jars come from a local folder when there is one:
``S2LAKE_SPARK_JARS``, else the folder ``s2lake spark jars`` resolved with Maven
(:mod:`s2lake.spark.jars`); the folder then replaces ``spark.jars.packages`` with ``spark.jars``.
Without a folder the file's ``spark.jars.packages`` stays, for clusters whose Spark reaches Maven.
A folder must hold the Delta jars; Sedona's is optional because no Maven repository here serves it,
and without it the Sedona classes leave the settings (Delta still works).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from s2lake.errors import ConfigError
from s2lake.spark.jars import SEDONA_PREFIX, resolved, sedona_jar, sedona_missing_message

JARS_ENV = "S2LAKE_SPARK_JARS"
CONF_ENV = "S2LAKE_SPARK_CONF"
#: Set by spark-submit in the environment of a Python driver it starts (the port of its JVM gateway).
SUBMITTED_ENV = "PYSPARK_GATEWAY_PORT"
REPO_DEFAULTS = Path(__file__).resolve().parents[2] / "spark-defaults.conf"
#: Jar files a jar folder must provide (prefix of the file name → what it is).
REQUIRED_JARS = {"delta-spark_": "Delta Lake", "delta-storage-": "Delta storage"}
#: Packages of the classes Sedona's jar provides, and those of all the jars (what plain Spark cannot load).
SEDONA_CLASS_PREFIXES = ("org.apache.sedona.",)
JAR_CLASS_PREFIXES = (*SEDONA_CLASS_PREFIXES, "io.delta.", "org.apache.spark.sql.delta.")


def parse_defaults(text: str) -> dict[str, str]:
    """Parse a ``spark-defaults.conf`` (Java properties: ``key value``, ``key=value`` or ``key: value``).

    Comments start with ``#`` or ``!``; a line ending in ``\\`` continues on the next one, which keeps
    long package lists readable. Hand-written because Spark reads the file on the JVM side only.
    """
    out: dict[str, str] = {}
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line[0] in "#!"):
            continue
        if line.endswith("\\") and not line.endswith("\\\\"):
            pending += line[:-1].strip()
            continue
        logical.append(pending + line)
        pending = ""
    if pending:
        logical.append(pending)
    for line in logical:
        match = re.match(r"([^\s=:]+)\s*[=:\s]\s*(.*)$", line)
        if match is None:
            out[line] = ""
            continue
        out[match.group(1)] = match.group(2).strip()
    return out


def defaults_path() -> Path:
    if os.environ.get(CONF_ENV):
        return Path(os.environ[CONF_ENV])
    conf_dir = os.environ.get("SPARK_CONF_DIR")
    if conf_dir and (Path(conf_dir) / "spark-defaults.conf").is_file():
        return Path(conf_dir) / "spark-defaults.conf"
    return REPO_DEFAULTS


def read_defaults(path: Path | None = None) -> dict[str, str]:
    path = path or defaults_path()
    if not path.is_file():
        raise ConfigError(
            f"Spark defaults file {path} does not exist",
            fix=f"set {CONF_ENV} to a spark-defaults.conf or restore the one at the repository root",
        )
    return parse_defaults(path.read_text(encoding="utf-8"))


def jar_folder() -> Path | None:
    """``S2LAKE_SPARK_JARS`` when set, else the Maven-resolved folder when ``s2lake spark jars`` made it."""
    if os.environ.get(JARS_ENV):
        return Path(os.environ[JARS_ENV])
    return resolved("spark")


def local_jars(folder: str | Path) -> list[Path]:
    """The jars of ``folder``, after checking the Delta jars are among them."""
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(
            f"{JARS_ENV}={folder} is not a folder",
            fix=f"point {JARS_ENV} at a folder holding the Delta (and Sedona) jars, or unset it to use the "
            "folder `s2lake spark jars` resolves",
        )
    jars = sorted(root.glob("*.jar"))
    missing = [what for prefix, what in REQUIRED_JARS.items() if not any(j.name.startswith(prefix) for j in jars)]
    if missing:
        raise ConfigError(
            f"{root} lacks the {', '.join(missing)} jar(s)",
            where=JARS_ENV,
            fix="add delta-spark_4.1_2.13-4.4.0.jar and delta-storage-4.4.0.jar (and "
            "sedona-spark-shaded-4.1_2.13-1.9.1.jar, geotools-wrapper for rasters) to the folder, or use the "
            "folder `s2lake spark jars` prints",
        )
    return jars


def session_config(
    defaults: dict[str, str] | None = None, jars_folder: str | None = None, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The effective Spark settings: defaults file, then the jar folder (:func:`jar_folder`), then ``extra``."""
    conf = dict(read_defaults() if defaults is None else defaults)
    folder = jars_folder if jars_folder is not None else jar_folder()
    if folder:
        conf.pop("spark.jars.packages", None)
        jars = local_jars(folder)
        conf["spark.jars"] = ",".join(str(j) for j in jars)
        if not any(j.name.startswith(SEDONA_PREFIX) for j in jars):
            conf = without_jars(conf, SEDONA_CLASS_PREFIXES)
    conf.update(extra or {})
    return conf


def without_jars(conf: dict[str, str], prefixes: tuple[str, ...] = JAR_CLASS_PREFIXES) -> dict[str, str]:
    """``conf`` for plain Spark, where neither Maven nor the Sedona and Delta jars are at hand.

    Drops ``spark.jars.packages`` (resolving it needs Maven) and every class of ``prefixes`` (by default
    those all the jars provide; Sedona's alone when only its jar is missing) from the settings naming
    classes (SQL extensions, the Delta catalog, Sedona's Kryo registrator): Spark stops at
    start-up on an unknown extension or catalog, and at the first shuffle on an unknown registrator.
    Everything else (Kryo, adaptive execution, time zone, ...) stays as the defaults file says.
    """
    return _without_items({k: v for k, v in conf.items() if k != "spark.jars.packages"}, prefixes)


def _without_items(conf: dict[str, str], prefixes: tuple[str, ...]) -> dict[str, str]:
    """``conf`` with every comma-separated item starting with one of ``prefixes`` removed from each value
    (a class list or a package list), and settings left empty by that dropped."""
    out: dict[str, str] = {}
    for key, value in conf.items():
        kept = [item.strip() for item in value.split(",") if not item.strip().startswith(prefixes)]
        if kept:
            out[key] = ",".join(kept)
    return out


def delta_jars_available() -> str | None:
    """Why Spark cannot read and write Delta here, or ``None`` when the jar folder is usable."""
    folder = jar_folder()
    if folder is None:
        return f"no jar folder: {JARS_ENV} is not set and `s2lake spark jars` has not resolved the jars"
    try:
        local_jars(folder)
    except ConfigError as exc:
        return exc.message
    return None


def sedona_jars_available() -> str | None:
    """Why Sedona on Spark cannot run here, or ``None`` when the jar folder holds Sedona and Delta."""
    reason = delta_jars_available()
    if reason is not None:
        return reason
    folder = jar_folder()
    return None if folder and sedona_jar(folder) else sedona_missing_message(folder)


def build_session(app_name: str = "s2lake", master: str | None = None, extra: dict[str, str] | None = None) -> Any:
    """A SparkSession with Sedona's and Delta's SQL extensions, from ``session_config``."""
    # lazy: pyspark is the optional [spark] extra
    from pyspark.sql import SparkSession

    if os.environ.get(SUBMITTED_ENV):
        # a driver started by spark-submit (`s2lake spark submit`): its master, jars and properties file
        # (and its --name) are already the session's settings, and the builder's would override them
        builder = SparkSession.builder
        for key, value in (extra or {}).items():
            builder = builder.config(key, value)
        return builder.getOrCreate()
    conf = session_config(extra=extra)
    builder = SparkSession.builder.appName(app_name).master(master or conf.pop("spark.master", "local[*]"))
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


#: Jar-name prefixes of Sedona and GeoTools, left out of sessions that need Delta only.
SEDONA_JAR_PREFIXES = ("sedona-", "geotools-wrapper")
#: Classes and Maven packages of Sedona and GeoTools, left out of the settings of sessions that need Delta only.
SEDONA_ITEMS = ("org.apache.sedona", "org.datasyslab")
#: Settings every Delta-only session gets (unless ``extra`` says otherwise): Parquet timestamps as plain
#: INT64 microseconds (Spark's default is the legacy INT96) so delta-rs and DuckDB read them as written.
DELTA_SESSION_DEFAULTS = {"spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS"}


def delta_session_config(
    defaults: dict[str, str] | None = None, jars_folder: str | None = None, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """Settings for a session with Delta Lake but without Sedona (jobs whose executors run numpy, e.g. patches).

    The defaults file minus every Sedona class, ``sedona.*`` key and Sedona package; with a jar folder,
    only its non-Sedona jars, of which Delta's two are required. Why: such a job needs no Sedona, and
    Sedona's jars may be missing where Delta's are present.
    """
    settings = read_defaults() if defaults is None else defaults
    conf = _without_items({k: v for k, v in settings.items() if not k.startswith("sedona.")}, SEDONA_ITEMS)
    folder = jars_folder if jars_folder is not None else jar_folder()  # as for every session
    if folder:
        conf.pop("spark.jars.packages", None)
        jars = [j for j in local_jars(folder) if not j.name.startswith(SEDONA_JAR_PREFIXES)]
        conf["spark.jars"] = ",".join(str(j) for j in jars)
    return {**conf, **DELTA_SESSION_DEFAULTS, **(extra or {})}


def delta_session(app_name: str = "s2lake", master: str | None = None, extra: dict[str, str] | None = None) -> Any:
    """A SparkSession with Delta Lake only (see :func:`delta_session_config`).

    The master comes from ``master``, else ``spark.master`` in the settings, else whatever spark-submit
    (or pyspark's own default, ``local[*]``) says. Python workers run this interpreter unless
    ``PYSPARK_PYTHON`` says otherwise: a bare ``python3`` on PATH lacks numpy, pyarrow and rasterio.
    """

    # lazy: pyspark is the optional [spark] extra
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    conf = delta_session_config(extra=extra)
    builder = SparkSession.builder.appName(app_name)
    master = master or conf.pop("spark.master", None)
    if master:
        builder = builder.master(master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def start_session(build: Callable[[], Any], needs: str) -> Any:
    """``build()``, its failures turned into one :class:`ConfigError` naming the fixes.

    ``needs`` names the jars the session loads (e.g. "Sedona and Delta"). The JVM's reasons are many (no
    Java, no Maven, bad jars) and arrive as Py4J errors with Java stack traces; the first line says enough.
    """
    try:
        return build()
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(
            f"cannot start Spark with {needs}: {str(exc).splitlines()[0][:300]}",
            fix=f"run `s2lake spark jars` (Maven) or set {JARS_ENV} to a folder with the {needs} jars, "
            "install Java 17/21, or use --engine sedonadb",
        ) from exc
