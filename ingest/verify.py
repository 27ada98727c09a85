"""Checking a downloaded archive: checksum when the catalogue gives one, then size and zip integrity.

CDSE often lists no checksum, or a zero ``ContentLength``: then size (when known) and a full read of
the zip (CRC of every member) are what catches a corrupt transfer.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import blake3

HASHERS = {
    "MD5": hashlib.md5,
    "SHA3-256": hashlib.sha3_256,
    "SHA2-256": hashlib.sha256,
    "BLAKE3": blake3.blake3,
}


class CorruptArchive(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def file_digest(path: Path, algorithm: str, block: int = 1 << 20) -> str:
    hasher = HASHERS[algorithm.upper()]()
    with path.open("rb") as src:
        while data := src.read(block):
            hasher.update(data)
    return hasher.hexdigest()


def verify_archive(path: Path, size: int | None, checksum: str | None, algorithm: str | None) -> None:
    """Raise :class:`CorruptArchive` unless the file matches what the catalogue said and unzips."""
    actual = path.stat().st_size
    if size and actual != size:
        raise CorruptArchive(f"size {actual} differs from the catalogue's {size}")
    if checksum and algorithm and algorithm.upper() in HASHERS:
        digest = file_digest(path, algorithm)
        if digest.lower() != checksum.lower():
            raise CorruptArchive(f"{algorithm.upper()} mismatch")
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CorruptArchive(f"not a readable zip: {exc}") from None
    if bad is not None:
        raise CorruptArchive(f"CRC error in member {bad}")
