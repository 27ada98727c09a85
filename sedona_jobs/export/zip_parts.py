"""Zipped partitions of an exported dataset (``export ben --zip-per N``) and their extraction (``export extract``).

Why: a v2 dataset is 12-13 small files per patch (549,488 patches are ~7 million files), which file systems,
object stores and copies handle badly. With ``--zip-per N`` the export holds ``patches-00000.zip`` ... (N
patches each, in patch id order, the v2 paths inside), ``metadata.parquet`` and ``manifest.json``:

```json
{"format": "s2lake-ben-zip", "version": 1, "patches_per_zip": N,
 "metadata": {"name": "metadata.parquet", "sha256": "..."},
 "zips": [{"name": "patches-00000.zip", "sha256": "...", "bytes": 123, "patch_ids": ["...", ...]}, ...]}
```

Zips are written deterministically (members sorted, fixed 1980-01-01 timestamps, stored uncompressed:
the GeoTIFFs are DEFLATE-compressed already), so the same export gives the same checksums.

Extraction trusts nothing in the folder it is given: the zip's SHA-256 must match the manifest before it
is opened, its central directory and every member's real output are held to :mod:`s2lake.archive_limits`,
every member must resolve inside the target (:func:`s2lake.contained_paths.inside`) and be one of the
files of the patches the manifest lists. Everything is unpacked below ``.<OUT>.partial-<pid>`` and renamed
to ``OUT`` only when every zip passed, so a refused zip leaves no half dataset. A refusal is an
:class:`~s2lake.errors.ExportError` (bad input: the CLI exits 2).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from s2lake.archive_limits import ArchiveLimits, open_archive, stream_member
from s2lake.contained_paths import inside
from s2lake.errors import ArchiveError, ExportError, UnsafePathError
from sedona_jobs.export.ben_layout import METADATA_FILE, PATCHES_DIR, REFERENCE_MAPS_DIR, patch_files

MANIFEST_FILE = "manifest.json"
FORMAT = "s2lake-ben-zip"
VERSION = 1
#: A manifest larger than this is not one s2lake wrote (549,488 ids are ~30 MB).
MAX_MANIFEST_BYTES = 256 << 20
_EPOCH = (1980, 1, 1, 0, 0, 0)
_READ = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_READ):
            digest.update(block)
    return digest.hexdigest()


def zip_name(index: int) -> str:
    return f"patches-{index:05d}.zip"


def zip_partitions(root: Path, ids: list[str], per: int, *, workers: int = 2) -> int:
    """Replace the loose patch files below ``root`` by zips of ``per`` patches and write the manifest."""
    if per < 1:
        raise ExportError(f"--zip-per must be at least 1, not {per}", fix="give the number of patches per zip")
    parts = [ids[i : i + per] for i in range(0, len(ids), per)]
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="zip") as pool:
        entries = list(pool.map(lambda item: _zip_one(root, *item), enumerate(parts)))
    for folder in (PATCHES_DIR, REFERENCE_MAPS_DIR):
        shutil.rmtree(root / folder, ignore_errors=True)
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "patches_per_zip": per,
        "metadata": {"name": METADATA_FILE, "sha256": sha256_of(root / METADATA_FILE)},
        "zips": entries,
    }
    (root / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return len(parts)


def _zip_one(root: Path, index: int, ids: list[str]) -> dict[str, object]:
    path = root / zip_name(index)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for patch_id in ids:
            for rel in patch_files(patch_id, with_reference_map=True):
                source = root / rel
                if not source.exists():  # reference maps exist only for labelled patches
                    continue
                info = zipfile.ZipInfo(rel, date_time=_EPOCH)
                info.external_attr = 0o644 << 16
                with source.open("rb") as data, archive.open(info, "w") as member:
                    shutil.copyfileobj(data, member, _READ)
    return {"name": path.name, "sha256": sha256_of(path), "bytes": path.stat().st_size, "patch_ids": ids}


#: What to do about a refused zipped export, whichever check refused it.
_REFUSED_FIX = "the zipped export is damaged or was altered and nothing was unpacked: copy it again from its source"


def _refuse(what: str, where: Path | str) -> ArchiveError:
    return ArchiveError(what, where=str(where), fix=_REFUSED_FIX)


def read_manifest(zipdir: Path) -> dict:
    path = zipdir / MANIFEST_FILE
    if not path.is_file():
        raise ExportError(
            f"{zipdir} has no {MANIFEST_FILE}", where=str(zipdir), fix="give the folder `export ben --zip-per` wrote"
        )
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise _refuse(f"{MANIFEST_FILE} is larger than {MAX_MANIFEST_BYTES} bytes", path)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if manifest["format"] != FORMAT or manifest["version"] != VERSION:
            raise ValueError(f"format {manifest['format']!r} version {manifest['version']!r}")
        for entry in manifest["zips"]:
            if not (isinstance(entry["name"], str) and isinstance(entry["sha256"], str)):
                raise ValueError("a zip entry without name or sha256")
            if not all(isinstance(i, str) for i in entry["patch_ids"]):
                raise ValueError(f"patch ids of {entry['name']!r} are not strings")
        if not isinstance(manifest["metadata"]["sha256"], str):
            raise ValueError("metadata without sha256")
    except (ValueError, KeyError, TypeError) as exc:
        raise _refuse(f"{MANIFEST_FILE} is not an s2lake zip manifest ({exc})", path) from None
    return manifest


def extract_zips(
    zipdir: Path,
    out: Path,
    *,
    workers: int = 2,
    limits: ArchiveLimits | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Unpack a zipped export into the v2 tree at ``out`` (which must not exist); returns the patch count.

    A refused zip (checksum, archive limits, a member escaping ``out`` or not listed) is the user's input,
    not a broken environment: the archive and path checks' own errors (:class:`ArchiveError`,
    :class:`UnsafePathError`, which mean a failed download or a hostile name elsewhere) are re-raised as
    :class:`ExportError` with their reason and where, the original chained as the cause.
    """
    try:
        return _extract_zips(Path(zipdir), Path(out), workers, limits or ArchiveLimits(), on_progress)
    except (ArchiveError, UnsafePathError) as exc:
        raise ExportError(f"refused: {exc.what}", where=exc.where, fix=_REFUSED_FIX) from exc


def _extract_zips(
    zipdir: Path, out: Path, workers: int, limits: ArchiveLimits, on_progress: Callable[[int, int], None] | None
) -> int:
    if out.exists():
        raise ExportError(f"{out} already exists", where=str(out), fix="choose a new folder to extract into")
    manifest = read_manifest(zipdir)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        metadata = inside(zipdir, manifest["metadata"]["name"])
        _verify(metadata, manifest["metadata"]["sha256"])
        shutil.copyfile(metadata, partial / METADATA_FILE)
        entries = manifest["zips"]
        done = 0
        with ThreadPoolExecutor(max(1, workers), thread_name_prefix="extract") as pool:
            for _ in pool.map(lambda entry: _extract_one(zipdir, entry, partial, limits), entries):
                done += 1
                if on_progress:
                    on_progress(done, len(entries))
        partial.rename(out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return sum(len(e["patch_ids"]) for e in entries)


def _verify(path: Path, expected: str) -> None:
    if not path.is_file():
        raise _refuse(f"{path.name}, listed in the manifest, is missing", path)
    found = sha256_of(path)
    if found != expected:
        raise _refuse(f"{path.name} has SHA-256 {found}, the manifest says {expected}", path)


def _extract_one(zipdir: Path, entry: dict, target: Path, limits: ArchiveLimits) -> int:
    path = inside(zipdir, entry["name"])
    _verify(path, entry["sha256"])
    expected = {rel for patch_id in entry["patch_ids"] for rel in patch_files(patch_id, with_reference_map=True)}
    required = {rel for patch_id in entry["patch_ids"] for rel in patch_files(patch_id, with_reference_map=False)}
    total = [0]
    with open_archive(path, limits) as archive:
        for info in archive.infolist():
            destination = inside(target, *info.filename.split("/"))
            if info.is_dir():
                continue
            if info.filename not in expected:
                raise _refuse(f"member {info.filename!r} is not a file of the patches the manifest lists", path)
            destination.parent.mkdir(parents=True, exist_ok=True)
            with destination.open("wb") as sink:
                for chunk in stream_member(archive, info, limits, total):
                    sink.write(chunk)
            required.discard(info.filename)
    if required:
        raise _refuse(f"{len(required)} band files are missing, e.g. {sorted(required)[0]!r}", path)
    return len(entry["patch_ids"])
