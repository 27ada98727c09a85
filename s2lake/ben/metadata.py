"""BigEarthNet metadata into ``ben_metadata`` rows: v2 ``metadata.parquet`` and v1 ``labels_metadata.json``.

Every row of the source lands, including rows of patches that are not on disk and labels that match no
class name (kept in ``labels`` and listed in ``unknown_labels``): the dataset checks come after, in dbt.
Labels are matched against both the official CLC spelling and BigEarthNet's own (see
``s2lake/data/codelists/README.md``).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyproj import CRS
from pyproj.exceptions import CRSError

from s2lake.ben.patch_reader import acquisition_time
from s2lake.ben_names import PatchId
from s2lake.errors import ProductError
from s2lake.tables.schemas import BEN_METADATA

#: Columns of BigEarthNet v2's metadata.parquet.
V2_COLUMNS = (
    "patch_id",
    "labels",
    "split",
    "country",
    "s1_name",
    "s2v1_name",
    "contains_seasonal_snow",
    "contains_cloud_or_shadow",
)
V2_SOURCE = "metadata.parquet"
V1_SOURCE = "labels_metadata.json"


@cache
def _codes() -> tuple[dict[str, str], dict[str, str], frozenset[str]]:
    # lazy: s2lake imports sedona_jobs only inside functions (the layering rule in the README)
    from sedona_jobs.reference.codelists import ben19_labels, ben19_of_code, clc_code_of_name

    return clc_code_of_name(), ben19_of_code(), frozenset(ben19_labels())


def read_v2_metadata(path: Path) -> pa.Table:
    """``metadata.parquet`` as ``ben_metadata`` rows; :class:`ProductError` when it is unreadable or lacks
    a v2 column."""
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise ProductError(
            f"cannot read the metadata file: {str(exc).splitlines()[0]}",
            where=str(path),
            fix="give BigEarthNet v2's metadata.parquet (a Parquet file), or leave --metadata out",
        ) from None
    missing = [c for c in V2_COLUMNS if c not in table.column_names]
    if missing:
        raise ProductError(
            f"the metadata file lacks the BigEarthNet v2 column(s) {', '.join(missing)}",
            where=str(path),
            fix=f"a v2 metadata.parquet has the columns {', '.join(V2_COLUMNS)}",
        )
    _, _, ben19 = _codes()
    n = table.num_rows
    labels = table.column("labels").cast(pa.list_(pa.string())).to_pylist()
    null_str = pa.nulls(n, pa.string())
    columns = {
        "patch_id": table.column("patch_id").cast(pa.string()),
        "source": pa.array([V2_SOURCE] * n),
        "v1_name": table.column("s2v1_name").cast(pa.string()),
        "labels": pa.array(labels, pa.list_(pa.string())),
        "clc_codes": pa.nulls(n, pa.list_(pa.string())),
        "ben19_labels": pa.array([None if ls is None else sorted(set(ls) & ben19) for ls in labels]),
        "unknown_labels": pa.array([None if ls is None else sorted(set(ls) - ben19) for ls in labels]),
        "split": table.column("split").cast(pa.string()),
        "country": table.column("country").cast(pa.string()),
        "s1_name": table.column("s1_name").cast(pa.string()),
        "contains_seasonal_snow": table.column("contains_seasonal_snow").cast(pa.bool_()),
        "contains_cloud_or_shadow": table.column("contains_cloud_or_shadow").cast(pa.bool_()),
        "tile": pa.array([_tile_of(p) for p in table.column("patch_id").to_pylist()], pa.string()),
        "source_path": pa.array([str(path)] * n),
    }
    return _complete(columns, n, null_str)


def _tile_of(patch_id: str | None) -> str | None:
    parsed = PatchId.parse(patch_id or "")
    return parsed.tile if parsed else None


def v1_to_v2(metadata: pa.Table) -> dict[str, str]:
    """``s2v1_name`` -> ``patch_id`` from v2 metadata rows: the authoritative map of v1 names to v2 ids."""
    names, ids = metadata.column("v1_name").to_pylist(), metadata.column("patch_id").to_pylist()
    return {v1: pid for v1, pid in zip(names, ids, strict=True) if v1 and pid}


def v1_rows(found: list[dict]) -> pa.Table:
    """Rows of v1 labels_metadata.json files (as the patch reader returned them, with their patch_id)."""
    code_of, ben19_of, _ = _codes()
    out: dict[str, list] = {name: [] for name in BEN_METADATA.schema.names}
    for meta in found:
        labels = meta.get("labels")
        labels = [str(x) for x in labels] if isinstance(labels, list) else None
        codes = None if labels is None else [code_of[x] for x in labels if x in code_of]
        corners = meta.get("coordinates") if isinstance(meta.get("coordinates"), dict) else {}
        try:
            epsg = CRS.from_wkt(meta["projection"]).to_epsg() if meta.get("projection") else None
        except (CRSError, TypeError):
            epsg = None
        row = {
            "patch_id": meta["patch_id"],
            "source": V1_SOURCE,
            "v1_name": meta["v1_name"],
            "labels": labels,
            "clc_codes": codes,
            "ben19_labels": None if codes is None else sorted({ben19_of[c] for c in codes if c in ben19_of}),
            "unknown_labels": None if labels is None else [x for x in labels if x not in code_of],
            **{k: _number(corners.get(k)) for k in ("ulx", "uly", "lrx", "lry")},
            "epsg": epsg,
            "projection": meta.get("projection"),
            "acquisition_time": acquisition_time(meta),
            "tile": meta.get("tile"),
            "tile_source": meta.get("tile_source"),
            "source_path": meta["path"],
        }
        for name in out:
            out[name].append(row.get(name))
    return pa.table(out, schema=BEN_METADATA.schema)


def _number(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _complete(columns: dict[str, pa.Array], n: int, null_str: pa.Array) -> pa.Table:
    for f in BEN_METADATA.schema:
        if f.name not in columns:
            columns[f.name] = null_str if f.type == pa.string() else pa.nulls(n, f.type)
    return pa.table({f.name: columns[f.name] for f in BEN_METADATA.schema}).cast(BEN_METADATA.schema)
