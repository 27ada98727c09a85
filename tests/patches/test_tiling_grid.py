"""The shipped Sentinel-2 tiling grid against ESA's own tile metadata and known tile facts."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
import shapely

from s2lake.errors import ConfigError
from s2lake.tiling_grid import GRID_FILE, tile_info, tiles_intersecting
from sedona_jobs.safe import parse_tile_metadata


def test_grid_file_is_shipped_and_complete() -> None:
    table = pq.ParquetFile(GRID_FILE).read()
    assert table.num_rows == 56686
    assert table.column_names == ["tile", "epsg", "ulx", "uly", "footprint_lonlat"]
    assert len(set(table["tile"].to_pylist())) == table.num_rows
    assert b"Copernicus" in table.schema.metadata[b"licence"]


def test_tile_matches_esa_tile_metadata(shared_data: Path) -> None:
    """The L1C MTD_TL of tile 16SEB (EPSG:32616, UL 499980/3700020) is ESA's ground truth."""
    esa = parse_tile_metadata((shared_data / "sentinel2_metadata/MTD_TL__L1C_T16SEB_20201001.xml").read_bytes())
    info = tile_info("16SEB")
    assert (info.tile, info.epsg, info.ulx, info.uly) == (esa.tile_id, esa.epsg, esa.ulx, esa.uly)


def test_tile_info_of_the_issue_example() -> None:
    info = tile_info("T33UUU")  # a leading T, as in file names, is accepted
    assert (info.tile, info.epsg, info.ulx, info.uly) == ("33UUU", 32633, 300000.0, 5900040.0)


@pytest.mark.parametrize("tile", ["32TMT", "55HBU", "01CCV", "60KYG", "18NUG"])
def test_tile_info_follows_mgrs(tile: str) -> None:
    """Zone from the first two digits, hemisphere from the latitude band (N..X north), origins on
    the 20 m grid that all resolutions share."""
    info = tile_info(tile)
    north = tile[2] >= "N"
    assert info.epsg == (32600 if north else 32700) + int(tile[:2])
    assert info.ulx % 20 == 0 and info.uly % 20 == 0
    assert 100_000 <= info.ulx <= 800_000 and 0 < info.uly <= 10_000_000
    assert info.footprint_lonlat.is_valid and not info.footprint_lonlat.is_empty


def test_footprint_is_the_tile_in_lonlat() -> None:
    import pyproj

    info = tile_info("33UUU")
    to_lonlat = pyproj.Transformer.from_crs(info.epsg, 4326, always_xy=True)
    centre = shapely.Point(to_lonlat.transform(info.ulx + 54_900, info.uly - 54_900))
    assert info.footprint_lonlat.contains(centre)
    lon_min, lat_min, lon_max, lat_max = info.footprint_lonlat.bounds
    assert 11.9 < lon_min < lon_max < 13.8 and 52.1 < lat_min < lat_max < 53.3


def test_unknown_or_malformed_tile() -> None:
    with pytest.raises(ConfigError, match="not in the Sentinel-2 tiling grid") as err:
        tile_info("33UZZ")
    assert err.value.fix
    with pytest.raises(ConfigError, match="not an MGRS tile name"):
        tile_info("3UUU")


def test_tiles_intersecting() -> None:
    berlin = shapely.Point(13.40, 52.52)
    tiles = tiles_intersecting(berlin)
    assert "33UUU" in tiles and all(shapely.contains(tile_info(t).footprint_lonlat, berlin) for t in tiles)
    # Tiles overlap by ~10 km, so a 30 km box around Berlin touches more tiles than its centre does.
    area = tiles_intersecting(shapely.box(13.2, 52.4, 13.6, 52.65))
    assert set(tiles) < set(area)
    # Across the antimeridian: footprints are split there, so both sides are found.
    fiji = tiles_intersecting(shapely.box(179.9, -17.0, 180.0, -16.9)) + tiles_intersecting(
        shapely.box(-180.0, -17.0, -179.9, -16.9)
    )
    assert {"01KAB", "60KYG"} <= set(fiji)
    assert tiles_intersecting(shapely.Point(0.0, -85.0)) == []  # south of the grid (80°S)
