"""Build ``ne_admin0_europe.geojson``, the small country layer s2lake ships, from Natural Earth.

Source: Natural Earth 1:10m Cultural Vectors, Admin 0 - Countries, v5.1.1 (public domain,
https://www.naturalearthdata.com/downloads/10m-cultural-vectors/10m-admin-0-countries/).
Kept: the countries intersecting EPSG:3035's area of use (Europe), clipped to it, simplified with
a 0.005° tolerance (about 500 m, topology preserved), and the columns the loader maps
(ISO_A2, ISO_A2_EH, NAME). Run from the repository root:

    uv run python s2lake/data/countries/build_countries.py ../shared/data/countries/ne_10m_admin_0_countries_deu.zip
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyogrio
import shapely

AREA = (-35.58, 24.6, 44.83, 84.73)  # EPSG:3035 area of use, lon/lat
TOLERANCE_DEG = 0.005
OUT = Path(__file__).with_name("ne_admin0_europe.geojson")


def main(source: str) -> None:
    gdf = pyogrio.read_dataframe(source, columns=["ISO_A2", "ISO_A2_EH", "NAME"])
    box = shapely.box(*AREA)
    gdf = gdf[gdf.geometry.intersects(box)].copy()
    gdf["geometry"] = gdf.geometry.intersection(box).simplify(TOLERANCE_DEG, preserve_topology=True)
    gdf = gdf[~gdf.geometry.is_empty & gdf.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    gdf["geometry"] = shapely.set_precision(gdf.geometry.values, 1e-5)  # ~1 m, keeps the file small
    OUT.unlink(missing_ok=True)
    pyogrio.write_dataframe(gdf.sort_values("NAME"), OUT, driver="GeoJSON", layer_options={"RFC7946": "YES"})
    print(f"{len(gdf)} countries -> {OUT} ({OUT.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main(sys.argv[1])
