-- Validation report per patch: wrong size, NO_DATA, no metadata row; in_dataset when none applies.
select
    patch_id,
    product_id,
    tile,
    wrong_size,
    wrong_size_bands,
    contains_nodata,
    missing_product,
    not (wrong_size or contains_nodata or missing_product) as in_dataset
from {{ ref('int_patch_checks') }}
