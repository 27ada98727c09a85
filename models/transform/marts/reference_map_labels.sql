-- BigEarthNet-19 label set of each patch from its reference map (one polygon per class region): the
-- 19-class labels of the CLC codes present. Codes without a 19-class target (e.g. 122 roads, 999 NODATA)
-- give no label but stay listed in clc_codes.
with codes as (
    select
        r.patch_id,
        r.clc_code,
        b.ben19_label
    from {{ ref('stg_reference_map_polygons') }} as r
    left join {{ ref('clc_to_ben19') }} as c on c.clc_code = r.clc_code
    left join {{ ref('ben19_classes') }} as b on b.ben19_id = c.ben19_id
),

per_patch as (
    select
        patch_id,
        {{ s2lake_sorted_set('ben19_label') }} as labels,
        {{ s2lake_sorted_set('clc_code') }} as clc_codes
    from codes
    group by patch_id
)

select
    patch_id,
    labels,
    {{ s2lake_list_size('labels') }} as label_count,
    clc_codes
from per_patch
