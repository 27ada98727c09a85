-- Validation report per patch: wrong size, NO_DATA, no metadata row, no CLC class (unlabelled), not part
-- of an imported BigEarthNet dataset;
-- in_dataset when none applies.
select
    patch_id,
    product_id,
    tile,
    wrong_size,
    wrong_size_bands,
    contains_nodata,
    missing_product,
    not_part_of_dataset,
    unlabelled,
    unlabelled_reason,
    clc_codes_without_class,
    not (wrong_size or contains_nodata or missing_product or not_part_of_dataset or unlabelled) as in_dataset
from {{ ref('int_patch_checks') }}
