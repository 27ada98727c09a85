"""Unzipping a verified archive, in a separate process, refusing members that escape the target.

A separate process keeps a decompression bomb or a crash in zlib from taking the scheduler down, and
lets unzipping use another core while downloads continue. Members with absolute paths, ``..`` parts
or symlink modes are refused before anything is written ("zip slip").
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path


class UnsafeArchive(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_members(archive: zipfile.ZipFile, target: Path) -> None:
    root = target.resolve()
    for info in archive.infolist():
        name = info.filename
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise UnsafeArchive(f"archive member {name!r} is a symbolic link")
        resolved = (root / name).resolve()
        if name.startswith(("/", "\\")) or ".." in Path(name).parts or not resolved.is_relative_to(root):
            raise UnsafeArchive(f"archive member {name!r} escapes the target folder")


def extract_archive(zip_path: str, target: str) -> list[str]:
    """Extract every member of ``zip_path`` below ``target``; return the top-level entries."""
    out = Path(target)
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path) as archive:
        check_members(archive, out)
        archive.extractall(out)
        return sorted({Path(n).parts[0] for n in archive.namelist() if Path(n).parts})
