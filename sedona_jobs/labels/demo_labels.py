"""The demo's labelling step: generated CLC-like polygons + the shipped country layer, offline."""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import Transformer

from s2lake.shipped_data import SHIPPED_COUNTRIES
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.labels.build import LabelsReport, build_labels
from sedona_jobs.reference.loader import load_reference
from sedona_jobs.reference.writer import write_synthetic
from sedona_jobs.synth.reference_layers import synth_clc

#: About one CLC-like polygon per 0.5 km2, like CORINE's 25 ha minimum mapping unit allows and rural
#: Europe shows; capped so the demo stays quick.
KM2_PER_POLYGON = 0.5
MAX_POLYGONS = 200_000


def patches_bbox_3035(warehouse: Warehouse, margin_m: float = 2_000) -> tuple[float, float, float, float]:
    """Bounding box (EPSG:3035) of every patch footprint, plus a margin."""

    patches = TableStore(warehouse).read("patches", columns=["epsg", "footprint"])
    epsg = np.asarray(patches.column("epsg"))
    geoms = shapely.from_wkb(np.asarray(patches.column("footprint").to_pylist(), dtype=object))
    boxes = []
    for code in np.unique(epsg):
        coords = shapely.get_coordinates(geoms[epsg == code])
        x, y = Transformer.from_crs(int(code), 3035, always_xy=True).transform(coords[:, 0], coords[:, 1])
        boxes.append((np.min(x), np.min(y), np.max(x), np.max(y)))
    b = np.array(boxes)
    return (b[:, 0].min() - margin_m, b[:, 1].min() - margin_m, b[:, 2].max() + margin_m, b[:, 3].max() + margin_m)


def demo_step(warehouse: Warehouse, *, seed: int = 0, engine: str = "sedonadb") -> LabelsReport:
    """Generate CLC-like polygons around the warehouse's patches, load the shipped countries, label."""
    bbox = patches_bbox_3035(warehouse)
    area_km2 = (bbox[2] - bbox[0]) * (bbox[3] - bbox[1]) / 1e6
    count = int(min(max(area_km2 / KM2_PER_POLYGON, 100), MAX_POLYGONS))
    write_synthetic(synth_clc(bbox, count, seed=seed), warehouse, "clc", bbox=bbox, count=count, seed=seed)
    load_reference("countries", SHIPPED_COUNTRIES, warehouse)
    return build_labels(warehouse, engine=engine, country_source="countries")
