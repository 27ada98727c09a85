"""The Sentinel-2 product-name grammar: the one place s2lake parses and formats product names.

``S2A_MSIL2A_20180510T100031_N0510_R122_T33UUU_20180510T121500`` (ESA PSD 14.x "compact" naming) is
``<mission>_MSI<level>_<datatake sensing start>_N<baseline>_R<relative orbit>_T<tile>_<discriminator>``;
the folder is that name plus ``.SAFE`` and a download may add ``.zip``.

Names come from catalogues s2lake does not control and become file and folder names in the
warehouse, so a name counts only when the WHOLE text matches (``fullmatch``: ``$`` would let a trailing
newline through) and its times are real dates. Such a name holds letters, digits and ``_`` only, so it
can never hold a path separator or ``..``. ingest (catalogue titles), sedona_jobs (a SAFE's name, patch
ids) and the synthesiser all use this module, so they cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from s2lake.errors import UnsafePathError
from s2lake.sentinel2 import MISSIONS

#: Suffixes a product name may carry on disk or in a catalogue, stripped in this order.
SUFFIXES = (".zip", ".SAFE")
_TIME_FORMAT = "%Y%m%dT%H%M%S"
#: Everything up to the tile: also the prefix of BigEarthNet v2 patch ids (:mod:`s2lake.ben_names`).
STEM_PATTERN = (
    rf"(?P<mission>{'|'.join(MISSIONS)})_MSI(?P<level>L1C|L2A)_(?P<datatake>\d{{8}}T\d{{6}})"
    r"_N(?P<baseline>\d{4})_R(?P<orbit>\d{3})_T(?P<tile>\d{2}[A-Z]{3})"
)
_NAME = re.compile(STEM_PATTERN + r"_(?P<discriminator>\d{8}T\d{6})")
GRAMMAR = "S2x_MSIL2A_<YYYYMMDDTHHMMSS>_N<xxxx>_R<xxx>_T<tile>_<YYYYMMDDTHHMMSS> (S2x: S2A…S2D; level L1C or L2A)"


def strip_suffixes(name: str) -> str:
    """Product name without ``.zip``/``.SAFE``: the key of the ``products`` table."""
    for suffix in SUFFIXES:
        name = name.removesuffix(suffix)
    return name


def stem(mission: str, level: str, datatake: str, baseline: str, relative_orbit: int, tile: str) -> str:
    """``S2A_MSIL2A_20180510T100031_N0510_R122_T33UUU``; ``baseline`` as ``"05.10"`` or ``"0510"``."""
    return f"{mission}_MSI{level}_{datatake}_N{baseline.replace('.', '')}_R{relative_orbit:03d}_T{tile}"


def is_time(text: str) -> bool:
    """Whether ``text`` is a real ``YYYYMMDDTHHMMSS`` date and time."""
    try:
        datetime.strptime(text, _TIME_FORMAT)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class ProductName:
    mission: str  # "S2A"
    level: str  # "L2A" or "L1C"
    datatake: str  # "20180510T100031": datatake sensing start
    baseline: str  # "05.10"
    relative_orbit: int  # 122
    tile: str  # "33UUU" (no T)
    discriminator: str  # "20180510T121500"

    @classmethod
    def parse(cls, text: str) -> ProductName | None:
        """The parts of a product name (suffixes allowed), or None when ``text`` is not one."""
        match = _NAME.fullmatch(strip_suffixes(text))
        if match is None or not (is_time(match["datatake"]) and is_time(match["discriminator"])):
            return None
        b = match["baseline"]
        return cls(
            mission=match["mission"],
            level=match["level"],
            datatake=match["datatake"],
            baseline=f"{b[:2]}.{b[2:]}",
            relative_orbit=int(match["orbit"]),
            tile=match["tile"],
            discriminator=match["discriminator"],
        )

    @classmethod
    def require(cls, text: str, where: str | None = None) -> ProductName:
        """Like :meth:`parse`, but a text that is not a product name is refused with :class:`UnsafePathError`."""
        name = cls.parse(text)
        if name is None:
            raise UnsafePathError(
                f"{text[:200]!r} is not a Sentinel-2 product name, so it is never used as a file or folder name",
                where=where,
                fix=f"product names must read {GRAMMAR}; the catalogue answered something else: report it to "
                "the mirror's operator, the other products go on",
            )
        return name

    @property
    def sensing(self) -> datetime:
        return datetime.strptime(self.datatake, _TIME_FORMAT).replace(tzinfo=UTC)

    @property
    def product_id(self) -> str:
        head = stem(self.mission, self.level, self.datatake, self.baseline, self.relative_orbit, self.tile)
        return f"{head}_{self.discriminator}"

    @property
    def safe(self) -> str:
        """The SAFE folder's name."""
        return self.product_id + ".SAFE"

    def __str__(self) -> str:
        return self.product_id
