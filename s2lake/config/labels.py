"""Settings of the labelling joins (``s2lake labels build``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class LabelsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    engine: Literal["sedonadb", "spark"] = Field("sedonadb", description="Engine for the joins.")
