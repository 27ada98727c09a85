"""Small true-colour PNGs of sample patches (B04, B03, B02), as data: URIs the page embeds.

Each is the 120x120 px 10 m patch averaged 2x2 to 60x60 and stretched between the 2nd and 98th percentile
of its valid pixels (NO_DATA stays black): about 10 kB each, encoded by :mod:`s2lake.png` as the shards'
thumbnails are.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import duckdb
import numpy as np

from s2lake.png import encode_rgb
from s2lake.sentinel2 import BANDS

PER_LABEL = 4
EDGE = next(b.patch_pixels for b in BANDS if b.name == "B02")


@dataclass
class Quicklook:
    patch_id: str
    uri: str


def quicklooks(con: duckdb.DuckDBPyConnection) -> list[tuple[str, list[Quicklook]]]:
    """Up to :data:`PER_LABEL` patches per dominant label of the selection (a fixed pseudo-random pick:
    ``hash(patch_id)``), labels in order of frequency; only those patches' pixels are read."""
    con.execute(
        "CREATE TEMP TABLE samples AS SELECT patch_id, dominant_label, "
        "count(*) OVER (PARTITION BY dominant_label) AS n FROM selected "
        f"QUALIFY row_number() OVER (PARTITION BY dominant_label ORDER BY hash(patch_id), patch_id) <= {PER_LABEL}"
    )
    rows = con.execute(
        "SELECT s.dominant_label, s.patch_id, p.b04, p.b03, p.b02 FROM samples AS s "
        "JOIN patches AS p ON p.patch_id = s.patch_id ORDER BY s.n DESC, s.dominant_label, s.patch_id"
    ).fetchall()
    grid: dict[str, list[Quicklook]] = {}
    for label, patch_id, *rgb in rows:
        grid.setdefault(label, []).append(Quicklook(patch_id, _png_uri(rgb)))
    return list(grid.items())


def _png_uri(bands: list[list[int] | None]) -> str:
    if any(b is None or len(b) != EDGE * EDGE for b in bands):
        rgb = np.zeros((3, EDGE // 2, EDGE // 2), np.uint8)  # a band not at its shape: drawn black
    else:
        dn = np.array(bands, dtype=np.float64).reshape(3, EDGE // 2, 2, EDGE // 2, 2)
        valid = (dn > 0).all(axis=(0, 2, 4))
        small = dn.mean(axis=(2, 4))
        low, high = np.percentile(small[:, valid], [2, 98]) if valid.any() else (0.0, 1.0)
        scaled = np.clip((small - low) / max(high - low, 1.0) * 255, 0, 255)
        rgb = np.where(valid, scaled, 0).astype(np.uint8)
    return "data:image/png;base64," + base64.b64encode(encode_rgb(rgb.transpose(1, 2, 0))).decode("ascii")
