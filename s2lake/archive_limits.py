"""Size limits on zip archives from outside: a small zip must not inflate to gigabytes (a "zip bomb").

Products come from mirrors s2lake does not control, so every zip is checked twice:

* from its central directory before anything is read: member count, each member's declared size, the
  declared total, and each member's compression ratio;
* while each member is streamed: the bytes really produced against the same limits, and against the
  compressed bytes really read from the file. zipfile stops at the declared size, but the declared
  compressed size is only a number in the directory: a member claiming 100 MB compressed that holds a
  200 KB deflate stream of zeros passes the directory check and is caught here.

The defaults are generous for real Sentinel-2 products: an L2A zip is ~1.2 GB, its largest members
(10 m JPEG 2000 bands) ~130 MB, JPEG 2000 barely compresses and XML compresses ~10-20x. The ratio is
only checked past ``ratio_from_bytes`` of output, because small files (empty masks, tiny XML) may
compress very well and can never be a bomb. Deflate cannot exceed ~1032x, so zeros are the worst case.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from s2lake.errors import ArchiveError

#: Output produced per read while streaming (bounded memory, whatever a member claims).
CHUNK_BYTES = 64 << 10


class ArchiveLimits(BaseModel):
    """Limits on a zip archive (``ingest.archive_limits`` in the configuration)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_members: int = Field(20_000, ge=1, description="Members in one archive (an L2A product has ~150).")
    max_member_bytes: int = Field(2 << 30, ge=1, description="Uncompressed size of one member (S2: up to ~130 MB).")
    max_total_bytes: int = Field(16 << 30, ge=1, description="Uncompressed size of all members (L2A: ~1.2 GB).")
    max_ratio: float = Field(100.0, ge=1, description="Uncompressed / compressed size of a member.")
    ratio_from_bytes: int = Field(1 << 20, ge=0, description="Members smaller than this skip the ratio check.")


class _CountingFile(io.FileIO):
    """The archive file, counting the bytes read from it: what a member really consumed."""

    bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data


def _refuse(what: str, where: str) -> ArchiveError:
    return ArchiveError(
        what,
        where=where,
        fix="the archive is damaged or hostile (a zip bomb) and was not unpacked: download the product again, "
        "from another mirror if possible",
    )


def _check_ratio(name: str, produced: int, consumed: int, limits: ArchiveLimits, where: str) -> None:
    if produced > limits.ratio_from_bytes and produced > limits.max_ratio * max(consumed, 1):
        raise _refuse(
            f"archive member {name!r} inflates {produced / max(consumed, 1):.0f}x "
            f"({produced} bytes from {consumed}), more than the limit of {limits.max_ratio:.0f}x",
            where,
        )


def check_directory(archive: zipfile.ZipFile, limits: ArchiveLimits, where: str) -> None:
    """Refuse an archive whose central directory already declares too much."""
    infos = archive.infolist()
    if len(infos) > limits.max_members:
        raise _refuse(f"the archive has {len(infos)} members, more than the limit of {limits.max_members}", where)
    total = 0
    for info in infos:
        if info.file_size > limits.max_member_bytes:
            raise _refuse(
                f"archive member {info.filename!r} declares {info.file_size} bytes, more than the limit of "
                f"{limits.max_member_bytes}",
                where,
            )
        _check_ratio(info.filename, info.file_size, info.compress_size, limits, where)
        total += info.file_size
        if total > limits.max_total_bytes:
            raise _refuse(
                f"the archive declares more than {limits.max_total_bytes} bytes in all (at member {info.filename!r})",
                where,
            )


def open_archive(path: str | Path, limits: ArchiveLimits) -> zipfile.ZipFile:
    """Open a zip (raising :class:`zipfile.BadZipFile` as zipfile does) after checking its directory."""
    archive = zipfile.ZipFile(_CountingFile(path, "r"))
    try:
        check_directory(archive, limits, str(path))
    except BaseException:
        archive.close()
        raise
    return archive


def stream_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ArchiveLimits, total: list[int] | None = None
) -> Iterator[bytes]:
    """The member's bytes in chunks, refused as soon as what it really produces breaks a limit.

    ``total`` (one counter shared over the members of one extraction) enforces ``max_total_bytes`` on
    the real output. The archive must come from :func:`open_archive`, which counts compressed reads.
    """
    where = str(archive.filename or getattr(archive.fp, "name", "archive"))
    counter = archive.fp if isinstance(archive.fp, _CountingFile) else None
    produced = 0
    with archive.open(info) as member:
        start = counter.bytes_read if counter is not None else 0
        while chunk := member.read(CHUNK_BYTES):
            produced += len(chunk)
            if produced > limits.max_member_bytes:
                raise _refuse(
                    f"archive member {info.filename!r} inflates past the limit of {limits.max_member_bytes} bytes",
                    where,
                )
            if counter is not None:
                _check_ratio(info.filename, produced, counter.bytes_read - start, limits, where)
            if total is not None:
                total[0] += len(chunk)
                if total[0] > limits.max_total_bytes:
                    raise _refuse(
                        f"the archive inflates past {limits.max_total_bytes} bytes in all (at {info.filename!r})",
                        where,
                    )
            yield chunk


def read_member(archive: zipfile.ZipFile, name: str, limits: ArchiveLimits, max_bytes: int) -> bytes:
    """A member read into memory (metadata), at most ``max_bytes`` of it, under the archive's limits."""
    info = archive.getinfo(name)
    where = str(archive.filename or getattr(archive.fp, "name", "archive"))
    if info.file_size > max_bytes:
        raise _refuse(
            f"archive member {name!r} declares {info.file_size} bytes, a metadata file has at most {max_bytes}", where
        )
    narrowed = limits.model_copy(update={"max_member_bytes": min(limits.max_member_bytes, max_bytes)})
    return b"".join(stream_member(archive, info, narrowed))
