"""The dbt step of ``s2lake demo``: build the marts after labelling and say what they hold."""

from __future__ import annotations

import time
from dataclasses import dataclass

from s2lake.config.models import ModelsSettings
from s2lake.dbt.runner import build
from s2lake.duckdb_session import connect
from s2lake.warehouse import Warehouse


@dataclass
class MartsReport:
    models: int
    tests: int
    seconds: float
    validation: dict[str, int]
    splits: dict[str, int]
    labels_per_patch: str


def demo_step(settings: ModelsSettings, warehouse: Warehouse) -> MartsReport:
    """``s2lake models build`` on the duckdb target, then the headline figures of the marts."""
    start = time.perf_counter()
    result = build(settings, warehouse, target="duckdb", quiet=True)
    seconds = time.perf_counter() - start
    con = connect(warehouse)
    summary = "select check_name, patches from patch_validation_summary order by check_order"
    validation = dict(con.sql(summary).fetchall())
    splits = dict(con.sql("select split, count(*) from geographic_split group by split order by split").fetchall())
    row = con.sql("select any_value(avg_labels_per_patch), any_value(max_labels_per_patch) from label_stats").fetchone()
    labels = f"average {row[0]}, maximum {row[1]}" if row and row[0] is not None else "no labelled patches"
    return MartsReport(result.count("model"), result.count("test"), seconds, validation, splits, labels)
