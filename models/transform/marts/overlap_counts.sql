-- Patches that overlap at least one other patch, each counted once however many pairs it is in,
-- overall and per tile, next to the number of patches. Pairs come from the labels build
-- (patch_overlaps, across CRSs too) and from the patch bounds within one CRS (int_footprint_overlaps).
-- The patch ids of the pairs and of the patches are stacked and grouped once by patch id (fixed-size
-- values, spilled by partition): a distinct union of the pairs' ids joined to the patches held two hash
-- tables of tens of millions of ~70-byte ids, more than DuckDB's 4 GB at ten million patches.
with flagged_rows as (
    select patch_id, tile, 1 as is_patch, 0 as is_overlapping from {{ ref('stg_patches') }}
    union all
    select patch_id_a, cast(null as {{ dbt.type_string() }}), 0, 1 from {{ ref('stg_patch_overlaps') }}
    union all
    select patch_id_b, cast(null as {{ dbt.type_string() }}), 0, 1 from {{ ref('stg_patch_overlaps') }}
    union all
    select patch_id_a, cast(null as {{ dbt.type_string() }}), 0, 1 from {{ ref('int_footprint_overlaps') }}
    union all
    select patch_id_b, cast(null as {{ dbt.type_string() }}), 0, 1 from {{ ref('int_footprint_overlaps') }}
),

flagged as (
    select max(tile) as tile, max(is_overlapping) as is_overlapping
    from flagged_rows
    group by patch_id
    having max(is_patch) = 1
),

per_tile as (
    select tile, count(*) as patches, cast(sum(is_overlapping) as bigint) as overlapping_patches
    from flagged
    group by tile
)

select
    'all' as scope,
    'all' as scope_value,
    cast(coalesce(sum(patches), 0) as bigint) as patches,
    cast(sum(overlapping_patches) as bigint) as overlapping_patches
from per_tile
union all
select 'tile' as scope, tile as scope_value, patches, overlapping_patches
from per_tile
