"""An iterable over the shards of ``s2lake export shards``: numpy arrays and metadata, framework-neutral.

Shuffling is two-level, as for any sharded dataset that is streamed: the shard order is permuted (seeded
by ``seed`` and the epoch), then samples pass through a buffer of ``buffer_size`` from which a random one
is taken each step. Both are seeded, so an epoch is reproducible.

Worker sharding: :meth:`Shards.part` gives part ``k`` of ``n`` the shards ``k, k + n, k + 2n, ...`` of the
epoch's shard order, so ``n`` workers (torch DataLoader workers times distributed ranks) read every
shard of the split exactly once between them; with fewer shards than parts some parts are empty, so
write at least as many shards as readers (``--shard-size``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from s2lake.datasets.readers import READERS, Sample
from s2lake.datasets.resample import METHODS, upsample
from s2lake.errors import ExportError
from s2lake.sentinel2 import BANDS
from s2lake.shards.layout import INDEX_FILE, INDEX_VERSION, SPLITS

_TARGET = max(b.patch_pixels for b in BANDS)


class Shards:
    """Samples of a shard folder (``root/index.json``), optionally one split, shuffled, stacked.

    ``stack``: None (bands at native resolution in ``sample["bands"]``) or ``nearest`` / ``bilinear``
    (also ``sample["image"]``: (12, 120, 120), band order B01..B12 as :data:`s2lake.sentinel2.BANDS`,
    uint16 for nearest, float32 for bilinear; a band the patch lacks is zeros, i.e. NO_DATA).
    """

    def __init__(
        self,
        root: str | Path,
        *,
        split: str | None = None,
        shuffle: bool = False,
        seed: int = 0,
        buffer_size: int = 256,
        stack: str | None = None,
    ) -> None:
        self.root = Path(root)
        index_path = self.root / INDEX_FILE
        if not index_path.is_file():
            raise ExportError(
                f"{self.root} has no {INDEX_FILE}: not a complete shard export",
                where=str(self.root),
                fix="finish it by rerunning `s2lake export shards` with the same options",
            )
        self.index = json.loads(index_path.read_text(encoding="utf-8"))
        if self.index.get("version") != INDEX_VERSION:
            raise ExportError(
                f"{index_path} has index version {self.index.get('version')}, this reader knows {INDEX_VERSION}",
                where=str(index_path),
                fix="read it with the s2lake release that wrote it, or export the shards again",
            )
        if split is not None and split not in SPLITS:
            raise ExportError(f"unknown split {split!r}", where="split", fix=f"use one of {', '.join(SPLITS)}")
        if stack is not None and stack not in METHODS:
            raise ExportError(f"unknown stacking {stack!r}", where="stack", fix=f"use one of {', '.join(METHODS)}")
        self.split, self.shuffle, self.seed, self.buffer_size, self.stack = split, shuffle, seed, buffer_size, stack
        self.epoch = 0
        self.shards = [e for e in self.index["shards"] if split is None or e["splits"].get(split, 0) > 0]

    def __len__(self) -> int:
        """Samples per epoch (of the split)."""
        return sum(e["rows"] if self.split is None else e["splits"][self.split] for e in self.shards)

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle for ``epoch`` (call it on every copy, e.g. before each epoch in each process)."""
        self.epoch = epoch

    def shard_order(self) -> list[dict]:
        order = list(self.shards)
        if self.shuffle:
            np.random.default_rng([self.seed, self.epoch]).shuffle(order)
        return order

    def part(self, number: int, parts: int) -> Iterator[Sample]:
        """The samples of part ``number`` of ``parts`` (see the module doc)."""
        chosen = self.shard_order()[number::parts]
        samples = (s for entry in chosen for s in self._read(entry))
        if self.shuffle:
            samples = _buffered(samples, self.buffer_size, np.random.default_rng([self.seed, self.epoch, number]))
        return (self._stacked(s) for s in samples)

    def __iter__(self) -> Iterator[Sample]:
        return self.part(0, 1)

    def _read(self, entry: dict) -> Iterator[Sample]:
        for sample in READERS[self.index["format"]](self.root / entry["file"]):
            if self.split is None or sample["split"] == self.split:
                yield sample

    def _stacked(self, sample: Sample) -> Sample:
        if self.stack is not None:
            dtype = np.uint16 if self.stack == "nearest" else np.float32
            sample["image"] = np.stack(
                [
                    upsample(grid, _TARGET, self.stack) if grid is not None else np.zeros((_TARGET, _TARGET), dtype)
                    for grid in sample["bands"].values()
                ]
            )
        return sample


def _buffered(samples: Iterator[Sample], size: int, rng: np.random.Generator) -> Iterator[Sample]:
    """Shuffle within a buffer: once full, each incoming sample replaces a randomly chosen one, which is yielded."""
    buffer: list[Sample] = []
    for sample in samples:
        if len(buffer) < size:
            buffer.append(sample)
            continue
        i = int(rng.integers(len(buffer)))
        buffer[i], sample = sample, buffer[i]
        yield sample
    rng.shuffle(buffer)
    yield from buffer
