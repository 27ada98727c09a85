"""Fixtures of the core tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No S2LAKE_* variables or ./s2lake.yaml from the developer's shell leak into a test."""
    for name in list(os.environ):
        if name.startswith("S2LAKE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
