"""The geographic split as BigEarthNet's CSV form: one column of patch names per split."""

from __future__ import annotations

import csv
import itertools
import os
from pathlib import Path

from s2lake.errors import ModelsError
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse


def split_columns(warehouse: Warehouse, validation: str = "merge") -> dict[str, list[str]]:
    """Patch names per output column; ``validation`` is merge (into train), column or drop."""
    store = TableStore(warehouse)
    if store.open("geographic_split") is None:
        raise ModelsError(
            f"table geographic_split does not exist in warehouse {warehouse.root}",
            fix="build it first: `s2lake models build`",
        )
    table = store.read("geographic_split", columns=["patch_id", "split"]).to_pylist()
    columns: dict[str, list[str]] = (
        {"train": [], "validation": [], "test": []}
        if validation == "column"
        else {
            "train": [],
            "test": [],
        }
    )
    for row in table:
        split = row["split"]
        if split == "validation":
            if validation == "drop":
                continue
            if validation == "merge":
                split = "train"
        columns[split].append(row["patch_id"])
    return {name: sorted(ids) for name, ids in columns.items()}


def write_split_csv(warehouse: Warehouse, out: Path, validation: str = "merge") -> dict[str, int]:
    """Write the CSV next to its final name first, then rename, so a reader never sees half a file."""
    columns = split_columns(warehouse, validation)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    try:
        with partial.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(list(columns))
            writer.writerows(itertools.zip_longest(*columns.values(), fillvalue=""))
        partial.replace(out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ModelsError(f"cannot write {out}: {exc.strerror or exc}", fix="choose a writable path") from exc
    return {name: len(ids) for name, ids in columns.items()}
