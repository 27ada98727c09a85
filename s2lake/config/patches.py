"""Settings of the patch builder (``s2lake patches build``)."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class PatchesSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    engine: Literal["sedonadb", "spark"] = Field(
        "sedonadb",
        description="sedonadb: the embedded engine (local worker processes, delta-rs; no JVM), named like "
        "labels.engine; spark: products or bands spread over Spark executors, written through Delta Lake on "
        "Spark in one commit per run. Rows are identical.",
    )
    mode: Literal["band", "product"] = Field(
        "band",
        description="band: split one product's bands over the workers (fast for few products); "
        "product: one worker per product (fast for many products). Results are identical.",
    )
    workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="Worker processes decoding JPEG 2000 (default: all cores). Band mode uses at most 13; "
        "on Spark, band mode splits each product into this many band groups (one task each).",
    )
    drop_nodata: bool = Field(False, description="Drop patches that contain any NO_DATA pixel.")
    verify_checksums: bool = Field(
        True,
        description="Check the bands and metadata read against the MD5/SHA3-256 checksums of the product's "
        "manifest.safe before cutting. Off saves one read of every band, but damaged bands that still decode "
        "go into the patches unnoticed.",
    )
    strip_rows: int = Field(
        10, ge=1, description="Patch rows decoded per read; bounds memory (~30 MB per row as int32, 3 strips ahead)."
    )
