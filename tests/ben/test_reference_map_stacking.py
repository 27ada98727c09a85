"""Reference maps polygonised together (s2lake.ben.reference_maps.polygonise stacks a chunk's maps into one
``shapes`` call) give, byte for byte, the rows of one rasterio ``shapes`` call per map with the map's own
transform: same regions, same order, same WKB. Maps of several sizes, fragmented regions with holes, a code
of 0, a non-integer pixel size, and an unreadable file in between."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
import shapely
from rasterio.features import shapes
from rasterio.transform import Affine

from s2lake.ben.reference_maps import polygonise


def _write(path: Path, codes: np.ndarray, transform: Affine, epsg: int) -> None:
    profile = {"driver": "GTiff", "height": codes.shape[0], "width": codes.shape[1], "count": 1, "dtype": "uint16"}
    with rasterio.open(path, "w", crs=f"EPSG:{epsg}", transform=transform, **profile) as dst:
        dst.write(codes.astype(np.uint16), 1)


def _one_call_per_map(path: Path) -> list[tuple[str, str, bytes, int]]:
    with rasterio.open(path) as src:
        codes, transform, epsg = src.read(1).astype(np.int32), src.transform, src.crs.to_epsg()
    pid = path.name.removesuffix("_reference_map.tif")
    return [
        (pid, str(int(v)), shapely.to_wkb(shapely.geometry.shape(g)), epsg)
        for g, v in shapes(codes, transform=transform)
    ]


def test_stacked_maps_give_the_rows_of_one_call_per_map(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    blocks = np.kron(rng.integers(0, 4, (12, 12)), np.ones((10, 10), int))  # blocky regions, some with holes
    maps = {
        "A": (blocks * 100 + 111, Affine(10, 0, 399960, 0, -10, 5000040), 32633),
        "B": (rng.integers(0, 3, (37, 53)) * 100 + 211, Affine(9.7, 0, 123456.789, 0, -9.7, 765432.1), 32632),
        "C": (np.where(blocks[:60, :60] == 1, 0, 312), Affine(20, 0, 500000, 0, -20, 4000000), 32631),
        "D": (np.full((120, 120), 523), Affine(10, 0, 401160, 0, -10, 5000040), 32633),
    }
    paths = []
    for name, (codes, transform, epsg) in maps.items():
        _write(tmp_path / f"{name}_reference_map.tif", codes, transform, epsg)
        paths.append(tmp_path / f"{name}_reference_map.tif")
    broken = tmp_path / "X_reference_map.tif"
    broken.write_bytes(b"II*\0 not a tiff")
    paths.insert(2, broken)

    table, problems = polygonise([str(p) for p in paths])

    expected = [row for p in paths if p != broken for row in _one_call_per_map(p)]
    assert len(expected) > 200  # fragmented maps: many regions
    got = table.select(["patch_id", "clc_code", "geometry", "epsg"]).to_pylist()
    assert [(r["patch_id"], r["clc_code"], r["geometry"], r["epsg"]) for r in got] == expected
    assert len(problems) == 1 and problems[0].startswith(f"{broken}: reference map unreadable")
    parts = table.select(["patch_id", "clc_code", "part"]).to_pylist()
    seen: dict[tuple[str, str], int] = {}
    for r in parts:  # parts number each patch's regions of one code 0, 1, 2... in order
        key = (r["patch_id"], r["clc_code"])
        assert r["part"] == seen.get(key, 0)
        seen[key] = r["part"] + 1
