-- One row per patch and layer (12 bands + SCL) out of the band_stats list column.
with exploded as (
    select
        patch_id,
        {{ s2lake_explode('band_stats') }} as s
    from {{ source('s2lake', 'patches') }}
    where {{ s2lake_in_report_scope('patch_id') }}
)

select
    patch_id,
    s.band as band,
    s.height as height,
    s.width as width,
    s.valid_count as valid_count,
    s.sum as pixel_sum,
    s.sum_sq as pixel_sum_sq
from exploded
