-- reBEN label sets: the BigEarthNet-19 labels whose area fraction in the patch reaches
-- min_label_fraction, and a flag where the area without any label (no CLC coverage, or CLC classes
-- without a 19-class target) is at least unlabelled_threshold of the patch.
-- The patches and their label fractions are stacked and grouped once by patch id: a left join of the
-- fractions to the patches on the ~70-byte id ran out of DuckDB's 4 GB at ten million patches.
with fractions as (
    select
        patch_id,
        tile,
        1 as is_patch,
        cast(null as {{ dbt.type_string() }}) as label,
        cast(null as double) as fraction
    from {{ ref('stg_patches') }}
    union all
    select patch_id, cast(null as {{ dbt.type_string() }}), 0, label, fraction
    from {{ ref('int_patch_label_fractions') }}
),

per_patch as (
    select
        patch_id,
        max(tile) as tile,
        {{ s2lake_sorted_set(
            "case when fraction > 0 and fraction >= " ~ var('min_label_fraction') ~ " then label end"
        ) }} as labels,
        coalesce(sum(fraction), 0) as labelled_fraction
    from fractions
    group by patch_id
    having max(is_patch) = 1
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
