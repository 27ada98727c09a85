"""Where things live in a warehouse, and how to reach it.

Layout under the root (a local path or a URI that pyarrow/fsspec and delta-rs reach)::

    tables/<name>/      Delta tables (products, patches, patch_landcover, marts, ...)
    reference/<name>/   GeoParquet reference tables (CORINE, NUTS, countries)
    landing/            downloaded and extracted products (ingest)
    _state/             job state and locks (ingest scheduler)

Keeping every path decision here means ``ingest``, ``sedona_jobs`` and the dbt profile agree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from s2lake.errors import WarehouseError

TABLES_DIR = "tables"
REFERENCE_DIR = "reference"
LANDING_DIR = "landing"
STATE_DIR = "_state"


def is_uri(value: str) -> bool:
    """Whether ``value`` is a URI (``hdfs://``, ``s3://``...) rather than a local path."""
    scheme = urlparse(value).scheme
    return len(scheme) > 1  # "C:" on Windows is a drive, not a scheme


@dataclass(frozen=True)
class Warehouse:
    """A warehouse root. Local roots are made absolute so subprocesses (dbt, Spark) agree."""

    root: str

    @classmethod
    def at(cls, location: str | os.PathLike[str]) -> Warehouse:
        text = os.fspath(location)
        if is_uri(text) and not text.startswith("file://"):
            return cls(text.rstrip("/"))
        if text.startswith("file://"):
            text = urlparse(text).path
        return cls(str(Path(text).expanduser().resolve()))

    @property
    def is_local(self) -> bool:
        return not is_uri(self.root)

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def table_uri(self, name: str) -> str:
        return self.path(TABLES_DIR, name)

    def reference_uri(self, name: str) -> str:
        return self.path(REFERENCE_DIR, name)

    @property
    def landing_uri(self) -> str:
        return self.path(LANDING_DIR)

    @property
    def state_uri(self) -> str:
        return self.path(STATE_DIR)

    def ensure_writable(self) -> None:
        """Fail early, with the fix, when a local warehouse cannot be written."""
        if not self.is_local:
            return
        root = Path(self.root)
        try:
            (root / TABLES_DIR).mkdir(parents=True, exist_ok=True)
            probe = root / TABLES_DIR / f".write-probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise WarehouseError(
                f"warehouse {root} is not writable: {exc.strerror or exc}",
                where=str(root),
                fix="choose a writable folder with --warehouse or S2LAKE_WAREHOUSE, or fix its permissions",
            ) from exc

    def storage_options(self) -> dict[str, str]:
        """Options for delta-rs; object-store credentials come from the usual env variables."""
        return {}
