"""Where the strips are decoded: in this process, split by band over worker processes, or one product per worker.

*Band mode* (few products): each worker process owns a fixed group of layers for the whole product
and decodes its layers strip after strip, handing each strip to the parent through its own bounded
queue (at most :data:`_QUEUE_DEPTH` strips ahead). Fixed ownership matters: the JP2 tiles a strip
boundary cuts through stay in that worker's GDAL cache for the next strip. Per-worker queues (rather
than one shared queue) mean a fast worker can never fill the pipe while the parent waits for a slow
one. Layers are grouped by pixel count (a 10 m band is 4x a 20 m band) so the workers finish together.

*Product mode* (many products): :func:`stage_product` runs in a worker for one whole product and
writes its record batches to an Arrow IPC file (LZ4); the parent then streams that file into one
Delta commit. Staging keeps every worker busy while the parent commits products one at a time, since
two concurrent replace-where commits on the same table would conflict.

Both modes run the very same :class:`~sedona_jobs.patches.strips.LayerReader` code, so their rows are
identical.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from s2lake.errors import ProductError
from s2lake.sentinel2 import ALL_LAYERS, BANDS_BY_NAME
from sedona_jobs.patches.patch_grid import PatchGrid
from sedona_jobs.patches.strips import LayerReader, LayerStrip

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess
    from multiprocessing.queues import Queue

    import pyarrow as pa

    from sedona_jobs.safe import L2AProduct

_QUEUE_DEPTH = 2
Strip = tuple[int, int, dict[str, LayerStrip]]


def layer_groups(workers: int) -> list[list[str]]:
    """Split the 13 layers into ``workers`` groups of about equal pixel count (largest first)."""
    groups: list[list[str]] = [[] for _ in range(max(1, min(workers, len(ALL_LAYERS))))]
    loads = [0.0] * len(groups)
    for layer in sorted(ALL_LAYERS, key=lambda b: b.resolution):
        i = loads.index(min(loads))
        groups[i].append(layer.name)
        loads[i] += 1.0 / layer.resolution**2
    return groups


def configure_gdal(cache_bytes: int | None = None) -> None:
    """GDAL settings of a decoding process; must run before its first raster read.

    ``GDAL_NUM_THREADS=1``: parallelism comes from our worker processes (one per core), and GDAL
    3.10's multi-threaded JP2OpenJPEG path loses decoding errors (a truncated file comes back as
    zeros with only a logged message), while the single-threaded path raises them. The cache holds
    the decoded tiles a strip boundary cuts through (see :func:`strips.gdal_cache_bytes`).
    """
    os.environ["GDAL_NUM_THREADS"] = "1"
    if cache_bytes is not None:
        os.environ["GDAL_CACHEMAX"] = str(cache_bytes)


def cache_bytes_for(product: L2AProduct, grid: PatchGrid, layers: list[str]) -> int:
    """Cache size for a process decoding ``layers``: two JP2 tile rows of each (tile heights as the
    reader found them in the files), plus headroom."""
    from sedona_jobs.patches.strips import gdal_cache_bytes

    widths = {name: grid.cols * BANDS_BY_NAME[name].patch_pixels for name in layers}
    return gdal_cache_bytes(widths, {name: product.bands[name].block_rows for name in layers})


def local_strips(
    product: L2AProduct, grid: PatchGrid, strip_rows: int, layers: list[str] | None = None
) -> Iterator[Strip]:
    """Decode strips of ``layers`` (default: all) in this process, top to bottom."""
    names = layers or [b.name for b in ALL_LAYERS]
    readers = {name: LayerReader(name, product.bands[name].path, grid.cols) for name in names}
    try:
        for r0, r1 in grid.strips(strip_rows):
            yield r0, r1, {name: reader.read(r0, r1) for name, reader in readers.items()}
    finally:
        for reader in readers.values():
            reader.close()


@dataclass(frozen=True)
class _Failure:
    """An error raised in a worker, carried back in parts (exceptions with keyword fields don't pickle)."""

    what: str
    where: str | None
    fix: str | None


def _band_worker(product: L2AProduct, grid: PatchGrid, strip_rows: int, layers: list[str], out: Queue) -> None:
    configure_gdal(cache_bytes_for(product, grid, layers))
    try:
        for r0, r1, strip in local_strips(product, grid, strip_rows, layers):
            out.put((r0, r1, strip))
    except ProductError as exc:
        out.put(_Failure(exc.what, exc.where, exc.fix))
    except Exception as exc:  # a worker must always report, or the parent would wait forever
        out.put(_Failure(f"worker failed on layers {', '.join(layers)}: {exc!r}", product.source, None))


def band_parallel_strips(product: L2AProduct, grid: PatchGrid, strip_rows: int, workers: int) -> Iterator[Strip]:
    """Strips of all layers, decoded by ``workers`` processes that each own a group of layers."""

    groups = layer_groups(workers)
    context = multiprocessing.get_context("spawn")  # no fork: the parent runs delta-rs/rich threads
    queues = [context.Queue(maxsize=_QUEUE_DEPTH) for _ in groups]
    procs = [
        context.Process(target=_band_worker, args=(product, grid, strip_rows, group, q), name=f"s2lake-bands-{i}")
        for i, (group, q) in enumerate(zip(groups, queues, strict=True))
    ]
    for proc in procs:
        proc.start()
    try:
        for r0, r1 in grid.strips(strip_rows):
            merged: dict[str, LayerStrip] = {}
            for proc, q in zip(procs, queues, strict=True):
                item = _receive(proc, q)
                if isinstance(item, _Failure):
                    raise ProductError(item.what, where=item.where, fix=item.fix)
                assert item[0] == r0, "workers deliver strips in order"
                merged.update(item[2])
            yield r0, r1, merged
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
            proc.join()
        for q in queues:
            q.close()
            q.cancel_join_thread()


def _receive(proc: BaseProcess, q: Queue) -> object:
    """The worker's next item; a failure if the worker died without reporting (e.g. killed for memory)."""
    while True:
        try:
            return q.get(timeout=1.0)
        except queue.Empty:
            if not proc.is_alive():
                return _Failure(
                    f"worker process {proc.name} died (exit code {proc.exitcode})",
                    None,
                    "it was probably killed for lack of memory: lower --workers or patches.strip_rows",
                )


def product_batches(
    product: L2AProduct, grid: PatchGrid, strip_rows: int, drop_nodata: bool
) -> Iterator[pa.RecordBatch]:
    """All record batches of one product, decoded in this process: what a product-mode worker (a local
    process or a Spark task) produces."""
    from sedona_jobs.patches.batches import strip_batches

    for r0, r1, strip in local_strips(product, grid, strip_rows):
        yield from strip_batches(product, grid, r0, r1, strip, drop_nodata)


@dataclass(frozen=True)
class Staged:
    """A product whose patches a worker wrote to an Arrow IPC file, ready for its Delta commit."""

    product_id: str
    path: str | None
    patches: int
    failure: _Failure | None = None


def stage_product(product: L2AProduct, grid: PatchGrid, strip_rows: int, drop_nodata: bool, path: str) -> Staged:
    """Product mode: cut one product in this (worker) process and write its batches to ``path``."""
    import pyarrow as pa

    from s2lake.tables.schemas import PATCHES

    configure_gdal(cache_bytes_for(product, grid, [b.name for b in ALL_LAYERS]))
    patches = 0
    try:
        options = pa.ipc.IpcWriteOptions(compression="lz4")
        with pa.OSFile(path, "wb") as sink, pa.ipc.new_stream(sink, PATCHES.schema, options=options) as writer:
            for batch in product_batches(product, grid, strip_rows, drop_nodata):
                writer.write_batch(batch)
                patches += batch.num_rows
    except ProductError as exc:
        return Staged(product.product_id, None, 0, _Failure(exc.what, exc.where, exc.fix))
    except Exception as exc:  # reported as the product's failure reason; the other products go on
        return Staged(product.product_id, None, 0, _Failure(f"patch cutting failed: {exc!r}", product.source, None))
    return Staged(product.product_id, path, patches)


def staged_batches(path: str) -> Generator:
    """The record batches of a staged product, read back one at a time (bounded memory)."""
    import pyarrow as pa

    with pa.OSFile(path, "rb") as source:
        reader = pa.ipc.open_stream(source)
        yield from reader
