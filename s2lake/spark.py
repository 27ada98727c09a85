"""SparkSession for the cluster engine: ``spark-defaults.conf`` + Sedona + Delta.

Settings come from the repository's ``spark-defaults.conf`` (or ``$S2LAKE_SPARK_CONF``, or
``$SPARK_CONF_DIR/spark-defaults.conf``), so the embedded test session, dbt's ``session`` target and a
cluster job use the same documented file. Sedona's and Delta's JVM jars come either from Maven through
``spark.jars.packages`` (the file's default) or, where the cluster has no Maven access, from a
local folder named by ``S2LAKE_SPARK_JARS`` which must hold the Sedona shaded jar and the Delta
jars; the folder then replaces ``spark.jars.packages`` with ``spark.jars``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from s2lake.errors import ConfigError

JARS_ENV = "S2LAKE_SPARK_JARS"
CONF_ENV = "S2LAKE_SPARK_CONF"
REPO_DEFAULTS = Path(__file__).resolve().parents[1] / "spark-defaults.conf"
#: Jar files a jar folder must provide (prefix of the file name → what it is).
REQUIRED_JARS = {
    "sedona-spark-shaded-": "Apache Sedona (shaded)",
    "delta-spark_": "Delta Lake",
    "delta-storage-": "Delta storage",
}
#: Packages of the classes those jars provide (what plain Spark cannot load).
JAR_CLASS_PREFIXES = ("org.apache.sedona.", "io.delta.", "org.apache.spark.sql.delta.")


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


def local_jars(folder: str | Path) -> list[Path]:
    """The jars of ``folder``, after checking Sedona and Delta are among them."""
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(
            f"{JARS_ENV}={folder} is not a folder",
            fix=f"point {JARS_ENV} at a folder holding the Sedona and Delta jars, or unset it to use Maven",
        )
    jars = sorted(root.glob("*.jar"))
    missing = [what for prefix, what in REQUIRED_JARS.items() if not any(j.name.startswith(prefix) for j in jars)]
    if missing:
        raise ConfigError(
            f"{root} lacks the {', '.join(missing)} jar(s)",
            where=JARS_ENV,
            fix="add sedona-spark-shaded-4.1_2.13-1.9.1.jar, delta-spark_4.1_2.13-4.4.1.jar and "
            "delta-storage-4.4.1.jar (and geotools-wrapper for rasters) to the folder",
        )
    return jars


def session_config(
    defaults: dict[str, str] | None = None, jars_folder: str | None = None, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The effective Spark settings: defaults file, then the jar folder, then ``extra``."""
    conf = dict(read_defaults() if defaults is None else defaults)
    folder = jars_folder if jars_folder is not None else os.environ.get(JARS_ENV)
    if folder:
        conf.pop("spark.jars.packages", None)
        conf["spark.jars"] = ",".join(str(j) for j in local_jars(folder))
    conf.update(extra or {})
    return conf


def without_jars(conf: dict[str, str]) -> dict[str, str]:
    """``conf`` for plain Spark, where neither Maven nor the Sedona and Delta jars are at hand.

    Drops ``spark.jars.packages`` (resolving it needs Maven) and every class the jars provide from the
    settings naming classes (SQL extensions, the Delta catalog, Sedona's Kryo registrator): Spark stops at
    start-up on an unknown extension or catalog, and at the first shuffle on an unknown registrator.
    Everything else (Kryo, adaptive execution, time zone, ...) stays as the defaults file says.
    """
    out: dict[str, str] = {}
    for key, value in conf.items():
        if key == "spark.jars.packages":
            continue
        kept = [item for item in value.split(",") if not item.strip().startswith(JAR_CLASS_PREFIXES)]
        if kept:
            out[key] = ",".join(kept)
    return out


def sedona_jars_available() -> str | None:
    """Why Sedona on Spark cannot run here, or ``None`` when the jar folder is usable."""
    folder = os.environ.get(JARS_ENV)
    if not folder:
        return f"{JARS_ENV} is not set: no local folder with the Sedona and Delta jars (no Maven access here)"
    try:
        local_jars(folder)
    except ConfigError as exc:
        return exc.message
    return None


def build_session(app_name: str = "s2lake", master: str | None = None, extra: dict[str, str] | None = None) -> Any:
    """A SparkSession with Sedona's and Delta's SQL extensions, from ``session_config``."""
    from pyspark.sql import SparkSession

    conf = session_config(extra=extra)
    builder = SparkSession.builder.appName(app_name).master(master or conf.pop("spark.master", "local[*]"))
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
