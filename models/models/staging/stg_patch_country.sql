select
    patch_id,
    country_code
from {{ source('s2lake', 'patch_country') }}
where run_id = {{ s2lake_label_run() }}
