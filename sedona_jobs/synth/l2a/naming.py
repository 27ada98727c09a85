"""Names and times of a synthetic product, following ESA's conventions (PSD 14.x "compact" naming).

``S2A_MSIL2A_<datatake start>_N<baseline>_R<relative orbit>_T<tile>_<generation time>.SAFE`` holding
``GRANULE/L2A_T<tile>_A<absolute orbit>_<granule start>/IMG_DATA/R10m/T<tile>_<datatake>_B02_10m.jp2``.
Times are plausible, not real: Sentinel-2 crosses the equator at 10:30 local solar time on its
descending pass, so the sensing time follows from the tile's longitude.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from s2lake.product_names import stem

#: Launch dates, from which absolute orbits are counted (143 orbits every 10 days).
MISSION_EPOCH = {
    "S2A": datetime(2015, 6, 23, tzinfo=UTC),
    "S2B": datetime(2017, 3, 7, tzinfo=UTC),
    "S2C": datetime(2024, 9, 5, tzinfo=UTC),
    "S2D": datetime(2028, 1, 1, tzinfo=UTC),
}
#: ESA's ground segment publishes L2A about two hours after sensing.
PROCESSING_DELAY = timedelta(hours=2, minutes=14, seconds=29)
#: The granule (tile) starts a minute after the datatake in the examples ESA distributes.
GRANULE_DELAY = timedelta(seconds=71)


@dataclass(frozen=True)
class ProductNames:
    mission: str  # "S2A"
    tile: str  # "33UUU"
    baseline: str  # "05.10"
    sensing: datetime  # datatake sensing start (UTC)
    relative_orbit: int

    @classmethod
    def plan(cls, mission: str, tile: str, day: date, baseline: str, longitude: float, seed: int) -> ProductNames:
        solar_hours = (10.5 - longitude / 15) % 24
        seconds = int(solar_hours * 3600) + seed % 60
        sensing = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=seconds)
        # Relative orbits are fixed per ground track; a stable hash keeps one tile on one track.
        orbit = zlib.crc32(tile.encode()) % 143 + 1
        return cls(mission, tile, baseline, sensing, orbit)

    @property
    def datatake(self) -> str:
        return f"{self.sensing:%Y%m%dT%H%M%S}"

    @property
    def generation(self) -> datetime:
        return self.sensing + PROCESSING_DELAY

    @property
    def granule_start(self) -> datetime:
        return self.sensing + GRANULE_DELAY

    @property
    def absolute_orbit(self) -> int:
        days = (self.sensing - MISSION_EPOCH[self.mission]).total_seconds() / 86400
        return max(1, int(days * 14.3) + 1)

    @property
    def product_id(self) -> str:
        head = stem(self.mission, "L2A", self.datatake, self.baseline, self.relative_orbit, self.tile)
        return f"{head}_{self.generation:%Y%m%dT%H%M%S}"

    @property
    def granule(self) -> str:
        return f"L2A_T{self.tile}_A{self.absolute_orbit:06d}_{self.granule_start:%Y%m%dT%H%M%S}"

    @property
    def datastrip(self) -> str:
        return f"DS_2APS_{self.generation:%Y%m%dT%H%M%S}_S{self.granule_start:%Y%m%dT%H%M%S}"

    @property
    def datastrip_id(self) -> str:
        return f"{self.mission}_OPER_MSI_L2A_{self.datastrip}_N{self.baseline}"

    @property
    def tile_id(self) -> str:
        return (
            f"{self.mission}_OPER_MSI_L2A_TL_2APS_{self.generation:%Y%m%dT%H%M%S}_A{self.absolute_orbit:06d}"
            f"_T{self.tile}_N{self.baseline}"
        )

    def image_file(self, layer: str, resolution: int) -> str:
        """Entry of the IMAGE_FILE list (relative to the SAFE root, without ``.jp2``)."""
        return f"GRANULE/{self.granule}/IMG_DATA/R{resolution}m/T{self.tile}_{self.datatake}_{layer}_{resolution}m"
