"""dbt-duckdb plugin: load the extensions from the PyPI packages, and commit marts as Delta tables.

dbt-duckdb's ``external`` materialization writes a model to a Parquet file and then hands it to the
plugin named in the model's ``plugin`` config. DuckDB's delta extension reads Delta but cannot
create a table, so this plugin commits the file with delta-rs as one overwrite of
``<warehouse>/tables/<model>``: readers see the old version or the new one, never a half-written
table. Extensions are loaded by file path (``s2lake.duckdb_session.extension_path``) with auto-install off,
so a build never reaches for the network.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from dbt.adapters.duckdb.plugins import BasePlugin
from dbt.adapters.duckdb.utils import TargetConfig
from deltalake import write_deltalake

from s2lake.duckdb_session import EXTENSIONS, extension_path
from s2lake.warehouse import Warehouse


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self.warehouse = Warehouse.at(plugin_config["warehouse"])
        self.docs = ModelDocs()
        # dbt-duckdb writes external models with COPY ... TO, which does not create folders: a plain
        # `dbt build` on a fresh warehouse would stop at "Cannot open file .../marts/<model>.parquet".
        for folder in plugin_config.get("folders", []):
            Path(folder).mkdir(parents=True, exist_ok=True)

    def update_connection_config(self, creds: Any, config: dict[str, Any]) -> None:
        config["autoinstall_known_extensions"] = False
        config["autoload_known_extensions"] = False

    def configure_connection(self, conn: Any) -> None:
        for name in EXTENSIONS:
            conn.execute(f"LOAD '{extension_path(name)}'")

    def store(self, target_config: TargetConfig) -> None:
        if target_config.location is None:  # pragma: no cover - dbt-duckdb always passes it for external models
            raise ValueError(f"model {target_config.relation.identifier} has no external location")
        name = target_config.relation.identifier
        description, columns = self.docs.model(name)
        write_deltalake(
            self.warehouse.table_uri(name),
            _documented_batches(pq.ParquetFile(target_config.location.path), columns),
            mode="overwrite",
            schema_mode="overwrite",
            storage_options=self.warehouse.storage_options(),
            name=name,
            description=description or f"dbt model {name} (models/marts)",
        )


def _documented_batches(source: pq.ParquetFile, columns: dict[str, str]) -> pa.RecordBatchReader:
    """Stream the file (a mart can have millions of rows) with the column docs as field comments."""
    schema = pa.schema(
        [f.with_metadata({"comment": columns[f.name]}) if columns.get(f.name) else f for f in source.schema_arrow]
    )
    if source.metadata.num_rows == 1:
        batches = _drop_placeholder_row(source.read()).to_batches()
    else:
        batches = source.iter_batches(batch_size=65_536)
    return pa.RecordBatchReader.from_batches(
        schema, (pa.RecordBatch.from_arrays(b.columns, schema=schema) for b in batches)
    )


class ModelDocs:
    """Model and column descriptions from dbt's manifest (written before models run), so marts carry the
    same column comments in their Delta schema as the core tables.

    The manifest describes the whole project (megabytes on a large one) and is the same for every mart of
    a build, so it is parsed once per build: again only when dbt has written a new one. dbt-duckdb keeps
    its plugins between builds in one process, hence the check of the file rather than a parse at start;
    the lock keeps dbt's threads, which store marts side by side, from parsing it twice.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp: tuple[str, int, int] | None = None
        self._nodes: dict[str, Any] = {}

    def model(self, name: str) -> tuple[str, dict[str, str]]:
        node = self._manifest_nodes().get(f"model.s2lake.{name}", {})
        columns = {col: " ".join(doc.get("description", "").split()) for col, doc in node.get("columns", {}).items()}
        return " ".join(node.get("description", "").split()), columns

    def _manifest_nodes(self) -> dict[str, Any]:
        target = os.environ.get("DBT_TARGET_PATH") or Path(os.environ.get("S2LAKE_DBT_STATE", ".")) / "target"
        manifest = Path(target) / "manifest.json"
        try:
            stat = manifest.stat()
        except FileNotFoundError:
            return {}
        stamp = (str(manifest), stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._nodes = json.loads(manifest.read_text(encoding="utf-8")).get("nodes", {})
                self._stamp = stamp
            return self._nodes


def _drop_placeholder_row(table: pa.Table) -> pa.Table:
    """dbt-duckdb writes one all-NULL row for an empty model (so the file has a schema); drop it."""
    if all(pc.all(pc.is_null(column)).as_py() for column in table.columns):
        return table.slice(0, 0)
    return table
