"""A warehouse of real SAFE-derived patches (the export tests' fixtures), labelled, with the dbt marts built:
labels, split, cloud/snow flags and band statistics all come from the product's own tables."""

from __future__ import annotations

import shutil

import pytest

from s2lake.config.models import ModelsSettings
from s2lake.dbt.runner import build
from s2lake.warehouse import Warehouse
from tests.export.conftest import labelled_warehouse, patch_rows, patched_warehouse

__all__ = ["labelled_warehouse", "patch_rows", "patched_warehouse"]


@pytest.fixture(scope="session")
def marts_warehouse(labelled_warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """Read-only: ``labelled_warehouse`` plus ``s2lake models build`` (duckdb)."""
    root = shutil.copytree(labelled_warehouse.root, tmp_path_factory.mktemp("marts") / "wh")
    warehouse = Warehouse.at(root)
    build(ModelsSettings(), warehouse, quiet=True)
    return warehouse
