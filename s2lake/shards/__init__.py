"""Training-ready shards of the ``patches`` table (``s2lake export shards``); read them with :mod:`s2lake.datasets`."""

from s2lake.shards.export import DEFAULT_SHARD_BYTES, ShardsReport, export_shards

__all__ = ["DEFAULT_SHARD_BYTES", "ShardsReport", "export_shards"]
