"""s2lake: a spatial lakehouse that turns Sentinel-2 imagery into labelled patch archives.

This package is the shared core (configuration, warehouse and table access, the ``s2lake`` CLI).
``ingest`` and ``sedona_jobs`` import it; it imports neither of them at module level, so there is
no import cycle (the CLI loads their commands lazily).
"""

__version__ = "0.1.0"
