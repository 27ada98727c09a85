-- patch_landcover: CLC classes intersecting each patch, with the intersection area in m2 and the
-- fraction of the patch. Polygons that only touch a patch (zero area) do not count. Every patch
-- keeps at least one row: without CLC coverage, one row with clc_code NULL and no_clc_coverage true.
-- Inputs: patch_geoms (labels_patch_geoms.sql), clc (code_18, geometry in EPSG:3035), clc_classes.
-- S2L_ClipArea(footprint, polygon) is ST_Area(ST_Intersection(footprint, polygon)) for a convex
-- footprint, computed without building the intersection (s2lake registers it on every engine;
-- sedona_jobs/labels/clip_area.py): GEOS's overlay cost 28 us a pair, this about 1 us.
WITH hits AS (
    SELECT
        p.patch_id,
        c.code_18 AS clc_code,
        SUM(S2L_ClipArea(ST_AsBinary(p.geom), ST_AsBinary(c.geometry))) AS area_m2
    FROM patch_geoms AS p
    INNER JOIN clc AS c ON ST_Intersects(p.geom, c.geometry)
    GROUP BY p.patch_id, c.code_18
),
covered AS (
    SELECT patch_id, clc_code, area_m2 FROM hits WHERE area_m2 > 0
)
SELECT
    p.patch_id,
    p.tile,
    h.clc_code,
    k.clc_name,
    k.ben19_label,
    COALESCE(h.area_m2, 0.0) AS area_m2,
    COALESCE(h.area_m2, 0.0) / p.patch_area_m2 AS fraction,
    h.clc_code IS NULL AS no_clc_coverage
FROM patch_geoms AS p
LEFT JOIN covered AS h ON h.patch_id = p.patch_id
LEFT JOIN clc_classes AS k ON k.clc_code = h.clc_code
