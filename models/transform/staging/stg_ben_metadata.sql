-- BigEarthNet's own metadata of imported patches, one row per patch. `s2lake ben import` keeps one row per
-- patch AND source (key patch_id, source): a v1 folder imported together with v2's metadata.parquet (which
-- maps its v1 name to the v2 id) has both its labels_metadata.json row (43-class labels, no flags) and the
-- metadata.parquet row. The v2 row wins: it is the dataset's current form and the only one with the split
-- and the cloud/snow flags. An empty view on warehouses without an imported dataset (var absent_sources).
with ranked as (
    select
        patch_id,
        labels,
        ben19_labels,
        split,
        country,
        contains_seasonal_snow,
        contains_cloud_or_shadow,
        row_number() over (
            partition by patch_id
            order by case when source = 'metadata.parquet' then 0 else 1 end, source
        ) as source_rank
    from {{ source('s2lake', 'ben_metadata') }}
    where {{ s2lake_in_report_scope('patch_id') }}
)

select
    patch_id,
    labels,
    ben19_labels,
    split,
    country,
    contains_seasonal_snow,
    contains_cloud_or_shadow
from ranked
where source_rank = 1
