-- BigEarthNet v2's two flags per patch. v2 carries them over from v1's lists (patches checked visually),
-- so an imported patch keeps its metadata's values; a SAFE-derived patch gets them from its scene
-- classification: any pixel of classes 3 (cloud shadow), 8, 9 (cloud medium/high probability) or 10
-- (thin cirrus) sets contains_cloud_or_shadow, any pixel of class 11 (snow/ice) contains_seasonal_snow
-- (seed scl_flags). patches.scene_classes lists the classes present, so no pixel is read.
-- The classes of each flag are one list each (one row), tested against the patch's list in its own row: an
-- explode of every patch's classes grouped back by patch id and joined to the patches again took minutes at
-- ten million patches.
with flag_classes as (
    select
        {{ s2lake_sorted_set('case when cloud_or_shadow then scl_class end') }} as cloud_or_shadow,
        {{ s2lake_sorted_set('case when seasonal_snow then scl_class end') }} as seasonal_snow
    from {{ ref('scl_flags') }}
)

select
    p.patch_id,
    p.tile,
    coalesce(
        m.contains_cloud_or_shadow,
        case when p.scene_classes is not null
            then coalesce({{ s2lake_lists_overlap('p.scene_classes', 'f.cloud_or_shadow') }}, false) end
    ) as contains_cloud_or_shadow,
    coalesce(
        m.contains_seasonal_snow,
        case when p.scene_classes is not null
            then coalesce({{ s2lake_lists_overlap('p.scene_classes', 'f.seasonal_snow') }}, false) end
    ) as contains_seasonal_snow,
    case
        when m.contains_cloud_or_shadow is not null or m.contains_seasonal_snow is not null then 'metadata'
        when p.scene_classes is not null then 'scl'
    end as flag_source
from {{ ref('stg_patches') }} as p
cross join flag_classes as f
left join {{ ref('stg_ben_metadata') }} as m on m.patch_id = p.patch_id
