"""Keep every file the reader opens inside the product it was given.

A product's own metadata names the files to read (``IMAGE_FILE`` entries of ``MTD_MSIL2A.xml``),
and a product folder may hold symbolic links; both come from outside (a mirror, a colleague's disk,
an archive) and must not make the reader open ``/etc/...`` or another user's files and store their
bytes as patches. ESA's products use plain relative paths and contain no links, so anything else is
refused, naming the path.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath

from s2lake.errors import UnsafePathError

_FIX = "the product was altered after ESA made it: download it again from a Copernicus mirror"


def refuse_escaping_path(entry: str, where: str) -> None:
    """Refuse ``entry`` (a file path from the product's metadata) unless it is a plain relative path:
    absolute paths (POSIX or Windows) and ``..`` anywhere (``/`` or ``\\`` separated, since GDAL
    treats both as separators) are refused."""
    if PurePosixPath(entry).is_absolute() or PureWindowsPath(entry).anchor or ".." in PureWindowsPath(entry).parts:
        raise UnsafePathError(
            f"file path {entry!r} in the product's metadata leaves the product", where=where, fix=_FIX
        )


def refuse_escaping_links(root: Path) -> None:
    """Refuse a product folder holding a symbolic link (to a file or a folder) that points outside it.

    Links whose target stays inside the folder are harmless and allowed. Folder links are not
    followed by the walk, so a link loop cannot hang it.
    """
    real_root = root.resolve()
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            path = Path(folder) / name
            if path.is_symlink() and not path.resolve().is_relative_to(real_root):
                raise UnsafePathError(
                    f"symbolic link {path} points outside the product folder (to {os.readlink(path)})",
                    where=str(path),
                    fix="replace the link by the file itself, or " + _FIX,
                )
