"""Reference layers (CORINE Land Cover, NUTS, Natural Earth countries) as GeoParquet 1.1 tables.

``load_reference`` turns an official distribution into a warehouse table; ``synth_clc`` /
``synth_nuts`` generate look-alike layers and ``write_synthetic`` stores them the same way.
"""

from __future__ import annotations

from sedona_jobs.reference.loader import LoadReport, load_reference
from sedona_jobs.reference.synth import synth_clc, synth_nuts
from sedona_jobs.reference.writer import write_synthetic

__all__ = ["LoadReport", "load_reference", "synth_clc", "synth_nuts", "write_synthetic"]
