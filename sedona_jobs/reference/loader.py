"""Load official reference files (CLC, NUTS, Natural Earth) into the warehouse as GeoParquet tables.

What a load guarantees, so the joins can trust the tables:

* the CRS is known and accepted for the layer; NUTS and country sources in EPSG:4326/3857 are
  reprojected to EPSG:3035 (logged), CLC must already be EPSG:3035 (its only official CRS);
* every geometry is polygonal and valid: invalid ones are repaired with GEOS ``make_valid``
  (structure method, collapsed parts removed) and counted; nothing is dropped silently: features
  with a null/empty geometry, or empty after repair, or (countries) wholly outside EPSG:3035's area
  of use are counted and named in the report and the log;
* official column names are mapped to the documented schema (see :mod:`sedona_jobs.reference.layers`);
* CLC codes are checked against the code lists: null codes and codes outside the 44 classes are
  counted and refused unless explicitly allowed (see :mod:`sedona_jobs.reference.clc_code_check`);
* a multi-layer source without ``--layer`` must hold one polygon layer (see
  :mod:`sedona_jobs.reference.source_layers`);
* features with more than 256 vertices are stored as several pieces that tile them exactly (see
  :mod:`sedona_jobs.reference.subdivide`): one feature may be several rows.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import shapely

from s2lake.errors import ReferenceDataError
from s2lake.warehouse import Warehouse
from sedona_jobs.reference.clc_code_check import check_clc_codes, normalise_codes
from sedona_jobs.reference.geoparquet import write_table
from sedona_jobs.reference.layers import LAYERS, TARGET_EPSG, Layer
from sedona_jobs.reference.source_layers import pick_layer
from sedona_jobs.reference.subdivide import subdivide

log = logging.getLogger(__name__)

#: EPSG:3035's area of use (lon/lat), from the EPSG registry: Europe, onshore and offshore.
EPSG3035_AREA = (-35.58, 24.6, 44.83, 84.73)


@dataclass
class LoadReport:
    layer: str
    source: str
    source_crs: str
    reprojected: bool
    features_read: int
    features_written: int
    repaired: int = 0
    dropped_empty: int = 0
    dropped_outside_area: int = 0
    without_code: int = 0
    null_codes: int = 0  # clc: features without a code (refused, or dropped with allow_unknown_codes)
    nodata_codes: int = 0  # clc: CORINE's 999 NODATA / 990, 995 unclassified (kept, no label)
    unknown_codes: int = 0  # clc: features with a code outside the classes (refused, or kept without label)
    unknown_code_values: dict[str, int] = field(default_factory=dict)
    pieces_written: int = 0  # rows: features with > 256 vertices are stored as several pieces
    path: str = ""
    dropped_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_source(path: str | Path, layer: str | None = None) -> Any:
    """Read a GeoPackage/FileGDB/Shapefile(.zip)/GeoJSON with pyogrio, GeoParquet with geopandas."""
    # lazy: geopandas and pyogrio cost ~2 s each to import; only a load needs them
    import geopandas as gpd
    import pyogrio

    src = Path(path)
    if not src.exists():
        raise ReferenceDataError(f"reference source {src} does not exist", fix="check the path")
    try:
        if src.suffix.lower() in {".parquet", ".geoparquet"}:
            return gpd.read_parquet(src)
        return pyogrio.read_dataframe(src, layer=layer if layer is not None else pick_layer(src))
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError, OSError) as exc:
        raise ReferenceDataError(
            f"cannot read {src}: {exc}",
            fix="give a GeoPackage, FileGDB, Shapefile (or .zip of one), GeoJSON or GeoParquet file; "
            "for multi-layer files name the layer with --layer",
        ) from exc


def load_reference(
    kind: str,
    source: str | Path,
    warehouse: Warehouse,
    *,
    layer: str | None = None,
    crs: str | None = None,
    allow_unknown_codes: bool = False,
) -> LoadReport:
    """Load ``source`` as reference table ``kind`` (clc, nuts, countries) into ``warehouse``.

    ``allow_unknown_codes`` (clc only) loads a file whose codes are not all CLC classes: unknown
    codes are kept, features without a code dropped, both counted in the report.
    """
    spec = _layer(kind)
    if allow_unknown_codes and kind != "clc":
        raise ReferenceDataError(f"--allow-unknown-codes applies to clc only, not {kind}", fix="leave the flag out")
    gdf = read_source(source, layer).reset_index(drop=True)  # the index is the source row from here on
    report = LoadReport(
        layer=kind, source=str(source), source_crs="", reprojected=False, features_read=len(gdf), features_written=0
    )
    if len(gdf) == 0:
        raise ReferenceDataError(f"{source} holds no features", fix=f"give a non-empty {spec.title} file")
    gdf = _check_crs(gdf, spec, str(source), crs, report)
    gdf = map_columns(gdf, spec, str(source), report)
    if kind == "clc":
        gdf = check_clc_codes(gdf, str(source), report, allow_unknown=allow_unknown_codes)
    gdf = _repair(gdf, spec, report)
    if gdf.crs.to_epsg() != TARGET_EPSG:
        gdf = _to_3035(gdf, spec, report)
    if len(gdf) == 0:
        raise ReferenceDataError(
            f"no usable feature left in {source} ({report.null_codes} without a code, {report.dropped_empty} empty, "
            f"{report.dropped_outside_area} outside EPSG:3035's area of use)",
            fix="check that the file covers Europe and holds polygons",
        )
    report.features_written = len(gdf)
    gdf = subdivide(gdf)
    report.pieces_written = len(gdf)
    manifest = {"loaded_at": datetime.now(UTC).isoformat(), **report.as_dict()}
    report.path = str(write_table(gdf, warehouse, kind, manifest))
    log.info(
        "%s: %d features read, %d written, %d repaired, %d empty dropped, %d outside EPSG:3035 dropped, "
        "codes: %d null, %d NODATA/unclassified, %d unknown -> %s",
        kind,
        report.features_read,
        report.features_written,
        report.repaired,
        report.dropped_empty,
        report.dropped_outside_area,
        report.null_codes,
        report.nodata_codes,
        report.unknown_codes,
        report.path,
    )
    return report


def _layer(kind: str) -> Layer:
    if kind not in LAYERS:
        raise ReferenceDataError(f"unknown reference layer {kind!r}", fix=f"use one of {', '.join(LAYERS)}")
    return LAYERS[kind]


def _check_crs(gdf: Any, spec: Layer, source: str, crs: str | None, report: LoadReport) -> Any:
    if gdf.crs is None:
        if crs is None:
            accepted = ", ".join(f"EPSG:{e}" for e in spec.accepted_epsg)
            raise ReferenceDataError(f"{source} has no CRS", fix=f"pass its CRS with --crs (accepted: {accepted})")
        gdf = gdf.set_crs(crs)
    epsg = gdf.crs.to_epsg()
    report.source_crs = f"EPSG:{epsg}" if epsg else gdf.crs.to_string()
    if epsg not in spec.accepted_epsg:
        raise ReferenceDataError(
            f"{source} is in {report.source_crs}; {spec.title} is accepted in "
            + ", ".join(f"EPSG:{e}" for e in spec.accepted_epsg),
            fix="use the official distribution (CLC: EPSG:3035) or reproject the file first, e.g. "
            "`ogr2ogr -t_srs EPSG:3035 out.gpkg in.gpkg`",
        )
    return gdf


def map_columns(gdf: Any, spec: Layer, source: str, report: LoadReport) -> Any:
    """Rename official columns to the stored schema (case-insensitive) and type them."""
    by_lower = {c.lower(): c for c in gdf.columns if c != gdf.geometry.name}
    out = {}
    if spec.name == "countries":
        for needed in ("iso_a2", "name"):
            if needed not in by_lower:
                raise _missing(source, needed.upper(), spec)
        iso = gdf[by_lower["iso_a2"]].astype("string")
        if "iso_a2_eh" in by_lower:
            iso = iso.where(iso != "-99", gdf[by_lower["iso_a2_eh"]].astype("string"))
        iso = iso.where(iso != "-99")
        report.without_code = int(iso.isna().sum())
        out = {"iso_a2": iso, "name": gdf[by_lower["name"]].astype("string")}
    else:
        for column in spec.columns:
            if column not in by_lower:
                raise _missing(source, column.upper(), spec)
            out[column] = gdf[by_lower[column]]
        if spec.name == "clc":
            out["code_18"] = normalise_codes(out["code_18"])
        else:
            out["levl_code"] = out["levl_code"].astype("int32")
            for column in ("nuts_id", "cntr_code", "name_latn"):
                out[column] = out[column].astype("string")
    # lazy: geopandas costs ~2 s to import; only a load needs it
    import geopandas as gpd

    return gpd.GeoDataFrame(out, geometry=gdf.geometry.rename("geometry").values, crs=gdf.crs)


def _missing(source: str, column: str, spec: Layer) -> ReferenceDataError:
    return ReferenceDataError(
        f"{source} has no column {column} (needed for {spec.title})",
        fix=f"load the official distribution ({spec.where_to_get}) or rename the column",
    )


def _repair(gdf: Any, spec: Layer, report: LoadReport) -> Any:
    geoms = gdf.geometry.values
    kinds = shapely.get_type_id(geoms)
    non_polygonal = ~((kinds == 3) | (kinds == 6) | shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if non_polygonal.any():
        raise ReferenceDataError(
            f"{int(non_polygonal.sum())} features of the {spec.title} source are not polygons "
            f"(first at row {int(non_polygonal.nonzero()[0][0])})",
            fix="load the polygon layer of the distribution (name it with --layer)",
        )
    invalid = ~shapely.is_valid(geoms) & ~shapely.is_missing(geoms)
    if invalid.any():
        fixed = shapely.make_valid(geoms[invalid], method="structure", keep_collapsed=False)
        geoms = geoms.copy()
        geoms[invalid] = fixed
        report.repaired = int(invalid.sum())
        log.warning("%s: repaired %d invalid geometries with make_valid", spec.name, report.repaired)
    gdf = gdf.set_geometry(geoms)
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if empty.any():
        report.dropped_empty = int(empty.sum())
        report.dropped_ids += [_feature_id(gdf, i) for i in empty.nonzero()[0][:50]]
        log.warning(
            "%s: %d features have no area (null, empty or collapsed on repair) and are not loaded: %s",
            spec.name,
            report.dropped_empty,
            ", ".join(report.dropped_ids[:10]),
        )
        gdf = gdf[~empty]
    return gdf


def _feature_id(gdf: Any, i: int) -> str:
    """The feature's row in the source (the index survives earlier drops) and its code."""
    row, source_row = gdf.iloc[int(i)], gdf.index[int(i)]
    for column in ("nuts_id", "iso_a2", "code_18"):
        if column in gdf.columns:
            return f"row {source_row} ({column}={row[column]})"
    return f"row {source_row}"


def _to_3035(gdf: Any, spec: Layer, report: LoadReport) -> Any:
    """Reproject to EPSG:3035, first clipping lon/lat sources to the CRS's area of use.

    Lambert azimuthal equal-area maps the whole globe but tears apart near its antipode (the
    Pacific), so Natural Earth's world layer is clipped to the area EPSG:3035 is defined for.
    """
    report.reprojected = True
    log.info("%s: reprojecting from %s to EPSG:%d", spec.name, report.source_crs, TARGET_EPSG)
    geo = gdf.to_crs(4326)
    box = shapely.box(*EPSG3035_AREA)
    inside = geo.geometry.intersects(box).to_numpy()
    if not inside.all():
        report.dropped_outside_area = int((~inside).sum())
        log.info("%s: %d features lie outside EPSG:3035's area of use and are not loaded", spec.name, (~inside).sum())
    geo = geo[inside]
    partly = ~geo.geometry.within(box).to_numpy()
    if partly.any():
        clipped = geo.geometry.values.copy()
        clipped[partly] = shapely.intersection(clipped[partly], box)
        geo = geo.set_geometry(clipped)
        geo = geo[~geo.geometry.is_empty & geo.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    out = geo.to_crs(TARGET_EPSG)
    invalid = ~out.geometry.is_valid.to_numpy()
    if invalid.any():  # reprojection can fold rings near the edge of the area of use
        geoms = out.geometry.values.copy()
        geoms[invalid] = shapely.make_valid(geoms[invalid], method="structure", keep_collapsed=False)
        out = out.set_geometry(geoms)
        report.repaired += int(invalid.sum())
    return out
