-- BigEarthNet's own metadata of imported patches (metadata.parquet of v2, the labels_metadata.json of v1).
-- An empty view on warehouses without an imported dataset (var absent_sources).
select
    patch_id,
    labels,
    split,
    country,
    contains_seasonal_snow,
    contains_cloud_or_shadow
from {{ source('s2lake', 'ben_metadata') }}
