"""S2L_ClipArea against GEOS (shapely): random shapes, holes, orientations, WKB dialects, bad input,
and the function as registered on SedonaDB and on (plain) Spark."""

from __future__ import annotations

import os
import shutil
import struct

import numpy as np
import pyarrow as pa
import pytest
import shapely
from shapely import affinity

from sedona_jobs.labels.clip_area import SQL_NAME, ClipAreaError, clip_area

RNG_SEED = 20261123


def _footprints(rng: np.random.Generator, n: int) -> list[shapely.Geometry]:
    """Rotated, slightly sheared 1200 m quadrilaterals at EPSG:3035-sized coordinates (as reprojected
    patch footprints are)."""
    out = []
    for _ in range(n):
        x, y = rng.uniform(4.0e6, 4.6e6), rng.uniform(2.8e6, 3.4e6)
        quad = shapely.box(x, y, x + 1200, y + 1200)
        quad = affinity.skew(quad, xs=rng.uniform(-0.5, 0.5), origin="centroid")
        out.append(affinity.rotate(quad, rng.uniform(-8, 8), origin="centroid"))
    return out


def _polygons_near(rng: np.random.Generator, footprints: list[shapely.Geometry]) -> list[shapely.Geometry]:
    """Concave, holed and multi-part polygons overlapping each footprint in every way."""
    out = []
    for fp in footprints:
        cx, cy = fp.centroid.x + rng.uniform(-900, 900), fp.centroid.y + rng.uniform(-900, 900)
        angles = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(5, 60))))
        radii = rng.uniform(200, 1100, angles.size)
        star = shapely.Polygon(np.column_stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)]))
        star = shapely.make_valid(star)
        kind = rng.integers(0, 4)
        if kind == 1:  # a hole
            star = star.difference(shapely.Point(cx, cy).buffer(rng.uniform(50, 300)))
        elif kind == 2:  # a second part
            star = star.union(shapely.Point(cx + 1500, cy).buffer(400))
        elif kind == 3:  # vertex order reversed (a clockwise shell)
            star = shapely.reverse(star)
        out.append(star)
    return out


def _wkb(geoms, **kwargs) -> pa.Array:
    return pa.array(shapely.to_wkb(np.asarray(geoms, dtype=object), **kwargs), pa.binary())


def test_equals_geos_intersection_area_on_random_shapes() -> None:
    rng = np.random.default_rng(RNG_SEED)
    fps = _footprints(rng, 2000)
    polys = _polygons_near(rng, fps)
    expected = shapely.area(shapely.intersection(np.asarray(fps), np.asarray(polys)))
    got = clip_area(_wkb(fps), _wkb(polys)).to_numpy()
    assert np.abs(got - expected).max() < 1e-4  # m², against areas up to 1.44e6 m²
    assert (expected == 0).sum() > 5 and (expected > 1e5).sum() > 500  # both misses and big overlaps


def test_orientation_of_either_argument_does_not_matter() -> None:
    rng = np.random.default_rng(RNG_SEED + 1)
    fps = _footprints(rng, 300)
    polys = _polygons_near(rng, fps)
    base = clip_area(_wkb(fps), _wkb(polys)).to_numpy()
    flipped = clip_area(_wkb(shapely.reverse(fps)), _wkb(shapely.reverse(polys))).to_numpy()
    np.testing.assert_allclose(flipped, base, atol=1e-6)


def test_containment_touching_and_disjoint() -> None:
    fp = shapely.box(4.0e6, 3.0e6, 4.0e6 + 1200, 3.0e6 + 1200)
    inside = shapely.box(4.0e6 + 100, 3.0e6 + 100, 4.0e6 + 200, 3.0e6 + 300)
    around = shapely.box(3.9e6, 2.9e6, 4.1e6, 3.1e6)
    touching = shapely.box(4.0e6 + 1200, 3.0e6, 4.0e6 + 2400, 3.0e6 + 1200)  # shares the east edge
    corner = shapely.box(4.0e6 - 50, 3.0e6 - 50, 4.0e6, 3.0e6)  # shares one corner
    far = shapely.box(0, 0, 1, 1)
    got = clip_area(_wkb([fp] * 5), _wkb([inside, around, touching, corner, far])).to_pylist()
    assert got == [pytest.approx(100 * 200, abs=1e-6), pytest.approx(1200 * 1200, abs=1e-6), 0.0, 0.0, 0.0]


def test_footprint_with_collinear_vertices_is_convex() -> None:
    """A footprint with extra points along its edges (rotated, so collinearity holds only to rounding)."""
    fp = affinity.rotate(shapely.segmentize(shapely.box(4.0e6, 3.0e6, 4.0e6 + 1200, 3.0e6 + 1200), 400), 7.3)
    assert shapely.get_num_coordinates(fp) == 13
    poly = shapely.Point(4.0e6 + 300, 3.0e6 + 200).buffer(500)
    got = clip_area(_wkb([fp]), _wkb([poly])).to_numpy()
    np.testing.assert_allclose(got, shapely.area(shapely.intersection(fp, poly)), atol=1e-4)


def test_wkb_dialects_give_the_same_area() -> None:
    """Big-endian WKB, EWKB with an SRID and 3D coordinates are all read (engines differ in what they emit)."""
    rng = np.random.default_rng(RNG_SEED + 2)
    fps = _footprints(rng, 200)
    polys = _polygons_near(rng, fps)
    base = clip_area(_wkb(fps), _wkb(polys)).to_numpy()
    big = clip_area(_wkb(fps, byte_order=0), _wkb(polys, byte_order=0)).to_numpy()
    with_srid = [shapely.set_srid(g, 3035) for g in (fps, polys)]
    ewkb = clip_area(_wkb(with_srid[0], include_srid=True), _wkb(with_srid[1], include_srid=True)).to_numpy()
    z = [shapely.force_3d(g, 7.0) for g in (fps, polys)]
    iso_z = clip_area(_wkb(z[0], flavor="iso"), _wkb(z[1], flavor="iso")).to_numpy()
    ext_z = clip_area(_wkb(z[0], flavor="extended"), _wkb(z[1], flavor="extended")).to_numpy()
    for other in (big, ewkb, iso_z, ext_z):
        np.testing.assert_array_equal(other, base)


def _polygon_wkb(rings: list[list[tuple[float, ...]]], code: int, *, little: bool = True) -> bytes:
    """Hand-made WKB (shapely writes no M): ``code`` 3 / 1003 (Z) / 2003 (M) / 3003 (ZM)."""
    order = "<" if little else ">"
    out = struct.pack(f"{order}BII", 1 if little else 0, code, len(rings))
    for ring in rings:
        out += struct.pack(f"{order}I", len(ring))
        for point in ring:
            out += struct.pack(f"{order}{len(point)}d", *point)
    return out


def test_measured_coordinates_are_read() -> None:
    fp = [[(0, 0), (10, 0), (10, 10), (0, 10), (0, 0)]]
    square = [(5, 5), (15, 5), (15, 15), (5, 15), (5, 5)]
    wkbs = [
        _polygon_wkb([[(*p, 3.0) for p in square]], 2003),  # ISO M
        _polygon_wkb([[(*p, 1.0, 3.0) for p in square]], 3003, little=False),  # ISO ZM, big-endian
        _polygon_wkb([[(*p, 3.0) for p in square]], 0x40000003),  # EWKB M flag
    ]
    got = clip_area(pa.array([_polygon_wkb(fp, 3)] * 3, pa.binary()), pa.array(wkbs, pa.binary()))
    assert got.to_pylist() == [pytest.approx(25.0)] * 3


def test_arrow_layouts_are_read() -> None:
    """large_binary, binary_view (what SedonaDB hands over) and sliced arrays give the same areas."""
    rng = np.random.default_rng(RNG_SEED + 5)
    fps = _footprints(rng, 50)
    polys = _polygons_near(rng, fps)
    base = clip_area(_wkb(fps), _wkb(polys)).to_numpy()
    for kind in (pa.large_binary(), pa.binary_view()):
        got = clip_area(_wkb(fps).cast(kind), _wkb(polys).cast(kind)).to_numpy()
        np.testing.assert_array_equal(got, base)
    np.testing.assert_array_equal(clip_area(_wkb(fps)[7:31], _wkb(polys)[7:31]).to_numpy(), base[7:31])
    with pytest.raises(ValueError, match="50 footprints but 49 geometries"):
        clip_area(_wkb(fps), _wkb(polys)[1:])


def test_touching_neighbours_of_rotated_footprints_have_no_area() -> None:
    """Rounding leaves slivers of ~1e-7 m² where a polygon touches a rotated footprint's edge: none
    may become a land-cover row, while a real overlap of 1 cm² must."""
    rng = np.random.default_rng(RNG_SEED + 6)
    fps, outside, inside = _footprints(rng, 200), [], []
    for fp in fps:
        corners = np.asarray(fp.exterior.coords)[:4]
        a, b = corners[1], corners[2]  # one edge; the centroid lies on its left
        p, q = a + rng.uniform(0.1, 0.4) * (b - a), a + rng.uniform(0.6, 0.9) * (b - a)
        normal = np.array([(b - a)[1], -(b - a)[0]]) / np.linalg.norm(b - a)
        outward = normal if np.dot(normal, corners.mean(axis=0) - a) < 0 else -normal
        outside.append(shapely.Polygon([p, q, (p + q) / 2 + 300 * outward]))
        inside.append(shapely.Polygon([p, q, (p + q) / 2 - 0.02 * outward]))  # 0.02 m high: ~0.1-0.2 m²
    touching = clip_area(_wkb(fps), _wkb(outside)).to_numpy()
    assert (touching == 0.0).all()
    overlapping = clip_area(_wkb(fps), _wkb(inside)).to_numpy()
    expected = shapely.area(np.asarray(inside))
    np.testing.assert_allclose(overlapping, expected, rtol=1e-3)


def test_zigzag_ring_outgrows_a_clip_stage() -> None:
    """A ring whose long zigzag edges cross a many-sided footprint's edges back and forth: each clip
    stage adds crossing points, beyond the scratch space sized for the ring (so the buffers grow and
    the polygon is read again)."""
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    fp = shapely.Polygon(np.column_stack([1000 * np.cos(angles), 1000 * np.sin(angles)]))
    i = np.arange(252)
    zigzag = [*zip(np.where(i % 2 == 0, -1e4, 1e4), np.linspace(-990, 990, i.size), strict=True)]
    ring = shapely.Polygon([*zigzag, (-2e4, 990), (-2e4, -990)])
    assert ring.is_valid and shapely.get_num_coordinates(ring) == 255
    got = clip_area(_wkb([fp]), _wkb([ring])).to_numpy()
    np.testing.assert_allclose(got, shapely.area(shapely.intersection(fp, ring)), atol=1e-4)


def test_long_rings_grow_the_buffers() -> None:
    fp = shapely.box(4.0e6, 3.0e6, 4.0e6 + 1200, 3.0e6 + 1200)
    circle = shapely.Point(4.0e6 + 600, 3.0e6).buffer(700, quad_segs=5000)  # 20,000 vertices
    zigzag = shapely.Polygon(
        [(4.0e6 - 10 + (i % 2) * 1220, 3.0e6 + i * 0.5) for i in range(2400)] + [(3.9e6, 3.1e6), (3.9e6, 3.0e6)]
    ).buffer(0)
    expected = shapely.area(shapely.intersection(fp, [circle, zigzag]))
    got = clip_area(_wkb([fp, fp]), _wkb([circle, zigzag])).to_numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_nulls_propagate() -> None:
    fp = shapely.box(0, 0, 10, 10).wkb
    got = clip_area(pa.array([fp, None, fp], pa.binary()), pa.array([fp, fp, None], pa.binary()))
    assert got.to_pylist() == [pytest.approx(100.0), None, None]


@pytest.mark.parametrize(
    ("convex", "geom", "message"),
    [
        (shapely.Polygon([(0, 0), (10, 0), (10, 10), (5, 2), (0, 10)]), shapely.box(0, 0, 1, 1), "argument 1 of row 1"),
        (shapely.box(0, 0, 1, 1).buffer(1).difference(shapely.box(0, 0, 1, 1)), shapely.box(0, 0, 1, 1), "argument 1"),
        (shapely.box(0, 0, 10, 10), shapely.Point(1, 1), "argument 2 of row 1 is not a polygon or multipolygon"),
        (shapely.box(0, 0, 10, 10), shapely.LineString([(0, 0), (5, 5)]), "argument 2"),
    ],
)
def test_bad_geometries_are_named(convex, geom, message) -> None:
    ok = shapely.box(0, 0, 1, 1)
    with pytest.raises(ClipAreaError, match=message) as err:
        clip_area(_wkb([ok, convex]), _wkb([ok, geom]))
    assert SQL_NAME in str(err.value) and err.value.fix


def test_broken_geometries_are_errors_not_numbers() -> None:
    fp = _polygon_wkb([[(0, 0), (10, 0), (10, 10), (0, 10), (0, 0)]], 3)
    nan_vertex = _polygon_wkb([[(5, 5), (20, 5), (float("nan"), 20), (5, 20), (5, 5)]], 3)
    inf_vertex = _polygon_wkb([[(5, 5), (20, 5), (float("inf"), 20), (5, 20), (5, 5)]], 3)
    open_ring = _polygon_wkb([[(5, 5), (20, 5), (20, 20), (5, 20)]], 3)
    for geom in (nan_vertex, inf_vertex, open_ring):
        with pytest.raises(ClipAreaError, match="argument 2 of row 0"):
            clip_area(pa.array([fp], pa.binary()), pa.array([geom], pa.binary()))
    nan_corner = _polygon_wkb([[(0, 0), (10, 0), (float("nan"), 10), (0, 10), (0, 0)]], 3)
    angles = np.deg2rad(90 + 144 * np.arange(5))  # a pentagram: left turns only, but twice around
    star = _polygon_wkb([[*zip(np.cos(angles), np.sin(angles), strict=True), (0.0, 1.0)]], 3)
    many = shapely.Point(0, 0).buffer(10, quad_segs=5).wkb  # convex, 20 corners
    for clip in (nan_corner, star, many, open_ring):
        with pytest.raises(ClipAreaError, match="argument 1 of row 0"):
            clip_area(pa.array([clip], pa.binary()), pa.array([fp], pa.binary()))


def test_truncated_wkb_is_an_error_not_a_crash() -> None:
    fp = shapely.box(0, 0, 10, 10).wkb
    cut = shapely.box(0, 0, 5, 5).wkb[:-20]
    with pytest.raises(ClipAreaError, match="argument 2 of row 0"):
        clip_area(pa.array([fp], pa.binary()), pa.array([cut], pa.binary()))
    with pytest.raises(ClipAreaError, match="argument 1 of row 0"):
        clip_area(pa.array([fp[:30]], pa.binary()), pa.array([fp], pa.binary()))


def test_registered_on_sedonadb_matches_st_intersection() -> None:
    from sedona_jobs.labels.engines import SedonaDBEngine

    rng = np.random.default_rng(RNG_SEED + 3)
    fps = _footprints(rng, 500)
    polys = _polygons_near(rng, fps)
    engine = SedonaDBEngine()
    engine.register_arrow("pairs", pa.table({"a": _wkb(fps), "b": _wkb(polys)}))
    table = engine.query(
        f"""
        SELECT {SQL_NAME}(ST_AsBinary(ST_GeomFromWKB(a)), ST_AsBinary(ST_GeomFromWKB(b))) AS ours,
               ST_Area(ST_Intersection(ST_GeomFromWKB(a), ST_GeomFromWKB(b))) AS geos
        FROM pairs
        """
    )
    np.testing.assert_allclose(table.column("ours").to_numpy(), table.column("geos").to_numpy(), atol=1e-4)


@pytest.mark.skipif(
    shutil.which("java") is None and not os.environ.get("JAVA_HOME"),
    reason="Spark needs Java 17 or 21 (no java on PATH, JAVA_HOME unset)",
)
def test_registered_on_spark_matches_shapely() -> None:
    """Plain Spark (no Sedona jars needed): the Arrow UDF the Spark engine registers, on WKB columns."""
    from pyspark.sql import SparkSession

    from sedona_jobs.labels.clip_area import register_spark

    rng = np.random.default_rng(RNG_SEED + 4)
    fps = _footprints(rng, 400)
    polys = _polygons_near(rng, fps)
    expected = shapely.area(shapely.intersection(np.asarray(fps), np.asarray(polys)))
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("s2lake-cliparea-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    try:
        register_spark(spark)
        frame = spark.createDataFrame(
            [(i, bytearray(a.wkb), bytearray(b.wkb)) for i, (a, b) in enumerate(zip(fps, polys, strict=True))],
            "i int, a binary, b binary",
        )
        frame.createOrReplaceTempView("pairs")
        rows = spark.sql(f"SELECT i, {SQL_NAME}(a, b) AS area FROM pairs ORDER BY i").collect()
    finally:
        spark.stop()
    np.testing.assert_allclose([r["area"] for r in rows], expected, atol=1e-4)


def test_rings_clear_of_the_footprint_count_by_winding() -> None:
    """Rings with no edge near the footprint are not clipped (their winding number decides): a footprint
    inside a many-vertex shell of either orientation, inside its hole, inside one part of a multipolygon
    whose other part is far away, and far outside, all as GEOS says."""
    fp = affinity.rotate(shapely.box(4.0e6, 3.0e6, 4.0e6 + 1200, 3.0e6 + 1200), 5.0)
    centre = fp.centroid
    big = centre.buffer(50_000, quad_segs=64)  # 257 vertices, the size of a country piece
    holed = shapely.Polygon(big.exterior, [centre.buffer(5_000).exterior])
    ring_around = shapely.Polygon(big.exterior, [centre.buffer(20_000).exterior])  # footprint in the hole
    parts = shapely.MultiPolygon([big, shapely.box(4.5e6, 3.5e6, 4.5e6 + 10, 3.5e6 + 10)])
    far = shapely.box(3.0e6, 2.0e6, 3.0e6 + 5_000, 2.0e6 + 5_000)
    geoms = [big, shapely.reverse(big), holed, ring_around, parts, far, shapely.reverse(holed)]
    expected = shapely.area(shapely.intersection(fp, np.asarray(geoms)))
    got = clip_area(_wkb([fp] * len(geoms)), _wkb(geoms)).to_numpy()
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert expected[0] == pytest.approx(fp.area) and expected[3] == 0.0
