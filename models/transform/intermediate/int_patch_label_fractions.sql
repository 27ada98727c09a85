-- Area fraction of each BigEarthNet-19 label per patch: several CLC classes map to one label
-- (211, 212, 213 -> Arable land), so their fractions add up.
select
    patch_id,
    ben19_label as label,
    sum(fraction) as fraction
from {{ ref('stg_patch_landcover') }}
where ben19_label is not null
group by patch_id, ben19_label
