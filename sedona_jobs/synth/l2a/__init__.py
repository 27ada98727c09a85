"""Synthetic Sentinel-2 Level-2A products with ESA's exact SAFE layout, for demos, tests and benchmarks.

There is no real imagery on a developer machine or in CI, yet the patch pipeline must be exercised
on real formats: JPEG 2000 bands at native resolution, ESA metadata, NO_DATA swaths, scene classes.
``write_l2a`` produces such a product from a seed, deterministically, at any crop size up to the
full 10,980 px tile.
"""

from sedona_jobs.synth.l2a.product import write_l2a

__all__ = ["write_l2a"]
