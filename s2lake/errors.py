"""Central error types.

Every error a user can cause derives from :class:`S2LakeError` and says what went wrong, where,
and how to fix it, so the CLI can print it as one readable message instead of a traceback.
"""

from __future__ import annotations


class S2LakeError(Exception):
    """Base class for errors caused by input, configuration or environment (not by bugs)."""

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None) -> None:
        self.what = what
        self.where = where
        self.fix = fix
        super().__init__(self.message)

    @property
    def message(self) -> str:
        parts = [self.what]
        if self.where:
            parts.append(f"(at {self.where})")
        text = " ".join(parts)
        if self.fix:
            text += f". Fix: {self.fix}"
        return text


class ConfigError(S2LakeError):
    """The configuration file, an S2LAKE_* variable or a CLI flag is invalid."""


class WarehouseError(S2LakeError):
    """The warehouse cannot be read or written (missing, unwritable, corrupt table)."""


class ProductError(S2LakeError):
    """A Sentinel-2 product is unusable: wrong level, missing or broken band, bad metadata."""


class ProductAlreadyLoaded(ProductError):
    """The product's patches are already in the warehouse and --replace was not given."""


class CatalogueError(S2LakeError):
    """A catalogue (DHuS, CDSE OData, STAC) failed or answered something unusable."""


class DownloadError(S2LakeError):
    """A transfer failed: network, checksum, archive integrity."""


class ReferenceDataError(S2LakeError):
    """A reference table (CORINE, NUTS, countries) is missing, empty or has the wrong CRS."""


class ModelsError(S2LakeError):
    """The dbt build failed."""


class LockedError(S2LakeError):
    """Another run holds the lock it needs (e.g. ``ingest run`` on the same warehouse): retry later."""


class UnsafePathError(S2LakeError):
    """A name or path that came from outside (a catalogue, a product's metadata, a folder name)
    would leave the folder it belongs in, or does not follow the grammar it must: refused before
    anything is written, read or removed."""


class ArchiveError(DownloadError):
    """A downloaded or given archive is corrupt or over the size limits (a zip bomb, a member
    inflating past its declared ratio)."""


class QueryError(S2LakeError):
    """An SQL query given to ``s2lake sql`` is invalid, fails, or is refused by ``--safe`` mode."""


class ClusterError(S2LakeError):
    """The cluster engine's environment is unusable: Maven or Java missing, a JVM artifact the
    configured repositories do not serve, or a local cluster process that fails to start or stop."""


class WriteConflictError(LockedError):
    """Another writer committed to a Delta table after this run read it (optimistic concurrency where
    no file lock reaches, e.g. object stores): this run's commit was rejected, nothing of it was written."""


class ExportError(ProductError):
    """A dataset cannot be exported, re-tiled or extracted as asked: a patch without pixels or with
    values a uint16 GeoTIFF cannot hold, a raster that does not split into the parts asked for, an
    output folder that already exists, or parts that do not reassemble their original."""
