-- patch_overlaps: pairs of patches whose footprints share interior points, across tiles and UTM
-- zones, with the shared area in m2 (EPSG:3035). Each pair once, patch_id_a < patch_id_b.
-- Patches that only touch along an edge or corner are not pairs. Footprints reprojected from two
-- tiles (or zones) that share an edge cross each other by fractions of a millimetre; to tell such
-- noise from overlap the join tests the footprints shrunk by 1 cm (inner_geom, labels_patch_shrunk.sql),
-- so an overlap must be wider than 2 cm to count. Both footprints are convex, so the shared area
-- comes from S2L_ClipArea (see labels_patch_landcover.sql).
SELECT
    a.patch_id AS patch_id_a,
    b.patch_id AS patch_id_b,
    a.tile AS tile_a,
    b.tile AS tile_b,
    S2L_ClipArea(ST_AsBinary(a.geom), ST_AsBinary(b.geom)) AS area_m2
FROM patch_shrunk AS a
INNER JOIN patch_shrunk AS b ON ST_Intersects(a.inner_geom, b.inner_geom) AND a.patch_id < b.patch_id
