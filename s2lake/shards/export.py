"""``s2lake export shards``: the selected patches as Parquet or WebDataset shards with an index.

Planned, then written: the selection is sorted by patch id and cut into shards of
``shard_bytes // PATCH_BYTES`` patches (``--shard-size`` counts uncompressed pixel bytes, so the plan
depends only on the selection and the option, never on how well a shard compresses). That makes the
output deterministic and lets a rerun recognise its own shards.

Atomic and resumable: each shard is written to ``.<name>.partial-<pid>`` and renamed when closed;
then its SHA-256, row and label counts go to ``.journal/<name>.json``. ``index.json`` is written last
(temp name, then rename), so OUT is complete exactly when it has an index. A rerun with the same request
(``source`` digest: options, selected ids, their metadata and the ``patches`` table version) skips every
shard whose file matches its journal checksum and writes the rest; a different request on an unfinished
OUT is refused instead of mixing two exports. One run per OUT at a time (a lock in the journal).

Memory: two shards' rows at a time (the one being written and the next, read ahead; each about
``--shard-size``, pixels as uint16) plus the int32 source of the one being read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from s2lake.errors import ExportError
from s2lake.locks import hold
from s2lake.sentinel2 import ALL_LAYERS, BANDS_BY_NAME, SATURATED_DN, SCL
from s2lake.shards.card import dataset_card
from s2lake.shards.formats import WRITERS
from s2lake.shards.layout import (
    CARD_FILE,
    FORMATS,
    INDEX_FILE,
    INDEX_VERSION,
    JOURNAL_DIR,
    PATCH_BYTES,
    SPLITS,
    layer_type,
    parquet_schema,
    shard_name,
)
from s2lake.shards.metadata import band_stats, patch_metadata, season, seasons
from s2lake.shards.thumbnail import thumbnails
from s2lake.tables.schemas import PATCHES
from s2lake.tables.store import TableStore, sql_literal
from s2lake.warehouse import Warehouse
from sedona_jobs.export.ben_export import selected_patches
from sedona_jobs.reference.codelists import ben19_labels

log = logging.getLogger("s2lake.shards")

DEFAULT_SHARD_BYTES = 512 * 1024 * 1024
_PLACE = ["patch_id", "product_id", "tile", "sensing_time", "epsg", "ulx", "uly", "lrx", "lry", "footprint"]

#: Called with (patches done, patches in total); done counts skipped shards too.
ShardsProgress = Callable[[int, int], None]


@dataclass
class ShardsReport:
    out: Path
    patches: int
    shards: int
    written: int  # shards written by this run
    skipped: int  # shards a previous run had completed (checksum verified)
    seconds: float


@dataclass
class _Request:
    fmt: str
    ids: list[str]
    meta: dict[str, dict[str, object]]
    per_shard: int
    source: str  # digest of everything the shards' bytes depend on


def export_shards(
    warehouse: Warehouse,
    out: Path,
    where: str | None = None,
    *,
    split: str | None = None,
    fmt: str = "parquet",
    shard_bytes: int = DEFAULT_SHARD_BYTES,
    on_progress: ShardsProgress | None = None,
) -> ShardsReport:
    """Write (or finish writing) the shards of the patches selected by ``where`` and ``split`` into ``out``."""
    started = time.perf_counter()
    out = Path(out)
    store = TableStore(warehouse)
    request = _request(store, where, split, fmt, shard_bytes)
    plan = [request.ids[i : i + request.per_shard] for i in range(0, len(request.ids), request.per_shard)]
    journal = out / JOURNAL_DIR
    _check_out(out, request.source)
    journal.mkdir(parents=True, exist_ok=True)
    total = len(request.ids)
    progress = on_progress or (lambda done, total: None)
    with hold(journal / "lock", str(out), "export shards"):
        if _finished(out, request, plan):
            return ShardsReport(out, total, len(plan), 0, len(plan), time.perf_counter() - started)
        for stale in [*out.glob(".*.partial-*"), *journal.glob(".*.partial-*")]:  # of a run that was killed
            stale.unlink()
        _write_json(journal / "request.json", {"source": request.source})
        entries = [_verified_entry(out, number, request.fmt) for number in range(len(plan))]
        missing = [number for number, entry in enumerate(entries) if entry is None]
        done = total - sum(len(plan[number]) for number in missing)
        progress(done, total)
        # The next shard's rows are read and prepared (delta-rs, numpy and zlib, which release the GIL) while
        # this one is encoded and written: the two stages take about as long, and the machine has 2+ cores.
        with ThreadPoolExecutor(1, thread_name_prefix="shard-rows") as reader:
            pending = [reader.submit(_shard_rows, store, plan[number], request) for number in missing[:1]]
            for k, number in enumerate(missing):
                if k + 1 < len(missing):
                    pending.append(reader.submit(_shard_rows, store, plan[missing[k + 1]], request))
                rows = pending.pop(0).result()
                base = done
                entries[number] = _write_shard(
                    out, number, plan[number], request, rows, lambda n, base=base: progress(base + n, total)
                )
                del rows
                done += len(plan[number])
                progress(done, total)
        _finish(store, out, request, entries)
    written = len(missing)
    return ShardsReport(out, total, len(plan), written, len(plan) - written, time.perf_counter() - started)


def _request(store: TableStore, where: str | None, split: str | None, fmt: str, shard_bytes: int) -> _Request:
    if fmt not in FORMATS:
        raise ExportError(f"unknown shard format {fmt!r}", where="--format", fix=f"use one of {', '.join(FORMATS)}")
    if split is not None and split not in SPLITS:
        raise ExportError(f"unknown split {split!r}", where="--split", fix=f"use one of {', '.join(SPLITS)}")
    if shard_bytes < PATCH_BYTES:
        raise ExportError(
            f"--shard-size {shard_bytes} bytes is smaller than one patch ({PATCH_BYTES} bytes of pixels)",
            where="--shard-size",
            fix="give at least 1MB, e.g. --shard-size 512MB",
        )
    table = store.require(PATCHES.name)
    # export ben's selection: sorted ids, a bad --where as QueryError, duplicated or malformed ids refused
    # (ids become file and tar member names)
    ids = selected_patches(table, where).column("patch_id").to_pylist()
    meta = patch_metadata(store, ids)
    if split is not None:
        if all(row["split"] is None for row in meta.values()):
            raise ExportError(
                "--split needs the geographic_split mart, which has no row for the selected patches",
                where=store.uri("geographic_split"),
                fix="run `s2lake models build` after `s2lake labels build`, or leave out --split",
            )
        ids = [i for i in ids if meta[i]["split"] == split]
    if not ids:
        raise ExportError(
            "no patch matches the selection"
            + (f" {where!r}" if where else "")
            + (f" in split {split}" if split else ""),
            where=store.uri(PATCHES.name),
            fix="check --where (SQL on the patches columns) and --split",
        )
    meta = {i: meta[i] for i in ids}
    source = {
        "index_version": INDEX_VERSION,
        "format": fmt,
        "where": where,
        "split": split,
        "shard_bytes": shard_bytes,
        "patches_version": table.version(),
        "patches": [meta[i] for i in ids],
    }
    digest = hashlib.sha256(json.dumps(source, sort_keys=True, default=str).encode()).hexdigest()
    return _Request(fmt, ids, meta, max(1, shard_bytes // PATCH_BYTES), digest)


def _check_out(out: Path, source: str) -> None:
    """OUT may be new, an unfinished run of the same request, or the finished export of it (then all is
    verified and skipped); anything else is refused rather than mixed with."""
    if not out.exists():
        return
    if not out.is_dir():
        raise ExportError(f"{out} is not a folder", where=str(out), fix="choose a new output folder")
    index = out / INDEX_FILE
    recorded = out / JOURNAL_DIR / "request.json"
    if index.is_file():
        found = json.loads(index.read_text(encoding="utf-8")).get("source")
    elif recorded.is_file():
        found = json.loads(recorded.read_text(encoding="utf-8")).get("source")
    elif any(out.iterdir()):
        raise ExportError(
            f"{out} exists and is not a shard export", where=str(out), fix="choose a new or empty output folder"
        )
    else:
        return
    if found != source:
        raise ExportError(
            f"{out} holds shards of a different export (other options, selection, labels or patches version)",
            where=str(out),
            fix="rerun with the same options into it, or choose a new output folder (or remove the old one)",
        )


def _finished(out: Path, request: _Request, plan: list[list[str]]) -> bool:
    """True if OUT has this request's index and every shard it lists still verifies. A damaged shard turns the
    index back into a journal (OUT is no longer complete) so that the run rewrites just that shard."""
    index = out / INDEX_FILE
    if not index.is_file():
        return False
    entries = json.loads(index.read_text(encoding="utf-8"))["shards"]
    journal = out / JOURNAL_DIR
    journal.mkdir(exist_ok=True)
    for entry in entries:
        _write_json(journal / f"{entry['file']}.json", entry)
    if len(entries) == len(plan) and all(_verified_entry(out, n, request.fmt) for n in range(len(plan))):
        shutil.rmtree(journal)
        return True
    index.unlink()
    return False


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _verified_entry(out: Path, number: int, fmt: str) -> dict | None:
    """The journal entry of a shard whose file is there with the recorded size and checksum, else None."""
    name = shard_name(number, fmt)
    record, path = out / JOURNAL_DIR / f"{name}.json", out / name
    if not (record.is_file() and path.is_file()):
        return None
    entry = json.loads(record.read_text(encoding="utf-8"))
    if path.stat().st_size != entry["bytes"] or _sha256(path) != entry["sha256"]:
        log.warning("shard %s does not match its checksum: writing it again", path)
        return None
    return entry


def _write_json(path: Path, value: object) -> None:
    temp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    temp.write_text(json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    temp.replace(path)


def _write_shard(
    out: Path, number: int, ids: list[str], request: _Request, rows: pa.Table, written: Callable[[int], None]
) -> dict:
    name = shard_name(number, request.fmt)
    temp = out / f".{name}.partial-{os.getpid()}"
    try:
        WRITERS[request.fmt](rows, temp, written)
        temp.replace(out / name)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    labels = Counter(label for i in ids for label in request.meta[i]["labels"])
    entry = {
        "file": name,
        "rows": len(ids),
        "bytes": (out / name).stat().st_size,
        "sha256": _sha256(out / name),
        "first_patch_id": ids[0],
        "last_patch_id": ids[-1],
        "splits": dict(sorted(Counter(request.meta[i]["split"] or "none" for i in ids).items())),
        "label_counts": dict(sorted(labels.items())),
    }
    _write_json(out / JOURNAL_DIR / f"{name}.json", entry)
    return entry


def _shard_rows(store: TableStore, ids: list[str], request: _Request) -> pa.Table:
    """The shard's rows in :func:`parquet_schema`, sorted by patch id."""
    between = f"patch_id >= {sql_literal(ids[0])} AND patch_id <= {sql_literal(ids[-1])}"
    source = store.read(PATCHES.name, [*_PLACE, *(b.column for b in ALL_LAYERS)], between)
    if source.num_rows != len(ids):  # the id range also holds patches --where or --split left out
        source = source.filter(pc.is_in(source.column("patch_id"), pa.array(ids)))
    # Sorted by index rather than Table.sort_by: that copies every int32 pixel list (a third of the export's
    # time); the pixels are reordered below as uint16 numpy rows instead.
    order = pc.sort_indices(source.column("patch_id")).to_numpy()
    source_ids = source.column("patch_id").to_pylist()
    if [source_ids[i] for i in order] != ids:
        raise ExportError(
            f"the patches table no longer holds exactly the {len(ids)} patches {ids[0]} .. {ids[-1]}:"
            " it changed during the export",
            where="patches",
            fix="rerun the export when no `patches build` is writing the table",
        )
    labels = ben19_labels()
    place = source.select(_PLACE).take(order)
    columns: dict[str, pa.Array] = {c: place.column(c) for c in _PLACE}
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))  # source row -> shard row
    grids = {
        band.name: _layer(source.column(band.column), band.name, band.patch_pixels, source_ids, rank)
        for band in ALL_LAYERS
    }
    month_season = seasons()
    meta = [request.meta[i] for i in ids]
    position = {name: i for i, name in enumerate(labels)}
    for unknown in {label for row in meta for label in row["labels"]} - position.keys():
        raise ExportError(
            f"label {unknown!r} is not one of the 19 BigEarthNet classes",
            where="patch_labels / ben_metadata",
            fix="rebuild the labels (`s2lake labels build`, `s2lake models build`) or leave the patch out with --where",
        )
    hot_rows = [r for r, row in enumerate(meta) for _ in row["labels"]]
    hot_columns = [position[label] for row in meta for label in row["labels"]]
    vectors = np.zeros((len(ids), len(labels)), np.uint8)
    vectors[hot_rows, hot_columns] = 1
    schema = parquet_schema(labels)
    data = {
        **columns,
        "split": [row["split"] for row in meta],
        "country": [row["country"] for row in meta],
        "season": [season(t, month_season) for t in place.column("sensing_time").to_pylist()],
        "labels": [row["labels"] for row in meta],
        "label_vector": pa.FixedSizeListArray.from_arrays(vectors.ravel(), len(labels)),
        "contains_cloud_or_shadow": [row["contains_cloud_or_shadow"] for row in meta],
        "contains_seasonal_snow": [row["contains_seasonal_snow"] for row in meta],
        "crs": [f"EPSG:{e}" for e in place.column("epsg").to_pylist()],
    }
    for band in ALL_LAYERS:
        pixels, valid = grids[band.name]
        mask = pa.array(~valid) if not valid.all() else None
        data[band.column] = pa.FixedSizeListArray.from_arrays(pixels.ravel(), band.patch_pixels**2, mask=mask)
    side = BANDS_BY_NAME["B04"].patch_pixels
    (red, red_ok), (green, green_ok), (blue, blue_ok) = (grids[name] for name in ("B04", "B03", "B02"))
    stacks = (band.reshape(-1, side, side) for band in (red, green, blue))
    data["thumbnail"] = pa.array(thumbnails(*stacks, red_ok & green_ok & blue_ok), pa.binary())
    return pa.table({f.name: data[f.name] for f in schema}, schema=schema)


def _layer(
    column: pa.ChunkedArray, band: str, side: int, ids: list[str], rank: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(pixels (n, side*side) in the shard type and shard order, valid (n,) bool); a NULL band stays null
    (zeros under a null slot), anything a uint16 (uint8 for SCL) fixed-size array cannot hold is refused.
    ``rank`` maps each source row to its shard row, so reordering and narrowing are one pass."""
    array = column.combine_chunks()
    valid = array.is_valid().to_numpy(zero_copy_only=False)
    lengths = pc.list_value_length(array).to_numpy(zero_copy_only=False)
    kind = layer_type(band)
    top = 255 if band == SCL.name else SATURATED_DN
    out = np.zeros((len(ids), side * side), np.uint8 if band == SCL.name else np.uint16)
    wrong = np.flatnonzero(valid & (np.nan_to_num(lengths, nan=0) != side * side))
    if wrong.size:
        i = int(wrong[0])
        raise ExportError(
            f"patch {ids[i]} band {band} has {int(lengths[i])} pixels, not {side}x{side}",
            where="patches",
            fix="leave the patch out with --where or rebuild it from its product",
        )
    values = pc.list_flatten(array)
    extremes = pc.min_max(values).as_py()
    if len(values) and (extremes["min"] < 0 or extremes["max"] > top):
        bad = next(
            i
            for i in range(len(ids))
            if valid[i] and (min(array[i].values.to_pylist()) < 0 or max(array[i].values.to_pylist()) > top)
        )
        raise ExportError(
            f"patch {ids[bad]} band {band} has values outside 0..{top}, which the shards' {kind} cannot hold",
            where="patches",
            fix="leave the patch out with --where or rebuild it from its product",
        )
    out[rank[valid]] = values.to_numpy(zero_copy_only=False).reshape(-1, side * side)
    in_order = np.empty_like(valid)
    in_order[rank] = valid
    return out, in_order


def _finish(store: TableStore, out: Path, request: _Request, entries: list[dict]) -> None:
    """The dataset card, then the index (the mark of a complete OUT), then the journal goes."""
    labels = Counter()
    splits = Counter()
    for entry in entries:
        labels.update(entry["label_counts"])
        splits.update(entry["splits"])
    index = {
        "version": INDEX_VERSION,
        "format": request.fmt,
        "source": request.source,
        "patches": len(request.ids),
        "bands": [
            {"name": b.name, "column": b.column, "resolution_m": b.resolution, "pixels": b.patch_pixels}
            for b in ALL_LAYERS
        ],
        "label_names": ben19_labels(),
        "splits": dict(sorted(splits.items())),
        "label_counts": dict(sorted(labels.items())),
        "shards": entries,
    }
    temp = out / f".{CARD_FILE}.partial-{os.getpid()}"
    temp.write_text(dataset_card(index, band_stats(store)), encoding="utf-8")
    temp.replace(out / CARD_FILE)
    _write_json(out / INDEX_FILE, index)
    shutil.rmtree(out / JOURNAL_DIR, ignore_errors=True)
