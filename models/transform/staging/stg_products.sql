select
    product_id,
    tile,
    sensing_start,
    status
from {{ source('s2lake', 'products') }}
