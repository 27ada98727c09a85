"""Generators of realistic inputs for demos, tests and benchmarks: no real data needed, every format real.

- :mod:`.l2a`: Sentinel-2 Level-2A products (ESA's SAFE layout, optionally a COG/STAC copy);
- :mod:`.reference_layers`: CLC-like and NUTS-like polygon layers (EPSG:3035);
- :mod:`.bigearthnet`: BigEarthNet-like datasets (v1 and v2 layouts) with known defects;
- :mod:`.warehouse`: a warehouse of source tables for the dbt models, with known defects.
"""
