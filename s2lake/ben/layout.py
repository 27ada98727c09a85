"""Find the patch folders of a BigEarthNet dataset on disk.

Both layouts are recognised wherever they start below ``DATASET_DIR`` (an archive often unpacks to one
extra folder): the v2 tree ``<product>/<patch_id>/<patch_id>_B01.tif`` and the v1 flat tree
``<name>/<name>_B01.tif`` (+ ``<name>_labels_metadata.json``). A folder is a patch folder when its
name is a v2 id or a v1 name and it holds a file ``<name>_...``; folders that hold such files under a
name that is neither are listed as problems, never silently passed over.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from s2lake.ben.patch_reader import PatchFolder
from s2lake.ben_names import V1_GRAMMAR, V2_GRAMMAR, BenV1Name, PatchId
from s2lake.errors import ProductError
from s2lake.sentinel2 import BANDS

#: How deep below DATASET_DIR patch folders are looked for (wrapper / product / patch).
MAX_DEPTH = 3


@dataclass
class Layout:
    folders: list[PatchFolder] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _holds_own_files(entries: list[os.DirEntry], name: str) -> bool:
    """Whether the folder holds a band file or labels_metadata.json of its own name (a v2 reference map
    folder has the patch's name too, but only ``<name>_reference_map.tif``)."""
    own = {f"{name}_{b.name}.tif" for b in BANDS} | {f"{name}_labels_metadata.json"}
    return any(e.name in own for e in entries)


def find_patch_folders(root: Path) -> Layout:
    """Patch folders under ``root``, sorted by (product, name) so that a product's patches are read
    together; raises :class:`ProductError` when ``root`` is not a readable folder."""
    if not root.is_dir():
        raise ProductError(
            f"{root} is not a folder",
            where=str(root),
            fix="give the folder a BigEarthNet archive was unpacked to (v2: <product>/<patch_id>/*.tif, "
            "v1: <name>/<name>_B01.tif ...)",
        )
    layout = Layout()
    stack = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as exc:
            layout.problems.append(f"{folder}: cannot list the folder ({exc.strerror}); its patches were not read")
            continue
        name = folder.name
        if folder != root and _holds_own_files(entries, name):
            if PatchId.parse(name) is not None:
                layout.folders.append(PatchFolder(str(folder), name, 2))
                continue
            if BenV1Name.parse(name) is not None:
                layout.folders.append(PatchFolder(str(folder), name, 1))
                continue
            layout.problems.append(
                f"{folder}: holds band files but {name!r} is neither a v2 patch id ({V2_GRAMMAR}) nor a v1 "
                f"name ({V1_GRAMMAR}); not imported. Rename the folder and its files to the patch's name"
            )
            continue
        if depth < MAX_DEPTH:
            stack.extend((Path(e.path), depth + 1) for e in entries if e.is_dir(follow_symlinks=False))
    layout.folders.sort(key=lambda f: (f.version, f.name))
    return layout
