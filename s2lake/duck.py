"""DuckDB over the warehouse: the embedded SQL engine analysts (and dbt-duckdb) use.

Extensions come from the PyPI packages ``duckdb-extension-spatial`` and ``duckdb-extension-delta``
and are loaded by file path with auto-install and auto-load switched off, so DuckDB never reaches
for the network. Every Delta table of the warehouse becomes a view of the same name
(``delta_scan``), every GeoParquet reference table a view ``ref_<name>``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import duckdb

from s2lake.errors import WarehouseError
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse

EXTENSIONS = {"spatial": "duckdb_extension_spatial", "delta": "duckdb_extension_delta"}


def extension_path(name: str) -> Path:
    """File of a DuckDB extension shipped by its PyPI package, matching the running DuckDB."""
    module = importlib.import_module(EXTENSIONS[name])
    base = Path(module.__file__).parent / "extensions"
    wanted = base / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if wanted.is_file():
        return wanted
    found = sorted(base.glob(f"*/{name}.duckdb_extension"))
    if not found:
        raise WarehouseError(
            f"the DuckDB {name} extension file is missing from package {EXTENSIONS[name]}",
            fix=f"reinstall it: `uv sync` (or `pip install {EXTENSIONS[name].replace('_', '-')}`)",
        )
    return found[-1]


def connect(warehouse: Warehouse | None = None, database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with spatial + delta loaded and the warehouse's tables as views."""
    con = duckdb.connect(
        database,
        config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"},
    )
    for name in EXTENSIONS:
        con.execute(f"LOAD '{extension_path(name)}'")
    if warehouse is not None:
        register_views(con, warehouse)
    return con


def register_views(con: duckdb.DuckDBPyConnection, warehouse: Warehouse) -> list[str]:
    """Create one view per Delta table (by name) and per reference table (``ref_<name>``)."""
    names = []
    for name in TableStore(warehouse).names():
        uri = warehouse.table_uri(name).replace("'", "''")
        con.execute(f"CREATE OR REPLACE VIEW \"{name}\" AS SELECT * FROM delta_scan('{uri}')")
        names.append(name)
    if warehouse.is_local:
        ref_root = Path(warehouse.reference_uri(""))
        for folder in sorted(p for p in ref_root.glob("*") if p.is_dir() and any(p.glob("*.parquet"))):
            glob = str(folder / "*.parquet").replace("'", "''")
            con.execute(f"CREATE OR REPLACE VIEW \"ref_{folder.name}\" AS SELECT * FROM read_parquet('{glob}')")
            names.append(f"ref_{folder.name}")
    return names
