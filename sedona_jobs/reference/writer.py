"""Store generated (synthetic) reference layers exactly like loaded ones."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from s2lake.warehouse import Warehouse
from sedona_jobs.reference.geoparquet import write_table


def write_synthetic(gdf: Any, warehouse: Warehouse, name: str, **params: Any) -> Path:
    """Write a generated layer as reference table ``name``; the manifest records how it was made."""
    manifest = {
        "loaded_at": datetime.now(UTC).isoformat(),
        "layer": name,
        "source": "synthetic (sedona_jobs.synth.reference_layers)",
        "parameters": params,
        "features_written": len(gdf),
    }
    return write_table(gdf, warehouse, name, manifest)
