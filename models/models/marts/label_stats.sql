-- Label statistics of the dataset: how often each label occurs, the average number of labels per
-- labelled patch (2 decimals, half up, computed on integers so both engines agree) and the maximum.
with labelled as (
    select l.patch_id, l.labels, l.label_count
    from {{ ref('patch_labels') }} as l
    inner join {{ ref('int_dataset_patches') }} as d on d.patch_id = l.patch_id
    where l.label_count > 0
),

summary as (
    select
        count(*) as labelled_patches,
        sum(cast(label_count as bigint)) as label_total,
        max(label_count) as max_labels_per_patch
    from labelled
),

exploded as (
    select patch_id, {{ s2lake_explode('labels') }} as label
    from labelled
),

frequency as (
    select label, count(*) as patches
    from exploded
    group by label
)

select
    f.label,
    f.patches,
    cast(f.patches as double) / s.labelled_patches as frequency,
    s.labelled_patches,
    cast(
        floor(cast(200 * s.label_total + s.labelled_patches as double) / (2 * s.labelled_patches)) / 100.0
        as decimal(10, 2)
    ) as avg_labels_per_patch,
    s.max_labels_per_patch
from frequency as f
cross join summary as s
