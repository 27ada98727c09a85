"""BigEarthNet patch names: v2 patch ids, v1 patch names, and the map from v1 to v2.

* v2 id: ``S2A_MSIL2A_20180510T100031_N9999_R122_T33UUU_26_57`` -- the L2A product name's stem
  (:data:`s2lake.product_names.STEM_PATTERN`) then the patch's column and row from the tile origin,
  two digits each (a tile has 91 x 91 patches). BigEarthNet v2 processed its L1C tiles with sen2cor
  itself, so its ids carry baseline ``N9999``; patches cut by s2lake keep their product's own baseline.
* v1 name: ``S2A_MSIL2A_20170613T101031_87_48`` -- mission, sensing time, then column and row without
  padding. Some v1 names lost the hour's leading zero (``20170924T93020``) and a few carry a
  seconds field past 59 (``20180204T94161``); :class:`BenV1Name` reads both the way BigEarthNet v2's
  own pipeline does (pad the hour, clamp the seconds to 59).
* v1 ``tile_source``: the L1C product name in ``<name>_labels_metadata.json``, with the same
  short times; it is where a v1 patch's tile and relative orbit come from.

The column and row are the same in both versions (checked on the six real v1 patches: their
corners are origin + index x 1200 m of the tile in their ``tile_source``), so a v1 name maps to a v2 id
once the tile and the relative orbit are known.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from s2lake.errors import ProductError
from s2lake.product_names import STEM_PATTERN, is_time, stem
from s2lake.sentinel2 import MISSIONS, PATCH_SIZE_M
from s2lake.tiling_grid import tile_with_origin

#: Baseline BigEarthNet v2 ids carry (its tiles were processed to L2A by sen2cor, which writes N9999).
V2_BASELINE = "99.99"
_V2_ID = re.compile(STEM_PATTERN + r"_(?P<col>\d{2})_(?P<row>\d{2})")
_MISSION = "|".join(MISSIONS)
_V1_NAME = re.compile(
    rf"(?P<mission>{_MISSION})_MSIL2A_(?P<date>\d{{8}})T(?P<time>\d{{5,6}})_(?P<col>\d{{1,2}})_(?P<row>\d{{1,2}})"
)
_V1_TILE_SOURCE = re.compile(
    rf"(?P<mission>{_MISSION})_MSIL1C_(?P<date>\d{{8}})T(?P<time>\d{{5,6}})_N(?P<baseline>\d{{4}})"
    r"_R(?P<orbit>\d{3})_T(?P<tile>\d{2}[A-Z]{3})_\d{8}T\d{5,6}(?:\.SAFE)?"
)
V2_GRAMMAR = "<mission>_MSIL2A_<YYYYMMDDTHHMMSS>_N<baseline>_R<orbit>_T<tile>_<col:2 digits>_<row:2 digits>"
V1_GRAMMAR = "<mission>_MSIL2A_<YYYYMMDD>T<HHMMSS or HMMSS>_<col>_<row>"


@dataclass(frozen=True)
class PatchId:
    """A BigEarthNet v2 patch id; also the id of every patch s2lake cuts from a SAFE product."""

    mission: str  # "S2A"
    datatake: str  # "20170613T101031"
    baseline: str  # "05.10"
    relative_orbit: int  # 22
    tile: str  # "33UUP"
    col: int
    row: int

    def prefix(self) -> str:
        """The product part of the id (everything before ``_<col>_<row>``): a v2 product folder's name."""
        return stem(self.mission, "L2A", self.datatake, self.baseline, self.relative_orbit, self.tile)

    def __str__(self) -> str:
        return f"{self.prefix()}_{self.col:02d}_{self.row:02d}"

    @property
    def sensing(self) -> datetime:
        return datetime.strptime(self.datatake, "%Y%m%dT%H%M%S").replace(tzinfo=UTC)

    @classmethod
    def parse(cls, text: str) -> PatchId | None:
        """The parts of a v2 id, or None when ``text`` is not one (the whole text must match)."""
        match = _V2_ID.fullmatch(text)
        if match is None or match["level"] != "L2A" or not is_time(match["datatake"]):
            return None
        baseline = match["baseline"]
        return cls(
            mission=match["mission"],
            datatake=match["datatake"],
            baseline=f"{baseline[:2]}.{baseline[2:]}",
            relative_orbit=int(match["orbit"]),
            tile=match["tile"],
            col=int(match["col"]),
            row=int(match["row"]),
        )

    @classmethod
    def require(cls, text: str, where: str | None = None) -> PatchId:
        """Like :meth:`parse`, but a text that is not a v2 id is refused with :class:`ProductError`."""
        parsed = cls.parse(text)
        if parsed is None:
            raise ProductError(
                f"{text[:200]!r} is not a BigEarthNet v2 patch id",
                where=where,
                fix=f"expected {V2_GRAMMAR}, e.g. S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP_26_57",
            )
        return parsed


def _v1_datatake(date: str, time: str) -> str | None:
    """``YYYYMMDDTHHMMSS`` of a v1 time: hour's lost leading zero restored, seconds past 59 clamped (as
    BigEarthNet v2's parser reads them); None when it is still not a real date and time."""
    time = time.zfill(6)
    if int(time[4:]) > 59:
        time = time[:4] + "59"
    text = f"{date}T{time}"
    return text if is_time(text) else None


@dataclass(frozen=True)
class BenV1Name:
    """A BigEarthNet v1 Sentinel-2 patch name (also the name of its folder and file prefix)."""

    text: str  # as given
    mission: str
    datatake: str  # normalised, YYYYMMDDTHHMMSS
    col: int
    row: int

    @classmethod
    def parse(cls, text: str) -> BenV1Name | None:
        match = _V1_NAME.fullmatch(text)
        if match is None:
            return None
        datatake = _v1_datatake(match["date"], match["time"])
        if datatake is None:
            return None
        return cls(text, match["mission"], datatake, int(match["col"]), int(match["row"]))

    @property
    def sensing(self) -> datetime:
        return datetime.strptime(self.datatake, "%Y%m%dT%H%M%S").replace(tzinfo=UTC)

    @property
    def product(self) -> str:
        """The name without ``_<col>_<row>``: all a v1 name says about its product."""
        return self.text.rsplit("_", 2)[0]

    def v2_id(self, tile: str, relative_orbit: int) -> PatchId:
        """The v2 id of this patch, given its tile and relative orbit (from its ``tile_source``)."""
        return PatchId(self.mission, self.datatake, V2_BASELINE, relative_orbit, tile, self.col, self.row)


@dataclass(frozen=True)
class V1TileSource:
    """The L1C product a v1 patch was cut from (``tile_source`` in its labels_metadata.json)."""

    tile: str
    relative_orbit: int

    @classmethod
    def parse(cls, text: str) -> V1TileSource | None:
        match = _V1_TILE_SOURCE.fullmatch(text)
        return None if match is None else cls(match["tile"], int(match["orbit"]))


def tile_by_origin(epsg: int, ulx: float, uly: float, col: int, row: int) -> str | None:
    """The tile whose origin lies ``col``/``row`` patches up-left of a patch corner (the tiling grid), or
    None: how a v1 patch without labels_metadata.json still finds its tile."""
    return tile_with_origin(epsg, ulx - col * PATCH_SIZE_M, uly + row * PATCH_SIZE_M)
