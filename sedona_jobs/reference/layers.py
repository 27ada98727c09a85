"""The reference layers s2lake knows, and the documented schema each is stored with.

Official distributions spell their columns differently (``Code_18`` in the CLC GeoPackage, ``CODE_18``
in the Shapefile, ``NUTS_ID``/``LEVL_CODE`` in GISCO files, ``ISO_A2``/``NAME`` in Natural Earth).
Each layer maps them, case-insensitively, to lower-case names the join SQL relies on, so the SQL
never depends on which distribution was loaded.

Stored schemas (all geometries polygonal, EPSG:3035, easting/northing):

* ``clc``: ``code_18`` (string, CLC level-3 code such as ``211``), ``geometry``
* ``nuts``: ``nuts_id``, ``levl_code`` (int 0..3), ``cntr_code``, ``name_latn``, ``geometry``
* ``countries``: ``iso_a2`` (ISO 3166 alpha-2; Natural Earth's ``ISO_A2_EH`` where ``ISO_A2`` is
  ``-99``, e.g. France, Norway, Kosovo ``XK``), ``name``, ``geometry``
"""

from __future__ import annotations

from dataclasses import dataclass

TARGET_EPSG = 3035


@dataclass(frozen=True)
class Layer:
    name: str
    title: str
    columns: tuple[str, ...]  # stored attribute columns, lower case (geometry comes last)
    accepted_epsg: tuple[int, ...]  # source CRSs accepted; anything but 3035 is reprojected
    where_to_get: str


CLC = Layer(
    name="clc",
    title="CORINE Land Cover 2018",
    columns=("code_18",),
    accepted_epsg=(3035,),
    where_to_get="https://land.copernicus.eu/en/products/corine-land-cover/clc2018 (vector, GeoPackage)",
)
NUTS = Layer(
    name="nuts",
    title="NUTS regions (GISCO)",
    columns=("nuts_id", "levl_code", "cntr_code", "name_latn"),
    accepted_epsg=(3035, 4326, 3857),
    where_to_get="https://ec.europa.eu/eurostat/web/gisco/geodata/statistical-units/territorial-units-statistics",
)
COUNTRIES = Layer(
    name="countries",
    title="Natural Earth admin-0 countries",
    columns=("iso_a2", "name"),
    accepted_epsg=(4326, 3035, 3857),
    where_to_get="https://www.naturalearthdata.com/downloads/10m-cultural-vectors/10m-admin-0-countries/",
)

LAYERS: dict[str, Layer] = {layer.name: layer for layer in (CLC, NUTS, COUNTRIES)}
