-- Patch attributes the marts need; pixel arrays are never read (band_stats has exact sums).
select
    patch_id,
    product_id,
    tile,
    {{ adapter.quote('row') }} as patch_row,
    {{ adapter.quote('col') }} as patch_col,
    sensing_time,
    has_nodata,
    epsg,
    ulx,
    uly,
    lrx,
    lry,
    scene_classes,
    band_stats
from {{ source('s2lake', 'patches') }}
where {{ s2lake_in_report_scope('patch_id') }}
