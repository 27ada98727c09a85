"""``metadata.parquet`` of an exported BigEarthNet v2 dataset: one row per exported patch.

Columns and types are those of the v2 distribution. Where each value comes from, in order of precedence:

* a ``ben_metadata`` row of the patch (a dataset imported with ``s2lake ben import`` keeps its own values);
* ``labels``: the ``patch_labels`` mart (BigEarthNet-19 names, built by ``s2lake models build``, which
  applies ``models.min_label_fraction``); without it, the BigEarthNet-19 labels of the patch's
  ``patch_landcover`` rows with a positive area in the latest complete labels run (the mart's result at its
  default threshold 0); without either, an empty list;
* ``split``: the ``geographic_split`` mart (train / validation / test), else null;
* ``country``: the English name (``s2lake/data/codelists/country_names.csv``, BigEarthNet's spelling) of
  ``patch_country.country_code`` of the latest complete labels run, else that row's ``country_name``,
  else null (NUTS names countries in their own languages: "Österreich", "Suomi/Finland");
* ``s1_name``, ``s2v1_name``, ``contains_seasonal_snow``, ``contains_cloud_or_shadow``: null (unknown) for
  patches cut from SAFE products: they have no Sentinel-1 pair or v1 name, and the cloud and snow flags
  belong to the dataset report's marts, not to the export.

Missing tables are not an error (a warning says which column stays empty and how to fill it), because a
pixels-only export is a legitimate use; a patch is never left out of the file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import pyarrow as pa

from s2lake.tables.schemas import PATCH_COUNTRY, PATCH_LANDCOVER
from s2lake.tables.store import TableStore, sql_literal
from sedona_jobs.labels.runs import pending_runs
from sedona_jobs.reference.codelists import country_names

log = logging.getLogger("s2lake.export")

METADATA_SCHEMA = pa.schema(
    [
        pa.field("patch_id", pa.string(), nullable=False),
        pa.field("labels", pa.list_(pa.string()), nullable=False),
        pa.field("split", pa.string()),
        pa.field("country", pa.string()),
        pa.field("s1_name", pa.string()),
        pa.field("s2v1_name", pa.string()),
        pa.field("contains_seasonal_snow", pa.bool_()),
        pa.field("contains_cloud_or_shadow", pa.bool_()),
    ]
)
#: The table ``s2lake ben import`` writes the metadata of an imported dataset to.
BEN_METADATA = "ben_metadata"


def _lookup(store: TableStore, table: str, key: str, value: str, where: str | None = None) -> dict[str, object]:
    rows = store.read(table, [key, value], where=where)
    return dict(zip(rows.column(key).to_pylist(), rows.column(value).to_pylist(), strict=True))


def _sources(store: TableStore) -> dict[str, dict[str, object]]:
    """Column -> {patch_id: value} from the warehouse's derived tables that exist."""
    found: dict[str, dict[str, object]] = {}
    run, _ = pending_runs(store)
    latest = f"run_id = {sql_literal(run)}" if run is not None else None
    if store.open("patch_labels") is not None:
        found["labels"] = _lookup(store, "patch_labels", "patch_id", "labels")
    elif latest is not None and store.open(PATCH_LANDCOVER.name) is not None:
        found["labels"] = _landcover_labels(store, latest)
    else:
        log.warning("no labels run and no patch_labels table: labels are empty lists (run `labels build`)")
    if store.open("geographic_split") is not None:
        found["split"] = _lookup(store, "geographic_split", "patch_id", "split")
    else:
        log.warning("no geographic_split table: split is null (run `s2lake models build`)")
    if latest is not None and store.open(PATCH_COUNTRY.name) is not None:
        found["country"] = _english_countries(store, latest)
    else:
        log.warning("no complete labels run: country is null (run `s2lake labels build`)")
    return found


def _english_countries(store: TableStore, latest: str) -> dict[str, object]:
    """patch_id -> English country name by code (BigEarthNet's spelling; NUTS stores local names such as
    "Österreich"); a code the shipped list lacks keeps the name the labels run stored, with a warning."""
    rows = store.read(PATCH_COUNTRY.name, ["patch_id", "country_code", "country_name"], where=latest).to_pylist()
    english = country_names()
    unknown = sorted({r["country_code"] for r in rows if r["country_code"] and r["country_code"] not in english})
    if unknown:
        log.warning(
            "no English name for country codes %s in s2lake/data/codelists/country_names.csv: "
            "their patches keep the reference layer's name",
            ", ".join(unknown),
        )
    return {r["patch_id"]: english.get(r["country_code"] or "", r["country_name"]) for r in rows}


def _landcover_labels(store: TableStore, latest: str) -> dict[str, object]:
    rows = store.read(
        PATCH_LANDCOVER.name, ["patch_id", "ben19_label"], where=f"{latest} AND ben19_label IS NOT NULL AND area_m2 > 0"
    )
    labels: dict[str, set[str]] = {}
    for patch_id, label in zip(
        rows.column("patch_id").to_pylist(), rows.column("ben19_label").to_pylist(), strict=True
    ):
        labels.setdefault(patch_id, set()).add(label)
    return {patch_id: sorted(names) for patch_id, names in labels.items()}


def _imported(store: TableStore) -> dict[str, dict[str, object]]:
    """patch_id -> its ``ben_metadata`` row (the v2 columns it has), when that table exists."""
    table = store.open(BEN_METADATA)
    if table is None:
        return {}
    have = set(table.schema().to_arrow().names)
    columns = [name for name in METADATA_SCHEMA.names if name in have]
    if "patch_id" not in columns:
        return {}
    return {row["patch_id"]: row for row in store.read(BEN_METADATA, columns).to_pylist()}


def metadata_table(store: TableStore, patch_ids: Iterable[str]) -> pa.Table:
    """The metadata rows of ``patch_ids``, sorted by patch id (the file is the same for the same export)."""
    sources = _sources(store)
    imported = _imported(store)
    rows = []
    for patch_id in sorted(patch_ids):
        own = imported.get(patch_id, {})
        row: dict[str, object] = {"patch_id": patch_id}
        for name in METADATA_SCHEMA.names[1:]:
            value = own.get(name)
            row[name] = value if value is not None else sources.get(name, {}).get(patch_id)
        row["labels"] = sorted(row["labels"] or [])
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=METADATA_SCHEMA)
