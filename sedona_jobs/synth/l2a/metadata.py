"""The XML of a synthetic product: ``MTD_MSIL2A.xml``, ``GRANULE/*/MTD_TL.xml`` and ``manifest.safe``.

Element names, nesting and namespaces copy ESA's PSD 14.x files (a real ``MTD_MSIL2A.xml`` of
baseline 05.10 and a real ``MTD_TL.xml`` are in the project's test data); the values are the
product's own: its names, file list, tile geometry, and cover percentages measured on its SCL.
Long calibration blocks we have no use for (spectral response curves, GIPP lists, angle grids) are
left out: the reader and every tool we know ignore them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from s2lake.sentinel2 import SCL_CLASSES
from sedona_jobs.synth.l2a.naming import ProductNames

PSD = "https://psd-14.sentinel2.eo.esa.int/PSD"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
#: ESA band_id -> (physical band, resolution, min nm, max nm, central nm, solar irradiance W/m²/µm),
#: from a real baseline 05.10 MTD_MSIL2A.xml.
SPECTRAL = (
    ("B1", 60, 412, 456, 442.7, 1884.69),
    ("B2", 10, 456, 533, 492.7, 1959.66),
    ("B3", 10, 538, 583, 559.8, 1823.24),
    ("B4", 10, 646, 684, 664.6, 1512.06),
    ("B5", 20, 695, 714, 704.1, 1424.64),
    ("B6", 20, 731, 749, 740.5, 1287.61),
    ("B7", 20, 769, 797, 782.8, 1162.08),
    ("B8", 10, 760, 907, 832.8, 1041.63),
    ("B8A", 20, 837, 881, 864.7, 955.32),
    ("B9", 60, 932, 958, 945.1, 812.92),
    ("B10", 60, 1337, 1412, 1373.5, 367.15),
    ("B11", 20, 1539, 1682, 1613.7, 245.59),
    ("B12", 20, 2078, 2320, 2202.4, 85.25),
)
#: Image_Content_QI element per SCL class (ESA's names differ from the class names).
QI_NAMES = {
    0: "NODATA_PIXEL_PERCENTAGE",
    1: "SATURATED_DEFECTIVE_PIXEL_PERCENTAGE",
    2: "DARK_FEATURES_PERCENTAGE",
    3: "CLOUD_SHADOW_PERCENTAGE",
    4: "VEGETATION_PERCENTAGE",
    5: "NOT_VEGETATED_PERCENTAGE",
    6: "WATER_PERCENTAGE",
    7: "UNCLASSIFIED_PERCENTAGE",
    8: "MEDIUM_PROBA_CLOUDS_PERCENTAGE",
    9: "HIGH_PROBA_CLOUDS_PERCENTAGE",
    10: "THIN_CIRRUS_PERCENTAGE",
    11: "SNOW_ICE_PERCENTAGE",
}


@dataclass(frozen=True)
class ProductFacts:
    """Everything the metadata states that is not a name."""

    names: ProductNames
    epsg: int
    ulx: float
    uly: float
    pixels: int  # edge length at 10 m
    footprint_latlon: list[tuple[float, float]]  # closed ring of (lat, lon), ESA order
    class_counts: dict[int, int]  # SCL value -> 20 m pixel count
    image_files: list[str]  # IMAGE_FILE entries (relative, no extension)
    dn_offset: int  # 1000 for baselines >= 04.00

    @property
    def valid_pixels(self) -> int:
        return sum(n for c, n in self.class_counts.items() if c != 0)

    def percent(self, *classes: int, of_valid: bool = True) -> float:
        total = self.valid_pixels if of_valid else sum(self.class_counts.values())
        return 100 * sum(self.class_counts.get(c, 0) for c in classes) / total if total else 0.0

    @property
    def cloud_cover(self) -> float:
        """ESA's Cloud_Coverage_Assessment: medium + high probability clouds + thin cirrus."""
        return self.percent(8, 9, 10)


def _el(parent: etree._Element, tag: str, text: object = None, **attrs: object) -> etree._Element:
    node = etree.SubElement(parent, tag, {k: str(v) for k, v in attrs.items()})
    if text is not None:
        node.text = str(text)
    return node


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _number(value: float) -> str:
    """Coordinates as ESA writes them: ``5900040``, not ``5.90004e+06`` or ``5900040.0``."""
    return str(int(value)) if float(value).is_integer() else repr(value)


def _serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=False, pretty_print=True)


def earth_sun_factor(day_of_year: int) -> float:
    """Reflectance_Conversion U: (1 / Earth-Sun distance in AU)², as in ESA's processors."""
    return 1 / (1 - 0.01672 * math.cos(math.radians(0.9856 * (day_of_year - 4)))) ** 2


def product_xml(facts: ProductFacts) -> bytes:
    n = facts.names
    ns = f"{PSD}/User_Product_Level-2A.xsd"
    root = etree.Element(f"{{{ns}}}Level-2A_User_Product", nsmap={"n1": ns, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", ns)
    general = _el(root, f"{{{ns}}}General_Info")
    info = _el(general, "Product_Info")
    _el(info, "PRODUCT_START_TIME", _time(n.sensing))
    _el(info, "PRODUCT_STOP_TIME", _time(n.sensing))
    _el(info, "PRODUCT_URI", f"{n.product_id}.SAFE")
    _el(info, "PROCESSING_LEVEL", "Level-2A")
    _el(info, "PRODUCT_TYPE", "S2MSI2A")
    _el(info, "PROCESSING_BASELINE", n.baseline)
    _el(info, "PRODUCT_DOI", "https://doi.org/10.5270/S2_-znk9xsj")
    _el(info, "GENERATION_TIME", n.generation.strftime("%Y-%m-%dT%H:%M:%S.000000Z"))
    _el(info, "PREVIEW_IMAGE_URL", "Not applicable")
    _el(info, "PREVIEW_GEO_INFO", "Not applicable")
    datatake = _el(
        info, "Datatake", datatakeIdentifier=f"G{n.mission}_{n.datatake}_{n.absolute_orbit:06d}_N{n.baseline}"
    )
    _el(datatake, "SPACECRAFT_NAME", f"Sentinel-2{n.mission[-1]}")
    _el(datatake, "DATATAKE_TYPE", "INS-NOBS")
    _el(datatake, "DATATAKE_SENSING_START", _time(n.sensing))
    _el(datatake, "SENSING_ORBIT_NUMBER", n.relative_orbit)
    _el(datatake, "SENSING_ORBIT_DIRECTION", "DESCENDING")
    query = _el(info, "Query_Options", completeSingleTile="true")
    _el(query, "PRODUCT_FORMAT", "SAFE_COMPACT")
    granules = _el(_el(info, "Product_Organisation"), "Granule_List")
    granule = _el(
        granules,
        "Granule",
        datastripIdentifier=n.datastrip_id,
        granuleIdentifier=n.tile_id,
        imageFormat="JPEG2000",
    )
    for entry in facts.image_files:
        _el(granule, "IMAGE_FILE", entry)

    image = _el(general, "Product_Image_Characteristics")
    for text, index in (("NODATA", 0), ("SATURATED", 65535)):
        special = _el(image, "Special_Values")
        _el(special, "SPECIAL_VALUE_TEXT", text)
        _el(special, "SPECIAL_VALUE_INDEX", index)
    order = _el(image, "Image_Display_Order")
    for channel, band in (("RED_CHANNEL", 3), ("GREEN_CHANNEL", 2), ("BLUE_CHANNEL", 1)):
        _el(order, channel, band)
    quantification = _el(image, "QUANTIFICATION_VALUES_LIST")
    _el(quantification, "BOA_QUANTIFICATION_VALUE", 10000, unit="none")
    _el(quantification, "AOT_QUANTIFICATION_VALUE", "1000.0", unit="none")
    _el(quantification, "WVP_QUANTIFICATION_VALUE", "1000.0", unit="cm")
    if facts.dn_offset:
        offsets = _el(image, "BOA_ADD_OFFSET_VALUES_LIST")
        for band_id in range(len(SPECTRAL)):
            _el(offsets, "BOA_ADD_OFFSET", -facts.dn_offset, band_id=band_id)
    conversion = _el(image, "Reflectance_Conversion")
    _el(conversion, "U", repr(earth_sun_factor(n.sensing.timetuple().tm_yday)))
    irradiance = _el(conversion, "Solar_Irradiance_List")
    spectral = _el(image, "Spectral_Information_List")
    for band_id, (name, resolution, low, high, central, solar) in enumerate(SPECTRAL):
        _el(irradiance, "SOLAR_IRRADIANCE", solar, bandId=band_id, unit="W/m²/µm")
        band = _el(spectral, "Spectral_Information", bandId=band_id, physicalBand=name)
        _el(band, "RESOLUTION", resolution)
        wavelength = _el(band, "Wavelength")
        _el(wavelength, "MIN", low, unit="nm")
        _el(wavelength, "MAX", high, unit="nm")
        _el(wavelength, "CENTRAL", central, unit="nm")
    classes = _el(image, "Scene_Classification_List")
    for index, name in SCL_CLASSES.items():
        entry = _el(classes, "Scene_Classification_ID")
        _el(entry, "SCENE_CLASSIFICATION_TEXT", f"SC_{name}")
        _el(entry, "SCENE_CLASSIFICATION_INDEX", index)

    geometric = _el(root, f"{{{ns}}}Geometric_Info")
    footprint = _el(geometric, "Product_Footprint")
    inner = _el(footprint, "Product_Footprint")
    ring = " ".join(f"{lat!r} {lon!r}" for lat, lon in facts.footprint_latlon)
    _el(_el(inner, "Global_Footprint"), "EXT_POS_LIST", ring + " ")
    _el(footprint, "RASTER_CS_TYPE", "POINT")
    _el(footprint, "PIXEL_ORIGIN", 1)
    crs = _el(geometric, "Coordinate_Reference_System")
    _el(crs, "GEO_TABLES", "EPSG", version="1")
    _el(crs, "HORIZONTAL_CS_TYPE", "GEOGRAPHIC")

    auxiliary = _el(root, f"{{{ns}}}Auxiliary_Data_Info")
    _el(auxiliary, "PRODUCTION_DEM_TYPE", "CopernicusDEM30")

    quality = _el(root, f"{{{ns}}}Quality_Indicators_Info")
    _el(quality, "Cloud_Coverage_Assessment", f"{facts.cloud_cover:.6f}")
    technical = _el(quality, "Technical_Quality_Assessment")
    _el(technical, "DEGRADED_ANC_DATA_PERCENTAGE", "0.0")
    _el(technical, "DEGRADED_MSI_DATA_PERCENTAGE", 0)
    _image_content_qi(quality, facts)
    return _serialise(root)


def _image_content_qi(parent: etree._Element, facts: ProductFacts) -> None:
    qi = _el(parent, "Image_Content_QI")
    _el(qi, "CLOUDY_PIXEL_OVER_LAND_PERCENTAGE", f"{facts.cloud_cover:.6f}")
    _el(qi, QI_NAMES[0], f"{facts.percent(0, of_valid=False):.6f}")
    for index in range(1, 12):
        _el(qi, QI_NAMES[index], f"{facts.percent(index):.6f}")


def sun_angles(latitude: float, when: datetime) -> tuple[float, float]:
    """Mean sun zenith and azimuth (degrees) at ~10:30 local solar time: declination model only."""
    declination = 23.44 * math.sin(math.radians(360 / 365 * (when.timetuple().tm_yday - 81)))
    hour_angle = -22.5  # 10:30 local solar time
    lat, dec, ha = (math.radians(v) for v in (latitude, declination, hour_angle))
    cos_zenith = math.sin(lat) * math.sin(dec) + math.cos(lat) * math.cos(dec) * math.cos(ha)
    zenith = math.acos(max(-1.0, min(1.0, cos_zenith)))
    azimuth = math.atan2(math.sin(ha), math.cos(ha) * math.sin(lat) - math.tan(dec) * math.cos(lat))
    return math.degrees(zenith), (math.degrees(azimuth) + 180) % 360


def tile_xml(facts: ProductFacts, latitude: float) -> bytes:
    n = facts.names
    ns = f"{PSD}/S2_PDI_Level-2A_Tile_Metadata.xsd"
    root = etree.Element(f"{{{ns}}}Level-2A_Tile_ID", nsmap={"n1": ns, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", ns)
    general = _el(root, f"{{{ns}}}General_Info")
    _el(general, "L1C_TILE_ID", n.tile_id.replace("L2A", "L1C").replace("2APS", "2BPS"), metadataLevel="Brief")
    _el(general, "TILE_ID", n.tile_id, metadataLevel="Brief")
    _el(general, "DATASTRIP_ID", n.datastrip_id, metadataLevel="Standard")
    _el(general, "DOWNLINK_PRIORITY", "NOMINAL", metadataLevel="Standard")
    _el(general, "SENSING_TIME", _time(n.granule_start), metadataLevel="Standard")
    archiving = _el(general, "Archiving_Info", metadataLevel="Expertise")
    _el(archiving, "ARCHIVING_CENTRE", "2APS")
    _el(archiving, "ARCHIVING_TIME", _time(n.generation))

    geometric = _el(root, f"{{{ns}}}Geometric_Info")
    geocoding = _el(geometric, "Tile_Geocoding", metadataLevel="Brief")
    zone = facts.epsg % 100
    hemisphere = "N" if facts.epsg // 100 == 326 else "S"
    _el(geocoding, "HORIZONTAL_CS_NAME", f"WGS84 / UTM zone {zone}{hemisphere}")
    _el(geocoding, "HORIZONTAL_CS_CODE", f"EPSG:{facts.epsg}")
    for resolution in (10, 20, 60):
        size = _el(geocoding, "Size", resolution=resolution)
        _el(size, "NROWS", facts.pixels * 10 // resolution)
        _el(size, "NCOLS", facts.pixels * 10 // resolution)
    for resolution in (10, 20, 60):
        position = _el(geocoding, "Geoposition", resolution=resolution)
        _el(position, "ULX", _number(facts.ulx))
        _el(position, "ULY", _number(facts.uly))
        _el(position, "XDIM", resolution)
        _el(position, "YDIM", -resolution)
    angles = _el(geometric, "Tile_Angles", metadataLevel="Standard")
    zenith, azimuth = sun_angles(latitude, n.sensing)
    sun = _el(angles, "Mean_Sun_Angle")
    _el(sun, "ZENITH_ANGLE", f"{zenith:.6f}", unit="deg")
    _el(sun, "AZIMUTH_ANGLE", f"{azimuth:.6f}", unit="deg")

    quality = _el(root, f"{{{ns}}}Quality_Indicators_Info", metadataLevel="Standard")
    qi = _el(quality, "Image_Content_QI")
    _el(qi, "CLOUDY_PIXEL_PERCENTAGE", f"{facts.cloud_cover:.6f}")
    _el(qi, "DEGRADED_MSI_DATA_PERCENTAGE", 0)
    for index in range(12):
        _el(qi, QI_NAMES[index], f"{facts.percent(index, of_valid=index != 0):.6f}")
    return _serialise(root)


def manifest_xml(names: ProductNames, files: list[tuple[str, int, str]]) -> bytes:
    """``manifest.safe`` (XFDU): one dataObject per file with its size and MD5, as ESA delivers it,
    so a download can be verified file by file."""
    xfdu_ns = "urn:ccsds:schema:xfdu:1"
    root = etree.Element(
        f"{{{xfdu_ns}}}XFDU",
        nsmap={"xfdu": xfdu_ns},
        version="esa/safe/sentinel/1.1/sentinel-2/msi/archive_l2a_user_product",
    )
    _el(root, "informationPackageMap")
    objects = _el(root, "dataObjectSection")
    for i, (rel, size, md5) in enumerate(sorted(files)):
        data_object = _el(objects, "dataObject", ID=f"{names.product_id}_{i:04d}")
        stream = _el(data_object, "byteStream", mimeType="application/octet-stream", size=size)
        _el(stream, "fileLocation", locatorType="URL", href=f"./{rel}")
        _el(stream, "checksum", md5, checksumName="MD5")  # lower-case hex, as ESA writes it
    return _serialise(root)
