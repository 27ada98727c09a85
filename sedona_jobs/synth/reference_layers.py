"""CLC-like and NUTS-like polygon layers for tests, benchmarks and the demo (no real CLC/NUTS needed).

Real CLC/NUTS files are large downloads that tests cannot rely on, so this generator produces
layers with the properties that make spatial joins hard:

* a full, gap-free partition of the box (Voronoi cells of random seeds, clipped to the box), so
  neighbouring polygons share borders exactly as CLC polygons do;
* noisy, densified edges with realistic vertex counts: every vertex is moved by one smooth
  displacement field of its position, so a border shared by two cells moves identically on both
  sides and the partition stays gap-free;
* holes and multipolygons: some cells get an island of another class cut out of them (a hole in
  the cell, the island a polygon of its own), and islands of the same class are grouped into
  multipolygon features.

All coordinates are EPSG:3035 (easting, northing) metres.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely

from s2lake.errors import ReferenceDataError
from sedona_jobs.reference.codelists import clc_codes

BBox = tuple[float, float, float, float]

#: Country codes and names the NUTS-like generator draws from (EU/EFTA NUTS CNTR_CODE spelling).
COUNTRIES = (
    ("DE", "Deutschland"),
    ("FR", "France"),
    ("AT", "Österreich"),
    ("PL", "Polska"),
    ("CZ", "Česko"),
    ("IT", "Italia"),
    ("ES", "España"),
    ("PT", "Portugal"),
    ("NL", "Nederland"),
    ("BE", "Belgique/België"),
    ("DK", "Danmark"),
    ("SE", "Sverige"),
    ("FI", "Suomi/Finland"),
    ("IE", "Éire/Ireland"),
    ("HU", "Magyarország"),
)


#: Rough shares (percent) of the commonest CLC classes in Europe, so that generated layers look like
#: land cover (mostly arable land, pasture and forest); every other class gets 0.2.
CODE_WEIGHTS = {"211": 24, "312": 12, "231": 10, "311": 8, "313": 6, "242": 5, "243": 5, "112": 4, "324": 4,
                "321": 3, "512": 2, "322": 2, "221": 1, "222": 1, "223": 1, "333": 1, "121": 1}  # fmt: skip


def _check(bbox: BBox, count: int) -> None:
    xmin, ymin, xmax, ymax = bbox
    if not (xmax > xmin and ymax > ymin):
        raise ReferenceDataError(
            f"bbox {bbox} is empty", fix="give --bbox XMIN YMIN XMAX YMAX with XMIN<XMAX, YMIN<YMAX"
        )
    if not (xmin >= 1_000_000 and xmax <= 8_000_000 and ymin >= 1_000_000 and ymax <= 6_000_000):
        raise ReferenceDataError(
            f"bbox {bbox} is not in EPSG:3035 metres over Europe",
            fix="give easting/northing in EPSG:3035, e.g. 4300000 2900000 4400000 3000000",
        )
    if count < 1:
        raise ReferenceDataError(f"count must be at least 1, got {count}", fix="pass --count N with N >= 1")


def voronoi_cells(bbox: BBox, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` Voronoi cells of random seeds, clipped to ``bbox``, in seed order."""
    xmin, ymin, xmax, ymax = bbox
    seeds = np.column_stack([rng.uniform(xmin, xmax, count), rng.uniform(ymin, ymax, count)])
    box = shapely.box(*bbox)
    if count == 1:
        return np.array([box], dtype=object)
    cells = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=box, ordered=True)
    return shapely.intersection(shapely.get_parts(cells), box)


def _displacement(amplitude: float, wavelength: float, rng: np.random.Generator, bbox: BBox) -> Any:
    """A smooth displacement field (sum of sinusoids); its slope stays < 1, so rings never fold."""
    k = rng.uniform(0.5, 1.5, size=(4, 2)) * (2 * np.pi / wavelength)
    phase = rng.uniform(0, 2 * np.pi, size=(4, 2))
    xmin, ymin, xmax, ymax = bbox
    amp = amplitude / 4

    def move(coords: np.ndarray) -> np.ndarray:
        x, y = coords[:, 0], coords[:, 1]
        dx = sum(np.sin(k[i, 0] * x + k[i, 1] * y + phase[i, 0]) for i in range(4)) * amp
        dy = sum(np.sin(k[i, 1] * x - k[i, 0] * y + phase[i, 1]) for i in range(4)) * amp
        # The displacement fades out towards the box edges, so the layer still covers exactly the box.
        fade_x = np.clip(np.minimum(x - xmin, xmax - x) / wavelength, 0, 1)
        fade_y = np.clip(np.minimum(y - ymin, ymax - y) / wavelength, 0, 1)
        return np.column_stack([x + dx * fade_x, y + dy * fade_y])

    return move


def noisy_partition(bbox: BBox, count: int, vertices: int, seed: int) -> np.ndarray:
    """Voronoi partition with densified, noisy shared borders (about ``vertices`` per cell)."""
    rng = np.random.default_rng(seed)
    cells = voronoi_cells(bbox, count, rng)
    cell_size = float(np.sqrt((bbox[2] - bbox[0]) * (bbox[3] - bbox[1]) / count))
    perimeter = 4 * cell_size  # a typical cell has about 6 edges over ~4 cell sizes of perimeter
    cells = shapely.segmentize(cells, max(perimeter / max(vertices, 6), 1.0))
    # Amplitude and wavelength scale with the cell so that the slope (2*pi*A/L ~ 0.3) keeps rings simple.
    move = _displacement(amplitude=cell_size * 0.08, wavelength=cell_size * 1.6, rng=rng, bbox=bbox)
    return shapely.make_valid(shapely.transform(cells, move), method="structure", keep_collapsed=False)


def synth_clc(bbox: BBox, count: int, *, vertices: int = 48, seed: int = 0, island_share: float = 0.1) -> Any:
    """A CLC-like GeoDataFrame: ``count`` features (``code_18``, geometry) covering ``bbox``."""
    # lazy: geopandas costs ~2 s to import; only writing a layer needs it
    import geopandas as gpd

    _check(bbox, count)
    rng = np.random.default_rng(seed + 1)
    islands_n = int(count * island_share) // 2 * 2  # islands come in pairs (one multipolygon per pair)
    cells_n = max(count - islands_n // 2, 1)
    cells = noisy_partition(bbox, cells_n, vertices, seed)
    codes = np.array(clc_codes())
    weights = np.array([CODE_WEIGHTS.get(c, 0.2) for c in codes])
    weights /= weights.sum()
    cell_codes = rng.choice(codes, size=cells_n, p=weights)
    if islands_n:
        hosts = rng.choice(cells_n, size=islands_n, replace=False)
        centres = shapely.point_on_surface(cells[hosts])
        # Pair islands of nearby cells (serpentine over bands of a coarse grid): real multipolygons are local.
        xy = shapely.get_coordinates(centres)
        band = np.floor((xy[:, 1] - bbox[1]) / (np.sqrt((bbox[2] - bbox[0]) * (bbox[3] - bbox[1]) / cells_n) * 3))
        order = np.lexsort((np.where(band % 2 == 0, xy[:, 0], -xy[:, 0]), band))
        hosts, centres = hosts[order], centres[order]
        radius = np.sqrt(shapely.area(cells[hosts]) / np.pi) * rng.uniform(0.15, 0.3, islands_n)
        islands = shapely.intersection(shapely.buffer(centres, radius, quad_segs=8), cells[hosts])
        cells[hosts] = shapely.difference(cells[hosts], islands)  # the island becomes a hole
        pair_codes = rng.choice(codes, size=islands_n // 2, p=weights)
        multi = shapely.multipolygons(
            [shapely.get_parts([islands[2 * i], islands[2 * i + 1]]) for i in range(islands_n // 2)]
        )
        geoms = np.concatenate([cells, multi])
        all_codes = np.concatenate([cell_codes, pair_codes])
    else:
        geoms, all_codes = cells, cell_codes
    return gpd.GeoDataFrame({"code_18": all_codes.astype(str)}, geometry=geoms, crs=3035)


_DIGITS = "123456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def _nuts3_id(country: str, j: int) -> str:
    """NUTS-like level-3 id: regions 0..8 share a level-1 id, 0..2 a level-2 id (e.g. DE1 > DE11 > DE111)."""
    return f"{country}{_DIGITS[(j // 9) % 33]}{1 + (j // 3) % 3}{_DIGITS[j % 3 + 3 * (j // 297)]}"


def synth_nuts(bbox: BBox, count: int, *, countries: int = 3, vertices: int = 48, seed: int = 0) -> Any:
    """A NUTS-like GeoDataFrame: ``count`` level-3 regions grouped into levels 2, 1 and 0.

    Level-3 regions are Voronoi cells; each belongs to the country of the nearest of ``countries``
    country seeds; levels 2/1 group a country's regions by id prefix; level 0 is the union.
    """
    # lazy: geopandas costs ~2 s to import; only writing a layer needs it
    import geopandas as gpd

    _check(bbox, count)
    countries = max(1, min(countries, len(COUNTRIES), count))
    regions = noisy_partition(bbox, count, vertices, seed)
    rng = np.random.default_rng(seed + 2)
    centres = shapely.get_coordinates(shapely.centroid(regions))
    seeds = centres[rng.choice(count, size=countries, replace=False)]
    owner = np.argmin(((centres[:, None, :] - seeds[None, :, :]) ** 2).sum(axis=2), axis=1)
    rows: list[dict[str, Any]] = []
    for c in range(countries):
        code, name = COUNTRIES[c]
        members = np.nonzero(owner == c)[0]
        if len(members) == 0:
            continue
        ids = [_nuts3_id(code, j) for j in range(len(members))]
        for nid, m in zip(ids, members, strict=True):
            rows.append(
                {"nuts_id": nid, "levl_code": 3, "cntr_code": code, "name_latn": f"{name} {nid}", "g": regions[m]}
            )
        for level in (2, 1):
            groups: dict[str, list[Any]] = {}
            for nid, m in zip(ids, members, strict=True):
                groups.setdefault(nid[: 2 + level], []).append(regions[m])
            for gid, parts in sorted(groups.items()):
                rows.append(
                    {
                        "nuts_id": gid,
                        "levl_code": level,
                        "cntr_code": code,
                        "name_latn": f"{name} {gid}",
                        "g": shapely.union_all(parts),
                    }
                )
        country = shapely.union_all(regions[members])
        rows.append({"nuts_id": code, "levl_code": 0, "cntr_code": code, "name_latn": name, "g": country})
    gdf = gpd.GeoDataFrame(rows, geometry="g", crs=3035).rename_geometry("geometry")
    gdf["levl_code"] = gdf["levl_code"].astype("int32")
    return gdf
