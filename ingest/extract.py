"""Unzipping a verified archive, in a separate process, refusing members that escape the target.

A separate process keeps a decompression bomb or a crash in zlib from taking the scheduler down, and
lets unzipping use another core while downloads continue. Members with absolute paths, ``..`` parts
or symlink modes are refused before anything is written ("zip slip").

zipfile checks each member's CRC-32 as it extracts it. When the catalogue's checksum matched, this is
the only CRC check the archive gets (see :mod:`ingest.verify`), so a bad CRC or a broken stream is
raised as :class:`~ingest.verify.CorruptArchive`: the scheduler then handles it as a corrupt download.
"""

from __future__ import annotations

import stat
import zipfile
import zlib
from pathlib import Path

from ingest.verify import CorruptArchive
from s2lake.errors import ArchiveError


class UnsafeArchive(ArchiveError):
    """A member would be written outside the target folder: that mirror's copy is refused."""


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
    """Extract every member of ``zip_path`` below ``target``; return the top-level entries.

    Raises :class:`CorruptArchive` when the zip is unreadable or a member fails its CRC; the caller
    removes what was written.
    """
    out = Path(target)
    out.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(zip_path) as archive:
            check_members(archive, out)
            archive.extractall(out)
            return sorted({Path(n).parts[0] for n in archive.namelist() if Path(n).parts})
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise CorruptArchive(f"extraction failed, corrupt archive: {exc}") from None
