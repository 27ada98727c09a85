"""Where the strips are decoded: in this process, split by band over worker processes, or one product per worker.

*Band mode* (few products): each worker process owns a fixed group of layers for the whole product
and decodes its layers strip after strip. Fixed ownership matters: the JP2 tiles a strip boundary cuts
through stay in that worker's GDAL cache for the next strip (measured: a band read in strips costs the
same CPU time as read whole, so no tile is decoded twice). Layers are grouped by pixel count (a 10 m
band is 4x a 20 m band) so the workers finish together.

The pixels reach the parent through shared memory, not pipes: each worker owns a ring of
:data:`_RING_SLOTS` strip slots in one :class:`~multiprocessing.shared_memory.SharedMemory` segment
(:class:`_Ring`), cuts its patches straight into a free slot (as the table's int32, so the parent's
Arrow columns wrap the slot without a copy) and sends only the slot number and the statistics through
its queue. Pickling strips through a pipe cost the parent more CPU than decoding COGs (~1.5 s of
~9 s on a quarter tile). A slot goes back to its worker when the last Arrow array over it is freed,
i.e. once the Parquet writer has written those rows (a ``weakref.finalize`` on the slot's array), so
the ring is also the bound on how far a worker runs ahead. The parent creates and unlinks every
segment, so a failed build leaves none behind.

*Product mode* (many products): :func:`stage_product` runs in a worker for one whole product and
writes its record batches to an Arrow IPC file (LZ4); the parent then streams that file into one
Delta commit. Staging keeps every worker busy while the parent commits products one at a time, since
two concurrent replace-where commits on the same table would conflict.

Both modes run the very same :class:`~sedona_jobs.patches.strips.LayerReader` code, so their rows are
identical.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import shutil
import weakref
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from multiprocessing import shared_memory
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from s2lake.errors import ProductError
from s2lake.sentinel2 import ALL_LAYERS, BANDS_BY_NAME
from s2lake.tables.schemas import PATCHES
from sedona_jobs.patches.batches import strip_batches
from sedona_jobs.patches.patch_grid import PatchGrid
from sedona_jobs.patches.strips import LayerReader, LayerStrip, PatchStats, gdal_cache_bytes, pixel_dtype

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess
    from multiprocessing.queues import Queue

    from sedona_jobs.safe import L2AProduct

#: Strip slots per worker: one the parent cuts batches from, one whose last rows the Parquet writer may still
#: hold, one the worker decodes into.
_RING_SLOTS = 3
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


@dataclass(frozen=True)
class _Ring:
    """Where a worker's strips go: :data:`_RING_SLOTS` slots of ``slot_bytes`` in the shared memory segment
    ``name``, each holding the patches of every layer of the group at ``offsets`` (a full strip's size)."""

    name: str
    slot_bytes: int
    offsets: dict[str, int]

    @staticmethod
    def layout(grid: PatchGrid, strip_rows: int, layers: list[str]) -> tuple[int, dict[str, int]]:
        offsets, end = {}, 0
        for name in layers:
            offsets[name] = end
            size = strip_rows * grid.cols * BANDS_BY_NAME[name].patch_pixels ** 2 * pixel_dtype(name).itemsize
            end += -(-size // 64) * 64  # 64-byte aligned layers
        return end, offsets

    def slot(self, buf: memoryview, slot: int) -> np.ndarray:
        """Slot ``slot`` as one byte array: the base of every view handed out for it."""
        return np.frombuffer(buf, np.uint8, count=self.slot_bytes, offset=slot * self.slot_bytes)

    def layer(self, slot: np.ndarray, name: str, patches: int) -> np.ndarray:
        """``(patches, px * px)`` pixels of ``name`` in ``slot`` (a view, whose ``base`` is ``slot``)."""
        dtype, px = pixel_dtype(name), BANDS_BY_NAME[name].patch_pixels
        start = self.offsets[name]
        return slot[start : start + patches * px * px * dtype.itemsize].view(dtype).reshape(patches, px * px)


def _shared_rings(grid: PatchGrid, strip_rows: int, groups: list[list[str]]) -> list[shared_memory.SharedMemory]:
    """One segment per worker, after checking they fit: Linux lets a segment exceed the free space of
    ``/dev/shm`` and kills the process that writes past it (SIGBUS)."""
    sizes = [_Ring.layout(grid, strip_rows, group)[0] * _RING_SLOTS for group in groups]
    if os.path.isdir("/dev/shm") and shutil.disk_usage("/dev/shm").free < sum(sizes):
        raise ProductError(
            f"{sum(sizes) / 2**20:.0f} MB of shared memory needed for the decoding workers, "
            f"{shutil.disk_usage('/dev/shm').free / 2**20:.0f} MB free",
            where="/dev/shm",
            fix="lower patches.strip_rows or --workers, or give the container more shared memory (--shm-size)",
        )
    segments: list[shared_memory.SharedMemory] = []
    try:
        for size in sizes:
            segments.append(_Segment(create=True, size=size))
    except BaseException:
        _unlink(segments)
        raise
    return segments


class _Segment(shared_memory.SharedMemory):
    """A segment whose views may outlive it (the strip a consumer still holds when the stream ends): its mapping
    is then freed with the last view, instead of ``close()`` failing in ``__del__`` with a printed BufferError."""

    def __del__(self) -> None:
        with contextlib.suppress(BufferError, OSError):
            self.close()


def _unlink(segments: list[shared_memory.SharedMemory]) -> None:
    for segment in segments:
        segment.unlink()
        with contextlib.suppress(BufferError):  # a view still alive (e.g. in a traceback): freed with it
            segment.close()


def _band_worker(
    product: L2AProduct, grid: PatchGrid, strip_rows: int, layers: list[str], ring: _Ring, free: Queue, out: Queue
) -> None:
    configure_gdal(cache_bytes_for(product, grid, layers))
    segment = _Segment(ring.name)  # registered with the parent's resource tracker, which unlinks it if the parent dies
    try:
        readers = {name: LayerReader(name, product.bands[name].path, grid.cols) for name in layers}
        for r0, r1 in grid.strips(strip_rows):
            index = _free_slot(free)
            slot = ring.slot(segment.buf, index)
            stats = {
                name: r.read(r0, r1, ring.layer(slot, name, (r1 - r0) * grid.cols)).stats for name, r in readers.items()
            }
            del slot
            out.put((r0, r1, index, stats))
    except ProductError as exc:
        out.put(_Failure(exc.what, exc.where, exc.fix))
    except Exception as exc:  # a worker must always report, or the parent would wait forever
        out.put(_Failure(f"worker failed on layers {', '.join(layers)}: {exc!r}", product.source, None))


def _free_slot(free: Queue) -> int:
    """The next slot the parent has released; ends the worker if the parent is gone."""
    while True:
        try:
            return free.get(timeout=1.0)
        except queue.Empty:
            parent = multiprocessing.parent_process()
            if parent is not None and not parent.is_alive():
                raise SystemExit(1) from None


def _release(free: Queue, index: int) -> None:
    with contextlib.suppress(ValueError, OSError):  # the queue is closed once the product is done
        free.put(index)


def band_parallel_strips(product: L2AProduct, grid: PatchGrid, strip_rows: int, workers: int) -> Iterator[Strip]:
    """Strips of all layers, decoded by ``workers`` processes that each own a group of layers.

    Consume them strip by strip: a strip's slots return to the workers only once nothing refers to its
    pixels, so a consumer that keeps :data:`_RING_SLOTS` strips alive stalls the workers."""

    groups = layer_groups(workers)
    context = multiprocessing.get_context("spawn")  # no fork: the parent runs delta-rs/rich threads
    segments = _shared_rings(grid, strip_rows, groups)
    rings = [
        _Ring(seg.name, *_Ring.layout(grid, strip_rows, group)) for seg, group in zip(segments, groups, strict=True)
    ]
    frees = [context.Queue() for _ in groups]
    queues = [context.Queue(maxsize=_RING_SLOTS) for _ in groups]
    for free in frees:
        for index in range(_RING_SLOTS):
            free.put(index)
    procs = [
        context.Process(
            target=_band_worker, args=(product, grid, strip_rows, group, ring, free, q), name=f"s2lake-bands-{i}"
        )
        for i, (group, ring, free, q) in enumerate(zip(groups, rings, frees, queues, strict=True))
    ]
    try:
        for proc in procs:
            proc.start()
        for r0, r1 in grid.strips(strip_rows):
            merged: dict[str, LayerStrip] = {}
            for proc, q, ring, segment, free in zip(procs, queues, rings, segments, frees, strict=True):
                item = _receive(proc, q)
                if isinstance(item, _Failure):
                    raise ProductError(item.what, where=item.where, fix=item.fix)
                row, _, index, stats = item
                assert row == r0, "workers deliver strips in order"
                merged.update(_handed_over(ring, segment, free, index, (r1 - r0) * grid.cols, stats))
            yield r0, r1, merged
            del merged  # the slots go back once the writer is done with their rows, not at the next strip
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
            if proc.pid is not None:
                proc.join()
        for q in [*queues, *frees]:
            q.close()
            q.cancel_join_thread()
        _unlink(segments)


def _handed_over(
    ring: _Ring,
    segment: shared_memory.SharedMemory,
    free: Queue,
    index: int,
    patches: int,
    stats: dict[str, PatchStats],
) -> dict[str, LayerStrip]:
    """The worker's strip in slot ``index`` as views of the shared memory; the slot is released to the worker
    when the last of them (or of the Arrow arrays wrapping them) is freed."""
    slot = ring.slot(segment.buf, index)
    weakref.finalize(slot, _release, free, index)
    return {name: LayerStrip(name, ring.layer(slot, name, patches), layer_stats) for name, layer_stats in stats.items()}


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

    with pa.OSFile(path, "rb") as source:
        reader = pa.ipc.open_stream(source)
        yield from reader
