-- patches_in of an incremental run: the patches no complete label run has labelled yet.
-- Inputs: patches_in (every patch), patches_labelled (labels_patches_labelled.sql).
SELECT * FROM patches_in WHERE patch_id NOT IN (SELECT patch_id FROM patches_labelled)
