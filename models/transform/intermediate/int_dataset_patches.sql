-- The patches that make up the dataset: metadata present (products, or ben_metadata for an imported
-- BigEarthNet patch), every layer at its shape, no NO_DATA, labelled (a CLC class covers it, or its
-- BigEarthNet metadata lists a label), and part of the imported dataset when there is one.
-- Statistics and splits are computed over these only. The checks carry the patch's place and date, so no
-- join of ten million patch ids back to the patches.
select
    patch_id,
    product_id,
    tile,
    patch_row,
    patch_col,
    sensing_time
from {{ ref('int_patch_checks') }}
where not wrong_size and not contains_nodata and not missing_product and not unlabelled
    and not not_part_of_dataset
