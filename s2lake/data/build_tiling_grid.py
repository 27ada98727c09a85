"""Build ``s2_tiling_grid.parquet`` (shipped in the package) from ESA's Sentinel-2 tiling grid KML.

Run once when ESA publishes a new grid (the tiling has not changed since 2015):

    uv run python s2lake/data/build_tiling_grid.py ../shared/data/s2_tiling_grid/s2_tiling.zip

Why a derived file: the KML is 109 MB (10 MB zipped) of HTML-in-CDATA; s2lake needs, per tile, only
the UTM zone (EPSG), the tile origin and a lon/lat footprint, which fit in a ~1 MB Parquet file that
loads in a fraction of a second. The footprint is the KML's own polygon geometry, which ESA already
splits at the antimeridian, so plain lon/lat intersection tests are correct everywhere.
"""

from __future__ import annotations

import io
import re
import sys
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from lxml import etree

KML = "{http://www.opengis.net/kml/2.2}"
OUTPUT = Path(__file__).with_name("s2_tiling_grid.parquet")
FIELD = re.compile(r"<b>(?P<key>[A-Z_]+)</b>.*?<font[^>]*>\s*(?P<value>[^<]*)</font>", re.S)
#: Coordinates are rounded to 1e-6 degree (~0.1 m): far below the grid's own precision, and it
#: makes the WKB compress three times better.
DECIMALS = 6


def _polygons(placemark: etree._Element) -> list[shapely.Polygon]:
    rings = []
    for coords in placemark.iterfind(f".//{KML}Polygon//{KML}outerBoundaryIs//{KML}coordinates"):
        points = [tuple(float(v) for v in p.split(",")[:2]) for p in coords.text.split()]
        rings.append(shapely.Polygon(points))
    return rings


def read_kml(kml: bytes) -> pa.Table:
    tiles, epsgs, ulxs, ulys, footprints = [], [], [], [], []
    for _, placemark in etree.iterparse(io.BytesIO(kml), tag=f"{KML}Placemark", huge_tree=True):
        fields = {m["key"]: m["value"].strip() for m in FIELD.finditer(placemark.findtext(f"{KML}description"))}
        utm = shapely.from_wkt(fields["UTM_WKT"])
        minx, _, _, maxy = utm.bounds
        footprint = shapely.set_precision(shapely.MultiPolygon(_polygons(placemark)), 10**-DECIMALS)
        tiles.append(fields["TILE_ID"])
        epsgs.append(int(fields["EPSG"]))
        ulxs.append(minx)
        ulys.append(maxy)
        footprints.append(shapely.to_wkb(footprint))
        placemark.clear()
    return pa.table(
        {
            "tile": pa.array(tiles, pa.string()),
            "epsg": pa.array(epsgs, pa.int32()),
            "ulx": pa.array(ulxs, pa.float64()),
            "uly": pa.array(ulys, pa.float64()),
            "footprint_lonlat": pa.array(footprints, pa.binary()),
        }
    ).sort_by("tile")


def main(source: str) -> None:
    with zipfile.ZipFile(source) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".kml")]
        table = read_kml(archive.read(name))
    table = table.replace_schema_metadata(
        {
            "source": name,
            "licence": "Copernicus Sentinel data terms (free, attribution: contains modified Copernicus data)",
            "footprint_crs": "EPSG:4326 (lon, lat), WKB MultiPolygon, split at the antimeridian",
        }
    )
    pq.write_table(table, OUTPUT, compression="zstd", compression_level=19)
    print(f"{table.num_rows} tiles -> {OUTPUT} ({OUTPUT.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main(sys.argv[1])
