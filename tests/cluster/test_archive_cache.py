"""The environment archive cache, shared by every checkout and user of a machine, keeps archives in use.

A driver serves its archive to each executor it starts while the job runs; another submission building a
newer archive (another checkout, another source state) must not delete it under that job.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from s2lake.spark import pyenv_archive
from s2lake.spark.pyenv_archive import IN_USE_SECONDS, _prune


def _archive(folder: Path, name: str, age: float) -> Path:
    path = folder / f"s2env-{name}.tar.gz"
    path.write_bytes(b"archive")
    os.utime(path, (time.time() - age, time.time() - age))
    return path


def test_an_archive_a_submission_used_recently_survives_newer_builds(tmp_path: Path, monkeypatch) -> None:
    running = _archive(tmp_path, "running", age=3600)  # a job submitted an hour ago still runs
    stale = _archive(tmp_path, "stale", age=IN_USE_SECONDS + 60)
    newer = _archive(tmp_path, "newer", age=60)
    current = _archive(tmp_path, "current", age=0)
    _prune(tmp_path, current)
    assert running.is_file() and newer.is_file() and current.is_file()
    assert not stale.is_file()

    # a cached archive is touched when a submission reuses it, so its age is that of its last use
    monkeypatch.setattr(pyenv_archive, "archive_path", lambda python=None, folder=None: stale)
    _archive(tmp_path, "stale", age=IN_USE_SECONDS + 60)
    assert not pyenv_archive.build_archive("/usr/bin/python3").built
    assert time.time() - stale.stat().st_mtime < 60
