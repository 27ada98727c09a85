"""Generate BigEarthNet-like datasets (v2 and v1 layouts) with known defects, for tests and bench/ben.py.

Patches are real single-band GeoTIFFs (uint16, UTM, 10/20/60 m, 120/60/20 px), georeferenced on the
tiling grid of the tiles they name, with pixel values drawn from a seeded generator. Defects are
injected where :class:`Defects` says, and :class:`Dataset` tells the tests where they are:

* ``wrong_size``: one 20 m band of the patch is 59 x 60 px;
* ``nodata``: a few pixels of B02 are 0 (NO_DATA);
* ``not_in_metadata``: the patch is on disk but has no metadata.parquet row (v2) / no json (v1);
* ``overlap``: the patch is also cut from a second product over the neighbouring tile's origin shifted
  by 600 m, so their footprints share interior (v2 only).
"""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import rasterio
from pyproj import CRS
from rasterio.transform import from_origin

from s2lake.ben_names import BenV1Name, PatchId
from s2lake.sentinel2 import BANDS, PATCH_SIZE_M
from s2lake.tiling_grid import tile_info

#: Tiles the generated patches lie in (Austria, Ireland).
TILES = (("33UUP", 22), ("29UPU", 80))
#: BigEarthNet 19-class labels the generator draws from, and v1 43-class (BigEarthNet spelling) ones.
V2_LABELS = ("Arable land", "Pastures", "Coniferous forest", "Mixed forest", "Transitional woodland, shrub")
V1_LABELS = ("Non-irrigated arable land", "Pastures", "Coniferous forest", "Peatbogs", "Transitional woodland/shrub")
CLC_CODES = (211, 231, 312, 313, 324)
#: Seasons the products are spread over (month, day).
DATES = ("20170613", "20170817", "20171221", "20180315")


@dataclass
class Defects:
    wrong_size: set[str] = field(default_factory=set)
    nodata: set[str] = field(default_factory=set)
    not_in_metadata: set[str] = field(default_factory=set)
    overlap: set[str] = field(default_factory=set)


@dataclass
class Dataset:
    root: Path
    version: int
    patch_ids: list[str]  # ids as the import names them (v2 ids; v1 -> mapped v2 ids)
    folders: dict[str, Path]  # patch id -> folder
    defects: Defects
    metadata: Path | None = None
    reference_maps: Path | None = None


def _write_band(path: Path, pixels: np.ndarray, epsg: int, ulx: float, uly: float, resolution: int) -> None:
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=pixels.shape[1],
        height=pixels.shape[0],
        count=1,
        dtype="uint16",
        crs=f"EPSG:{epsg}",
        transform=from_origin(ulx, uly, resolution, resolution),
    ) as dst:
        dst.write(pixels, 1)


def _write_patch(job: dict) -> None:
    """One patch folder (a worker job: plain data so that it pickles)."""
    rng = np.random.default_rng(job["seed"])
    folder = Path(job["folder"])
    folder.mkdir(parents=True, exist_ok=True)
    base = rng.integers(200, 3000)
    for band in BANDS:
        n = band.patch_pixels
        shape = (n - 1, n) if job["wrong_size"] and band.name == "B05" else (n, n)
        pixels = (base + rng.integers(0, 64, size=shape)).astype(np.uint16)
        if job["nodata"] and band.name == "B02":
            pixels[0, :7] = 0
        _write_band(
            folder / f"{job['name']}_{band.name}.tif", pixels, job["epsg"], job["ulx"], job["uly"], band.resolution
        )
    if job.get("json") is not None:
        (folder / f"{job['name']}_labels_metadata.json").write_text(json.dumps(job["json"]), encoding="utf-8")
    if job.get("map") is not None:
        codes = np.full((120, 120), CLC_CODES[job["seed"] % len(CLC_CODES)], dtype=np.uint16)
        codes[:, 60:] = CLC_CODES[(job["seed"] + 1) % len(CLC_CODES)]
        _write_band(Path(job["map"]), codes, job["epsg"], job["ulx"], job["uly"], 10)


def _run(jobs: list[dict], workers: int) -> None:
    if workers <= 1:
        for job in jobs:
            _write_patch(job)
        return
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        list(pool.map(_write_patch, jobs, chunksize=64))


def _every(ids: list[str], step: int, offset: int) -> set[str]:
    return {p for i, p in enumerate(ids) if step and i % step == offset}


def generate_v2(
    root: Path,
    patches: int,
    per_product: int = 100,
    seed: int = 0,
    workers: int = 1,
    reference_maps: bool = True,
    defect_every: int = 10,
) -> Dataset:
    """A v2 tree ``root/<product>/<patch_id>/`` + ``metadata.parquet`` + ``Reference_Maps``; every
    ``defect_every``-th patch gets one defect (0: none)."""
    jobs, ids, folders = [], [], {}
    for i in range(patches):
        p, k = divmod(i, per_product)
        tile, orbit = TILES[p % len(TILES)]
        info = tile_info(tile)
        pid = PatchId(
            "S2A",
            f"{DATES[p % len(DATES)]}T10{p // len(DATES) % 60:02d}31",
            "99.99",
            orbit,
            tile,
            k % 91,
            k // 91 + 3 * (p // len(TILES)) % 80,
        )
        name = str(pid)
        ids.append(name)
        folders[name] = root / "BigEarthNet-S2" / pid.prefix() / name
        jobs.append(
            {
                "name": name,
                "folder": str(folders[name]),
                "seed": seed * 1_000_003 + i,
                "epsg": info.epsg,
                "ulx": info.ulx + pid.col * PATCH_SIZE_M,
                "uly": info.uly - pid.row * PATCH_SIZE_M,
            }
        )
    defects = Defects(
        wrong_size=_every(ids, defect_every, 1),
        nodata=_every(ids, defect_every, 2),
        not_in_metadata=_every(ids, defect_every, 3),
        overlap=_every(ids, defect_every, 4),
    )
    extra = []
    for job in jobs:
        job["wrong_size"], job["nodata"] = job["name"] in defects.wrong_size, job["name"] in defects.nodata
        if reference_maps:
            job["map"] = str(
                root
                / "Reference_Maps"
                / Path(job["folder"]).relative_to(root / "BigEarthNet-S2")
                / f"{job['name']}_reference_map.tif"
            )
        if job["name"] in defects.overlap:  # the same ground, half a patch east, from a later product
            pid = PatchId.parse(job["name"])
            twin = PatchId(
                pid.mission, "2019" + pid.datatake[4:], pid.baseline, pid.relative_orbit, pid.tile, pid.col, pid.row
            )
            folder = root / "BigEarthNet-S2" / twin.prefix() / str(twin)
            extra.append(
                {
                    **job,
                    "name": str(twin),
                    "folder": str(folder),
                    "ulx": job["ulx"] + 600,
                    "map": None,
                    "seed": job["seed"] + 7,
                }
            )
            folders[str(twin)] = folder
            ids.append(str(twin))
    for job in jobs:
        if job.get("map"):
            Path(job["map"]).parent.mkdir(parents=True, exist_ok=True)
    _run(jobs + extra, workers)
    listed = [p for p in ids if p not in defects.not_in_metadata]
    rng = np.random.default_rng(seed)
    metadata = root / "metadata.parquet"
    pq.write_table(
        pa.table(
            {
                "patch_id": listed,
                "labels": [sorted(set(rng.choice(V2_LABELS, size=1 + i % 3).tolist())) for i in range(len(listed))],
                "split": [("train", "validation", "test")[i % 3] for i in range(len(listed))],
                "country": ["Austria" if "T33UUP" in p else "Ireland" for p in listed],
                "s1_name": [
                    f"S1A_IW_GRDH_1SDV_{p.split('_')[2]}_{p.split('_')[5][1:]}_{i}" for i, p in enumerate(listed)
                ],
                "s2v1_name": [None] * len(listed),
                "contains_seasonal_snow": [i % 17 == 0 for i in range(len(listed))],
                "contains_cloud_or_shadow": [i % 13 == 0 for i in range(len(listed))],
            }
        ),
        metadata,
    )
    return Dataset(root, 2, ids, folders, defects, metadata, root / "Reference_Maps" if reference_maps else None)


def generate_v1(root: Path, patches: int, seed: int = 0, workers: int = 1, defect_every: int = 5) -> Dataset:
    """A v1 flat tree ``root/<name>/`` with labels_metadata.json, including short-hour names
    (``T93020``); ``not_in_metadata`` patches have no json (they keep their v1 name as id)."""
    jobs, ids, folders, names = [], [], {}, []
    for i in range(patches):
        tile, orbit = TILES[i % len(TILES)]
        info = tile_info(tile)
        col, row = i // 2 % 91, i // 182 % 91
        time = "93020" if i % 4 == 0 else "101031"
        name = f"S2B_MSIL2A_{DATES[i % len(DATES)]}T{time}_{col}_{row}"
        v1 = BenV1Name.parse(name)
        names.append(name)
        folder = root / name
        meta = {
            "labels": sorted(set(np.random.default_rng(seed + i).choice(V1_LABELS, size=1 + i % 3).tolist())),
            "coordinates": {
                "ulx": info.ulx + col * 1200,
                "uly": info.uly - row * 1200,
                "lrx": info.ulx + col * 1200 + 1200,
                "lry": info.uly - row * 1200 - 1200,
            },
            "projection": tile_crs_wkt(info.epsg),
            "tile_source": f"S2B_MSIL1C_{DATES[i % len(DATES)]}T{time}_N0205_R{orbit:03d}_T{tile}_"
            f"{DATES[i % len(DATES)]}T120000.SAFE",
            "acquisition_date": f"{v1.sensing:%Y-%m-%d %H:%M:%S}",
        }
        jobs.append(
            {
                "name": name,
                "folder": str(folder),
                "seed": seed * 1_000_003 + i,
                "epsg": info.epsg,
                "ulx": info.ulx + col * 1200,
                "uly": info.uly - row * 1200,
                "json": meta,
            }
        )
        ids.append(str(v1.v2_id(tile, orbit)))
        folders[ids[-1]] = folder
    defects = Defects(wrong_size=_every(ids, defect_every, 1), nodata=_every(ids, defect_every, 2))
    no_json = _every(names, defect_every, 3)
    for job, pid in zip(jobs, ids, strict=True):
        job["wrong_size"], job["nodata"] = pid in defects.wrong_size, pid in defects.nodata
        if job["name"] in no_json:
            job["json"] = None
    for k, name in enumerate(names):  # without json the id stays the v1 name
        if name in no_json:
            folders[name] = folders.pop(ids[k])
            ids[k] = name
            defects.not_in_metadata.add(name)
    _run(jobs, workers)
    return Dataset(root, 1, ids, folders, defects)


def tile_crs_wkt(epsg: int) -> str:
    return CRS.from_epsg(epsg).to_wkt(version="WKT1_GDAL")
