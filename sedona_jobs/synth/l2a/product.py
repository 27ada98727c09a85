"""Write a complete synthetic Level-2A product: layout, bands (in parallel), metadata, atomically."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pyproj

from s2lake.errors import ConfigError
from s2lake.sentinel2 import BANDS, MISSIONS, SCL, TILE_PIXELS
from s2lake.tiling_grid import TileInfo, tile_info
from sedona_jobs.synth.l2a.bands import BandTask, write_band
from sedona_jobs.synth.l2a.metadata import ProductFacts, manifest_xml, product_xml, tile_xml
from sedona_jobs.synth.l2a.naming import ProductNames
from sedona_jobs.synth.l2a.scene import make_scene

log = logging.getLogger(__name__)

#: Resampled copies ESA adds to R20m and R60m (besides the native bands), per its file lists.
RESAMPLED = {20: ("B01", "B02", "B03", "B04"), 60: ("B02", "B03", "B04", "B05", "B06", "B07", "B8A", "B11", "B12")}
#: Below this size a process pool costs more (worker start-up) than it saves.
INLINE_PIXELS = 2400
#: Empty folders of a real product that we have nothing to put in (kept so the layout is ESA's).
EMPTY_FOLDERS = ("AUX_DATA", "HTML", "rep_info")


def band_layers(all_resolutions: bool) -> list[tuple[str, int]]:
    """(layer, resolution) of every band file, in ESA's IMAGE_FILE order: R10m, R20m, R60m."""
    files = [(b.name, b.resolution) for b in BANDS] + [(SCL.name, 20), (SCL.name, 60)]
    if all_resolutions:
        files += [(name, res) for res, names in RESAMPLED.items() for name in names]
    order = {name: i for i, name in enumerate([b.name for b in BANDS] + [SCL.name])}
    return sorted(files, key=lambda f: (f[1], order[f[0]]))


def _validate(pixels: int, nodata_fraction: float, cloud: float, mission: str, baseline: str) -> None:
    if not (60 <= pixels <= TILE_PIXELS[10] and pixels % 6 == 0):
        raise ConfigError(
            f"--pixels {pixels} is invalid",
            where="--pixels",
            fix=f"give a multiple of 6 between 60 and {TILE_PIXELS[10]} (so 20 m and 60 m bands stay aligned)",
        )
    if not 0 <= nodata_fraction <= 1:
        raise ConfigError(f"--nodata-fraction {nodata_fraction} is invalid", fix="give a fraction from 0 to 1")
    if not 0 <= cloud <= 100:
        raise ConfigError(f"--cloud {cloud} is invalid", fix="give a percentage from 0 to 100")
    if mission not in MISSIONS:
        raise ConfigError(f"--mission {mission} is invalid", fix=f"give one of {', '.join(MISSIONS)}")
    if not re.fullmatch(r"\d{2}\.\d{2}", baseline):
        raise ConfigError(f"--baseline {baseline!r} is invalid", fix="give it as ESA writes it, e.g. 05.10")


def write_l2a(
    out_dir: str | Path,
    *,
    tile: str = "33UUU",
    date: date | str = "2018-05-10",
    pixels: int = TILE_PIXELS[10],
    nodata_fraction: float = 0.0,
    seed: int = 0,
    mission: str = "S2A",
    baseline: str = "05.10",
    cloud: float = 10.0,
    all_resolutions: bool = False,
    workers: int | None = None,
    on_file: Callable[[str], None] | None = None,
) -> Path:
    """Write a synthetic L2A product into ``out_dir`` and return the ``.SAFE`` folder.

    The product is assembled in a hidden staging folder and renamed into place at the very end, so
    an interrupted run never leaves something that looks like a complete product. ``on_file`` is
    called with each band's file name as it is finished (progress bars).
    """
    _validate(pixels, nodata_fraction, cloud, mission, baseline)
    day = _parse_date(date)
    info = tile_info(tile)
    extent = pixels * 10.0
    to_lonlat = pyproj.Transformer.from_crs(info.epsg, 4326, always_xy=True)
    corners = [(info.ulx, info.uly), (info.ulx + extent, info.uly), (info.ulx + extent, info.uly - extent)]
    corners += [(info.ulx, info.uly - extent), (info.ulx, info.uly)]
    lonlat = [to_lonlat.transform(x, y) for x, y in corners]
    lon, lat = to_lonlat.transform(info.ulx + extent / 2, info.uly - extent / 2)

    names = ProductNames.plan(mission, info.tile, day, baseline, lon, seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    final = out / f"{names.product_id}.SAFE"
    if final.exists():
        raise ConfigError(
            "the product already exists", where=str(final), fix="delete it, or choose another --seed or --date"
        )
    staging = out / f".{final.name}.partial-{os.getpid()}"
    try:
        _write(
            staging, names, info, pixels, nodata_fraction, seed, cloud, lat, lonlat, all_resolutions, workers, on_file
        )
        staging.rename(final)
    except BaseException:  # Ctrl-C included: never leave a half product behind
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.debug("synthesised %s (%d px, seed %d)", final, pixels, seed)
    return final


def _parse_date(value: date | str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"--date {value!r} is not a date", fix="give it as YYYY-MM-DD, e.g. 2018-05-10") from None


def _write(
    staging: Path,
    names: ProductNames,
    info: TileInfo,
    pixels: int,
    nodata_fraction: float,
    seed: int,
    cloud: float,
    latitude: float,
    lonlat: list[tuple[float, float]],
    all_resolutions: bool,
    workers: int | None,
    on_file: Callable[[str], None] | None,
) -> None:
    granule = staging / "GRANULE" / names.granule
    for folder in ("IMG_DATA/R10m", "IMG_DATA/R20m", "IMG_DATA/R60m", "QI_DATA", "AUX_DATA"):
        (granule / folder).mkdir(parents=True)
    (staging / "DATASTRIP" / names.datastrip / "QI_DATA").mkdir(parents=True)
    for folder in EMPTY_FOLDERS:
        (staging / folder).mkdir()
    scene_dir = staging / "_scene"  # removed before the rename: never part of the product
    scene_dir.mkdir()
    scene = make_scene(pixels, seed, nodata_fraction, cloud, latitude)
    scene.save(scene_dir)

    dn_offset = 1000 if names.baseline >= "04.00" else 0
    layers = band_layers(all_resolutions)
    entries = [names.image_file(layer, res) for layer, res in layers]
    tasks = [
        BandTask(
            layer, res, str(staging / f"{entry}.jp2"), str(scene_dir), seed, dn_offset, info.epsg, info.ulx, info.uly
        )
        for (layer, res), entry in zip(layers, entries, strict=True)
    ]
    files = _write_bands(tasks, pixels, workers, on_file)

    counts = np.zeros(256, np.int64)
    for row in range(0, scene.size20, 1024):
        counts += np.bincount(scene.scl(row, min(1024, scene.size20 - row)).ravel(), minlength=256)
    facts = ProductFacts(
        names=names,
        epsg=info.epsg,
        ulx=info.ulx,
        uly=info.uly,
        pixels=pixels,
        footprint_latlon=[(lat, lon) for lon, lat in lonlat],
        class_counts={c: int(n) for c, n in enumerate(counts) if n},
        image_files=entries,
        dn_offset=dn_offset,
    )
    shutil.rmtree(scene_dir)
    (granule / "MTD_TL.xml").write_bytes(tile_xml(facts, latitude))
    (staging / "MTD_MSIL2A.xml").write_bytes(product_xml(facts))
    listed = [(str(Path(p).relative_to(staging)), size, md5) for p, size, md5 in files]
    listed += [_describe(staging, rel) for rel in ("MTD_MSIL2A.xml", f"GRANULE/{names.granule}/MTD_TL.xml")]
    (staging / "manifest.safe").write_bytes(manifest_xml(names, listed))


def _describe(root: Path, rel: str) -> tuple[str, int, str]:

    data = (root / rel).read_bytes()
    return rel, len(data), hashlib.md5(data, usedforsecurity=False).hexdigest()


def _write_bands(
    tasks: list[BandTask], pixels: int, workers: int | None, on_file: Callable[[str], None] | None
) -> list[tuple[str, int, str]]:
    """Largest files first, one band per worker process: JPEG 2000 encoding is single-threaded."""
    ordered = sorted(tasks, key=lambda t: t.resolution)
    if workers is None:
        workers = 1 if pixels <= INLINE_PIXELS else os.cpu_count() or 1
    results = []
    if workers == 1:
        for task in ordered:
            results.append(write_band(task))
            if on_file:
                on_file(Path(task.path).name)
        return results
    # spawn, not fork: the parent may hold GDAL/threads (progress bars) that must not be duplicated.
    with ProcessPoolExecutor(max_workers=min(workers, len(ordered)), mp_context=get_context("spawn")) as pool:
        for task, result in zip(ordered, pool.map(write_band, ordered), strict=True):
            results.append(result)
            if on_file:
                on_file(Path(task.path).name)
    return results
