-- Patches that overlap at least one other patch, each counted once however many pairs it is in,
-- overall and per tile, next to the number of patches. Pairs come from the labels build
-- (patch_overlaps, across CRSs too) and from the patch bounds within one CRS (int_footprint_overlaps).
with overlapping as (
    select patch_id_a as patch_id from {{ ref('stg_patch_overlaps') }}
    union
    select patch_id_b as patch_id from {{ ref('stg_patch_overlaps') }}
    union
    select patch_id_a as patch_id from {{ ref('int_footprint_overlaps') }}
    union
    select patch_id_b as patch_id from {{ ref('int_footprint_overlaps') }}
),

flagged as (
    select
        p.tile,
        case when o.patch_id is null then 0 else 1 end as is_overlapping
    from {{ ref('stg_patches') }} as p
    left join overlapping as o on o.patch_id = p.patch_id
)

select 'all' as scope, 'all' as scope_value, count(*) as patches, cast(sum(is_overlapping) as bigint) as overlapping_patches
from flagged
union all
select 'tile' as scope, tile as scope_value, count(*) as patches, cast(sum(is_overlapping) as bigint) as overlapping_patches
from flagged
group by tile
