"""Fixtures shared by every test folder: the shared third-party data and a fresh warehouse."""

from __future__ import annotations

from pathlib import Path

import pytest

from s2lake.spark import jar_folder
from s2lake.spark.jars import resolve
from s2lake.warehouse import Warehouse

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` next to the project; tests using it skip when it is absent (user clones)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"third-party test data not found at {SHARED_DATA} (only present in the project's CI)")
    return SHARED_DATA


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    return Warehouse.at(tmp_path / "warehouse")


@pytest.fixture(scope="session")
def spark_jars() -> Path:
    """The Spark jar folder, resolved by Maven once per machine (``s2lake spark jars``; CI reaches Maven Central).

    s2lake's sessions find it by themselves; a machine without Maven fails here with the fix, never skips.
    """
    return jar_folder() or resolve("spark")


@pytest.fixture
def no_jar_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither S2LAKE_SPARK_JARS nor a Maven-resolved folder: plain Spark, as on a machine never set up."""
    monkeypatch.delenv("S2LAKE_SPARK_JARS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
