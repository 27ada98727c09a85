"""A realistic generated warehouse for the dbt models: products, patches, land cover, countries, overlaps.

Shared by ``tests/models`` (small), ``tests/ben`` and ``bench/models.py`` (a million patches), so it is
vectorised with numpy/pyarrow. Pixel arrays stay NULL: every model reads ``band_stats`` only, which is filled with
exact integer ``valid_count``/``sum``/``sum_sq``. Deliberate defects, recorded in :class:`Defects` so
tests can check the validation mart finds exactly them: wrong-size bands, NO_DATA pixels, patches
whose product has no ``products`` row (orphans), patches without CLC coverage, patches covered only by
CORINE's NODATA code (999) or by a code outside the classes (as loaded with ``--allow-unknown-codes``),
patches without any ``patch_landcover`` row (labels not built), mostly unlabelled patches and
same-place patches of two dates (overlaps).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from s2lake.sentinel2 import ALL_LAYERS, PATCH_SIZE_M
from s2lake.tables.schemas import LABEL_RUNS, PATCH_COUNTRY, PATCH_LANDCOVER, PATCH_OVERLAPS, PATCHES, PRODUCTS
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse
from sedona_jobs.labels.runs import new_run_id
from sedona_jobs.reference.codelists import CODELISTS

#: The tables the dbt project reads as sources (models/macros/sources.sql), in the order they are written.
SOURCE_TABLES = tuple(
    spec.name for spec in (PRODUCTS, PATCHES, PATCH_LANDCOVER, PATCH_COUNTRY, PATCH_OVERLAPS, LABEL_RUNS)
)


def _clc_classes() -> tuple[tuple[str, str, str | None], ...]:
    """The 44 CLC classes with their BigEarthNet-19 label (None = not mapped), from the code lists."""
    with (CODELISTS / "ben19_classes.csv").open(encoding="utf-8") as f:
        ben19 = {r["ben19_id"]: r["ben19_label"] for r in csv.DictReader(f)}
    with (CODELISTS / "clc_to_ben19.csv").open(encoding="utf-8") as f:
        mapping = {r["clc_code"]: ben19.get(r["ben19_id"]) for r in csv.DictReader(f)}
    with (CODELISTS / "clc2018_classes.csv").open(encoding="utf-8") as f:
        return tuple((r["clc_code"], r["clc_name"], mapping[r["clc_code"]]) for r in csv.DictReader(f))


CLC = _clc_classes()
COUNTRIES = (("DE", "Deutschland"), ("AT", "Österreich"), ("CZ", "Česko"), ("PL", "Polska"))
#: The one complete label run the generated label tables come from.
RUN_STARTED = datetime(2024, 1, 1, tzinfo=UTC)
RUN_ID = new_run_id(RUN_STARTED).rsplit("-", 1)[0] + "-00000000"
#: One sensing month per product slot, spread over the four meteorological seasons.
MONTHS = (1, 4, 7, 10, 12, 3, 6, 9, 2, 5, 8, 11)


@dataclass
class Defects:
    wrong_size: set[str] = field(default_factory=set)
    nodata: set[str] = field(default_factory=set)
    orphans: set[str] = field(default_factory=set)
    no_clc: set[str] = field(default_factory=set)
    clc_nodata: set[str] = field(default_factory=set)
    unknown_code: set[str] = field(default_factory=set)
    no_landcover_rows: set[str] = field(default_factory=set)

    @property
    def unlabelled(self) -> set[str]:
        return self.no_clc | self.clc_nodata | self.unknown_code | self.no_landcover_rows


@dataclass
class GeneratedWarehouse:
    warehouse: Warehouse
    tables: dict[str, pa.Table]
    defects: Defects


def _tile_name(i: int) -> str:
    zone = 32 + i % 3
    return f"{zone}U{'ABCDEFGHJK'[i // 3 % 10]}{'ABCDEFGHJKLMNPQRSTUV'[i // 30 % 20]}"


def generate(
    warehouse: Warehouse,
    tiles: int = 4,
    grid: int = 20,
    dates_per_tile: tuple[int, ...] = (2, 1),
    seed: int = 7,
    defect_rate: float = 0.01,
    write: bool = True,
) -> GeneratedWarehouse:
    """Generate ``tiles`` tiles of ``grid`` x ``grid`` patches, 1-2 dates each, and write the tables."""
    rng = np.random.default_rng(seed)
    product_rows: list[dict] = []
    per_product = []  # (product_id, tile, epsg, sensing, country index)
    slot = 0
    for t in range(tiles):
        tile = _tile_name(t)
        epsg = 32600 + int(tile[:2])
        for _ in range(dates_per_tile[t % len(dates_per_tile)]):
            month = MONTHS[slot % len(MONTHS)]
            sensing = datetime(2018 + slot % 3, month, 1 + slot % 27, 10, 0, 31, tzinfo=UTC)
            stamp = sensing.strftime("%Y%m%dT%H%M%S")
            pid = f"S2{'AB'[slot % 2]}_MSIL2A_{stamp}_N0510_R{22 + t % 100:03d}_T{tile}_{stamp}"
            per_product.append((pid, tile, epsg, sensing, t % len(COUNTRIES)))
            product_rows.append(
                {
                    "product_id": pid,
                    "product_name": pid + ".SAFE",
                    "mission": pid[:3],
                    "processing_level": "L2A",
                    "tile": tile,
                    "epsg": epsg,
                    "sensing_start": sensing,
                    "processing_baseline": "05.10",
                    "relative_orbit": 22 + t % 100,
                    "cloud_cover": float(rng.uniform(0, 30)),
                    "size_bytes": 800_000_000,
                    "status": "patched",
                    "patch_count": grid * grid,
                    "ingestion_time": sensing,
                }
            )
            slot += 1
    n_prod = len(per_product)
    per = grid * grid
    n = n_prod * per
    prod_idx = np.repeat(np.arange(n_prod), per)
    rows = np.tile(np.repeat(np.arange(grid, dtype=np.int32), grid), n_prod)
    cols = np.tile(np.tile(np.arange(grid, dtype=np.int32), grid), n_prod)
    pids = np.array([p[0] for p in per_product], dtype=object)
    tiles_arr = np.array([p[1] for p in per_product], dtype=object)[prod_idx]
    epsg = np.array([p[2] for p in per_product], dtype=np.int32)[prod_idx]
    sensing = pa.array([p[3] for p in per_product], pa.timestamp("us", tz="UTC")).take(pa.array(prod_idx))
    patch_ids = pids[prod_idx] + "_" + cols.astype(str).astype(object) + "_" + rows.astype(str).astype(object)
    # Tiles of one UTM zone (the generator gives zones 32, 33, 34, 32, ...) lie side by side, never on
    # top of each other: footprint overlaps come only from same-place dates, as in patch_overlaps.
    tile_names = sorted({p[1] for p in per_product})
    tile_number = np.array([tile_names.index(p[1]) for p in per_product])
    ulx = 300_000.0 + tile_number[prod_idx] * 110_400.0 + cols * PATCH_SIZE_M
    uly = 5_600_040.0 - rows * PATCH_SIZE_M

    # Deliberate defects on distinct random patches.
    k = min(max(1, int(n * defect_rate)), n // 7)  # seven kinds of defect, on distinct patches
    picked = rng.choice(n, size=7 * k, replace=False)
    wrong_idx, nodata_idx, orphan_idx, noclc_idx, clc_nodata_idx, unknown_idx, unbuilt_idx = np.split(picked, 7)
    defects = Defects(
        wrong_size=set(patch_ids[wrong_idx]),
        nodata=set(patch_ids[nodata_idx]),
        orphans=set(patch_ids[orphan_idx]),
        no_clc=set(patch_ids[noclc_idx]),
        clc_nodata=set(patch_ids[clc_nodata_idx]),
        unknown_code=set(patch_ids[unknown_idx]),
        no_landcover_rows=set(patch_ids[unbuilt_idx]),
    )
    product_of_patch = pids[prod_idx].copy()
    product_of_patch[orphan_idx] = "S2B_MSIL2A_20990101T000000_N0510_R001_TORPHAN_20990101T000000"

    patches = pa.table(
        {
            "patch_id": pa.array(patch_ids, pa.string()),
            "product_id": pa.array(product_of_patch, pa.string()),
            "tile": pa.array(tiles_arr, pa.string()),
            "epsg": epsg,
            "row": rows,
            "col": cols,
            "ulx": ulx,
            "uly": uly,
            "lrx": ulx + PATCH_SIZE_M,
            "lry": uly - PATCH_SIZE_M,
            "footprint": pa.array([b""] * n, pa.binary()),
            "sensing_time": sensing,
            "band_stats": _band_stats(rng, n, wrong_idx, nodata_idx),
            "has_nodata": np.isin(np.arange(n), nodata_idx),
            "nodata_pixels": np.where(np.isin(np.arange(n), nodata_idx), 400, 0).astype(np.int64),
        }
    )
    patches = _fill_missing(patches, PATCHES.schema)
    landcover = _landcover(rng, patch_ids, tiles_arr, noclc_idx, {"999": clc_nodata_idx, "9999": unknown_idx})
    landcover = landcover.filter(
        pc.invert(pc.is_in(landcover["patch_id"], pa.array(patch_ids[unbuilt_idx], pa.string())))
    )
    country = _country(rng, patch_ids, tiles_arr, np.array([p[4] for p in per_product])[prod_idx])
    overlaps = _overlaps(per_product, grid, patch_ids, tiles_arr)
    products = _fill_missing(pa.Table.from_pylist(product_rows), PRODUCTS.schema)
    tables = {
        "products": products,
        "patches": patches,
        "patch_landcover": _with_run(landcover),
        "patch_country": _with_run(country),
        "patch_overlaps": _with_run(overlaps),
        "label_runs": _label_runs(landcover, country, overlaps),
    }
    if write:
        store = TableStore(warehouse)
        for spec in (PRODUCTS, PATCHES, PATCH_LANDCOVER, PATCH_COUNTRY, PATCH_OVERLAPS, LABEL_RUNS):
            store.overwrite(spec, tables[spec.name])
    return GeneratedWarehouse(warehouse, tables, defects)


def _without_run(schema: pa.Schema) -> pa.Schema:
    return pa.schema([f for f in schema if f.name != "run_id"])


def _with_run(table: pa.Table) -> pa.Table:
    """The label tables as one complete labels build wrote them (every row stamped with its run id)."""
    return table.append_column("run_id", pa.array([RUN_ID] * table.num_rows, pa.string()))


def _label_runs(landcover: pa.Table, country: pa.Table, overlaps: pa.Table) -> pa.Table:
    row = {
        "run_id": RUN_ID,
        "status": "complete",
        "started": RUN_STARTED,
        "finished": RUN_STARTED,
        "engine": "sedonadb",
        "country_source": "nuts",
        "patches": country.num_rows,
        "landcover_rows": landcover.num_rows,
        "overlap_rows": overlaps.num_rows,
    }
    return pa.Table.from_pylist([row], schema=LABEL_RUNS.schema)


def _fill_missing(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Add the schema's columns the generator leaves empty (pixel arrays, footprints) as NULLs."""
    columns = [
        table[f.name].cast(f.type) if f.name in table.column_names else pa.nulls(len(table), f.type) for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def _band_stats(rng: np.random.Generator, n: int, wrong_idx: np.ndarray, nodata_idx: np.ndarray) -> pa.Array:
    """13 structs per patch (12 bands + SCL) with exact integer sums: sum = n·m, sum_sq = n·(m² + s²)."""
    layers = len(ALL_LAYERS)
    edge = np.array([b.patch_pixels for b in ALL_LAYERS], dtype=np.int32)
    height = np.tile(edge, n).reshape(n, layers)
    width = height.copy()
    height[wrong_idx, rng.integers(0, layers, len(wrong_idx))] -= 1  # one band one row short
    valid = (height * width).astype(np.int64)
    valid[nodata_idx, :] -= (valid[nodata_idx, :] // 10).astype(np.int64)  # 10 % NO_DATA in every band
    mean = rng.integers(150, 4000, size=(n, layers)).astype(np.int64)
    mean[:, -1] = rng.integers(1, 11, size=n)  # SCL class values
    std = rng.integers(0, 600, size=(n, layers)).astype(np.int64)
    std[:, -1] = 0
    total = valid * mean
    total_sq = valid * (mean * mean + std * std)
    names = np.tile(np.array([b.name for b in ALL_LAYERS], dtype=object), n)
    structs = pa.StructArray.from_arrays(
        [
            pa.array(names, pa.string()),
            pa.array(height.ravel(), pa.int32()),
            pa.array(width.ravel(), pa.int32()),
            pa.array(np.maximum(mean - 3 * std, 1).ravel(), pa.int32()),
            pa.array((mean + 3 * std).ravel(), pa.int32()),
            pa.array(mean.ravel().astype(np.float64)),
            pa.array(valid.ravel()),
            pa.array(total.ravel()),
            pa.array(total_sq.ravel()),
        ],
        names=["band", "height", "width", "min", "max", "mean", "valid_count", "sum", "sum_sq"],
    )
    return pa.ListArray.from_arrays(pa.array(np.arange(0, n * layers + 1, layers, dtype=np.int32)), structs)


def _landcover(
    rng: np.random.Generator,
    patch_ids: np.ndarray,
    tiles: np.ndarray,
    noclc_idx: np.ndarray,
    classless: dict[str, np.ndarray],
) -> pa.Table:
    """1-4 CLC classes per patch; fractions sum to 1, or to 0.5-0.8 on ~10 % of patches (sea, gaps).

    ``classless`` maps a code outside the classes to the patches it alone covers (no name, no label).
    """
    n = len(patch_ids)
    k = rng.integers(1, 5, size=n)
    k[noclc_idx] = 1
    for idx in classless.values():
        k[idx] = 1
    idx = np.repeat(np.arange(n), k)
    codes = rng.integers(0, len(CLC), size=len(idx))
    raw = rng.uniform(0.02, 1.0, size=len(idx))
    sums = np.bincount(idx, weights=raw, minlength=n)
    coverage = np.where(rng.uniform(size=n) < 0.1, rng.uniform(0.5, 0.8, size=n), 1.0)
    fraction = np.round(raw / sums[idx] * coverage[idx], 6)
    no_clc = np.isin(idx, noclc_idx)
    code = np.array([c[0] for c in CLC], dtype=object)[codes]
    name = np.array([c[1] for c in CLC], dtype=object)[codes]
    label = np.array([c[2] for c in CLC], dtype=object)[codes]
    code[no_clc] = None
    name[no_clc] = None
    label[no_clc] = None
    fraction[no_clc] = 0.0
    for other, patches in classless.items():
        rows = np.isin(idx, patches)
        code[rows] = other
        name[rows] = None
        label[rows] = None
        fraction[rows] = 1.0
    table = pa.table(
        {
            "patch_id": pa.array(patch_ids[idx], pa.string()),
            "tile": pa.array(tiles[idx], pa.string()),
            "clc_code": pa.array(code, pa.string()),
            "clc_name": pa.array(name, pa.string()),
            "ben19_label": pa.array(label, pa.string()),
            "area_m2": fraction * PATCH_SIZE_M**2,
            "fraction": fraction,
            "no_clc_coverage": no_clc,
        }
    )
    # (patch, clc_code) is the key: merge the duplicate draws like the spatial join would.
    grouped = table.group_by(["patch_id", "tile", "clc_code", "clc_name", "ben19_label", "no_clc_coverage"]).aggregate(
        [("area_m2", "sum"), ("fraction", "sum")]
    )
    grouped = grouped.rename_columns([c.removesuffix("_sum") for c in grouped.column_names])
    schema = _without_run(PATCH_LANDCOVER.schema)
    return grouped.select(schema.names).cast(schema)


def _country(rng: np.random.Generator, patch_ids: np.ndarray, tiles: np.ndarray, country_idx: np.ndarray) -> pa.Table:
    """The tile's country, another one near borders (5 %), none at sea (3 %)."""
    n = len(patch_ids)
    idx = country_idx.copy()
    border = rng.uniform(size=n) < 0.05
    idx[border] = (idx[border] + 1) % len(COUNTRIES)
    sea = rng.uniform(size=n) < 0.03
    codes = np.array([c[0] for c in COUNTRIES], dtype=object)[idx]
    names = np.array([c[1] for c in COUNTRIES], dtype=object)[idx]
    codes[sea] = None
    names[sea] = None
    fraction = np.where(sea, 0.0, rng.uniform(0.5, 1.0, size=n))
    return pa.table(
        {
            "patch_id": pa.array(patch_ids, pa.string()),
            "tile": pa.array(tiles, pa.string()),
            "country_code": pa.array(codes, pa.string()),
            "country_name": pa.array(names, pa.string()),
            "area_m2": fraction * PATCH_SIZE_M**2,
            "fraction": fraction,
            "source": pa.array(["nuts"] * n, pa.string()),
        },
        schema=_without_run(PATCH_COUNTRY.schema),
    )


def _overlaps(per_product: list, grid: int, patch_ids: np.ndarray, tiles: np.ndarray) -> pa.Table:
    """Same-place patches of two dates of a tile overlap completely (pair each with its twin)."""
    per = grid * grid
    a_parts, b_parts = [], []
    for i in range(1, len(per_product)):
        if per_product[i][1] == per_product[i - 1][1]:
            a_parts.append(np.arange((i - 1) * per, i * per))
            b_parts.append(np.arange(i * per, (i + 1) * per))
    if not a_parts:
        return _without_run(PATCH_OVERLAPS.schema).empty_table()
    a, b = np.concatenate(a_parts), np.concatenate(b_parts)
    lo = np.where(patch_ids[a] < patch_ids[b], a, b)
    hi = np.where(patch_ids[a] < patch_ids[b], b, a)
    return pa.table(
        {
            "patch_id_a": pa.array(patch_ids[lo], pa.string()),
            "patch_id_b": pa.array(patch_ids[hi], pa.string()),
            "tile_a": pa.array(tiles[lo], pa.string()),
            "tile_b": pa.array(tiles[hi], pa.string()),
            "area_m2": np.full(len(a), float(PATCH_SIZE_M**2)),
        },
        schema=_without_run(PATCH_OVERLAPS.schema),
    )
