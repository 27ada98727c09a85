-- patch_country: the country with the largest overlap for each patch (ties: smallest code).
-- Patches over sea or outside the layer keep one row with country_code NULL and area 0.
-- Inputs: patch_geoms (labels_patch_geoms.sql), country_areas (labels_country_areas_*.sql). Areas come
-- from S2L_ClipArea, as in labels_patch_landcover.sql.
WITH overlaps AS (
    SELECT
        p.patch_id,
        a.country_code,
        a.country_name,
        a.source,
        SUM(S2L_ClipArea(ST_AsBinary(p.geom), ST_AsBinary(a.geometry))) AS area_m2
    FROM patch_geoms AS p
    INNER JOIN country_areas AS a ON ST_Intersects(p.geom, a.geometry)
    GROUP BY p.patch_id, a.country_code, a.country_name, a.source
),
ranked AS (
    SELECT
        patch_id,
        country_code,
        country_name,
        source,
        area_m2,
        ROW_NUMBER() OVER (PARTITION BY patch_id ORDER BY area_m2 DESC, country_code ASC) AS rnk
    FROM overlaps
    WHERE area_m2 > 0
)
SELECT
    p.patch_id,
    p.tile,
    r.country_code,
    r.country_name,
    COALESCE(r.area_m2, 0.0) AS area_m2,
    COALESCE(r.area_m2, 0.0) / p.patch_area_m2 AS fraction,
    COALESCE(r.source, (SELECT MIN(source) FROM country_areas)) AS source
FROM patch_geoms AS p
LEFT JOIN ranked AS r ON r.patch_id = p.patch_id AND r.rnk = 1
