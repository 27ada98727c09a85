-- patch_shrunk: the footprints of patch_geoms with inner_geom, the footprint shrunk by 1 cm, the input
-- of labels_patch_overlaps.sql. A view of its own, materialised once just before that join: a negative
-- buffer costs more than the reprojection, and the land-cover and country joins do not need it.
SELECT
    patch_id,
    tile,
    geom,
    ST_Buffer(geom, -0.01) AS inner_geom
FROM patch_geoms
