"""What a shard folder holds, shared by the writer (:mod:`s2lake.shards.export`) and the loader
(:mod:`s2lake.datasets`): file names, the Parquet schema, band order and the WebDataset member names.

Bands keep their native resolution (10 m: 120 x 120, 20 m: 60 x 60, 60 m: 20 x 20 px, row-major) as
fixed-size uint16 lists, so a reader gets a numpy array per band with one reshape and no copy; SCL is
uint8 at 20 m. Fixed-size lists (not Parquet lists) because every patch of a band has the same shape
and the reader can then view the whole column as one 2-D array.
"""

from __future__ import annotations

import pyarrow as pa

from s2lake.sentinel2 import ALL_LAYERS, BANDS, SCL

FORMATS = ("parquet", "webdataset")
SPLITS = ("train", "validation", "test")
INDEX_FILE = "index.json"
CARD_FILE = "README.md"
#: Per-shard records of a run in progress (what :mod:`.export` resumes from); removed once the index is written.
JOURNAL_DIR = ".journal"
#: Index format version: a loader refuses an index of a version it does not know.
INDEX_VERSION = 1
#: Patches per Parquet row group: ~10 MB of pixels, small enough to stream, large enough to compress well.
ROW_GROUP_PATCHES = 64
#: Thumbnail edge (px) and the fixed stretch: DN 0..THUMBNAIL_MAX_DN (reflectance 0..0.3) -> 0..255.
THUMBNAIL_PIXELS = 64
THUMBNAIL_MAX_DN = 3000
#: Uncompressed pixel bytes of one patch (12 uint16 bands + uint8 SCL): what ``--shard-size`` counts.
PATCH_BYTES = sum(b.patch_pixels**2 * 2 for b in BANDS) + SCL.patch_pixels**2


def shard_name(index: int, fmt: str) -> str:
    return f"shard-{index:05d}.{'parquet' if fmt == 'parquet' else 'tar'}"


def layer_type(name: str) -> pa.DataType:
    return pa.uint8() if name == SCL.name else pa.uint16()


def _field(name: str, kind: pa.DataType, doc: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, kind, nullable=nullable, metadata={"description": doc})


def parquet_schema(label_names: list[str]) -> pa.Schema:
    """The columns of a Parquet shard; each field's ``description`` is what the dataset card prints."""
    layers = [
        _field(
            band.column,
            pa.list_(layer_type(band.name), band.patch_pixels**2),
            f"{band.name}, {band.patch_pixels}x{band.patch_pixels} px at {band.resolution} m, row-major"
            + (
                " (scene classes 0-11)" if band is SCL else "; 0 = NO_DATA; reflectance = (DN + BOA_ADD_OFFSET) / 10000"
            ),
        )
        for band in ALL_LAYERS
    ]
    return pa.schema(
        [
            _field("patch_id", pa.string(), "BigEarthNet v2 patch id (sort key of the shards)", nullable=False),
            _field("product_id", pa.string(), "Sentinel-2 L2A product the patch was cut from", nullable=False),
            _field("tile", pa.string(), "MGRS tile without the T prefix", nullable=False),
            _field("sensing_time", pa.timestamp("us", tz="UTC"), "Sensing start of the product (UTC)"),
            _field("split", pa.string(), "train, validation or test (geographic_split mart); null if not built"),
            _field("country", pa.string(), "Country name of the largest overlap (labels build); null for sea"),
            _field("season", pa.string(), "Meteorological season of the sensing date: winter, spring, summer, fall"),
            _field("labels", pa.list_(pa.string()), "BigEarthNet-19 label names, sorted", nullable=False),
            _field(
                "label_vector",
                pa.list_(pa.uint8(), len(label_names)),
                "Multi-hot vector over the 19 classes in the order of the card's label table",
                nullable=False,
            ),
            _field(
                "contains_cloud_or_shadow", pa.bool_(), "Cloud/shadow flag (patch_cloud_snow mart); null if unknown"
            ),
            _field("contains_seasonal_snow", pa.bool_(), "Snow flag (patch_cloud_snow mart); null if unknown"),
            _field("epsg", pa.int32(), "EPSG code of the patch CRS (UTM)", nullable=False),
            _field("crs", pa.string(), "The CRS as EPSG:<code>", nullable=False),
            _field("ulx", pa.float64(), "Upper-left easting (m, patch CRS)", nullable=False),
            _field("uly", pa.float64(), "Upper-left northing (m, patch CRS)", nullable=False),
            _field("lrx", pa.float64(), "Lower-right easting (m, patch CRS)", nullable=False),
            _field("lry", pa.float64(), "Lower-right northing (m, patch CRS)", nullable=False),
            _field("footprint", pa.binary(), "Patch polygon, WKB in the patch CRS", nullable=False),
            *layers,
            _field("thumbnail", pa.binary(), "RGB PNG (B04, B03, B02) of THUMBNAIL_PIXELS px, fixed stretch"),
        ]
    )


#: The pixel columns; every other column but the thumbnail is metadata (a WebDataset sample's ``.json``).
PIXEL_COLUMNS = tuple(b.column for b in ALL_LAYERS)
