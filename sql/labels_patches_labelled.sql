-- patches_labelled: the patches the latest complete label run labelled and that are still in the
-- patches table. An incremental run (`s2lake run`, `labels build --new-only`) carries their labels over
-- and joins them with the new patches only for patch_overlaps.
-- Inputs: patches_in (every patch), labelled_ids (patch_id of the patches that run labelled).
SELECT
    patch_id,
    tile,
    epsg,
    footprint
FROM patches_in
WHERE patch_id IN (SELECT patch_id FROM labelled_ids)
