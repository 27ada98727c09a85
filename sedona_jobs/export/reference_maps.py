"""Reference maps of exported patches: the CORINE (CLC) level-3 code of every 10 m pixel, as v2 ships them.

A patch gets a map when the latest complete ``labels build`` run found CLC coverage for it
(``patch_landcover`` rows with a code): its label polygons are the ``clc`` reference table's polygons that
cut the patch. They are read once per tile (a GeoParquet bbox read of the tile's selected patches, so
memory holds one tile's polygons, not Europe's), reprojected from EPSG:3035 to the tile's UTM CRS, and
burnt at 10 m with the pixel-centre rule (``rasterio.features.rasterize``). Pixels no polygon covers
stay 0, the NO_DATA value. Where polygons overlap (they should not in CLC) the larger code wins, so the
result does not depend on file order.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from rasterio.features import rasterize

from s2lake.sentinel2 import PATCH_SIZE_M
from s2lake.tables.schemas import PATCH_LANDCOVER
from sedona_jobs.export.geotiff import patch_transform

if TYPE_CHECKING:  # the export's worker processes import this module: they need neither (~150 MB of imports)
    from s2lake.tables.store import TableStore
    from s2lake.warehouse import Warehouse

#: Reference maps are rasterised at the 10 m grid of the patch (120 x 120 px).
RESOLUTION_M = 10
#: Tiles whose reprojected polygons are kept at once (rows arrive grouped by tile; one spare for stragglers).
CACHED_TILES = 2


@dataclass
class ReferenceMaps:
    """Rasterises the CLC polygons of labelled patches; thread-safe, and picklable for worker processes."""

    clc_path: str
    labelled: set[str]
    extents: dict[tuple[str, int], tuple[float, float, float, float]]  # (tile, epsg) -> 3035 bbox
    _cache: dict[tuple[str, int], tuple[Any, np.ndarray, np.ndarray]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __getstate__(self) -> dict[str, Any]:
        """Sent to each export worker process without the cache (each builds its own) and the lock."""
        state = {k: v for k, v in self.__dict__.items() if k != "_lock"}
        state["_cache"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @classmethod
    def open(cls, warehouse: Warehouse, store: TableStore, patches: pa.Table) -> ReferenceMaps | None:
        """``None`` when there is nothing to rasterise from (no complete labels run or no ``clc`` table).

        ``patches``: patch_id, tile, epsg, ulx, uly, lrx, lry of the selected patches.
        """
        # lazy: only the main process opens; the worker processes import this module and need none of these
        from s2lake.tables.store import sql_literal
        from sedona_jobs.labels.runs import pending_runs
        from sedona_jobs.reference.geoparquet import require_table, table_exists

        run, _ = pending_runs(store)
        if run is None or store.open(PATCH_LANDCOVER.name) is None or not table_exists(warehouse, "clc"):
            return None
        rows = store.read(
            PATCH_LANDCOVER.name, ["patch_id"], where=f"run_id = {sql_literal(run)} AND clc_code IS NOT NULL"
        )
        labelled = set(rows.column("patch_id").to_pylist())
        mine = patches.filter(pc.is_in(patches.column("patch_id"), pa.array(sorted(labelled), pa.string())))
        return cls(require_table(warehouse, "clc"), labelled, _extents_3035(mine))

    def rasterise(self, patch_id: str, tile: str, epsg: int, ulx: float, uly: float) -> np.ndarray | None:
        """The patch's 120 x 120 uint16 CLC codes, or ``None`` when the labels found no coverage for it."""
        if patch_id not in self.labelled:
            return None
        tree, geoms, codes = self._tile(tile, epsg)
        side = PATCH_SIZE_M // RESOLUTION_M
        box = shapely.box(ulx, uly - PATCH_SIZE_M, ulx + PATCH_SIZE_M, uly)
        hits = tree.query(box, predicate="intersects")
        hits = hits[np.argsort(codes[hits], kind="stable")]  # larger codes burnt last: they win overlaps
        shapes = [(shapely.clip_by_rect(geoms[i], *box.bounds), int(codes[i])) for i in hits]
        if not shapes:
            return np.zeros((side, side), np.uint16)
        transform = patch_transform(ulx, uly, RESOLUTION_M)
        return rasterize(shapes, out_shape=(side, side), transform=transform, fill=0, dtype="uint16")

    def _tile(self, tile: str, epsg: int) -> tuple[Any, np.ndarray, np.ndarray]:
        key = (tile, epsg)
        with self._lock:  # one reader per tile; the other writers wait for its polygons instead of re-reading
            if key not in self._cache:
                while len(self._cache) >= CACHED_TILES:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[key] = self._read(key)
            return self._cache[key]

    def _read(self, key: tuple[str, int]) -> tuple[Any, np.ndarray, np.ndarray]:
        # lazy: geopandas costs ~2 s to import, fsspec ~0.15 s; a worker needs them only when it reads a tile
        import geopandas as gpd

        from s2lake.warehouse_fs import arrow_fs

        fs, path = arrow_fs(self.clc_path)
        frame = gpd.read_parquet(path, columns=["code_18", "geometry"], bbox=self.extents[key], filesystem=fs)
        frame = frame[frame["code_18"].astype(str).str.fullmatch(r"\d{3}")].to_crs(epsg=key[1])
        geoms = frame.geometry.to_numpy()
        return shapely.STRtree(geoms), geoms, frame["code_18"].astype(int).to_numpy()


def _extents_3035(patches: pa.Table) -> dict[tuple[str, int], tuple[float, float, float, float]]:
    """Per (tile, epsg): the EPSG:3035 bbox of its patches' corners, 1 m larger (UTM edges curve a little)."""
    # lazy: only the main process computes extents; pyproj would add ~14 MB to every export worker
    from pyproj import Transformer

    extents: dict[tuple[str, int], tuple[float, float, float, float]] = {}
    for (tile, epsg), group in patches.to_pandas().groupby(["tile", "epsg"]):
        to_3035 = Transformer.from_crs(int(epsg), 3035, always_xy=True)
        xs = np.concatenate([group.ulx, group.lrx, group.ulx, group.lrx])
        ys = np.concatenate([group.uly, group.lry, group.lry, group.uly])
        ex, ey = to_3035.transform(xs, ys)
        extents[(tile, int(epsg))] = (ex.min() - 1, ey.min() - 1, ex.max() + 1, ey.max() + 1)
    return extents
