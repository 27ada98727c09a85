"""Reference layers (CORINE Land Cover, NUTS, Natural Earth countries) as GeoParquet 1.1 tables.

``load_reference`` turns an official distribution into a warehouse table; ``write_synthetic`` stores
the look-alike layers of :mod:`sedona_jobs.synth.reference_layers` the same way.
"""

from __future__ import annotations

from sedona_jobs.reference.loader import LoadReport, load_reference
from sedona_jobs.reference.writer import write_synthetic

__all__ = ["LoadReport", "load_reference", "write_synthetic"]
