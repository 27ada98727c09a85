"""BigEarthNet v2 patch ids: ``S2A_MSIL2A_20170613T101031_N0510_R022_T33UUP_26_57``.

The id is the product name without its generation time, followed by the patch's column and row
index from the tile origin (``<col>_<row>``), so it is unique per product and patch and says where
the patch is without a lookup. :meth:`PatchId.parse` turns it back into its parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from s2lake.errors import ProductError
from s2lake.product_names import STEM_PATTERN, stem

#: The product name's stem (its grammar lives in :mod:`s2lake.product_names`), then ``_<col>_<row>``.
_PATCH_ID = re.compile(STEM_PATTERN + r"_(?P<col>\d+)_(?P<row>\d+)")


@dataclass(frozen=True)
class PatchId:
    mission: str  # "S2A"
    datatake: str  # "20170613T101031"
    baseline: str  # "05.10"
    relative_orbit: int  # 22
    tile: str  # "33UUP"
    col: int
    row: int

    def prefix(self) -> str:
        """The product part of the id (everything before ``_<col>_<row>``)."""
        return stem(self.mission, "L2A", self.datatake, self.baseline, self.relative_orbit, self.tile)

    def __str__(self) -> str:
        return f"{self.prefix()}_{self.col}_{self.row}"

    @classmethod
    def parse(cls, text: str) -> PatchId:
        match = _PATCH_ID.fullmatch(text)
        if match is None or match["level"] != "L2A":
            raise ProductError(
                f"{text!r} is not a BigEarthNet v2 patch id",
                fix="expected <mission>_MSIL2A_<datatake>_N<baseline>_R<orbit>_T<tile>_<col>_<row>, "
                "e.g. S2A_MSIL2A_20170613T101031_N0510_R022_T33UUP_26_57",
            )
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
