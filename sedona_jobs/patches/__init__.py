"""Cut Level-2A products into BigEarthNet-style 1200 m patches and store them in the ``patches`` table.

Modules, in the order data flows through them: :mod:`.ids` (patch ids and their parser),
:mod:`.patch_grid` (which patches a product has and where they are), :mod:`.strips` (windowed JPEG 2000
reads of whole patch rows and the per-patch statistics), :mod:`.batches` (Arrow record batches in the
``patches`` schema), :mod:`.workers` (band and product parallelism), :mod:`.build` (one Delta commit
per product and its row in ``products``).
"""

from s2lake.ben_names import PatchId
from sedona_jobs.patches.build import BuildOutcome, build_products

__all__ = ["BuildOutcome", "PatchId", "build_products"]
