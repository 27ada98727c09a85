-- The patches that make up the dataset: metadata present, every layer at its shape, no NO_DATA,
-- covered by at least one CLC class.
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
