"""The JVM jars of the cluster engine, resolved by Maven into a cache folder.

Two small poms beside this module list the pinned artifacts: ``spark-jars.pom.xml`` (Delta and
geotools-wrapper, put on ``spark.jars``) and ``hadoop-jars.pom.xml`` (the local HDFS of ``s2lake cluster``).
Maven resolves them (``mvn dependency:copy-dependencies``) rather than Spark's Ivy download, so the
machine's own Maven settings (mirrors, proxies, offline repository) apply. Each pom resolves into
``<cache>/<name>-<pom hash>``: a changed pom gets a new folder, and a folder exists only once complete
(Maven copies into a temporary folder that is renamed at the end), so an interrupted run leaves nothing
that looks usable.

Apache Sedona for Spark 4.1 (``SEDONA_COORDINATES``) is not in the pom because Maven Central does not
serve it; :func:`fetch_sedona` asks the configured repositories for it separately, and a jar put by hand
into the Spark folder is used like any other.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from s2lake.errors import ClusterError, ConfigError

MAVEN_DIR = Path(__file__).resolve().parent / "maven"
POMS = {"spark": MAVEN_DIR / "spark-jars.pom.xml", "hadoop": MAVEN_DIR / "hadoop-jars.pom.xml"}
#: Spark provides the dependencies of the Spark jars; the Hadoop mini cluster needs its own.
TRANSITIVE = {"spark": False, "hadoop": True}
SEDONA_COORDINATES = "org.apache.sedona:sedona-spark-shaded-4.1_2.13:1.9.1"
SEDONA_PREFIX = "sedona-spark-shaded-"
MVN_TIMEOUT = 1800


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "s2lake" / "jars"


def folder_for(kind: str) -> Path:
    """Where the jars of pom ``kind`` live once resolved (named after the pom's content)."""
    digest = hashlib.sha256(POMS[kind].read_bytes()).hexdigest()[:12]
    return cache_root() / f"{kind}-{digest}"


def resolved(kind: str) -> Path | None:
    """The folder of ``kind`` when an earlier resolution completed, without running Maven."""
    folder = folder_for(kind)
    return folder if folder.is_dir() else None


def _mvn() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ClusterError(
            "Maven (mvn) is not installed: it resolves the Delta and Hadoop jars of the cluster engine",
            fix="install it (Debian: apt-get install maven), or copy a resolved jar folder from a machine "
            "with Maven and set S2LAKE_SPARK_JARS to it",
        )
    return mvn


def resolve(kind: str) -> Path:
    """Run Maven once for pom ``kind`` (fast no-op when its folder exists) and return the folder."""
    folder = folder_for(kind)
    if folder.is_dir():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    command = [
        _mvn(),
        "-B",
        "-q",
        "-f",
        str(POMS[kind]),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={partial}",
        f"-DexcludeTransitive={str(not TRANSITIVE[kind]).lower()}",
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=MVN_TIMEOUT, check=False)
        if done.returncode != 0:
            raise ClusterError(
                f"Maven could not resolve the {kind} jars: {_maven_reason(done.stdout + done.stderr)}",
                where=str(POMS[kind]),
                fix="check the network access to the Maven repository (or the mirror in ~/.m2/settings.xml), "
                "then rerun `s2lake spark jars`",
            )
        partial.rename(folder)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return folder


def _maven_reason(output: str) -> str:
    errors = [line.removeprefix("[ERROR]").strip() for line in output.splitlines() if line.startswith("[ERROR]")]
    return next((line for line in errors if line), output.strip()[-300:] or "no output")


def sedona_jar(folder: Path) -> Path | None:
    return next(iter(sorted(folder.glob(f"{SEDONA_PREFIX}*.jar"))), None)


def sedona_missing_message(folder: Path | None) -> str:
    """Why Sedona on Spark cannot run, with the exact coordinates and where to put the jar by hand."""
    where = str(folder) if folder else "the folder `s2lake spark jars` prints"
    return (
        f"the Apache Sedona jar for Spark 4.1 ({SEDONA_COORDINATES}) is not obtainable from the configured "
        f"Maven repository (Maven Central does not serve sedona-spark-shaded-4.1_2.13), and no "
        f"{SEDONA_PREFIX}*.jar is in {where}; Sedona for Spark 4.0 does not load on Spark 4.1. "
        f"Put the jar there by hand (from a repository that has it, or built by the Sedona project), "
        f"or point spark.jars.packages at a repository serving it"
    )


def fetch_sedona(folder: Path) -> Path | None:
    """Ask the configured Maven repositories for the Sedona jar; ``None`` when they do not have it.

    ``-U`` makes Maven ask again instead of repeating a cached "not found", so a repository that
    starts serving the artifact is noticed on the next run.
    """
    present = sedona_jar(folder)
    if present is not None:
        return present
    command = [_mvn(), "-B", "-q", "-U", "-f", str(POMS["spark"]), "dependency:copy"]
    command += [f"-Dartifact={SEDONA_COORDINATES}", f"-DoutputDirectory={folder}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=MVN_TIMEOUT, check=False)
    return sedona_jar(folder) if done.returncode == 0 else None


def classpath(folder: Path) -> str:
    if not folder.is_dir():
        raise ConfigError(f"jar folder {folder} does not exist", fix="run `s2lake spark jars`")
    return os.pathsep.join(str(jar) for jar in sorted(folder.glob("*.jar")))
