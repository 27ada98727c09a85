"""Render one band of a synthetic product and encode it as ESA does: lossless JPEG 2000, uint16.

Runs in a worker process (one band per task, largest first) because JPEG 2000 encoding is the
expensive part and OpenJPEG encodes one image on one core.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

from sedona_jobs.synth.l2a.scene import BAND_INDEX, Scene

#: JPEG 2000 tiles of 1024 x 1024 px, as in ESA's products. A windowed read decodes only the tiles it
#: touches: a strip of 10 patch rows (1200 px at 10 m) touches two tile rows, whose decoded blocks
#: GDAL keeps in its cache for the next strip, so each tile is decoded about once. Much smaller
#: tiles add per-tile overhead to every decode; one tile for the whole band would make every
#: windowed read decode the full 10980 x 10980 image.
BLOCK = 1024
#: 20 m rows rendered at once: a multiple of 3 (60 m) and 2 (10 m), ~50 MB of float32 at 10 m.
STRIP20 = 510
#: Sensor + retrieval noise, in reflectance (about 30 DN), so neighbouring pixels differ as in real data.
NOISE = 0.003


@dataclass(frozen=True)
class BandTask:
    layer: str  # "B02" ... "B12" or "SCL"
    resolution: int  # of the file written (native, or a resampled copy)
    path: str  # destination .jp2
    scene_dir: str  # where Scene.save put the landscape
    seed: int
    dn_offset: int  # 1000 for baselines >= 04.00 (BOA_ADD_OFFSET = -1000), else 0
    epsg: int
    ulx: float
    uly: float


def render(task: BandTask, scene: Scene) -> np.ndarray:
    """The band's digital numbers (uint16), built strip by strip so temporaries stay small."""
    size = scene.pixels * 10 // task.resolution
    out = np.empty((size, size), np.uint16)
    for row20 in range(0, scene.size20, STRIP20):
        rows20 = min(STRIP20, scene.size20 - row20)
        row, rows = row20 * 20 // task.resolution, rows20 * 20 // task.resolution
        out[row : row + rows] = _strip(task, scene, row20, rows20, row, rows)
    return out


def _strip(task: BandTask, scene: Scene, row20: int, rows20: int, row: int, rows: int) -> np.ndarray:
    if task.layer == "SCL":
        scl = scene.scl(row20, rows20)
        # ESA resamples SCL to 60 m by nearest neighbour: the centre 20 m pixel of each 3 x 3 block.
        return scl if task.resolution == 20 else scl[1::3, 1::3][:rows, : scene.pixels // 6]
    refl = scene.reflectance(BAND_INDEX[task.layer], row20, rows20)
    if task.resolution == 10:  # nearest-neighbour 2 x 2 by broadcasting: no temporary copies
        fine = np.empty((rows, refl.shape[1] * 2), np.float32)
        fine.reshape(rows20, 2, refl.shape[1], 2)[...] = refl[:, None, :, None]
        refl = fine
    elif task.resolution == 60:
        cols = scene.size20 // 3
        refl = refl[: rows * 3, : cols * 3].reshape(rows, 3, cols, 3).mean(axis=(1, 3), dtype=np.float32)
    # Seeded per band and strip: identical output whatever the worker count and scheduling.
    rng = np.random.default_rng([task.seed, BAND_INDEX[task.layer], task.resolution, row20])
    refl += rng.standard_normal(refl.shape, dtype=np.float32) * np.float32(NOISE)
    refl *= 10000
    refl += task.dn_offset
    np.rint(refl, out=refl)
    np.clip(refl, 1, 65534, out=refl)
    dn = refl.astype(np.uint16)
    for r, count in enumerate(scene.nodata_columns(task.resolution, row, rows)):
        dn[r, :count] = 0
    return dn


def write_band(task: BandTask) -> tuple[str, int, str]:
    """Render and write one band; return its path, size in bytes and MD5 (for manifest.safe)."""
    scene = Scene.load(Path(task.scene_dir))
    data = render(task, scene)
    profile = {
        "driver": "JP2OpenJPEG",
        "width": data.shape[1],
        "height": data.shape[0],
        "count": 1,
        "dtype": "uint16",
        "crs": f"EPSG:{task.epsg}",
        "transform": from_origin(task.ulx, task.uly, task.resolution, task.resolution),
        "REVERSIBLE": "YES",
        "QUALITY": "100",
    }
    if data.shape[0] > BLOCK:  # smaller images are one tile (GDAL refuses tiles under 32 px)
        profile |= {"BLOCKXSIZE": str(BLOCK), "BLOCKYSIZE": str(BLOCK)}
    with rasterio.open(task.path, "w", **profile) as dst:
        dst.write(data, 1)
    digest = hashlib.md5(usedforsecurity=False)
    with open(task.path, "rb") as fh:
        while chunk := fh.read(8 << 20):
            digest.update(chunk)
    return task.path, Path(task.path).stat().st_size, digest.hexdigest()
