select
    patch_id,
    country_code
from {{ source('s2lake', 'patch_country') }}
