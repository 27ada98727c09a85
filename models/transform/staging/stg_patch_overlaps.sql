select
    patch_id_a,
    patch_id_b,
    tile_a,
    tile_b
from {{ source('s2lake', 'patch_overlaps') }}
where run_id = {{ s2lake_label_run() }}
    and {{ s2lake_in_report_scope('patch_id_a') }} and {{ s2lake_in_report_scope('patch_id_b') }}
