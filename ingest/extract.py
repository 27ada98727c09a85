"""Unzipping a verified archive, in a separate process, refusing members that escape the target.

A separate process keeps a decompression bomb or a crash in zlib from taking the scheduler down, and
lets unzipping use another core while downloads continue. Members with absolute paths, ``..`` parts
or symlink modes are refused before anything is written ("zip slip"), and so are archives over the
size limits (zip bombs, :mod:`s2lake.archive_limits`), from the directory and again while inflating.

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
from s2lake.archive_limits import ArchiveLimits, open_archive, stream_member
from s2lake.contained_paths import inside
from s2lake.errors import ArchiveError, UnsafePathError


class UnsafeArchive(ArchiveError):
    """A member would be written outside the target folder: that mirror's copy is refused."""


def check_members(archive: zipfile.ZipFile, target: Path) -> None:
    root = target.resolve()
    for info in archive.infolist():
        name = info.filename
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise UnsafeArchive(f"archive member {name!r} is a symbolic link")
        try:
            inside(root, name)
        except UnsafePathError:
            raise UnsafeArchive(f"archive member {name!r} escapes the target folder") from None
        if name.startswith(("/", "\\")) or ".." in Path(name).parts:
            raise UnsafeArchive(f"archive member {name!r} escapes the target folder")


def extract_archive(zip_path: str, target: str, limits: ArchiveLimits | None = None) -> list[str]:
    """Extract every member of ``zip_path`` below ``target``; return the top-level entries.

    Written member by member instead of ``extractall`` so the archive limits hold on the bytes really
    inflated (:mod:`s2lake.archive_limits`) and every file is proven to land inside ``target``.
    Raises :class:`CorruptArchive` when the zip is unreadable or a member fails its CRC, and
    :class:`~s2lake.errors.ArchiveError` when it breaks a limit; the caller removes what was written.
    """
    limits = limits or ArchiveLimits()
    out = Path(target)
    out.mkdir(parents=True, exist_ok=True)
    try:
        with open_archive(zip_path, limits) as archive:
            check_members(archive, out)
            total = [0]
            for info in archive.infolist():
                dest = out / info.filename  # proven inside ``out`` by check_members
                if info.is_dir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                with dest.open("wb") as sink:
                    for chunk in stream_member(archive, info, limits, total):
                        sink.write(chunk)
            return sorted({Path(n).parts[0] for n in archive.namelist() if Path(n).parts})
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise CorruptArchive(f"extraction failed, corrupt archive: {exc}") from None
