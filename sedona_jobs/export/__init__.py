"""Datasets out of the warehouse: BigEarthNet v2 trees (``export ben``), zipped partitions and their
extraction (``export extract``), and re-tiling of patch bands into sub-patches (``retile``)."""
