"""Checking a downloaded archive: size, then the catalogue's checksum, or the zip's CRCs when there is none.

A matching checksum proves the bytes are the catalogue's, so the CRC pass (a second full read of a
multi-GB product) is skipped when the archive is extracted next: extraction checks every member's
CRC as it reads it and treats a mismatch as a corrupt download (:mod:`ingest.extract`). The CRC pass
runs when no usable checksum is given (CDSE often lists none, or a zero ``ContentLength``), and when
the zip is kept as it is, since then nothing else would read the members before they land.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import blake3

from s2lake.errors import ArchiveError

HASHERS = {
    "MD5": hashlib.md5,
    "SHA3-256": hashlib.sha3_256,
    "SHA2-256": hashlib.sha256,
    "BLAKE3": blake3.blake3,
}


class CorruptArchive(ArchiveError):
    """The bytes are not the product's: size, checksum or a zip CRC differ. Deleted and fetched again."""


def file_digest(path: Path, algorithm: str, block: int = 1 << 20) -> str:
    hasher = HASHERS[algorithm.upper()]()
    with path.open("rb") as src:
        while data := src.read(block):
            hasher.update(data)
    return hasher.hexdigest()


def verify_archive(
    path: Path, size: int | None, checksum: str | None, algorithm: str | None, *, extracting: bool
) -> None:
    """Raise :class:`CorruptArchive` unless the file matches what the catalogue said.

    ``extracting`` says the archive is unzipped next, which checks the member CRCs anyway; without it
    the CRC pass runs even after a checksum matched.
    """
    actual = path.stat().st_size
    if size and actual != size:
        raise CorruptArchive(f"size {actual} differs from the catalogue's {size}")
    if checksum and algorithm and algorithm.upper() in HASHERS:
        digest = file_digest(path, algorithm)
        if digest.lower() != checksum.lower():
            raise CorruptArchive(f"{algorithm.upper()} mismatch")
        if extracting:
            return
    _check_crcs(path)


def _check_crcs(path: Path) -> None:
    """Read every member of the zip and compare its CRC-32 (``ZipFile.testzip``)."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CorruptArchive(f"not a readable zip: {exc}") from None
    if bad is not None:
        raise CorruptArchive(f"CRC error in member {bad}")
