"""DuckDB over the warehouse: the embedded SQL engine analysts (and dbt-duckdb) use.

Extensions come from the PyPI packages ``duckdb-extension-spatial`` and ``duckdb-extension-delta``
and are loaded by file path with auto-install and auto-load switched off, so DuckDB never reaches
for the network. Every Delta table of the warehouse becomes a view of the same name
(``delta_scan``), every GeoParquet reference table a view ``ref_<name>``. A table that cannot be read
(an empty or corrupt ``_delta_log``, unreadable Parquet) is left out with a warning naming it, so one
broken folder never takes every other table down with it.

On an ``hdfs://`` warehouse DuckDB's delta extension cannot reach the tables (delta-kernel-rs has no
HDFS client, DuckDB no HDFS file system). There each Delta table is registered as a pyarrow dataset of
its current version instead (delta-rs lists the files, hdfs-native reads them, no JVM): DuckDB scans it
lazily, reading only the columns and row groups a query needs, so a ``count(*)`` over the pixel table
never pulls its pixels. GeoParquet reference tables are read by ``read_parquet`` through the same
HDFS file system registered with DuckDB, so their views are defined exactly as on a local warehouse.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.fs as pafs
from deltalake.exceptions import DeltaError

from s2lake.errors import WarehouseError
from s2lake.tables.store import BROKEN_TABLE_FIX, TableStore, sql_literal
from s2lake.warehouse import Warehouse
from s2lake.warehouse_fs import arrow_fs, fsspec_fs, is_hdfs

log = logging.getLogger("s2lake.sql")

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


def sql_identifier(name: str) -> str:
    """``name`` as a double-quoted SQL identifier (inner quotes doubled).

    DuckDB takes no bind parameters in ``CREATE VIEW``, so view names and paths are pasted into the
    statement. Names are checked against :data:`~s2lake.tables.store.TABLE_NAME` first *and* quoted here:
    quoting lets a reserved word (``order``) be a table, the check keeps odd folders out of SQL at all.
    """
    return '"' + name.replace('"', '""') + '"'


def register_views(con: duckdb.DuckDBPyConnection, warehouse: Warehouse) -> list[str]:
    """Create one view per readable Delta table (by name) and per reference table (``ref_<name>``)."""
    names = []
    store = TableStore(warehouse)
    hdfs = is_hdfs(warehouse.root)
    for name in store.names():
        uri = warehouse.table_uri(name)
        if hdfs:
            readable = _register_dataset(con, store, name)
        else:
            readable = _create_view(con, name, f"delta_scan({sql_literal(uri)})", uri, BROKEN_TABLE_FIX)
        if readable:
            names.append(name)
    if warehouse.is_local or hdfs:
        if hdfs:
            con.register_filesystem(fsspec_fs(warehouse.reference_uri(""))[0])
        for folder in store.reference_names():
            path = warehouse.reference_uri(folder)
            source = f"read_parquet({sql_literal(path + '/*.parquet')})"
            fix = "load it again with `s2lake reference load`, or remove the folder"
            if _create_view(con, f"ref_{folder}", source, path, fix):
                names.append(f"ref_{folder}")
    return names


def _register_dataset(con: duckdb.DuckDBPyConnection, store: TableStore, name: str) -> bool:
    """Register the current version of Delta table ``name`` as a lazily scanned pyarrow dataset.

    The dataset reads through hdfs-native (:func:`~s2lake.warehouse_fs.arrow_fs`), not delta-rs's own
    pyarrow file system handler, whose threads can outlive the interpreter (see ``TableStore.read``).
    """
    uri = store.uri(name)
    try:
        fs, root = arrow_fs(uri)
        dataset = store.require(name).to_pyarrow_dataset(filesystem=pafs.SubTreeFileSystem(root, fs))
        con.register(name, dataset)
    except (WarehouseError, DeltaError, OSError, pa.ArrowException, duckdb.Error) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        log.warning("skipping table %s at %s, it cannot be read (%s). Fix: %s", name, uri, reason, BROKEN_TABLE_FIX)
        return False
    return True


def _create_view(con: duckdb.DuckDBPyConnection, view: str, source: str, where: str, fix: str) -> bool:
    """Create ``view`` over ``source``; on a table DuckDB cannot read, warn and leave it out.

    DuckDB binds the table function when the view is created (it reads the Delta log or the Parquet
    footers), so a broken table fails here rather than in every later query.
    """
    try:
        con.execute(f"CREATE OR REPLACE VIEW {sql_identifier(view)} AS SELECT * FROM {source}")
    except duckdb.Error as exc:
        reason = str(exc).splitlines()[0]
        log.warning("skipping table %s at %s, it cannot be read (%s). Fix: %s", view, where, reason, fix)
        return False
    return True
