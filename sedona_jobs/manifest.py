"""Check the files a product is read from against the checksums its ``manifest.safe`` lists.

A band damaged in transit or on disk often still decodes (a flipped bit in a JPEG 2000 packet gives
wrong pixels, not an error), and its wrong pixels would go into ``patches`` unnoticed. ESA's
``manifest.safe`` (an XFDU document) lists every file of the product with its size and checksum::

    <dataObjectSection><dataObject ID="IMG_DATA_Band_B02_10m_Tile1_Data">
      <byteStream mimeType="application/octet-stream" size="134060211">
        <fileLocation locatorType="URL" href="./GRANULE/L2A_.../IMG_DATA/R10m/T33UUU_..._B02_10m.jp2"/>
        <checksum checksumName="MD5">5e0c2ec1fba5ab36ca2f34c78a0a93b1</checksum>

Older products carry MD5, products processed since mid-2021 SHA3-256; both are checked. Files the
manifest does not list (or lists with another algorithm) are not checked, and a product without a
manifest is read with a warning: the reader must still open products from sources that drop it.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from lxml import etree

from s2lake.errors import ProductError

log = logging.getLogger("s2lake.patches")

MANIFEST = "manifest.safe"
#: checksumName in the manifest -> hashlib algorithm.
ALGORITHMS = {"MD5": "md5", "SHA3-256": "sha3_256"}
#: What to tell the user when a file does not match: the real fix first, then the escape hatch and its cost.
MISMATCH_FIX = (
    "the file is damaged (an interrupted or corrupted download, or a disk fault): download the product again. "
    "Only if you accept the damage, pass --no-verify-checksums (patches.verify_checksums = false), "
    "and damaged bands that still decode go into the patches unnoticed"
)
_CHUNK = 4 << 20  # large enough that hashlib runs with the GIL released, small enough to stay cheap


class ProductFiles(Protocol):
    """What the check needs from a product source (a SAFE folder, or a SAFE inside a .zip)."""

    def exists(self, rel: str) -> bool: ...

    def read(self, rel: str) -> bytes: ...

    def where(self, rel: str) -> str: ...

    def open_binary(self, rel: str) -> AbstractContextManager[tuple[BinaryIO, int]]: ...


@dataclass(frozen=True)
class Listed:
    """One file as the manifest lists it."""

    size: int | None
    algorithm: str  # checksumName as in the manifest: "MD5" or "SHA3-256"
    digest: str  # lower-case hex


def parse_manifest(data: bytes, where: str) -> dict[str, Listed]:
    """The files ``manifest.safe`` lists with a checksum we can compute, keyed by path relative to the SAFE.

    The ``href`` values are only used as keys to look up the files the reader opens anyway, never
    opened themselves, so a hostile ``href`` cannot make the check read anything else.
    """
    try:
        root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise ProductError(
            f"{MANIFEST} is not valid XML ({exc})",
            where=where,
            fix="download the product again, or pass --no-verify-checksums to read it without checksum checks",
        ) from None
    listed: dict[str, Listed] = {}
    for stream in root.iterfind(".//{*}dataObjectSection/{*}dataObject/{*}byteStream"):
        location = stream.find("{*}fileLocation")
        href = location.get("href") if location is not None else None
        checksum = stream.find("{*}checksum")
        if not href or checksum is None or not checksum.text:
            continue
        name = (checksum.get("checksumName") or "").upper()
        if name not in ALGORITHMS:
            continue
        size = stream.get("size")
        listed[href.removeprefix("./")] = Listed(
            int(size) if size and size.isdigit() else None, name, checksum.text.strip().lower()
        )
    return listed


def read_manifest(source: ProductFiles) -> dict[str, Listed] | None:
    """The product's listed checksums, or None (with a warning) when it has no ``manifest.safe``."""
    if not source.exists(MANIFEST):
        log.warning(
            "%s has no %s: its files cannot be checked against ESA's checksums",
            source.where(""),
            MANIFEST,
        )
        return None
    return parse_manifest(source.read(MANIFEST), source.where(MANIFEST))


def verify_product(source: ProductFiles, read: Mapping[str, bytes], files: Mapping[str, str]) -> int:
    """Check ``read`` (metadata already in memory: rel -> bytes, hashed without reading again) and
    ``files`` (label -> rel, e.g. ``"band B02"``, hashed by streaming them in parallel threads).

    Returns how many files were checked; raises :class:`ProductError` naming the first file that
    differs (in the order given), its expected and actual checksum and the fix.
    """
    listed = read_manifest(source)
    if listed is None:
        return 0
    problems: list[tuple[str, str, str]] = []  # (label, rel, what differs)
    for rel, data in read.items():
        if rel in listed:
            problem = _compare(listed[rel], len(data), _digest_bytes(data, listed[rel].algorithm))
            if problem:
                problems.append((rel, rel, problem))
    todo = [(label, rel) for label, rel in files.items() if rel in listed]
    with ThreadPoolExecutor(max(1, min(len(todo), os.cpu_count() or 1))) as pool:
        results = pool.map(lambda item: _check_file(source, item[1], listed[item[1]]), todo)
        problems += [(label, rel, problem) for (label, rel), problem in zip(todo, results, strict=True) if problem]
    if problems:
        label, rel, problem = problems[0]
        more = f"; {len(problems) - 1} more file(s) differ too" if len(problems) > 1 else ""
        raise ProductError(
            f"{label} does not match the checksum {MANIFEST} lists ({problem}){more}",
            where=source.where(rel),
            fix=MISMATCH_FIX,
        )
    return len(todo) + sum(rel in listed for rel in read)


def _digest_bytes(data: bytes, algorithm: str) -> str:
    return hashlib.new(ALGORITHMS[algorithm], data, usedforsecurity=False).hexdigest()


def _check_file(source: ProductFiles, rel: str, expected: Listed) -> str | None:
    with source.open_binary(rel) as (fh, size):
        digest = hashlib.new(ALGORITHMS[expected.algorithm], usedforsecurity=False)
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return _compare(expected, size, digest.hexdigest())


def _compare(expected: Listed, size: int, digest: str) -> str | None:
    """What differs, in words; None when the file matches. A file of the listed size can still differ."""
    if digest == expected.digest and expected.size in (None, size):
        return None
    sizes = f"; {size} bytes, the manifest lists {expected.size}" if expected.size not in (None, size) else ""
    return f"{expected.algorithm} expected {expected.digest}, the file has {digest}{sizes}"
