"""A PyTorch ``IterableDataset`` over shard folders (the optional extra ``s2lake[torch]``).

Each DataLoader worker of each distributed rank reads its own part of the shards
(:meth:`~s2lake.datasets.shards.Shards.part`): part ``rank * workers + worker`` of ``world * workers``,
so an epoch yields every patch of the split exactly once across all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from s2lake.datasets.readers import Sample
from s2lake.datasets.shards import Shards


def training_pair(sample: Sample) -> dict[str, object]:
    """The default transform: float32 image (12, 120, 120), float32 multi-hot target, and the patch id."""
    return {
        "image": torch.from_numpy(np.asarray(sample["image"], dtype=np.float32)),
        "target": torch.from_numpy(sample["label_vector"].astype(np.float32)),
        "patch_id": sample["patch_id"],
    }


class ShardDataset(IterableDataset):
    """``Shards(root, **options)`` as a torch dataset; ``stack`` defaults to bilinear so samples batch."""

    def __init__(
        self, root: str | Path, transform: Callable[[Sample], object] = training_pair, **options: object
    ) -> None:
        super().__init__()
        options.setdefault("stack", "bilinear")
        self.shards = Shards(root, **options)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.shards)

    def set_epoch(self, epoch: int) -> None:
        self.shards.set_epoch(epoch)

    def __iter__(self) -> Iterator[object]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        rank, world = 0, 1
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
        for sample in self.shards.part(rank * workers + worker, world * workers):
            yield self.transform(sample)
