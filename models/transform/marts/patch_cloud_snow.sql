-- BigEarthNet v2's two flags per patch. v2 carries them over from v1's lists (patches checked visually),
-- so an imported patch keeps its metadata's values; a SAFE-derived patch gets them from its scene
-- classification: any pixel of classes 3 (cloud shadow), 8, 9 (cloud medium/high probability) or 10
-- (thin cirrus) sets contains_cloud_or_shadow, any pixel of class 11 (snow/ice) contains_seasonal_snow
-- (seed scl_flags). patches.scene_classes lists the classes present, so no pixel is read.
with present as (
    select patch_id, {{ s2lake_explode('scene_classes') }} as scl_class
    from {{ ref('stg_patches') }}
),

from_scl as (
    select
        p.patch_id,
        max(case when f.cloud_or_shadow then 1 else 0 end) = 1 as cloud_or_shadow,
        max(case when f.seasonal_snow then 1 else 0 end) = 1 as seasonal_snow
    from present as p
    inner join {{ ref('scl_flags') }} as f on f.scl_class = p.scl_class
    group by p.patch_id
)

select
    p.patch_id,
    p.tile,
    coalesce(
        m.contains_cloud_or_shadow,
        case when p.scene_classes is not null then coalesce(s.cloud_or_shadow, false) end
    ) as contains_cloud_or_shadow,
    coalesce(
        m.contains_seasonal_snow,
        case when p.scene_classes is not null then coalesce(s.seasonal_snow, false) end
    ) as contains_seasonal_snow,
    case
        when m.contains_cloud_or_shadow is not null or m.contains_seasonal_snow is not null then 'metadata'
        when p.scene_classes is not null then 'scl'
    end as flag_source
from {{ ref('stg_patches') }} as p
left join from_scl as s on s.patch_id = p.patch_id
left join {{ ref('stg_ben_metadata') }} as m on m.patch_id = p.patch_id
