"""Every figure of `s2lake ben report`, computed from the dataset's FILES (band GeoTIFFs and reference maps
read with rasterio, labels from metadata.parquet and labels_metadata.json), following the issue's
definitions: nothing here reads a table or shares code with the import or the marts."""

from __future__ import annotations

import csv
import gzip
import json
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import rasterio

from s2lake.shipped_data import CODELISTS

#: Band order of the printed block and each band's edge in pixels (10 m: 120, 20 m: 60, 60 m: 20).
EDGES = {
    "B01": 20, "B02": 120, "B03": 120, "B04": 120, "B05": 60, "B06": 60,
    "B07": 60, "B08": 120, "B8A": 60, "B09": 20, "B11": 60, "B12": 60,
}  # fmt: skip
SEASON = (
    {12: "winter", 1: "winter", 2: "winter", 3: "spring", 4: "spring", 5: "spring"}
    | {m: "summer" for m in (6, 7, 8)}
    | {m: "fall" for m in (9, 10, 11)}
)
SENSING_DATE = re.compile(r"_\d{4}(\d{2})\d{2}T")


@dataclass
class PatchFiles:
    patch_id: str
    folder: Path
    wrong_size: bool
    nodata: bool
    month: int
    epsg: int
    bounds: tuple[float, float, float, float]  # left, bottom, right, top
    valid: dict[str, np.ndarray]  # band -> valid (non-zero) pixels as int64


def read_patch(patch_id: str, folder: Path) -> PatchFiles:
    valid, wrong, nodata = {}, False, False
    for band, edge in EDGES.items():
        with rasterio.open(folder / f"{folder.name}_{band}.tif") as src:
            pixels = src.read(1).astype(np.int64)
            if band == "B02":
                epsg, bounds = src.crs.to_epsg(), tuple(src.bounds)
        wrong |= pixels.shape != (edge, edge)
        nodata |= bool((pixels == 0).any())
        valid[band] = pixels[pixels != 0]
    month = int(SENSING_DATE.search(folder.name).group(1))
    return PatchFiles(patch_id, folder, wrong, nodata, month, epsg, bounds, valid)


def labels_of(dataset_dir: Path, folders: dict[str, Path]) -> dict[str, list[str]]:
    """Patch id -> labels: metadata.parquet rows (matched by patch_id) win over a v1 folder's json."""
    out: dict[str, list[str]] = {}
    for patch_id, folder in folders.items():
        meta = folder / f"{folder.name}_labels_metadata.json"
        if meta.is_file():
            out[patch_id] = json.loads(meta.read_text(encoding="utf-8"))["labels"]
    parquet = dataset_dir / "metadata.parquet"
    if parquet.is_file():
        for row in pq.read_table(parquet, columns=["patch_id", "labels"]).to_pylist():
            out[row["patch_id"]] = row["labels"]
    return out


def _half_up(value: Decimal, places: str) -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _average(total: int, count: int) -> str:
    return str(_half_up(Decimal(total) / Decimal(count), "0.01")) if count else "0.00"


def reference_label_counts(maps: dict[str, Path]) -> list[int]:
    """19-class labels per reference map raster (codes of its pixels mapped through the code lists)."""
    ben19 = {int(r["ben19_id"]): r["ben19_label"] for r in csv.DictReader((CODELISTS / "ben19_classes.csv").open())}
    code_to = {
        int(r["clc_code"]): ben19[int(r["ben19_id"])]
        for r in csv.DictReader((CODELISTS / "clc_to_ben19.csv").open())
        if r["ben19_id"]
    }
    counts = []
    for path in maps.values():
        with rasterio.open(path) as src:
            codes = np.unique(src.read(1))
        counts.append(len({code_to[int(c)] for c in codes if int(c) in code_to}))
    return counts


def overlapping(patches: list[PatchFiles]) -> int:
    """Patches sharing interior points with another of the same CRS (open intervals on both axes)."""
    e = np.array([p.epsg for p in patches])[:, None]
    x0, y0, x1, y1 = (np.array([p.bounds[i] for p in patches])[:, None] for i in range(4))
    hit = (e == e.T) & (x0 < x1.T) & (x1 > x0.T) & (y0 < y1.T) & (y1 > y0.T)
    np.fill_diagonal(hit, False)
    return int(hit.any(axis=1).sum())


def figures(
    dataset_dir: Path, folders: dict[str, Path], maps: dict[str, Path], stats_ids: set[str] | None = None
) -> list[tuple[str, str]]:
    patches = [read_patch(pid, folder) for pid, folder in sorted(folders.items())]
    labels = labels_of(dataset_dir, folders)
    dataset = [p for p in patches if not p.wrong_size and not p.nodata and p.patch_id in labels and labels[p.patch_id]]
    counts = [len(labels[p.patch_id]) for p in dataset]
    seasons = [SEASON[p.month] for p in dataset]
    listed = dataset if stats_ids is None else [p for p in patches if p.patch_id in stats_ids]
    bands = []
    for band in EDGES:
        values = [p.valid[band] for p in listed]
        n = sum(len(v) for v in values)
        total = sum(int(v.sum()) for v in values)
        total_sq = sum(int((v * v).sum()) for v in values)
        if n == 0:
            bands += [(f"{band} mean", "n/a"), (f"{band} std-dev", "n/a")]
            continue
        std = Decimal(n * total_sq - total * total).sqrt() / Decimal(n)
        bands += [
            (f"{band} mean", str(int(_half_up(Decimal(total) / Decimal(n), "1")))),
            (f"{band} std-dev", str(int(_half_up(std, "1")))),
        ]
    geom = [c for c in reference_label_counts(maps) if c > 0]
    return [
        *((s, str(seasons.count(s))) for s in ("spring", "summer", "fall", "winter")),
        ("average-num-labels", _average(sum(counts), len(counts))),
        ("maximum-num-labels", str(max(counts, default=0))),
        ("wrong-size", str(sum(p.wrong_size for p in patches))),
        ("with-no-data", str(sum(p.nodata for p in patches))),
        ("not-part-of-dataset", str(sum(p.patch_id not in labels for p in patches))),
        *bands,
        ("geom-average-num-labels", _average(sum(geom), len(geom))),
        ("geom-num-overlaps", str(overlapping(patches))),
    ]


def dataset_ids(dataset_dir: Path, folders: dict[str, Path]) -> set[str]:
    labels = labels_of(dataset_dir, folders)
    return {
        pid
        for pid, folder in folders.items()
        if labels.get(pid) and not (p := read_patch(pid, folder)).wrong_size and not p.nodata
    }


def write_id_list(path: Path, ids: list[str]) -> Path:
    with gzip.open(path, "wt", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["patch_id"], *([i] for i in ids)])
    return path
