"""Per-patch metadata of a shard row, and the normalisation statistics of the dataset card.

Labels, split and country come from :func:`sedona_jobs.export.ben_metadata.metadata_table` (the same
precedence as ``export ben``: imported BigEarthNet metadata, then the ``patch_labels`` and
``geographic_split`` marts, then the latest labels run); the cloud/snow flags from the
``patch_cloud_snow`` mart where the metadata has none; the season from the sensing month with the
months of the dbt seed ``seasons`` (northern meteorological seasons). A missing mart leaves its column
null (with the warning ``metadata_table`` logs) rather than failing, because pixels alone are a
legitimate training set.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable
from datetime import datetime

from s2lake.dbt.runner import PROJECT_DIR
from s2lake.tables.store import TableStore
from sedona_jobs.export.ben_metadata import metadata_table

log = logging.getLogger("s2lake.shards")

FLAGS = ("contains_cloud_or_shadow", "contains_seasonal_snow")


def seasons() -> dict[int, str]:
    """Month -> season name, from the dbt seed."""
    with (PROJECT_DIR / "seeds" / "seasons.csv").open(encoding="utf-8") as f:
        return {int(row["month"]): row["season"] for row in csv.DictReader(f)}


def season(when: datetime | None, seasons: dict[int, str]) -> str | None:
    return seasons[when.month] if when is not None else None


def patch_metadata(store: TableStore, patch_ids: Iterable[str]) -> dict[str, dict[str, object]]:
    """patch_id -> labels, split, country and the two flags."""
    rows = {row["patch_id"]: row for row in metadata_table(store, patch_ids).to_pylist()}
    if store.open("patch_cloud_snow") is not None:
        marts = {r["patch_id"]: r for r in store.read("patch_cloud_snow", ["patch_id", *FLAGS]).to_pylist()}
        for patch_id, row in rows.items():
            for flag in FLAGS:
                if row[flag] is None:
                    row[flag] = marts.get(patch_id, {}).get(flag)
    else:
        log.warning("no patch_cloud_snow table: cloud and snow flags are null (run `s2lake models build`)")
    return rows


def band_stats(store: TableStore) -> list[dict[str, object]] | None:
    """The ``band_stats`` mart's rows (band, resolution, mean, std, valid pixels), or None if not built."""
    if store.open("band_stats") is None:
        return None
    rows = store.read("band_stats", ["band", "resolution_m", "valid_pixels", "mean", "std"]).to_pylist()
    return sorted(rows, key=lambda r: r["band"])
