-- The patches that make up the dataset: metadata present (products, or ben_metadata for an imported
-- BigEarthNet patch), every layer at its shape, no NO_DATA, labelled (a CLC class covers it, or its
-- BigEarthNet metadata lists a label), and part of the imported dataset when there is one.
-- Statistics and splits are computed over these only.
select
    p.patch_id,
    p.product_id,
    p.tile,
    p.patch_row,
    p.patch_col,
    p.sensing_time
from {{ ref('stg_patches') }} as p
inner join {{ ref('int_patch_checks') }} as c on c.patch_id = p.patch_id
where not c.wrong_size and not c.contains_nodata and not c.missing_product and not c.unlabelled
    and not c.not_part_of_dataset
