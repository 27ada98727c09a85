"""Read a Sentinel-2 Level-2A product (SAFE folder or its .zip) into an :class:`L2AProduct`.

The reader trusts the product's own metadata, as ESA's processors do: bands come from the
``IMAGE_FILE`` list of ``MTD_MSIL2A.xml`` (not from globbing, which would also pick up resampled
copies, TCI/AOT/WVP layers or stray files) and the geometry from the granule's ``MTD_TL.xml``. Every
listed band is then checked once, cheaply (JPEG 2000 header only), so the patch cutter can rely on
what it gets and a broken download fails here with the file named, not deep inside a worker.

Two more checks keep a product honest: every path it names must stay inside it (no ``..``, no
absolute paths, no symbolic link leading out of a SAFE folder: :mod:`sedona_jobs.product_paths`), and
the files read must match the checksums of its ``manifest.safe`` (:mod:`sedona_jobs.manifest`), since a
damaged band often still decodes.

Tag names follow the ESA Products Specification Document (PSD 14.x); the real metadata files in the
project's test data are the reference. A ``.zip`` is read in place through GDAL's ``/vsizip/``.
"""

from __future__ import annotations

import re
import struct
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from lxml import etree

from s2lake.archive_limits import ArchiveLimits, open_archive, read_member
from s2lake.errors import ProductError
from s2lake.product_names import GRAMMAR, ProductName
from s2lake.sentinel2 import ALL_LAYERS, BANDS, BANDS_BY_NAME, TILE_PIXELS
from sedona_jobs.manifest import verify_product
from sedona_jobs.product_paths import refuse_escaping_links, refuse_escaping_path

#: Limits on a .zip read in place (defaults: generous for real products, refuse zip bombs).
ZIP_LIMITS = ArchiveLimits()
#: Largest metadata file read into memory (MTD_TL.xml, the biggest, is ~1 MB).
METADATA_MAX_BYTES = 64 << 20
#: Band and resolution at the end of an IMAGE_FILE entry: ``..._B8A_20m``, ``..._SCL_20m``.
IMAGE_FILE_BAND = re.compile(r"_(?P<band>B\d[\dA]|SCL)_(?P<res>\d{2})m$")

_SENSOR_FIX = "give the path of a Sentinel-2 Level-2A product: the .SAFE folder or the .zip that contains it"
_L1C_FIX = (
    "s2lake needs Level-2A (surface reflectance + scene classification): download the S2MSI2A product "
    "of the same datatake, or process this one with ESA's sen2cor"
)


@dataclass(frozen=True)
class BandFile:
    band: str  # "B02", "B8A", "SCL"
    resolution: int  # 10, 20 or 60 (native resolution of the file)
    path: str  # rasterio-openable: local path, or /vsizip/... inside a .zip
    shape: tuple[int, int] = (0, 0)  # (rows, cols), read from the file's header by open_product
    block_rows: int = 0  # height of the file's JPEG 2000 tiles (the unit GDAL decodes)


@dataclass(frozen=True)
class L2AProduct:
    source: str  # what the user gave (SAFE folder or .zip)
    product_id: str  # product name without ".SAFE" (products.product_id)
    product_name: str  # with ".SAFE"
    mission: str  # "S2A"
    processing_level: str  # "L2A"
    tile: str  # "33UUU" (no T)
    epsg: int  # from MTD_TL.xml (HORIZONTAL_CS_CODE)
    ulx: float  # tile origin from MTD_TL.xml Geoposition (10 m)
    uly: float
    sensing_start: datetime  # UTC, tz-aware (from MTD_MSIL2A PRODUCT_START_TIME)
    datatake: str  # "20180510T100031" as in the name
    processing_baseline: str  # "05.10"
    relative_orbit: int
    cloud_cover: float
    quantification: int  # BOA_QUANTIFICATION_VALUE
    boa_add_offset: dict[str, int]  # band name -> offset (0 for baselines < 04.00)
    bands: dict[str, BandFile]  # B01..B12 (12 bands, no B10) + SCL, each at NATIVE resolution
    size_bytes: int


@dataclass(frozen=True)
class ProductMetadata:
    """What ``MTD_MSIL2A.xml`` says about the product (parsed without touching any raster)."""

    product_uri: str
    processing_level: str  # "L2A" or "L1C"
    spacecraft: str  # "Sentinel-2A"
    sensing_start: datetime
    processing_baseline: str
    relative_orbit: int | None
    cloud_cover: float | None
    quantification: int | None
    boa_add_offset: dict[int, int]  # ESA band_id -> offset
    image_files: tuple[str, ...]  # relative to the SAFE root, without the ".jp2" extension


@dataclass(frozen=True)
class TileGeometry:
    """What a granule's ``MTD_TL.xml`` says about the tile grid (identical tags for L1C and L2A)."""

    tile_id: str
    epsg: int
    ulx: float
    uly: float
    sizes: dict[int, tuple[int, int]]  # resolution -> (rows, cols)


def _text(root: etree._Element, tag: str) -> str | None:
    # Top-level sections carry the n1: namespace, their children none; "{*}" matches both.
    node = root.find(f".//{{*}}{tag}")
    return node.text.strip() if node is not None and node.text else None


def _parse_xml(data: bytes, where: str) -> etree._Element:
    try:
        return etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise ProductError(
            f"metadata file is not valid XML ({exc})", where=where, fix="download the product again"
        ) from None


def parse_product_metadata(data: bytes, where: str = "MTD_MSIL2A.xml") -> ProductMetadata:
    """Parse a product-level metadata file (``MTD_MSIL2A.xml``, or ``MTD_MSIL1C.xml`` to recognise L1C)."""
    root = _parse_xml(data, where)
    level_text = _text(root, "PROCESSING_LEVEL") or ""
    root_name = etree.QName(root).localname
    if "Level-1C" in root_name or level_text == "Level-1C":
        level = "L1C"
    elif "Level-2A" in root_name or level_text in {"Level-2A", "Level-2Ap"}:
        level = "L2A"
    else:
        raise ProductError(
            f"not a Sentinel-2 product metadata file (root element {root_name!r})", where=where, fix=_SENSOR_FIX
        )
    start = _text(root, "PRODUCT_START_TIME")
    if start is None:
        raise ProductError("PRODUCT_START_TIME is missing", where=where, fix="download the product again")
    orbit = _text(root, "SENSING_ORBIT_NUMBER")
    cloud = _text(root, "Cloud_Coverage_Assessment")
    quant = _text(root, "BOA_QUANTIFICATION_VALUE") or _text(root, "QUANTIFICATION_VALUE")
    offsets = {
        int(node.get("band_id")): int(float(node.text))
        for node in root.iterfind(".//{*}BOA_ADD_OFFSET")
        if node.get("band_id") is not None and node.text
    }
    return ProductMetadata(
        product_uri=_text(root, "PRODUCT_URI") or "",
        processing_level=level,
        spacecraft=_text(root, "SPACECRAFT_NAME") or "",
        sensing_start=datetime.fromisoformat(start),
        processing_baseline=_text(root, "PROCESSING_BASELINE") or "",
        relative_orbit=int(orbit) if orbit else None,
        cloud_cover=float(cloud) if cloud else None,
        quantification=int(float(quant)) if quant else None,
        boa_add_offset=offsets,
        image_files=tuple(n.text.strip() for n in root.iterfind(".//{*}IMAGE_FILE") if n.text),
    )


def parse_tile_metadata(data: bytes, where: str = "MTD_TL.xml") -> TileGeometry:
    """Parse a granule's ``MTD_TL.xml``: EPSG, 10 m origin and raster size per resolution."""
    root = _parse_xml(data, where)
    code = _text(root, "HORIZONTAL_CS_CODE") or ""
    match = re.fullmatch(r"EPSG:(\d+)", code)
    geo10 = root.find(".//{*}Geoposition[@resolution='10']")
    if match is None or geo10 is None:
        raise ProductError(
            "tile geocoding (HORIZONTAL_CS_CODE / Geoposition resolution=10) is missing or invalid",
            where=where,
            fix="download the product again",
        )
    sizes = {}
    for size in root.iterfind(".//{*}Size"):
        sizes[int(size.get("resolution"))] = (int(_text(size, "NROWS")), int(_text(size, "NCOLS")))
    tile_id = _text(root, "TILE_ID") or ""
    tile = re.search(r"_T(\d{2}[A-Z]{3})_", tile_id)
    return TileGeometry(
        tile_id=tile.group(1) if tile else "",
        epsg=int(match.group(1)),
        ulx=float(_text(geo10, "ULX")),
        uly=float(_text(geo10, "ULY")),
        sizes=sizes,
    )


class _Folder:
    """A SAFE on disk."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def exists(self, rel: str) -> bool:
        return (self.root / rel).is_file()

    def read(self, rel: str) -> bytes:
        return (self.root / rel).read_bytes()

    def raster(self, rel: str) -> str:
        return str(self.root / rel)

    def where(self, rel: str) -> str:
        return str(self.root / rel)

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())

    @contextmanager
    def open_binary(self, rel: str) -> Iterator[tuple[BinaryIO, int]]:
        path = self.root / rel
        with path.open("rb") as fh:
            yield fh, path.stat().st_size


class _Zip:
    """A SAFE inside a .zip, read in place (no extraction: products are ~1 GB)."""

    def __init__(self, path: Path, prefix: str, names: set[str]) -> None:
        self.path, self.prefix, self.names = path, prefix, names

    def exists(self, rel: str) -> bool:
        return self.prefix + rel in self.names

    def read(self, rel: str) -> bytes:
        with open_archive(self.path, ZIP_LIMITS) as archive:
            return read_member(archive, self.prefix + rel, ZIP_LIMITS, METADATA_MAX_BYTES)

    def raster(self, rel: str) -> str:
        return f"/vsizip/{self.path.resolve()}/{self.prefix}{rel}"

    def where(self, rel: str) -> str:
        return f"{self.path}!{self.prefix}{rel}"

    def size_bytes(self) -> int:
        return self.path.stat().st_size

    @contextmanager
    def open_binary(self, rel: str) -> Iterator[tuple[BinaryIO, int]]:
        with zipfile.ZipFile(self.path) as archive, archive.open(self.prefix + rel) as fh:
            yield fh, archive.getinfo(self.prefix + rel).file_size


def _locate(path: Path) -> tuple[_Folder | _Zip, str]:
    """Find the SAFE root and its product name (folder name, ``.SAFE`` included)."""
    if not path.exists():
        raise ProductError("product not found", where=str(path), fix="check the path")
    if path.is_file() and path.name in ("MTD_MSIL2A.xml", "MTD_MSIL1C.xml"):  # users often point at it
        return _Folder(path.parent), path.parent.name
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise ProductError("not a SAFE folder nor a .zip archive", where=str(path), fix=_SENSOR_FIX)
        with open_archive(path, ZIP_LIMITS) as archive:  # a zip bomb is refused here, naming the member
            names = set(archive.namelist())
        for level in ("MTD_MSIL2A.xml", "MTD_MSIL1C.xml"):
            tops = sorted(n for n in names if PurePosixPath(n).name == level and len(PurePosixPath(n).parts) <= 2)
            if tops:
                parts = PurePosixPath(tops[0]).parts
                prefix = f"{parts[0]}/" if len(parts) == 2 else ""
                safe_name = parts[0] if len(parts) == 2 else path.name.removesuffix(".zip")
                return _Zip(path, prefix, names), safe_name
        raise ProductError(
            "the archive holds no Sentinel-2 product (no MTD_MSIL2A.xml at its top)", where=str(path), fix=_SENSOR_FIX
        )
    return _Folder(path), path.name


def open_product(path: str | Path, *, verify_checksums: bool = True) -> L2AProduct:
    """Open and validate a Level-2A product; raise :class:`ProductError` naming the faulty file, or
    :class:`~s2lake.errors.UnsafePathError` naming a path that leaves the product.

    ``verify_checksums=False`` skips hashing the files against ``manifest.safe`` (one sequential read
    of every band): damaged bands that still decode are then accepted.
    """
    source, folder_name = _locate(Path(path))
    if not source.exists("MTD_MSIL2A.xml"):
        if source.exists("MTD_MSIL1C.xml"):
            raise ProductError(
                "this is a Level-1C product (top-of-atmosphere reflectance)",
                where=source.where("MTD_MSIL1C.xml"),
                fix=_L1C_FIX,
            )
        if ProductName.parse(folder_name) is not None:
            raise ProductError(
                "product metadata file MTD_MSIL2A.xml is missing",
                where=source.where("MTD_MSIL2A.xml"),
                fix="the download is incomplete: download the product again",
            )
        raise ProductError("not a Sentinel-2 SAFE product (no MTD_MSIL2A.xml)", where=str(path), fix=_SENSOR_FIX)
    if isinstance(source, _Folder):  # only now: a folder that is no product may be large, and is not walked
        refuse_escaping_links(source.root)
    mtd = source.read("MTD_MSIL2A.xml")
    meta = parse_product_metadata(mtd, source.where("MTD_MSIL2A.xml"))
    for entry in meta.image_files:
        refuse_escaping_path(entry, source.where("MTD_MSIL2A.xml"))
    if meta.processing_level == "L1C":
        raise ProductError("this is a Level-1C product", where=source.where("MTD_MSIL2A.xml"), fix=_L1C_FIX)
    product_id = (meta.product_uri or folder_name).removesuffix(".SAFE")
    name = ProductName.parse(product_id)
    if name is None:
        raise ProductError(
            f"product name {product_id[:200]!r} is not a Sentinel-2 product name ({GRAMMAR})",
            where=source.where("MTD_MSIL2A.xml"),
            fix=_SENSOR_FIX,
        )
    if name.level != "L2A":
        raise ProductError("this is a Level-1C product", where=source.where("MTD_MSIL2A.xml"), fix=_L1C_FIX)

    listed = _band_files(meta, source)
    tile_rel = _granule_dir(meta) + "/MTD_TL.xml"
    if not source.exists(tile_rel):
        raise ProductError(
            "tile metadata file MTD_TL.xml is missing",
            where=source.where(tile_rel),
            fix="the download is incomplete: download the product again",
        )
    tile_mtd = source.read(tile_rel)
    geometry = parse_tile_metadata(tile_mtd, source.where(tile_rel))
    bands = _check_rasters(listed, geometry, source)
    if verify_checksums:  # last: a truncated or unreadable band gets its more specific message first
        read = {"MTD_MSIL2A.xml": mtd, tile_rel: tile_mtd}
        verify_product(source, read, {f"band {name}": rel for name, (_, rel) in listed.items()})
    offsets = {b.name: meta.boa_add_offset.get(b.esa_index, 0) for b in BANDS}
    return L2AProduct(
        source=str(path),
        product_id=product_id,
        product_name=f"{product_id}.SAFE",
        mission=name.mission,
        processing_level="L2A",
        tile=name.tile,
        epsg=geometry.epsg,
        ulx=geometry.ulx,
        uly=geometry.uly,
        sensing_start=meta.sensing_start,
        datatake=name.datatake,
        processing_baseline=meta.processing_baseline or name.baseline,
        relative_orbit=meta.relative_orbit if meta.relative_orbit is not None else name.relative_orbit,
        cloud_cover=meta.cloud_cover if meta.cloud_cover is not None else 0.0,
        quantification=meta.quantification or 10000,
        boa_add_offset=offsets,
        bands=bands,
        size_bytes=source.size_bytes(),
    )


def _granule_dir(meta: ProductMetadata) -> str:
    """``GRANULE/L2A_T33UUU_A015302_20180510T100432``: the granule the band files live in."""
    parts = PurePosixPath(meta.image_files[0]).parts
    return "/".join(parts[:2])


def native_band_files(meta: ProductMetadata, where: str) -> dict[str, str]:
    """Each layer the patch job reads (:data:`~s2lake.sentinel2.ALL_LAYERS`) -> its file at its native
    resolution, relative to the SAFE root, picked from the IMAGE_FILE list; every layer must be listed."""
    listed: dict[tuple[str, int], str] = {}
    for entry in meta.image_files:
        match = IMAGE_FILE_BAND.search(entry)
        if match:
            listed[(match["band"], int(match["res"]))] = entry
    files: dict[str, str] = {}
    for layer in ALL_LAYERS:
        entry = listed.get((layer.name, layer.resolution))
        if entry is None:
            raise ProductError(
                f"band {layer.name} at {layer.resolution} m is not listed in the product's IMAGE_FILE list",
                where=where,
                fix="the metadata file is incomplete or not from an L2A product: download the product again",
            )
        files[layer.name] = entry if entry.endswith(".jp2") else f"{entry}.jp2"
    return files


def files_read(meta: ProductMetadata, where: str) -> list[str]:
    """Every file :func:`open_product` and the patch job read, relative to the SAFE root: the product and
    tile metadata and the bands at their native resolution (``manifest.safe``, which lists their
    checksums, aside). Band-level downloads fetch exactly these, so a partial SAFE reads like a full one."""
    for entry in meta.image_files:
        refuse_escaping_path(entry, where)
    return ["MTD_MSIL2A.xml", f"{_granule_dir(meta)}/MTD_TL.xml", *native_band_files(meta, where).values()]


def _band_files(meta: ProductMetadata, source: _Folder | _Zip) -> dict[str, tuple[BandFile, str]]:
    """Pick each layer at its native resolution from the IMAGE_FILE list; every one must exist."""
    bands: dict[str, tuple[BandFile, str]] = {}
    for name, rel in native_band_files(meta, source.where("MTD_MSIL2A.xml")).items():
        layer = BANDS_BY_NAME[name]
        if not source.exists(rel):
            raise ProductError(
                f"band file of {layer.name} is missing",
                where=source.where(rel),
                fix="the download is incomplete: download the product again",
            )
        bands[layer.name] = (BandFile(layer.name, layer.resolution, source.raster(rel)), rel)
    return bands


@dataclass(frozen=True)
class RasterHeader:
    """What a band file's header says (no pixel decoded): the checks of SAFE bands and COG assets read it."""

    shape: tuple[int, int]
    dtype: str
    count: int
    crs: object  # rasterio.crs.CRS or None
    transform: object  # affine.Affine
    block_rows: int


def read_header(band: BandFile, kind: str, fix: str) -> RasterHeader:
    """Open ``band`` with rasterio for its header only; an unreadable file is a :class:`ProductError`
    saying it is not a readable ``kind``, with ``fix``."""
    # lazy: rasterio costs ~0.4 s to import; ingest parses SAFE metadata with this module and never reads a band
    import rasterio
    from rasterio.errors import RasterioError

    try:
        with rasterio.open(band.path) as raster:
            return RasterHeader(
                (raster.height, raster.width),
                raster.dtypes[0],
                raster.count,
                raster.crs,
                raster.transform,
                raster.block_shapes[0][0],
            )
    except RasterioError as exc:
        raise ProductError(f"band {band.band} is not a readable {kind} ({exc})", where=band.path, fix=fix) from None


def _check_rasters(
    bands: dict[str, tuple[BandFile, str]], geometry: TileGeometry, source: _Folder | _Zip
) -> dict[str, BandFile]:
    """Open every band (JPEG 2000 header only, no pixel decoding), check shape, type, grid and that
    the file is whole; return the bands with their shape and tile height (so nobody opens them again
    just to ask)."""
    checked: dict[str, BandFile] = {}
    for name, (band, rel) in bands.items():
        rows, cols = geometry.sizes.get(band.resolution) or (TILE_PIXELS[band.resolution],) * 2
        header = read_header(band, "JPEG 2000 file", "the file is corrupt or truncated: download the product again")
        shape, dtype, count = header.shape, header.dtype, header.count
        crs, transform, block_rows = header.crs, header.transform, header.block_rows
        if shape != (rows, cols):
            raise ProductError(
                f"band {band.band} is {shape[1]}x{shape[0]} px, MTD_TL.xml declares {cols}x{rows} px "
                f"at {band.resolution} m",
                where=band.path,
                fix="the file does not belong to this product or is damaged: download the product again",
            )
        if count != 1 or dtype != "uint16":
            raise ProductError(
                f"band {band.band} has {count} band(s) of {dtype}, expected 1 band of uint16",
                where=band.path,
                fix="download the product again",
            )
        if crs is not None and crs.to_epsg() not in (None, geometry.epsg):
            raise ProductError(
                f"band {band.band} is in EPSG:{crs.to_epsg()}, MTD_TL.xml says EPSG:{geometry.epsg}",
                where=band.path,
                fix="the file does not belong to this product: download the product again",
            )
        if crs is not None and (abs(transform.c - geometry.ulx) > 1e-6 or abs(transform.f - geometry.uly) > 1e-6):
            raise ProductError(
                f"band {band.band} starts at ({transform.c}, {transform.f}), MTD_TL.xml says "
                f"({geometry.ulx}, {geometry.uly})",
                where=band.path,
                fix="the file does not belong to this product: download the product again",
            )
        with source.open_binary(rel) as (fh, size):
            damage = jp2_truncation(fh, size)
        if damage:
            raise ProductError(
                f"band {band.band} is a truncated JPEG 2000 file ({damage})",
                where=band.path,
                fix="the download was interrupted: download the product again",
            )
        checked[name] = replace(band, shape=shape, block_rows=block_rows)
    return checked


def jp2_truncation(fh: BinaryIO, size: int) -> str | None:
    """Why a JPEG 2000 file is cut short, or None when it is whole.

    GDAL opens a truncated file happily (it reads only the header) and fails much later on the
    missing tiles, so the reader walks the JP2 box structure instead (a few bytes per box; ISO/IEC
    15444-1 Annex I): every box must fit in the file and the codestream must end with its EOC marker.
    Hand-written because no library exposes this check without decoding the image.
    """
    pos, codestream = 0, False
    while pos < size:
        fh.seek(pos)
        head = fh.read(8)
        if len(head) < 8:
            return f"box header cut at byte {pos}"
        length, kind = struct.unpack(">I4s", head)
        if length == 1:
            length = struct.unpack(">Q", fh.read(8))[0]
        elif length == 0:  # the last box may run to the end of the file
            length = size - pos
        if length < 8 or pos + length > size:
            return f"box {kind.decode('latin-1')!r} needs {pos + length} bytes, the file has {size}"
        if kind == b"jp2c":
            codestream = True
            fh.seek(pos + length - 2)
            if fh.read(2) != b"\xff\xd9":
                return "the codestream has no end-of-codestream marker"
        pos += length
    return None if codestream else "no codestream box"
