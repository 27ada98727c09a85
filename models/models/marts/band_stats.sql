-- Normalisation statistics per band over all valid pixels of the dataset patches (NO_DATA pixels are
-- not in valid_count/sum/sum_sq). Sums are DECIMAL(38,0) so they stay exact for millions of patches;
-- std is the population standard deviation sqrt(n*sum_sq - sum^2) / n, whose numerator is exact too.
with sums as (
    select
        b.band,
        sum(cast(b.valid_count as {{ s2lake_exact_int() }})) as valid_pixels,
        sum(cast(b.pixel_sum as {{ s2lake_exact_int() }})) as pixel_sum,
        sum(cast(b.pixel_sum_sq as {{ s2lake_exact_int() }})) as pixel_sum_sq
    from {{ ref('stg_patch_band_stats') }} as b
    inner join {{ ref('int_dataset_patches') }} as d on d.patch_id = b.patch_id
    where b.band <> 'SCL'
    group by b.band
)

select
    s.band,
    l.resolution_m,
    s.valid_pixels,
    s.pixel_sum,
    s.pixel_sum_sq,
    cast(s.pixel_sum as double) / cast(s.valid_pixels as double) as mean,
    sqrt(cast(s.valid_pixels * s.pixel_sum_sq - s.pixel_sum * s.pixel_sum as double))
        / cast(s.valid_pixels as double) as std
from sums as s
inner join {{ ref('s2_layers') }} as l on l.band = s.band
