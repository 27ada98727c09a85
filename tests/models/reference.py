"""Independent pandas computations of every mart, from the generated source tables.

Written from the issue's definitions, not from the SQL, so a wrong model disagrees with them.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pyarrow as pa

from s2lake.sentinel2 import ALL_LAYERS, BANDS
from sedona_jobs.reference.codelists import clc_codes

SEASONS = {12: "winter", 1: "winter", 2: "winter", 3: "spring", 4: "spring", 5: "spring"}
SEASONS |= {6: "summer", 7: "summer", 8: "summer", 9: "fall", 10: "fall", 11: "fall"}


def patch_checks(tables: dict[str, pa.Table]) -> pd.DataFrame:
    patches = tables["patches"].select(["patch_id", "product_id", "tile", "band_stats", "has_nodata"]).to_pylist()
    products = set(tables["products"].column("product_id").to_pylist())
    expected = {b.name: b.patch_pixels for b in ALL_LAYERS}
    rows = []
    for p in patches:
        stats = {s["band"]: s for s in p["band_stats"]}
        wrong = sorted(
            b
            for b, edge in expected.items()
            # A missing band is wrong; the SCL only where the patch has one (BigEarthNet ships none).
            if (b not in stats and b != "SCL")
            or (b in stats and (stats[b]["height"], stats[b]["width"]) != (edge, edge))
        )
        nodata = p["has_nodata"] or any(s["valid_count"] < s["height"] * s["width"] for s in stats.values())
        rows.append(
            {
                "patch_id": p["patch_id"],
                "wrong_size": bool(wrong),
                "wrong_size_bands": wrong,
                "contains_nodata": nodata,
                "missing_product": p["product_id"] not in products,
            }
        )
    out = pd.DataFrame(rows).set_index("patch_id")
    unlabelled = unlabelled_reasons(tables)
    out["unlabelled_reason"] = unlabelled.reindex(out.index)
    out["unlabelled"] = out.unlabelled_reason.notna()
    out["in_dataset"] = ~(out.wrong_size | out.contains_nodata | out.missing_product | out.unlabelled)
    return out


def unlabelled_reasons(tables: dict[str, pa.Table]) -> pd.Series:
    """Reason per patch that none of the 44 CLC classes covers (patches with a class are left out)."""
    classes = set(clc_codes())
    nodata = {"999", "990", "995"}  # CORINE's NODATA and unclassified land / water codes
    codes: dict[str, set[str]] = {pid: set() for pid in tables["patches"].column("patch_id").to_pylist()}
    rows: dict[str, int] = dict.fromkeys(codes, 0)
    for r in tables["patch_landcover"].select(["patch_id", "clc_code"]).to_pylist():
        rows[r["patch_id"]] += 1
        if r["clc_code"] is not None:
            codes[r["patch_id"]].add(r["clc_code"])
    out = {}
    for pid, found in codes.items():
        if found & classes:
            continue
        if rows[pid] == 0:
            out[pid] = "labels_not_built"
        elif found - nodata:
            out[pid] = "unknown_clc_code"
        elif found:
            out[pid] = "clc_nodata"
        else:
            out[pid] = "no_clc_coverage"
    return pd.Series(out, dtype=object)


def dataset_ids(tables: dict[str, pa.Table]) -> set[str]:
    checks = patch_checks(tables)
    return set(checks.index[checks.in_dataset])


def patch_labels(tables: dict[str, pa.Table], min_fraction: float = 0.0, threshold: float = 0.25) -> pd.DataFrame:
    lc = tables["patch_landcover"].to_pandas()
    lc = lc[lc.ben19_label.notna()]
    per_label = lc.groupby(["patch_id", "ben19_label"]).fraction.sum()
    out = {}
    for pid in tables["patches"].column("patch_id").to_pylist():
        out[pid] = {"labels": [], "labelled": 0.0}
    for (pid, label), fraction in per_label.items():
        out[pid]["labelled"] += fraction
        if fraction > 0 and fraction >= min_fraction:
            out[pid]["labels"].append(label)
    frame = pd.DataFrame(
        [
            {
                "patch_id": pid,
                "labels": sorted(v["labels"]),
                "label_count": len(v["labels"]),
                "unlabelled_fraction": max(1.0 - v["labelled"], 0.0),
                "mostly_unlabelled": 1.0 - v["labelled"] >= threshold,
            }
            for pid, v in out.items()
        ]
    )
    return frame.set_index("patch_id")


def season_stats(tables: dict[str, pa.Table]) -> dict[tuple[str, str, str], int]:
    ids = dataset_ids(tables)
    patches = tables["patches"].select(["patch_id", "tile", "sensing_time"]).to_pandas()
    patches = patches[patches.patch_id.isin(ids)]
    country = tables["patch_country"].select(["patch_id", "country_code"]).to_pandas().set_index("patch_id")
    counts: dict[tuple[str, str, str], int] = {}
    for row in patches.itertuples():
        season = SEASONS[row.sensing_time.month]
        code = country.country_code.get(row.patch_id)
        code = "none" if code is None or pd.isna(code) else code
        for key in (("all", "all"), ("country", code), ("tile", row.tile)):
            counts[(*key, season)] = counts.get((*key, season), 0) + 1
    return counts


def label_stats(tables: dict[str, pa.Table]) -> tuple[dict[str, int], Decimal, int, int]:
    """(patches per label, average labels per labelled patch half-up to 2 decimals, max, labelled patches)."""
    labels = patch_labels(tables)
    labels = labels[labels.index.isin(dataset_ids(tables)) & (labels.label_count > 0)]
    freq: dict[str, int] = {}
    for ls in labels["labels"]:
        for label in ls:
            freq[label] = freq.get(label, 0) + 1
    avg = (Decimal(int(labels.label_count.sum())) / Decimal(len(labels))).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    return freq, avg, int(labels.label_count.max()), len(labels)


def overlap_counts(tables: dict[str, pa.Table]) -> dict[str, tuple[int, int]]:
    """scope value -> (patches, patches overlapping at least one other)."""
    ov = tables["patch_overlaps"].to_pandas()
    overlapping = set(ov.patch_id_a) | set(ov.patch_id_b)
    patches = tables["patches"].select(["patch_id", "tile"]).to_pandas()
    patches["o"] = patches.patch_id.isin(overlapping)
    out = {"all": (len(patches), int(patches.o.sum()))}
    for tile, group in patches.groupby("tile"):
        out[tile] = (len(group), int(group.o.sum()))
    return out


def band_stats(tables: dict[str, pa.Table]) -> dict[str, tuple[int, int, int, float, float]]:
    """band -> (n, sum, sum_sq, mean, std) with Python integers (exact), over dataset patches."""
    ids = dataset_ids(tables)
    acc = {b.name: [0, 0, 0] for b in BANDS}
    for p in tables["patches"].select(["patch_id", "band_stats"]).to_pylist():
        if p["patch_id"] not in ids:
            continue
        for s in p["band_stats"]:
            if s["band"] in acc:
                a = acc[s["band"]]
                a[0] += s["valid_count"]
                a[1] += s["sum"]
                a[2] += s["sum_sq"]
    out = {}
    for band, (n, total, total_sq) in acc.items():
        out[band] = (n, total, total_sq, total / n, math.sqrt(float(n * total_sq - total * total)) / n)
    return out


def concentric_split(tables: dict[str, pa.Table], shares: tuple[float, float, float] = (0.5, 0.25, 0.25)) -> dict:
    """reBEN squares by patch centroid: places from the tile centre outwards fill test, then validation."""
    _, validation, test = shares
    ids = dataset_ids(tables)
    patches = tables["patches"].select(["patch_id", "tile", "row", "col"]).to_pandas()
    patches = patches[patches.patch_id.isin(ids)]
    out = {}
    for _, group in patches.groupby("tile"):
        # Centroids in patch units from the tile origin, and their distance from the square's centre.
        cx, cy = group.col + 0.5, group.row + 0.5
        centre_x = (cx.min() + cx.max()) / 2
        centre_y = (cy.min() + cy.max()) / 2
        group = group.assign(d=np.maximum((cx - centre_x).abs(), (cy - centre_y).abs()))
        places = group.groupby(["row", "col"]).agg(d=("d", "max"), ids=("patch_id", list)).reset_index()
        places = places.sort_values(["d", "row", "col"])
        before = 0
        for pids in places["ids"]:
            split = (
                "test"
                if before < test * len(group)
                else "validation"
                if before < (test + validation) * len(group)
                else "train"
            )
            out.update(dict.fromkeys(pids, split))
            before += len(pids)
    return out


def blocks_split(
    tables: dict[str, pa.Table], block: int = 10, shares: tuple[float, float, float] = (0.5, 0.25, 0.25)
) -> dict[str, str]:
    """Spatial blocks stratified by dominant label, filled in md5 order of the block id."""
    import hashlib

    train, validation, _ = shares
    ids = dataset_ids(tables)
    labels = patch_labels(tables)["labels"]
    patches = tables["patches"].select(["patch_id", "tile", "row", "col"]).to_pandas()
    patches = patches[patches.patch_id.isin(ids)].copy()
    patches["block"] = list(zip(patches.tile, patches.row // block, patches.col // block, strict=True))
    blocks = []
    for key, group in patches.groupby("block"):
        counts: dict[str, int] = {}
        for pid in group.patch_id:
            for label in labels[pid]:
                counts[label] = counts.get(label, 0) + 1
        stratum = min(counts, key=lambda lab: (-counts[lab], lab)) if counts else "none"
        digest = hashlib.md5(f"{key[0]}/{key[1]}/{key[2]}".encode()).hexdigest()
        blocks.append((stratum, digest, key, list(group.patch_id)))
    out = {}
    for stratum in {b[0] for b in blocks}:
        members = sorted((b for b in blocks if b[0] == stratum), key=lambda b: b[1])
        total = sum(len(b[3]) for b in members)
        before = 0
        for _, _, _, pids in members:
            share = before / total
            split = "train" if share < train else "validation" if share < train + validation else "test"
            out.update(dict.fromkeys(pids, split))
            before += len(pids)
    return out
