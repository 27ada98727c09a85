select
    patch_id,
    tile,
    clc_code,
    ben19_label,
    fraction,
    no_clc_coverage
from {{ source('s2lake', 'patch_landcover') }}
where run_id = {{ s2lake_label_run() }} and {{ s2lake_in_report_scope('patch_id') }}
