select
    patch_id,
    country_code
from {{ source('s2lake', 'patch_country') }}
where run_id = {{ s2lake_label_run() }} and {{ s2lake_in_report_scope('patch_id') }}
