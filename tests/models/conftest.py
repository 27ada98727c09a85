"""One generated warehouse and one duckdb `dbt build` per session: dbt runs are slow, assertions many."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from s2lake.config.models import ModelsSettings
from s2lake.dbt.runner import BuildResult, build
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.synth.warehouse import GeneratedWarehouse, generate


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> GeneratedWarehouse:
    return generate(Warehouse.at(tmp_path_factory.mktemp("models") / "warehouse"), tiles=4, grid=20)


@pytest.fixture(scope="session")
def duck_build(generated: GeneratedWarehouse) -> BuildResult:
    return build(ModelsSettings(), generated.warehouse, quiet=True)


@pytest.fixture(scope="session")
def mart(generated: GeneratedWarehouse, duck_build: BuildResult):
    store = TableStore(generated.warehouse)

    def read(name: str) -> pd.DataFrame:
        return store.read(name).to_pandas()

    return read


@pytest.fixture(scope="session")
def built_dir(generated: GeneratedWarehouse, duck_build: BuildResult) -> Path:
    return Path(generated.warehouse.root)
