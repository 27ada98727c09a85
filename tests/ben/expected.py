"""Every figure of `s2lake ben report`, computed independently with numpy/pandas from the tables that
tests/ben/ben_gen.py wrote, following the issue's definitions (not the SQL)."""

from __future__ import annotations

import csv
import gzip
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from s2lake.sentinel2 import BANDS
from s2lake.shipped_data import CODELISTS
from tests.ben.ben_gen import BenDataset
from tests.models.reference import SEASONS

EDGE = {b.name: b.patch_pixels for b in BANDS}


def _half_up(value: Decimal, places: str) -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def checks(ds: BenDataset) -> pd.DataFrame:
    metadata = ds.metadata.to_pandas().set_index("patch_id")
    rows = []
    for p in ds.patches.select(["patch_id", "band_stats", "has_nodata", "sensing_time"]).to_pylist():
        stats = {s["band"]: s for s in p["band_stats"]}
        wrong = any(b not in stats or stats[b]["height"] != e or stats[b]["width"] != e for b, e in EDGE.items())
        nodata = p["has_nodata"] or any(s["valid_count"] < s["height"] * s["width"] for s in stats.values())
        listed = p["patch_id"] in metadata.index
        labels = list(metadata.loc[p["patch_id"], "labels"]) if listed else []
        rows.append(
            {
                "patch_id": p["patch_id"],
                "wrong_size": wrong,
                "with_no_data": nodata,
                "not_part": not listed,
                "labels": labels,
                "season": SEASONS[p["sensing_time"].month],
            }
        )
    out = pd.DataFrame(rows).set_index("patch_id")
    out["in_dataset"] = ~(out.wrong_size | out.with_no_data | out.not_part) & (out["labels"].map(len) > 0)
    return out


def band_figures(ds: BenDataset) -> dict[str, int]:
    with gzip.open(ds.stats_list, "rt", encoding="utf-8") as f:
        listed = {row[0] for row in csv.reader(f)} - {"patch_id"}
    acc = {b: [0, 0, 0] for b in EDGE}
    for p in ds.patches.select(["patch_id", "band_stats"]).to_pylist():
        if p["patch_id"] in listed:
            for s in p["band_stats"]:
                acc[s["band"]][0] += s["valid_count"]
                acc[s["band"]][1] += s["sum"]
                acc[s["band"]][2] += s["sum_sq"]
    out = {}
    for band, (n, total, total_sq) in acc.items():
        mean = Decimal(total) / Decimal(n)
        std = Decimal(n * total_sq - total * total).sqrt() / Decimal(n)
        out[f"{band} mean"] = int(_half_up(mean, "1"))
        out[f"{band} std-dev"] = int(_half_up(std, "1"))
    return out


def reference_label_sets(ds: BenDataset) -> dict[str, set[str]]:
    ben19 = pd.read_csv(CODELISTS / "ben19_classes.csv").set_index("ben19_id").ben19_label
    mapping = pd.read_csv(CODELISTS / "clc_to_ben19.csv").dropna().astype(int).set_index("clc_code").ben19_id
    sets: dict[str, set[str]] = {}
    for r in ds.reference.select(["patch_id", "clc_code"]).to_pylist():
        label = ben19.get(mapping.get(int(r["clc_code"])))
        sets.setdefault(r["patch_id"], set())
        if label is not None:
            sets[r["patch_id"]].add(label)
    return sets


def overlapping_patches(ds: BenDataset) -> set[str]:
    """Patches whose footprint shares interior points with another's, by pairwise numpy comparison."""
    t = ds.patches.select(["patch_id", "epsg", "ulx", "uly", "lrx", "lry"]).to_pandas()
    e, x0, x1, y0, y1 = (t[c].to_numpy()[:, None] for c in ("epsg", "ulx", "lrx", "lry", "uly"))
    # Open intervals intersect on both axes (touching edges do not count).
    hit = (e == e.T) & (x0 < x1.T) & (x1 > x0.T) & (y0 < y1.T) & (y1 > y0.T)
    np.fill_diagonal(hit, False)
    return set(t.patch_id[hit.any(axis=1)])


def figures(ds: BenDataset) -> list[tuple[str, str]]:
    c = checks(ds)
    dataset = c[c.in_dataset]
    counts = dataset["labels"].map(len)
    average = _half_up(Decimal(int(counts.sum())) / Decimal(len(counts)), "0.01")
    geom = [len(s) for s in reference_label_sets(ds).values() if s]
    geom_average = _half_up(Decimal(sum(geom)) / Decimal(len(geom)), "0.01")
    bands = band_figures(ds)
    band_lines = [(name, str(bands[name])) for b in EDGE for name in (f"{b} mean", f"{b} std-dev")]
    return [
        *((s, str(int((dataset.season == s).sum()))) for s in ("spring", "summer", "fall", "winter")),
        ("average-num-labels", str(average)),
        ("maximum-num-labels", str(int(counts.max()))),
        ("wrong-size", str(int(c.wrong_size.sum()))),
        ("with-no-data", str(int(c.with_no_data.sum()))),
        ("not-part-of-dataset", str(int(c.not_part.sum()))),
        *band_lines,
        ("geom-average-num-labels", str(geom_average)),
        ("geom-num-overlaps", str(len(overlapping_patches(ds)))),
    ]


def dataset_ids(ds: BenDataset) -> set[str]:
    c = checks(ds)
    return set(c.index[c.in_dataset])


def cloud_snow(ds: BenDataset) -> dict[str, tuple[bool | None, bool | None]]:
    metadata = {r["patch_id"]: r for r in ds.metadata.to_pylist()}
    out: dict[str, tuple[bool | None, bool | None]] = {}
    for p in ds.patches.select(["patch_id", "scene_classes"]).to_pylist():
        m = metadata.get(p["patch_id"])
        if m is not None:
            out[p["patch_id"]] = (m["contains_cloud_or_shadow"], m["contains_seasonal_snow"])
        elif p["scene_classes"] is not None:
            classes = set(p["scene_classes"])
            cloud = bool(classes & {"CLOUD_SHADOW", "CLOUD_MEDIUM_PROBA", "CLOUD_HIGH_PROBA", "THIN_CIRRUS"})
            out[p["patch_id"]] = (cloud, "SNOW_ICE" in classes)
        else:
            out[p["patch_id"]] = (None, None)
    return out


def read_split_csv(path: Path) -> dict[str, list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return {name: [r[i] for r in rows[1:] if r[i]] for i, name in enumerate(rows[0])}
