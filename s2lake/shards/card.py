"""The dataset card (``README.md`` in OUT): what the shards hold, in which order, and how to normalise.

Everything on it comes from the index and the ``band_stats`` mart, so it is as deterministic as the
shards (no dates, no paths of the machine that wrote it).
"""

from __future__ import annotations

from s2lake.shards.layout import (
    INDEX_FILE,
    ROW_GROUP_PATCHES,
    THUMBNAIL_MAX_DN,
    THUMBNAIL_PIXELS,
    parquet_schema,
)

_LOADER = """```python
from s2lake.datasets import Shards

for sample in Shards("OUT", split="train", shuffle=True, seed=0, stack="bilinear"):
    image, target = sample["image"], sample["label_vector"]  # (12, 120, 120) uint16, (19,) uint8
```"""


def dataset_card(index: dict, stats: list[dict[str, object]] | None) -> str:
    label_names: list[str] = index["label_names"]
    lines = [
        "# Sentinel-2 patch shards (s2lake)",
        "",
        f"{index['patches']} patches of 1200 m in {len(index['shards'])} {index['format']} shards, sorted by "
        f"patch id; `{INDEX_FILE}` lists each shard with its rows, SHA-256, splits and label counts.",
        "",
        "## Splits",
        "",
        "| split | patches |",
        "|---|---|",
        *(f"| {name} | {count} |" for name, count in index["splits"].items()),
        "",
        "## Bands (order of the columns and of a stacked image)",
        "",
        "| position | band | resolution (m) | pixels |",
        "|---|---|---|---|",
        *(
            f"| {i} | {b['name']} | {b['resolution_m']} | {b['pixels']} x {b['pixels']} |"
            for i, b in enumerate(index["bands"])
        ),
        "",
        "Digital numbers as uint16 (SCL: uint8 scene classes), 0 = NO_DATA; reflectance = (DN + BOA_ADD_OFFSET) "
        "/ 10000 with the offset of the product (processing baseline 04.00 and later: -1000).",
        "",
        "## Normalisation statistics (band_stats mart, valid pixels only)",
        "",
    ]
    if stats:
        lines += ["| band | resolution (m) | valid pixels | mean | std |", "|---|---|---|---|---|"]
        lines += [
            f"| {r['band']} | {r['resolution_m']} | {r['valid_pixels']} | {r['mean']:.4f} | {r['std']:.4f} |"
            for r in stats
        ]
    else:
        lines.append("Not available: the band_stats mart was not built (`s2lake models build`).")
    lines += [
        "",
        "## Labels (BigEarthNet-19; position in `label_vector`)",
        "",
        "| position | label | patches |",
        "|---|---|---|",
        *(f"| {i} | {name} | {index['label_counts'].get(name, 0)} |" for i, name in enumerate(label_names)),
        "",
        "## Schema",
        "",
    ]
    if index["format"] == "parquet":
        lines += [
            f"One row per patch, row groups of {ROW_GROUP_PATCHES} patches, ZSTD.",
            "",
            "| column | type | description |",
            "|---|---|---|",
        ]
        lines += [
            f"| `{f.name}` | `{f.type}` | {f.metadata[b'description'].decode()} |" for f in parquet_schema(label_names)
        ]
    else:
        lines += [
            "WebDataset tar shards, one sample per patch keyed by the patch id: `<id>.<band>.npy` (2-D uint16 at "
            "the band's resolution, `scl` uint8), `<id>.json` (the metadata columns of the Parquet format, "
            "footprint as hex WKB) and `<id>.png` (thumbnail).",
        ]
    lines += [
        "",
        f"Thumbnail: RGB = B04, B03, B02, {THUMBNAIL_PIXELS} x {THUMBNAIL_PIXELS} px (nearest), "
        f"DN 0..{THUMBNAIL_MAX_DN} stretched linearly to 0..255 and clipped.",
        "",
        "## Loading",
        "",
        _LOADER,
        "",
    ]
    return "\n".join(lines)
