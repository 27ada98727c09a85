"""Schemas of the core Delta tables, with a comment on every column.

The comments travel into the Delta log as column metadata (``comment``), so ``DESCRIBE`` in Spark
and ``s2lake tables --schema`` show them; ``docs/schema.md`` is generated from here.

Why this layout:

* ``products`` is small (one row per product) and upserted by ``product_id``; no partitioning.
* ``patches`` is large (one full tile is 8,281 rows and ~1.4 GB of pixels). It is partitioned by
  ``tile`` so that a tile's patches are in one folder, queries by tile prune whole folders, and
  replacing one product rewrites only files of its tile (``tile = .. AND product_id = ..``) in one
  atomic commit. Partitioning by date or product would create many small folders.
* Band pixels are stored as ``array<int>`` in row-major order (``row * width + col``): Delta has
  no unsigned 16-bit type and the saturation value 65535 does not fit ``smallint``; arrays keep the
  pixels queryable from SQL (``list_avg(b02)`` in DuckDB, ``aggregate`` in Spark) and Parquet's
  compression removes most of the cost of the wider type.
* Per-band statistics keep integer ``valid_count``, ``sum`` and ``sum_sq`` so that dataset-wide
  means and standard deviations can be computed exactly (integer sums) without reading pixels.
* ``patch_landcover``, ``patch_country`` and ``patch_overlaps`` are written by one ``labels build``
  in three commits (Delta has no multi-table transaction). Every row carries the ``run_id`` of the
  run that wrote it, and ``label_runs`` marks a run ``complete`` only after its last commit; readers
  (the dbt staging models) take the rows of the latest complete run, so a run killed between its
  commits leaves the previous labels in force and shows up in ``label_runs`` as ``running``. A run
  removes older runs' rows only once it is complete.
* ``s2lake ben import`` lands BigEarthNet patches in the same ``patches`` table. They have no scene
  classification (``scl`` and ``scene_classes`` NULL, 12 ``band_stats`` entries instead of 13); a band
  that could not be read has NULL pixels and a 0 x 0 ``band_stats`` shape. Their metadata goes to
  ``ben_metadata`` and their reference maps to ``reference_map_polygons``, one commit per table and run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from s2lake.sentinel2 import BANDS


def col(name: str, dtype: pa.DataType, comment: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, dtype, nullable=nullable, metadata={"comment": comment})


def _run_id() -> pa.Field:
    return col("run_id", pa.string(), "label_runs.run_id of the labels build that wrote the row", False)


@dataclass(frozen=True)
class TableSpec:
    name: str
    description: str
    schema: pa.Schema
    key: tuple[str, ...]
    partition_by: tuple[str, ...] = field(default_factory=tuple)


PRODUCTS = TableSpec(
    name="products",
    description="One row per Sentinel-2 product known to the warehouse, upserted by product_id.",
    key=("product_id",),
    schema=pa.schema(
        [
            col(
                "product_id",
                pa.string(),
                "Product name without .SAFE (unique across catalogues)",
                False,
            ),
            col(
                "product_name",
                pa.string(),
                "Full product name, e.g. S2A_MSIL2A_..._T33UUP_....SAFE",
            ),
            col("mission", pa.string(), "S2A, S2B, S2C or S2D"),
            col("processing_level", pa.string(), "L1C or L2A"),
            col("tile", pa.string(), "MGRS tile id without the T prefix, e.g. 33UUP"),
            col("epsg", pa.int32(), "EPSG code of the tile's UTM zone, e.g. 32633"),
            col("sensing_start", pa.timestamp("us", tz="UTC"), "Datatake sensing start (UTC)"),
            col("processing_baseline", pa.string(), "Processing baseline, e.g. 05.10"),
            col("relative_orbit", pa.int32(), "Relative orbit number (R022 -> 22)"),
            col("cloud_cover", pa.float64(), "Cloud cover percentage from the product metadata"),
            col("size_bytes", pa.int64(), "Archive or SAFE folder size in bytes"),
            col("checksum", pa.string(), "Checksum of the archive as the catalogue gives it"),
            col("checksum_algorithm", pa.string(), "MD5, SHA3-256 or BLAKE3"),
            col("footprint", pa.binary(), "Product footprint, WKB in EPSG:4326 (lon/lat)"),
            col("mirrors", pa.list_(pa.string()), "Mirrors (catalogues) that offer the product"),
            col("storage_path", pa.string(), "Where the SAFE folder or archive is stored"),
            col("status", pa.string(), "discovered, landed, patched or failed"),
            col("status_reason", pa.string(), "Why the product failed (empty otherwise)"),
            col("patch_count", pa.int32(), "Patches written for the product (patched only)"),
            col(
                "ingestion_time",
                pa.timestamp("us", tz="UTC"),
                "When the row was last written (UTC)",
            ),
            col("fetched", pa.string(), "What ingest fetched: all (the archive) or patches (the files patches read)"),
            col("fetched_files", pa.int32(), "Files landed by ingest (archive members, or the patch job's files)"),
            col("fetched_bytes", pa.int64(), "Bytes of the files ingest landed (archive size for whole products)"),
        ]
    ),
)


def _band_stats_type() -> pa.DataType:
    return pa.list_(
        pa.struct(
            [
                pa.field("band", pa.string()),
                pa.field("height", pa.int32()),
                pa.field("width", pa.int32()),
                pa.field("min", pa.int32()),
                pa.field("max", pa.int32()),
                pa.field("mean", pa.float64()),
                pa.field("valid_count", pa.int64()),
                pa.field("sum", pa.int64()),
                pa.field("sum_sq", pa.int64()),
            ]
        )
    )


_band_columns = [
    col(
        b.column,
        pa.list_(pa.int32()),
        f"{b.name} digital numbers, {b.patch_pixels}x{b.patch_pixels} px at {b.resolution} m, "
        "row-major; 0 = NO_DATA, reflectance = (DN + BOA_ADD_OFFSET) / 10000",
    )
    for b in BANDS
]

PATCHES = TableSpec(
    name="patches",
    description="One row per 1200 m BigEarthNet-style patch of a Level-2A product.",
    key=("patch_id",),
    partition_by=("tile",),
    schema=pa.schema(
        [
            col(
                "patch_id",
                pa.string(),
                "BigEarthNet v2 id: <mission>_MSIL2A_<datatake>_N<baseline>_R<orbit>_T<tile>_<col:02>_<row:02>",
                False,
            ),
            col(
                "product_id",
                pa.string(),
                "Product this patch was cut from (products.product_id)",
                False,
            ),
            col("tile", pa.string(), "MGRS tile id without the T prefix (partition column)", False),
            col("epsg", pa.int32(), "EPSG code of the tile CRS (UTM)", False),
            col("row", pa.int32(), "Patch row index from the tile origin (north to south)", False),
            col("col", pa.int32(), "Patch column index from the tile origin (west to east)", False),
            col("ulx", pa.float64(), "Upper-left easting in the tile CRS (m)", False),
            col("uly", pa.float64(), "Upper-left northing in the tile CRS (m)", False),
            col("lrx", pa.float64(), "Lower-right easting in the tile CRS (m)", False),
            col("lry", pa.float64(), "Lower-right northing in the tile CRS (m)", False),
            col("footprint", pa.binary(), "Patch polygon, WKB in the tile CRS (epsg column)", False),
            col(
                "sensing_time",
                pa.timestamp("us", tz="UTC"),
                "Sensing start of the product (UTC)",
                False,
            ),
            *_band_columns,
            col("scl", pa.list_(pa.int8()), "Scene classification, 60x60 px at 20 m, row-major"),
            col(
                "band_stats",
                _band_stats_type(),
                "Per band (and SCL): shape as stored, min, max, mean over valid (non NO_DATA) pixels, "
                "exact integer valid count, sum and sum of squares",
            ),
            col("scene_classes", pa.list_(pa.string()), "Distinct SCL class names present, sorted"),
            col("has_nodata", pa.bool_(), "True if any band or SCL pixel is NO_DATA", False),
            col("nodata_pixels", pa.int64(), "NO_DATA pixels over all bands and SCL"),
        ]
    ),
)

PATCH_LANDCOVER = TableSpec(
    name="patch_landcover",
    description="CORINE Land Cover 2018 classes intersecting each patch (one row per patch and class).",
    key=("patch_id", "clc_code"),
    partition_by=("tile",),
    schema=pa.schema(
        [
            col("patch_id", pa.string(), "patches.patch_id", False),
            col("tile", pa.string(), "MGRS tile of the patch (partition column)", False),
            col("clc_code", pa.string(), "CLC 2018 level-3 code (e.g. 211); NULL when the patch has no CLC coverage"),
            col("clc_name", pa.string(), "CLC 2018 level-3 class name"),
            col("ben19_label", pa.string(), "BigEarthNet 19-class label of the CLC class; NULL if it maps to none"),
            col("area_m2", pa.float64(), "Intersection area in m2 (EPSG:3035, equal area)", False),
            col("fraction", pa.float64(), "Intersection area / patch area", False),
            col("no_clc_coverage", pa.bool_(), "True on the single row of a patch that no CLC polygon touches", False),
            _run_id(),
        ]
    ),
)

PATCH_COUNTRY = TableSpec(
    name="patch_country",
    description="Country of each patch: the NUTS level-0 (or Natural Earth) area with the largest overlap.",
    key=("patch_id",),
    partition_by=("tile",),
    schema=pa.schema(
        [
            col("patch_id", pa.string(), "patches.patch_id", False),
            col("tile", pa.string(), "MGRS tile of the patch (partition column)", False),
            col("country_code", pa.string(), "NUTS CNTR_CODE / ISO 3166 alpha-2; NULL for sea or no coverage"),
            col("country_name", pa.string(), "Country name (NAME_LATN or Natural Earth NAME)"),
            col("area_m2", pa.float64(), "Overlap with that country in m2 (EPSG:3035)", False),
            col("fraction", pa.float64(), "Overlap / patch area", False),
            col("source", pa.string(), "nuts or natural_earth", False),
            _run_id(),
        ]
    ),
)

PATCH_OVERLAPS = TableSpec(
    name="patch_overlaps",
    description="Pairs of patches whose footprints share interior points (touching edges excluded).",
    key=("patch_id_a", "patch_id_b"),
    schema=pa.schema(
        [
            col("patch_id_a", pa.string(), "The smaller patch_id of the pair", False),
            col("patch_id_b", pa.string(), "The larger patch_id of the pair", False),
            col("tile_a", pa.string(), "Tile of patch a", False),
            col("tile_b", pa.string(), "Tile of patch b", False),
            col("area_m2", pa.float64(), "Shared area in m2 (EPSG:3035)", False),
            _run_id(),
        ]
    ),
)

LABEL_RUNS = TableSpec(
    name="label_runs",
    description="One row per `labels build` run; its rows in the three label tables count once it is complete.",
    key=("run_id",),
    schema=pa.schema(
        [
            col("run_id", pa.string(), "<UTC start YYYYMMDDTHHMMSSffffffZ>-<8 hex>: sorts by start time", False),
            col(
                "status",
                pa.string(),
                "running (also a run killed before its last commit), complete, or failed",
                False,
            ),
            col("started", pa.timestamp("us", tz="UTC"), "When the run began writing (UTC)", False),
            col("finished", pa.timestamp("us", tz="UTC"), "When the run was marked complete or failed (UTC)"),
            col("engine", pa.string(), "sedonadb or spark", False),
            col("country_source", pa.string(), "nuts or countries"),
            col("patches", pa.int64(), "Patches labelled (rows of patch_country)"),
            col("landcover_rows", pa.int64(), "Rows the run wrote to patch_landcover"),
            col("overlap_rows", pa.int64(), "Rows the run wrote to patch_overlaps"),
            col("reason", pa.string(), "Why the run failed (NULL otherwise)"),
        ]
    ),
)

BEN_METADATA = TableSpec(
    name="ben_metadata",
    description="BigEarthNet metadata as imported: one row per patch and source (v2 metadata.parquet, "
    "v1 labels_metadata.json), whether or not the patch's bands were on disk.",
    key=("patch_id", "source"),
    schema=pa.schema(
        [
            col("patch_id", pa.string(), "v2 patch id (patches.patch_id); a v1 name when its tile is unknown", False),
            col("source", pa.string(), "metadata.parquet or labels_metadata.json", False),
            col("v1_name", pa.string(), "BigEarthNet v1 name (s2v1_name, or the v1 folder name)"),
            col("labels", pa.list_(pa.string()), "Labels as the source spells them (v2: 19 classes, v1: 43)"),
            col("clc_codes", pa.list_(pa.string()), "CLC codes of 43-class (v1) labels; NULL for v2 rows"),
            col("ben19_labels", pa.list_(pa.string()), "The labels in the 19-class nomenclature, sorted"),
            col("unknown_labels", pa.list_(pa.string()), "Labels matching no code-list name (kept, not mapped)"),
            col("split", pa.string(), "train, validation or test (v2)"),
            col("country", pa.string(), "Country name as BigEarthNet v2 gives it"),
            col("s1_name", pa.string(), "Sentinel-1 patch paired with it (v2)"),
            col("contains_seasonal_snow", pa.bool_(), "BigEarthNet v2 flag"),
            col("contains_cloud_or_shadow", pa.bool_(), "BigEarthNet v2 flag"),
            col("ulx", pa.float64(), "v1 corner: upper-left easting (m)"),
            col("uly", pa.float64(), "v1 corner: upper-left northing (m)"),
            col("lrx", pa.float64(), "v1 corner: lower-right easting (m)"),
            col("lry", pa.float64(), "v1 corner: lower-right northing (m)"),
            col("epsg", pa.int32(), "EPSG code of the v1 projection"),
            col("projection", pa.string(), "v1 projection as given (WKT)"),
            col("acquisition_time", pa.timestamp("us", tz="UTC"), "v1 acquisition_date (UTC)"),
            col("tile", pa.string(), "MGRS tile (v1: from tile_source; v2: from the id)"),
            col("tile_source", pa.string(), "v1 L1C product name the patch was cut from"),
            col("source_path", pa.string(), "File the row was read from", False),
        ]
    ),
)

REFERENCE_MAP_POLYGONS = TableSpec(
    name="reference_map_polygons",
    description="Pixel-level reference maps as polygons: one row per patch and CLC class region.",
    key=("patch_id", "clc_code", "part"),
    schema=pa.schema(
        [
            col("patch_id", pa.string(), "patches.patch_id", False),
            col("clc_code", pa.string(), "CLC 2018 level-3 code of the region, as a string (e.g. 211)", False),
            col("part", pa.int32(), "Index of the region among the patch's regions of that code (0..)", False),
            col("geometry", pa.binary(), "Region polygon, WKB in the CRS of the epsg column", False),
            col("epsg", pa.int32(), "EPSG code of the geometry", False),
            col("source", pa.string(), "raster (polygonised <patch_id>_reference_map.tif) or geoparquet", False),
        ]
    ),
)

CORE_TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        PRODUCTS,
        PATCHES,
        PATCH_LANDCOVER,
        PATCH_COUNTRY,
        PATCH_OVERLAPS,
        LABEL_RUNS,
        BEN_METADATA,
        REFERENCE_MAP_POLYGONS,
    )
}
