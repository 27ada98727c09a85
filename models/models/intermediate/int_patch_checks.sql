-- Per patch: which layers are not at their expected shape (a missing layer counts as wrong),
-- whether any layer has NO_DATA pixels, and whether the product has a metadata row.
with expected as (
    select
        p.patch_id,
        l.band,
        l.patch_pixels,
        b.height,
        b.width,
        b.valid_count
    from {{ ref('stg_patches') }} as p
    cross join {{ ref('s2_layers') }} as l
    left join {{ ref('stg_patch_band_stats') }} as b
        on b.patch_id = p.patch_id and b.band = l.band
),

per_patch as (
    select
        patch_id,
        {{ s2lake_sorted_set(
            "case when height is null or height <> patch_pixels or width <> patch_pixels then band end"
        ) }} as wrong_size_bands,
        max(case when valid_count < cast(height as bigint) * width then 1 else 0 end) = 1 as nodata_in_bands
    from expected
    group by patch_id
)

select
    p.patch_id,
    p.product_id,
    p.tile,
    c.wrong_size_bands,
    {{ s2lake_list_size('c.wrong_size_bands') }} > 0 as wrong_size,
    (c.nodata_in_bands or coalesce(p.has_nodata, false)) as contains_nodata,
    pr.product_id is null as missing_product
from {{ ref('stg_patches') }} as p
inner join per_patch as c on c.patch_id = p.patch_id
left join {{ ref('stg_products') }} as pr on pr.product_id = p.product_id
