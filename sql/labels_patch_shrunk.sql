-- patch_shrunk: the footprints of patch_geoms with inner_geom, the footprint shrunk by 1 cm, the input
-- of labels_patch_overlaps.sql. Shrunk by scaling about the centroid, which moves each edge of a square
-- footprint of side s inward by (1 - f) * s / 2 = 1 cm for f = 1 - 0.02 / s (on the slightly skewed
-- quadrilaterals reprojection makes, within 1 % of that: under 0.1 mm): an affine map costs a tenth of
-- ST_Buffer(geom, -0.01).
SELECT
    patch_id,
    tile,
    geom,
    ST_Affine(geom, f, 0, 0, f, (1 - f) * cx, (1 - f) * cy) AS inner_geom
FROM (
    SELECT
        patch_id,
        tile,
        geom,
        1 - 0.02 / SQRT(patch_area_m2) AS f,
        ST_X(ST_Centroid(geom)) AS cx,
        ST_Y(ST_Centroid(geom)) AS cy
    FROM patch_geoms
) AS t
