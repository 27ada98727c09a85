"""The file system under a warehouse path: local disk, HDFS without a JVM, or another fsspec protocol.

Why not plain ``fsspec.url_to_fs``: fsspec's built-in ``hdfs`` protocol is pyarrow's libhdfs, which loads
a JVM (``Unable to load libjvm`` on a machine without Java, and Hadoop's jars when there is one). The
hdfs-native package (a Rust HDFS client) registers itself for ``hdfs://`` through fsspec's entry points
too, but which registration wins then depends on import order; naming it here makes every s2lake path
(landing, table listing, the patch writer, reference tables) reach HDFS the same JVM-free way that
delta-rs (``deltalake``, whose object store is the same Rust client) reaches the Delta tables.
"""

from __future__ import annotations

from urllib.parse import urlparse

import fsspec
import pyarrow.fs as pafs
from fsspec import AbstractFileSystem

from s2lake.warehouse import is_uri

#: Protocols served by hdfs-native's fsspec file systems (hdfs_native.fsspec).
HDFS_PROTOCOLS = frozenset({"hdfs", "viewfs"})


def is_hdfs(uri: str) -> bool:
    return urlparse(uri).scheme in HDFS_PROTOCOLS


def fsspec_fs(uri: str) -> tuple[AbstractFileSystem, str]:
    """An fsspec file system for ``uri`` and the path within it."""
    if is_hdfs(uri):
        # lazy: hdfs-native costs ~0.13 s to import; only hdfs:// and viewfs:// warehouses need it
        from hdfs_native.fsspec import HdfsFileSystem, ViewfsFileSystem

        kind = HdfsFileSystem if urlparse(uri).scheme == "hdfs" else ViewfsFileSystem
        return kind(**kind._get_kwargs_from_urls(uri)), kind._strip_protocol(uri)
    return fsspec.core.url_to_fs(uri)


def arrow_fs(uri: str) -> tuple[pafs.FileSystem, str]:
    """A pyarrow file system for ``uri`` (a local path or a URI) and the path within it.

    Local paths get pyarrow's own file system; URIs go through :func:`fsspec_fs`, wrapped for pyarrow
    (its output streams count the bytes written, which the patch writer's file roll-over needs).
    """
    if not is_uri(uri):
        return pafs.LocalFileSystem(), uri
    fs, path = fsspec_fs(uri)
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path
