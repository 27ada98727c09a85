"""Settings of ingestion (``s2lake ingest``): mirrors are data, declared here, not in code."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class IngestSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
