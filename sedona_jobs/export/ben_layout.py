"""The BigEarthNet v2 folder layout, as the official distribution unpacks it:

```
OUT/
  metadata.parquet
  BigEarthNet-S2/<product>/<patch_id>/<patch_id>_B01.tif ... <patch_id>_B12.tif   (12 bands, B8A included)
  Reference_Maps/<product>/<patch_id>/<patch_id>_reference_map.tif
```

``<product>`` is the patch id without its ``_<col>_<row>`` suffix (the product name without its
generation time, e.g. ``S2A_MSIL2A_20180510T100031_N9999_R122_T33UUU``). Every path is built from a
patch id that may have come from an imported dataset, so it is proven to stay inside the output
folder (:func:`s2lake.contained_paths.inside`) before anything is written there.
"""

from __future__ import annotations

import re
from pathlib import Path

from s2lake.contained_paths import inside
from s2lake.errors import UnsafePathError
from s2lake.sentinel2 import BANDS

METADATA_FILE = "metadata.parquet"
PATCHES_DIR = "BigEarthNet-S2"
REFERENCE_MAPS_DIR = "Reference_Maps"
REFERENCE_MAP_SUFFIX = "_reference_map.tif"
BAND_NAMES = tuple(b.name for b in BANDS)
#: v2 ids and v1 names are letters, digits and underscores only; anything else never becomes a path.
_PATCH_ID = re.compile(r"[A-Za-z0-9]+(?:_[A-Za-z0-9]+)*")


def check_patch_id(patch_id: str) -> str:
    """``patch_id`` if it can name files (the grammar above), else :class:`UnsafePathError`."""
    if not _PATCH_ID.fullmatch(patch_id):
        raise UnsafePathError(
            f"patch id {patch_id[:200]!r} cannot name a file (only letters, digits and single underscores)",
            where="patches.patch_id",
            fix="leave the patch out with --where, or correct its id in the table",
        )
    return patch_id


def product_folder(patch_id: str) -> str:
    """``S2A_..._T33UUU_26_57`` -> ``S2A_..._T33UUU``."""
    return check_patch_id(patch_id).rsplit("_", 2)[0]


def patch_dir(root: Path, patch_id: str) -> Path:
    return inside(root, PATCHES_DIR, product_folder(patch_id), patch_id)


def band_files(root: Path, patch_id: str) -> dict[str, Path]:
    """Band name -> file of one patch. The folder is proven inside ``root`` once; the file names add only the
    checked id and a band name (no separator, no dot-dot), so they stay in it (one ``realpath`` per patch,
    not per file: the export writes millions of them)."""
    folder = patch_dir(root, patch_id)
    return {band: folder / f"{patch_id}_{band}.tif" for band in BAND_NAMES}


def reference_map_file(root: Path, patch_id: str) -> Path:
    return inside(root, REFERENCE_MAPS_DIR, product_folder(patch_id), patch_id, f"{patch_id}{REFERENCE_MAP_SUFFIX}")


def patch_files(patch_id: str, with_reference_map: bool) -> list[str]:
    """The files of one patch, relative to the dataset root, in a fixed order (zip members, manifests)."""
    product = product_folder(patch_id)
    files = [f"{PATCHES_DIR}/{product}/{patch_id}/{patch_id}_{band}.tif" for band in BAND_NAMES]
    if with_reference_map:
        files.append(f"{REFERENCE_MAPS_DIR}/{product}/{patch_id}/{patch_id}{REFERENCE_MAP_SUFFIX}")
    return files
