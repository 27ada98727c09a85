"""Reference maps into ``reference_map_polygons`` rows.

Two forms: BigEarthNet v2's rasters (``<patch_id>_reference_map.tif``, one CLC code per 10 m pixel),
read by :mod:`s2lake.ben.geotiff_reader` and polygonised with ``rasterio.features.shapes`` (one polygon
per 4-connected region of one code, so the polygons of a patch tile it exactly), and GeoParquet polygon
files as course subsets ship them (a ``patch_id`` column, the code in ``clc_code`` or ``code_18``, the
geometry column and CRS from the file's GeoParquet metadata). Every region lands, whatever its code:
checking codes is dbt's job.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import shapely

from s2lake.ben.geotiff_reader import read_geotiff
from s2lake.errors import ProductError
from s2lake.tables.schemas import REFERENCE_MAP_POLYGONS

RASTER_SUFFIX = "_reference_map.tif"
CODE_COLUMNS = ("clc_code", "code_18")


def find_reference_maps(root: Path) -> tuple[list[Path], list[Path]]:
    """(raster maps, GeoParquet files) under ``root`` (or ``root`` itself when it is one file)."""
    if not root.exists():
        raise ProductError(
            f"{root} does not exist",
            where=str(root),
            fix="give the folder of <patch_id>_reference_map.tif files (BigEarthNet v2 Reference_Maps) or a "
            "GeoParquet file of class polygons",
        )
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    rasters = [p for p in files if p.name.endswith(RASTER_SUFFIX)]
    parquets = [p for p in files if p.suffix == ".parquet"]
    return rasters, parquets


def _rows_table(rows: dict[str, list]) -> pa.Table:
    return pa.table(rows, schema=REFERENCE_MAP_POLYGONS.schema)


def polygonise(paths: list[str]) -> tuple[pa.Table, list[str]]:
    """Raster maps -> rows (run in the import's workers); unreadable files become problem lines."""
    # lazy: rasterio's import costs ~0.4 s; only raster reference maps need it
    from rasterio.features import shapes
    from rasterio.transform import Affine

    rows: dict[str, list] = {name: [] for name in REFERENCE_MAP_POLYGONS.schema.names}
    problems = []
    for path in paths:
        patch_id = Path(path).name.removesuffix(RASTER_SUFFIX)
        try:
            raster = read_geotiff(Path(path))
            codes, transform, epsg = raster.pixels, Affine(*raster.transform), raster.epsg or 0
        except Exception as exc:  # any decoding failure is reported, the other maps go on
            problems.append(f"{path}: reference map unreadable ({str(exc).splitlines()[0][:200]}); not imported")
            continue
        parts: dict[str, int] = {}
        for geometry, value in shapes(codes.astype(np.int32), transform=transform):
            code = str(int(value))
            rows["patch_id"].append(patch_id)
            rows["clc_code"].append(code)
            rows["part"].append(parts.get(code, 0))
            parts[code] = parts.get(code, 0) + 1
            rows["geometry"].append(shapely.to_wkb(shapely.geometry.shape(geometry)))
            rows["epsg"].append(epsg)
            rows["source"].append("raster")
    return _rows_table(rows), problems


def read_geoparquet(path: Path) -> pa.Table:
    """A GeoParquet file of class polygons -> rows; :class:`ProductError` when it is not one."""
    # lazy: geopandas costs ~2 s to import; only GeoParquet reference maps need it
    import geopandas as gpd

    try:
        frame = gpd.read_parquet(path)
    except Exception as exc:  # pyarrow, geopandas and GDAL each raise their own types
        raise ProductError(
            f"cannot read the reference polygons: {str(exc).splitlines()[0][:200]}",
            where=str(path),
            fix="give a GeoParquet file (geometry column and CRS in its 'geo' metadata)",
        ) from None
    code = next((c for c in CODE_COLUMNS if c in frame.columns), None)
    if "patch_id" not in frame.columns or code is None or frame.crs is None or frame.crs.to_epsg() is None:
        raise ProductError(
            "the reference polygons need a patch_id column, a clc_code (or code_18) column and an EPSG CRS; "
            f"found columns {', '.join(map(str, frame.columns))} and CRS {frame.crs}",
            where=str(path),
            fix="rename the columns (or set the CRS with geopandas' set_crs) and write the file again",
        )
    codes = [str(int(c)) if isinstance(c, float | np.floating) else str(c) for c in frame[code]]
    ids = [str(p) for p in frame["patch_id"]]
    parts, counter = [], {}
    for key in zip(ids, codes, strict=True):
        parts.append(counter.get(key, 0))
        counter[key] = counter.get(key, 0) + 1
    return _rows_table(
        {
            "patch_id": ids,
            "clc_code": codes,
            "part": parts,
            "geometry": list(frame.geometry.to_wkb()),
            "epsg": [int(frame.crs.to_epsg())] * len(frame),
            "source": ["geoparquet"] * len(frame),
        }
    )
