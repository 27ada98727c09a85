"""The Python environment that cluster jobs run in, packed from ``uv.lock`` into a relocatable archive.

The modern form of a conda-pack ``build.sh``: ``uv export`` turns the lock into a hash-pinned requirement
list, ``uv venv --relocatable`` makes a virtual environment whose activation scripts and entry-point
shebangs find the environment from their own location, ``uv pip install`` fills it (from uv's cache:
hard links, seconds) with the locked packages and the project's wheel, and the folder becomes a
``.tar.gz`` that Spark ships with ``spark.archives`` and unpacks in each executor's working folder.

What a venv cannot pack, unlike conda-pack, is the interpreter: ``bin/python`` is a symlink to the base
interpreter it was made from (``pyvenv.cfg``'s ``home``), so every cluster node needs that Python at that
path. The default base is the interpreter of the running environment; ``python=`` picks another, e.g. a
distribution's ``/usr/bin/python3.11`` that nodes install from their package manager. Its major.minor
version must be the driver's, or PySpark refuses the first task. (uv can fetch standalone interpreters,
but from GitHub, which machines limited to package registries cannot reach.)

PySpark itself is left out of the archive: executors take ``pyspark.zip`` from their own Spark
installation (Spark puts it on the workers' ``PYTHONPATH``), and it is 450 MB.

Archives are cached by a hash of everything that goes into them (lock, pyproject, the project's
sources, the base interpreter), so a second submission of unchanged code reuses the file at once.
An archive appears under its final name only when complete (written beside it, then renamed).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from s2lake.errors import ClusterError
from s2lake.spark.jars import cache_root

log = logging.getLogger(__name__)

#: Files of the checkout that the code finds next to its packages (``Path(__file__).parents[2]``: the SQL
#: templates, the Spark defaults). The wheel has packages only, so the build copies them to the same place
#: beside the installed packages, site-packages; in the wheel they would also land in every editable install.
DATA_PATHS = ("sql", "spark-defaults.conf")
#: Never in the archive: the executors' Spark provides PySpark (see the module docstring).
LEFT_OUT = ("pyspark",)
#: Fast gzip: the archive is mostly compiled libraries, which level 6 shrinks by a few percent more at
#: three times the time.
COMPRESS_LEVEL = 1
#: Archives kept in the cache: the current one and the one before it (a job still running may use it).
KEEP = 2
#: An archive used by a submission this recently is kept beyond KEEP: that job may still be running.
IN_USE_SECONDS = 24 * 3600
UV_TIMEOUT = 1800


@dataclass(frozen=True)
class EnvArchive:
    path: Path
    python: str
    built: bool
    seconds: float

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def project_root() -> Path:
    """The checkout holding ``uv.lock``: the archive is built from the lock, not from an installed copy."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "uv.lock").is_file() or not (root / "pyproject.toml").is_file():
        raise ClusterError(
            f"no uv.lock beside the s2lake sources ({root}): the job environment is built from the project's lock",
            fix="run `s2lake spark submit` from a checkout of the project (with its uv.lock)",
        )
    return root


def default_python() -> str:
    """The base interpreter of the running environment (what its venv's ``bin/python`` points to)."""
    return str(Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}")


def archive_folder() -> Path:
    return cache_root().parent / "pyenv"


def uv_binary() -> str:
    uv = shutil.which("uv")
    if uv is None:
        raise ClusterError(
            "uv is not installed: it builds the Python environment archive that cluster jobs run in",
            fix="install uv (pip install uv, or see https://docs.astral.sh/uv/), then rerun",
        )
    return uv


def _python_version(python: str) -> tuple[int, int]:
    try:
        done = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ClusterError(
            f"cannot run the base interpreter {python}: {exc}",
            fix="pass --python with the path of a CPython every cluster node has",
        ) from None
    major, minor = done.stdout.split()
    return int(major), int(minor)


def _check_python(python: str) -> None:
    found, driver = _python_version(python), sys.version_info[:2]
    if found != driver:
        raise ClusterError(
            f"{python} is Python {found[0]}.{found[1]} but the driver runs {driver[0]}.{driver[1]}: PySpark "
            "refuses tasks whose Python version differs from the driver's",
            fix=f"pass --python with a Python {driver[0]}.{driver[1]} interpreter that every cluster node has",
        )


def _project_files(root: Path) -> list[Path]:
    wheel = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    packages = wheel["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    files: list[Path] = []
    for name in (*packages, *DATA_PATHS):
        path = root / name
        found = [path] if path.is_file() else path.rglob("*")
        files += [f for f in found if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc"]
    return sorted(files)


def content_key(root: Path, python: str) -> str:
    """Hash of what the archive is made of: a changed lock, source file or interpreter makes a new one."""
    digest = hashlib.sha256()
    for name in ("uv.lock", "pyproject.toml"):
        digest.update(name.encode() + b"\0" + (root / name).read_bytes() + b"\0")
    for path in _project_files(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(python.encode() + b"\0" + repr(sys.version_info[:2]).encode())
    return digest.hexdigest()[:16]


def _uv(uv: str, *args: str, cwd: Path | None = None) -> None:
    done = subprocess.run([uv, *args], cwd=cwd, capture_output=True, text=True, timeout=UV_TIMEOUT, check=False)
    if done.returncode != 0:
        raise ClusterError(
            f"`uv {args[0]}` failed while building the job environment: {done.stderr.strip()[-800:]}",
            where=str(cwd) if cwd else None,
            fix="check that `uv sync --frozen` works in the checkout (lock up to date, package index reachable)",
        )


def _build_env(uv: str, root: Path, python: str, work: Path) -> Path:
    requirements = work / "requirements.txt"
    export = ["export", "--frozen", "--no-dev", "--extra", "spark", "--no-emit-project", "--no-header", "-q"]
    export += [arg for name in LEFT_OUT for arg in ("--no-emit-package", name)]
    _uv(uv, *export, "-o", str(requirements), cwd=root)
    _uv(uv, "build", "--wheel", "--out-dir", str(work / "dist"), "-q", cwd=root)
    env = work / "env"
    _uv(uv, "venv", "--relocatable", "--python", python, "-q", str(env))
    target = ["--python", str(env / "bin" / "python"), "--no-deps", "-q"]
    # the export pins the whole closure with hashes, so nothing is resolved again (--no-deps)
    _uv(uv, "pip", "install", *target, "--require-hashes", "-r", str(requirements))
    _uv(uv, "pip", "install", *target, *map(str, (work / "dist").glob("*.whl")))
    site = next((env / "lib").glob("python3*/site-packages"))
    for name in DATA_PATHS:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, site / name)
        else:
            shutil.copy2(source, site / name)
    return env


def _prune(folder: Path, current: Path) -> None:
    """Drop archives beyond the newest :data:`KEEP` that no submission used for :data:`IN_USE_SECONDS`.

    A running job's driver serves its archive to every executor it starts, for as long as it runs: another
    checkout or user sharing the cache must not delete it under that job (executors then die with "Stream
    '/files/s2env-....tar.gz' was not found"). Each submission touches its archive (:func:`build_archive`).
    """
    archives = sorted(folder.glob("s2env-*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    idle_since = time.time() - IN_USE_SECONDS
    for old in [a for a in archives if a != current][KEEP - 1 :]:
        if old.stat().st_mtime < idle_since:
            old.unlink(missing_ok=True)


def archive_path(python: str | None = None, folder: Path | None = None) -> Path:
    """Where the archive for the current lock, sources and ``python`` is (or will be, once built)."""
    key = content_key(project_root(), python or default_python())
    return (folder or archive_folder()) / f"s2env-{key}.tar.gz"


def build_archive(python: str | None = None, folder: Path | None = None) -> EnvArchive:
    """The archive for the current lock and sources: the cached one, or a new one built with uv."""
    root = project_root()
    python = python or default_python()
    target = archive_path(python, folder)
    folder = target.parent
    if target.is_file():
        os.utime(target)  # in use again: not pruned while this submission may run (see _prune)
        return EnvArchive(target, python, built=False, seconds=0.0)
    uv = uv_binary()
    _check_python(python)
    started = time.monotonic()
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".s2env-", dir=folder) as tmp:
        work = Path(tmp)
        env = _build_env(uv, root, python, work)
        partial = work / target.name
        with tarfile.open(partial, "w:gz", compresslevel=COMPRESS_LEVEL) as tar:
            tar.add(env, arcname=".")  # the archive's root is the environment: `#s2env` unpacks it as ./s2env
        os.replace(partial, target)
    _prune(folder, target)
    seconds = time.monotonic() - started
    log.info("built %s (%.0f MB) in %.0f s", target, target.stat().st_size / 1e6, seconds)
    return EnvArchive(target, python, built=True, seconds=seconds)
