-- The envelope of all patch footprints in EPSG:3035 (input of labels_clc_window.sql).
SELECT
    MIN(ST_XMin(geom)) AS xmin,
    MIN(ST_YMin(geom)) AS ymin,
    MAX(ST_XMax(geom)) AS xmax,
    MAX(ST_YMax(geom)) AS ymax
FROM patch_geoms
