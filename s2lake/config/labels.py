"""Settings of the labelling joins (``s2lake labels build``) and reference loads."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class LabelsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    engine: Literal["sedonadb", "spark"] = Field("sedonadb", description="Engine for the joins.")
    country_source: Literal["auto", "nuts", "countries"] = Field(
        "auto",
        description="Country layer for patch_country: NUTS level 0, Natural Earth countries, or auto "
        "(NUTS when loaded, else countries).",
    )
    skip_unknown_epsg: bool = Field(
        False, description="Leave out (and report) patches whose EPSG code PROJ does not know, instead of failing."
    )
