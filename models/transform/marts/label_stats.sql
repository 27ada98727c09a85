-- Label statistics of the dataset: how often each label occurs, the average number of labels per
-- labelled patch (2 decimals, half up, computed on integers so both engines agree) and the maximum.
-- A patch of an imported BigEarthNet dataset counts the labels of its metadata, any other patch its
-- BigEarthNet-19 labels from the CLC join (patch_labels).
with label_sets as (
    select
        d.patch_id,
        case when m.patch_id is not null then m.labels else l.labels end as labels
    from {{ ref('int_dataset_patches') }} as d
    inner join {{ ref('patch_labels') }} as l on l.patch_id = d.patch_id
    left join {{ ref('stg_ben_metadata') }} as m on m.patch_id = d.patch_id
),

labelled as (
    select patch_id, labels, {{ s2lake_list_size('labels') }} as label_count
    from label_sets
    where labels is not null and {{ s2lake_list_size('labels') }} > 0
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
