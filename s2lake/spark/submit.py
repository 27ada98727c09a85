"""``s2lake spark submit``: run an s2lake job on a Spark cluster, in the environment archive's Python.

A job is a name for an s2lake command (:data:`JOBS`); :mod:`s2lake.spark.driver` runs that command in
the driver. spark-submit gets:

- ``--archives <archive>#s2env`` (:mod:`.pyenv_archive`), unpacked by Spark in each executor's working
  folder, and ``spark.pyspark.python=./s2env/bin/python`` so executors run the archive's interpreter.
  The driver runs the submitting environment's Python in client mode (the default; on a standalone
  master the only mode PySpark has) and the archive's in cluster mode.
- ``--master``: a standalone master (``spark://``, client mode only), or ``yarn``, whose ResourceManager
  spark-submit finds in ``$HADOOP_CONF_DIR``/``$YARN_CONF_DIR`` (checked here, before the archive is built).
- ``--jars``: the Maven-resolved jar folder (``s2lake spark jars``).
- ``--properties-file``: the effective ``spark-defaults.conf`` (:func:`~s2lake.spark.session_config`:
  the defaults file with the jar folder instead of ``spark.jars.packages``), written beside the job config.
- ``--files <config>``: the job's typed configuration (warehouse and the patches, labels and models
  sections as the user set them), read by the driver with ``--config``. The ingest section, the one that
  holds credentials, is never written: no job run on the cluster downloads.

Submission files live in a folder named after their content, so resubmitting the same job reuses them.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from s2lake.config import Settings
from s2lake.errors import ConfigError
from s2lake.spark import driver
from s2lake.spark.pyenv_archive import archive_folder, archive_path, build_archive
from s2lake.spark.session import session_config
from s2lake.warehouse import Warehouse


@dataclass(frozen=True)
class Job:
    command: tuple[str, ...]
    help: str


JOBS = {
    "probe": Job(("spark", "probe"), "diagnostics: the Python the driver and each executor run"),
    "patches": Job(("patches", "build", "--engine", "spark"), "patches from the products given after `--`"),
    "labels": Job(("labels", "build", "--engine", "spark"), "patch_landcover, patch_country and patch_overlaps"),
}
ENV_NAME = "s2env"
EXECUTOR_PYTHON = f"./{ENV_NAME}/bin/python"
JOB_CONFIG = "s2lake-job.yaml"
PROPERTIES = "spark-submit.conf"
#: Where spark-submit finds the ResourceManager of ``--master yarn`` (``yarn-site.xml``).
HADOOP_CONF_VARIABLES = ("HADOOP_CONF_DIR", "YARN_CONF_DIR")
#: Configuration sections a job on the cluster reads; ``ingest`` (credentials) is left out on purpose.
SHIPPED_SECTIONS = ("patches", "labels", "models")


@dataclass(frozen=True)
class Submission:
    command: list[str]
    archive: Path
    python: str | None

    @property
    def shell(self) -> str:
        return shlex.join(self.command)


def job_config(settings: Settings, warehouse: Warehouse) -> dict[str, Any]:
    """The settings a job needs: the warehouse, the log level and what the user set in the shipped sections.

    Sections hold only the values that were given (file, environment, flags): defaults, such as the
    patch workers (the submitting machine's core count), stay defaults on the cluster.
    """
    config: dict[str, Any] = {"warehouse": warehouse.root, "log_level": settings.log_level}
    for name in SHIPPED_SECTIONS:
        given = getattr(settings, name).model_dump(mode="json", exclude_unset=True)
        if given:
            config[name] = given
    return config


def spark_submit() -> str:
    """spark-submit of ``$SPARK_HOME`` (a cluster's Spark installation), else the one pyspark ships."""
    home = os.environ.get("SPARK_HOME")
    if not home:
        # lazy: pyspark is the optional [spark] extra
        import pyspark

        home = str(Path(pyspark.__file__).parent)
    return str(Path(home) / "bin" / "spark-submit")


def _write_files(config: dict[str, Any], properties: dict[str, str]) -> tuple[Path, Path]:
    """The job config and properties file, in a folder named after their content (owner-readable only)."""
    config_text = yaml.safe_dump(config, sort_keys=True)
    properties_text = "".join(f"{key} {value}\n" for key, value in sorted(properties.items()))
    digest = hashlib.sha256((config_text + "\0" + properties_text).encode()).hexdigest()[:16]
    folder = archive_folder().parent / "submit" / digest
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    paths = folder / JOB_CONFIG, folder / PROPERTIES
    for path, text in zip(paths, (config_text, properties_text), strict=True):
        if not path.is_file():
            partial = path.with_suffix(".partial")
            partial.write_text(text, encoding="utf-8")
            partial.chmod(0o600)
            partial.replace(path)
    return paths


def plan(
    job: str,
    settings: Settings,
    warehouse: Warehouse,
    *,
    master: str | None = None,
    deploy_mode: str = "client",
    job_args: list[str] | None = None,
    python: str | None = None,
) -> Submission:
    """The spark-submit command for ``job`` (nothing is built or run)."""
    if job not in JOBS:
        raise ConfigError(f"unknown job {job!r}", fix=f"choose one of: {', '.join(JOBS)}")
    properties = session_config()
    configured = properties.pop("spark.master", None)  # given on the command line instead
    master = master or configured
    if not master:
        raise ConfigError(
            "no Spark master to submit to",
            fix="pass --master (spark://host:port, yarn), or export the SPARK_CONF_DIR `s2lake cluster up` prints",
        )
    if master == "yarn" and not any(os.environ.get(name) for name in HADOOP_CONF_VARIABLES):
        # spark-submit says so too, but only after the archive is built (a minute on a first submission)
        raise ConfigError(
            "--master yarn needs the cluster's Hadoop configuration (a folder with yarn-site.xml)",
            fix="export HADOOP_CONF_DIR (or YARN_CONF_DIR): the cluster's, or what `s2lake cluster up --yarn` prints",
        )
    if deploy_mode == "cluster" and master.startswith("spark://"):
        raise ConfigError(
            "a standalone master runs Python drivers in client mode only",
            fix="use --deploy-mode client (the default), or submit to YARN",
        )
    jars = properties.pop("spark.jars", "")
    config_file, properties_file = _write_files(job_config(settings, warehouse), properties)
    in_cluster = deploy_mode == "cluster"
    command = [spark_submit(), "--master", master, "--deploy-mode", deploy_mode, "--name", f"s2lake-{job}"]
    command += ["--properties-file", str(properties_file)]
    command += ["--jars", jars] if jars else []
    archive = archive_path(python)
    command += ["--archives", f"{archive}#{ENV_NAME}", "--files", str(config_file)]
    command += ["--conf", f"spark.pyspark.python={EXECUTOR_PYTHON}"]
    command += ["--conf", f"spark.pyspark.driver.python={EXECUTOR_PYTHON if in_cluster else sys.executable}"]
    # in cluster mode the driver reads the copy --files put in its working folder
    command += [str(Path(driver.__file__)), JOB_CONFIG if in_cluster else str(config_file)]
    command += [*JOBS[job].command, *(job_args or [])]
    return Submission(command, archive, python)


def run(submission: Submission) -> int:
    """Build (or reuse) the archive, then run spark-submit with the terminal's output; its exit code."""
    build_archive(submission.python)
    return subprocess.run(submission.command, check=False).returncode
