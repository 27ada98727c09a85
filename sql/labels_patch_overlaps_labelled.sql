-- patch_overlaps between a new patch and an already labelled one (incremental runs). The same test and
-- area as labels_patch_overlaps.sql, each pair once with patch_id_a < patch_id_b, and S2L_ClipArea given
-- patch a's footprint first, exactly as a full run computes the pair (the sets are disjoint: no pair of a
-- patch with itself).
-- Inputs: patch_shrunk (the new patches), labelled_shrunk (labels_patch_shrunk.sql over patches_labelled).
SELECT
    CASE WHEN n.patch_id < k.patch_id THEN n.patch_id ELSE k.patch_id END AS patch_id_a,
    CASE WHEN n.patch_id < k.patch_id THEN k.patch_id ELSE n.patch_id END AS patch_id_b,
    CASE WHEN n.patch_id < k.patch_id THEN n.tile ELSE k.tile END AS tile_a,
    CASE WHEN n.patch_id < k.patch_id THEN k.tile ELSE n.tile END AS tile_b,
    S2L_ClipArea(
        CASE WHEN n.patch_id < k.patch_id THEN ST_AsBinary(n.geom) ELSE ST_AsBinary(k.geom) END,
        CASE WHEN n.patch_id < k.patch_id THEN ST_AsBinary(k.geom) ELSE ST_AsBinary(n.geom) END
    ) AS area_m2
FROM patch_shrunk AS n
INNER JOIN labelled_shrunk AS k ON ST_Intersects(n.inner_geom, k.inner_geom)
