"""Fixtures shared by every test folder: the shared third-party data and a fresh warehouse."""

from __future__ import annotations

from pathlib import Path

import pytest

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
