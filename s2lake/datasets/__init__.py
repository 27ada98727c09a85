"""Reading the shards of ``s2lake export shards``: :class:`Shards` (numpy, no framework) and, with the
``torch`` extra installed, :class:`s2lake.datasets.torch.ShardDataset`."""

from s2lake.datasets.shards import Shards

__all__ = ["Shards"]
