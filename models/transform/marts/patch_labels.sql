-- reBEN label sets: the BigEarthNet-19 labels whose area fraction in the patch reaches
-- min_label_fraction, and a flag where the area without any label (no CLC coverage, or CLC classes
-- without a 19-class target) is at least unlabelled_threshold of the patch.
with fractions as (
    select
        p.patch_id,
        p.tile,
        f.label,
        f.fraction
    from {{ ref('stg_patches') }} as p
    left join {{ ref('int_patch_label_fractions') }} as f on f.patch_id = p.patch_id
),

per_patch as (
    select
        patch_id,
        tile,
        {{ s2lake_sorted_set(
            "case when fraction > 0 and fraction >= " ~ var('min_label_fraction') ~ " then label end"
        ) }} as labels,
        coalesce(sum(fraction), 0) as labelled_fraction
    from fractions
    group by patch_id, tile
)

select
    patch_id,
    tile,
    labels,
    {{ s2lake_list_size('labels') }} as label_count,
    {{ s2lake_join_list('labels', '; ') }} as labels_text,
    greatest(1.0 - labelled_fraction, 0.0) as unlabelled_fraction,
    1.0 - labelled_fraction >= {{ var('unlabelled_threshold') }} as mostly_unlabelled
from per_patch
