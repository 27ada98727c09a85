"""A realistic generated warehouse for the dbt models: products, patches, land cover, countries, overlaps.

Shared by ``tests/models`` (small, :func:`generate`), ``tests/ben`` and ``bench/models.py`` (ten million
patches over Europe's tiles, :func:`stream`: written chunk by chunk of tiles, so memory stays bounded), so it is
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
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from s2lake.sentinel2 import ALL_LAYERS, PATCH_SIZE_M
from s2lake.shipped_data import CODELISTS, SHIPPED_COUNTRIES
from s2lake.tables.schemas import LABEL_RUNS, PATCH_COUNTRY, PATCH_LANDCOVER, PATCH_OVERLAPS, PATCHES, PRODUCTS
from s2lake.tables.store import TableStore
from s2lake.tiling_grid import tiles_intersecting
from s2lake.warehouse import Warehouse
from sedona_jobs.labels.runs import new_run_id

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

    def update(self, other: Defects) -> None:
        for name, ids in vars(other).items():
            getattr(self, name).update(ids)

    @property
    def unlabelled(self) -> set[str]:
        return self.no_clc | self.clc_nodata | self.unknown_code | self.no_landcover_rows


@dataclass
class GeneratedWarehouse:
    warehouse: Warehouse
    tables: dict[str, pa.Table]
    defects: Defects


@dataclass
class StreamedWarehouse:
    """What :func:`stream` wrote: the row counts and defects, not the rows (those are on disk only)."""

    warehouse: Warehouse
    patches: int
    defects: Defects


@dataclass(frozen=True)
class Layout:
    """The tiles to generate, each with the index of its country in ``countries``."""

    tiles: tuple[tuple[str, int], ...]
    countries: tuple[tuple[str, str], ...] = COUNTRIES


#: Tiles generated (and, by :func:`stream`, written) together. Each chunk draws from its own generator
#: (``seed`` for the first, so a warehouse of at most this many tiles is the one this module always made),
#: so the content depends on the seed and sizes only, and memory on the chunk only (~6 KB per patch).
CHUNK_TILES = 8
#: The tables written chunk by chunk (label_runs, one row over all of them, is written last).
CHUNKED = (PRODUCTS, PATCHES, PATCH_LANDCOVER, PATCH_COUNTRY, PATCH_OVERLAPS)


def _tile_name(i: int) -> str:
    zone = 32 + i % 3
    return f"{zone}U{'ABCDEFGHJK'[i // 3 % 10]}{'ABCDEFGHJKLMNPQRSTUV'[i // 30 % 20]}"


def synthetic_layout(tiles: int) -> Layout:
    """Made-up tile names in zones 32-34, countries DE, AT, CZ, PL in turn."""
    return Layout(tuple((_tile_name(t), t % len(COUNTRIES)) for t in range(tiles)))


def europe_layout(tiles: int) -> Layout:
    """``tiles`` real MGRS tiles of the shipped tiling grid spread evenly over the European countries of the
    shipped country layer (those of the code list ``country_names.csv``: the layer reaches into Africa and
    Asia), each with the first of those countries (by code) that it touches."""

    with (CODELISTS / "country_names.csv").open(encoding="utf-8") as f:
        european = {r["country_code"]: r["country_name"] for r in csv.DictReader(f)}
    layer = json.loads(SHIPPED_COUNTRIES.read_text(encoding="utf-8"))
    shapes = sorted(
        (f["properties"]["ISO_A2_EH"], f["geometry"])
        for f in layer["features"]
        if f["properties"]["ISO_A2_EH"] in european
    )
    owner: dict[str, str] = {}
    for code, geometry in shapes:
        for tile in tiles_intersecting(shapely.geometry.shape(geometry)):
            owner.setdefault(tile, code)
    names = sorted(owner)
    if not 0 < tiles <= len(names):
        raise ValueError(f"Europe has {len(names)} tiles: ask for 1 to {len(names)}, not {tiles}")
    picked = [names[i] for i in np.linspace(0, len(names) - 1, tiles).round().astype(int)]
    codes = sorted({owner[t] for t in picked})
    return Layout(tuple((t, codes.index(owner[t])) for t in picked), tuple((c, european[c]) for c in codes))


def generate(
    warehouse: Warehouse,
    tiles: int = 4,
    grid: int = 20,
    dates_per_tile: tuple[int, ...] = (2, 1),
    seed: int = 7,
    defect_rate: float = 0.01,
    write: bool = True,
) -> GeneratedWarehouse:
    """Generate ``tiles`` tiles of ``grid`` x ``grid`` patches, 1-2 dates each, and write the tables.

    In memory, for tests that compare the marts with the tables; :func:`stream` writes large warehouses.
    """
    chunks = list(_chunks(synthetic_layout(tiles), grid, dates_per_tile, seed, defect_rate))
    tables = {spec.name: pa.concat_tables([c[0][spec.name] for c in chunks]) for spec in CHUNKED}
    tables["label_runs"] = _label_runs(tables)
    defects = Defects()
    for _, part in chunks:
        defects.update(part)
    if write:
        store = TableStore(warehouse)
        for spec in (*CHUNKED, LABEL_RUNS):
            store.overwrite(spec, tables[spec.name])
    return GeneratedWarehouse(warehouse, tables, defects)


def stream(
    warehouse: Warehouse,
    layout: Layout,
    grid: int = 91,
    dates_per_tile: tuple[int, ...] = (4,),
    seed: int = 7,
    defect_rate: float = 0.001,
) -> StreamedWarehouse:
    """Generate and write the warehouse chunk by chunk (one commit per table and chunk), holding one chunk
    in memory: ten million patches take what :data:`CHUNK_TILES` tiles take. Same rows as :func:`generate`."""
    store = TableStore(warehouse)
    defects, counts = Defects(), dict.fromkeys(("patch_country", "patch_landcover", "patch_overlaps"), 0)
    for i, (tables, part) in enumerate(_chunks(layout, grid, dates_per_tile, seed, defect_rate)):
        for spec in CHUNKED:
            (store.append if i else store.overwrite)(spec, tables[spec.name])
        for name in counts:
            counts[name] += tables[name].num_rows
        defects.update(part)
        del tables
    store.overwrite(LABEL_RUNS, _label_runs(counts))
    return StreamedWarehouse(warehouse, counts["patch_country"], defects)


def _chunks(
    layout: Layout, grid: int, dates_per_tile: tuple[int, ...], seed: int, defect_rate: float
) -> Iterator[tuple[dict[str, pa.Table], Defects]]:
    """The tables of each :data:`CHUNK_TILES` tiles in turn."""
    # Tiles lie side by side in their zone (never on top of each other): footprint overlaps come only from
    # same-place dates, as in patch_overlaps.
    tile_numbers = {name: i for i, name in enumerate(sorted(t for t, _ in layout.tiles))}
    slot = 0
    for first in range(0, len(layout.tiles), CHUNK_TILES):
        rng = np.random.default_rng(seed if first == 0 else [seed, first // CHUNK_TILES])
        per_product = []  # (product_id, tile, epsg, sensing, country index, product row)
        for t in range(first, min(first + CHUNK_TILES, len(layout.tiles))):
            tile, country = layout.tiles[t]
            for _ in range(dates_per_tile[t % len(dates_per_tile)]):
                per_product.append(_product(rng, slot, t, tile, country, grid))
                slot += 1
        yield _chunk(rng, per_product, tile_numbers, layout.countries, grid, defect_rate)


def _product(rng: np.random.Generator, slot: int, t: int, tile: str, country: int, grid: int) -> tuple:
    epsg = 32600 + int(tile[:2])
    month = MONTHS[slot % len(MONTHS)]
    sensing = datetime(2018 + slot % 3, month, 1 + slot % 27, 10, 0, 31, tzinfo=UTC)
    stamp = sensing.strftime("%Y%m%dT%H%M%S")
    pid = f"S2{'AB'[slot % 2]}_MSIL2A_{stamp}_N0510_R{22 + t % 100:03d}_T{tile}_{stamp}"
    row = {
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
    return pid, tile, epsg, sensing, country, row


def _chunk(
    rng: np.random.Generator,
    per_product: list[tuple],
    tile_numbers: dict[str, int],
    countries: tuple[tuple[str, str], ...],
    grid: int,
    defect_rate: float,
) -> tuple[dict[str, pa.Table], Defects]:
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
    tile_number = np.array([tile_numbers[p[1]] for p in per_product])
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
    country = _country(rng, patch_ids, tiles_arr, np.array([p[4] for p in per_product])[prod_idx], countries)
    overlaps = _overlaps(per_product, grid, patch_ids, tiles_arr)
    products = _fill_missing(pa.Table.from_pylist([p[5] for p in per_product]), PRODUCTS.schema)
    tables = {
        "products": products,
        "patches": patches,
        "patch_landcover": _with_run(landcover),
        "patch_country": _with_run(country),
        "patch_overlaps": _with_run(overlaps),
    }
    return tables, defects


def _without_run(schema: pa.Schema) -> pa.Schema:
    return pa.schema([f for f in schema if f.name != "run_id"])


def _with_run(table: pa.Table) -> pa.Table:
    """The label tables as one complete labels build wrote them (every row stamped with its run id)."""
    return table.append_column("run_id", pa.array([RUN_ID] * table.num_rows, pa.string()))


def _label_runs(rows: Mapping[str, pa.Table | int]) -> pa.Table:
    """The run's row: ``rows`` maps each label table to its rows (or their number)."""
    count = {name: r if isinstance(r, int) else r.num_rows for name, r in rows.items()}
    row = {
        "run_id": RUN_ID,
        "status": "complete",
        "started": RUN_STARTED,
        "finished": RUN_STARTED,
        "engine": "sedonadb",
        "country_source": "nuts",
        "patches": count["patch_country"],
        "landcover_rows": count["patch_landcover"],
        "overlap_rows": count["patch_overlaps"],
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


def _country(
    rng: np.random.Generator,
    patch_ids: np.ndarray,
    tiles: np.ndarray,
    country_idx: np.ndarray,
    countries: tuple[tuple[str, str], ...],
) -> pa.Table:
    """The tile's country, another one near borders (5 %), none at sea (3 %)."""
    n = len(patch_ids)
    idx = country_idx.copy()
    border = rng.uniform(size=n) < 0.05
    idx[border] = (idx[border] + 1) % len(countries)
    sea = rng.uniform(size=n) < 0.03
    codes = np.array([c[0] for c in countries], dtype=object)[idx]
    names = np.array([c[1] for c in countries], dtype=object)[idx]
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
