-- Patch footprints in EPSG:3035 (Lambert azimuthal equal area, easting/northing order), the CRS of
-- the CORINE and NUTS tables, so intersection areas are true areas in m2.
-- Input view patches_in: patch_id, tile, epsg (the tile's UTM zone), footprint (WKB in that CRS).
-- The job materialises this view once: every join reads the transformed footprints, none transforms again.
-- Runs unchanged on SedonaDB and on Sedona on Spark.
SELECT
    patch_id,
    tile,
    geom,
    ST_Area(geom) AS patch_area_m2
FROM (
    SELECT
        patch_id,
        tile,
        ST_Transform(ST_GeomFromWKB(footprint), concat('EPSG:', CAST(epsg AS STRING)), 'EPSG:3035') AS geom
    FROM patches_in
) AS t
