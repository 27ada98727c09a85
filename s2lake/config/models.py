"""Settings of the dbt project (``s2lake models build``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ModelsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: Literal["duckdb", "spark"] = Field("duckdb", description="dbt target.")
