"""What Spark's Python workers run for ``patches build --engine spark``: the embedded engine's own code.

*Product mode*: one task per product runs :func:`~sedona_jobs.patches.workers.product_batches` (the
code of a local product-mode worker) and hands its record batches to Spark through ``mapInArrow``.

*Band mode*: one task per (product, band group) decodes its layers strip by strip with
:func:`~sedona_jobs.patches.workers.local_strips` and emits one *piece* per patch row: the row's
patches of those layers (pixels and statistics), keyed by ``(job, row)``. Spark groups the pieces by
that key (a shuffle, as ``combineByKey`` would) and :class:`MergeRows` joins the 13 layers of a patch
row and builds its batch with :func:`~sedona_jobs.patches.batches.strip_batches`, the same function
the embedded engine calls. The key is the patch row rather than the single patch because a row is the
unit ``strip_batches`` builds (one record batch of ``cols`` patches); per-patch keys would multiply
the shuffle records by ``cols`` and build one-row batches.

Failures travel back through an accumulator (:class:`Failure`), not as exceptions: a bad product must
not fail the Spark job and with it the other products. A task that fails part-way has already handed
over some rows; the driver drops every row of a failed product before the commit.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from s2lake.errors import ProductError
from s2lake.sentinel2 import ALL_LAYERS
from s2lake.tables.schemas import PATCHES
from sedona_jobs.patches.patch_grid import PatchGrid
from sedona_jobs.patches.strips import LayerStrip, PatchStats

if TYPE_CHECKING:
    from sedona_jobs.safe import L2AProduct

#: Schema of a band-mode piece: product index in the run, patch row, pickled ``{layer: LayerStrip}``.
PIECE_SCHEMA = pa.schema(
    [pa.field("job", pa.int32(), False), pa.field("row", pa.int32(), False), ("layers", pa.binary())]
)
#: A failure from a read outranks the "layers missing" a merge reports as its consequence.
READ_FAILED, ROW_INCOMPLETE = 0, 1


@dataclass(frozen=True)
class Failure:
    """Why a product failed on an executor; plain fields because it is pickled back to the driver."""

    job: int
    what: str
    where: str | None
    fix: str | None
    rank: int = READ_FAILED


class _Report:
    """Base of the task functions: the run's products and the accumulator failures go to."""

    def __init__(self, items: list[tuple[L2AProduct, PatchGrid]], failures: Any) -> None:
        self.items = items
        self.failures = failures  # a pyspark Accumulator of list[Failure]

    def fail(self, job: int, exc: Exception, context: str) -> None:
        product = self.items[job][0]
        if isinstance(exc, ProductError):
            failure = Failure(job, exc.what, exc.where, exc.fix)
        else:  # anything else is reported as the product's failure too; the other products go on
            failure = Failure(job, f"{context} failed: {exc!r}", product.source, None)
        self.failures.add([failure])


class ProductRows(_Report):
    """``mapInArrow`` function: the patches of the products whose indexes come in (one per task)."""

    def __init__(self, items: list[tuple[L2AProduct, PatchGrid]], failures: Any, strip_rows: int, drop_nodata: bool):
        super().__init__(items, failures)
        self.strip_rows, self.drop_nodata = strip_rows, drop_nodata

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from sedona_jobs.patches.workers import cache_bytes_for, configure_gdal, product_batches

        for batch in batches:
            for job in batch.column("id").to_pylist():
                product, grid = self.items[job]
                configure_gdal(cache_bytes_for(product, grid, [b.name for b in ALL_LAYERS]))
                try:
                    yield from product_batches(product, grid, self.strip_rows, self.drop_nodata)
                except Exception as exc:
                    self.fail(job, exc, "patch cutting")


class BandPieces(_Report):
    """``mapInArrow`` function: task ``i`` decodes band group ``i % len(groups)`` of product ``i // len(groups)``."""

    def __init__(
        self, items: list[tuple[L2AProduct, PatchGrid]], failures: Any, groups: list[list[str]], strip_rows: int
    ):
        super().__init__(items, failures)
        self.groups, self.strip_rows = groups, strip_rows

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from sedona_jobs.patches.workers import cache_bytes_for, configure_gdal, local_strips

        for batch in batches:
            for task in batch.column("id").to_pylist():
                job, group = divmod(task, len(self.groups))
                product, grid = self.items[job]
                layers = self.groups[group]
                configure_gdal(cache_bytes_for(product, grid, layers))
                try:
                    for r0, r1, strip in local_strips(product, grid, self.strip_rows, layers):
                        yield _pieces(job, r0, r1, strip, grid.cols)
                except Exception as exc:
                    self.fail(job, exc, f"decoding layers {', '.join(layers)}")


def _pieces(job: int, r0: int, r1: int, strip: dict[str, LayerStrip], cols: int) -> pa.RecordBatch:
    rows = list(range(r0, r1))
    payloads = [
        pickle.dumps({name: _row_of(layer, i, cols) for name, layer in strip.items()}, protocol=5)
        for i in range(len(rows))
    ]
    return pa.RecordBatch.from_pydict({"job": [job] * len(rows), "row": rows, "layers": payloads}, schema=PIECE_SCHEMA)


def _row_of(layer: LayerStrip, i: int, cols: int) -> LayerStrip:
    """Patch row ``i`` of a strip: its ``cols`` patches' pixels and statistics (copies, so pickling
    sends the row and not the strip)."""
    sl = slice(i * cols, (i + 1) * cols)
    stats = {f.name: getattr(layer.stats, f.name) for f in fields(PatchStats)}
    return LayerStrip(
        layer.layer,
        layer.pixels[sl].copy(),
        PatchStats(**{name: None if value is None else value[sl].copy() for name, value in stats.items()}),
    )


def merge_rows(items: list[tuple[L2AProduct, PatchGrid]], failures: Any, drop_nodata: bool) -> Any:
    """The ``applyInArrow`` function merging pieces, as a plain annotated function: pyspark 4.1 infers
    the UDF kind from type hints and fails (``UnboundLocalError``) on a callable object without them."""
    merger = MergeRows(items, failures, drop_nodata)

    def merge(pieces: pa.Table) -> pa.Table:
        return merger(pieces)

    return merge


class MergeRows(_Report):
    """``applyInArrow`` function over the pieces of one ``(job, row)``: the patch row's batch, or nothing
    (and a failure) when a band group's task failed before delivering that row."""

    def __init__(self, items: list[tuple[L2AProduct, PatchGrid]], failures: Any, drop_nodata: bool):
        super().__init__(items, failures)
        self.drop_nodata = drop_nodata

    def __call__(self, pieces: pa.Table) -> pa.Table:
        from sedona_jobs.patches.batches import strip_batches

        job, row = pieces["job"][0].as_py(), pieces["row"][0].as_py()
        product, grid = self.items[job]
        layers: dict[str, LayerStrip] = {}
        for payload in pieces["layers"].to_pylist():
            layers.update(pickle.loads(payload))  # written by _pieces in this very job
        missing = [b.name for b in ALL_LAYERS if b.name not in layers]
        if missing:
            what = f"patch row {row} lacks layers {', '.join(missing)} (their task failed)"
            self.failures.add([Failure(job, what, product.source, None, ROW_INCOMPLETE)])
            return PATCHES.schema.empty_table()
        batches = list(strip_batches(product, grid, row, row + 1, layers, self.drop_nodata))
        return pa.Table.from_batches(batches, schema=PATCHES.schema)
