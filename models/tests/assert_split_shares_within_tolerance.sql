-- Each split's share of the dataset patches is within split_share_tolerance of its target share
-- (an empty dataset has no shares to check; assert_every_dataset_patch_in_one_split covers it).
-- The concentric methods assign whole places (all dates of one patch position) per tile, so in each tile a
-- split's count is off its target by less than the tile's largest place: the sum of those over the tiles,
-- as a share of the patches, is added to the tolerance. On a large dataset it is negligible; a small one
-- (the 6 patches of 4 tiles of BigEarthNet's example) cannot have shares closer than that.
{%- set method = var('split_method') -%}
{%- set train = var('split_train_share') | float -%}
{%- set validation = var('split_validation_share') | float -%}
{%- set test = 1.0 - train - validation -%}
{%- if method == 'train_test' -%}{%- set train = train + validation -%}{%- set validation = 0.0 -%}{%- endif %}
with shares as (
    select split, cast(count(*) as double) / sum(count(*)) over () as share
    from {{ ref('geographic_split') }}
    group by split
),

targets as (
    select 'train' as split, {{ train }} as target
    union all select 'validation', {{ validation }}
    union all select 'test', {{ test }}
),

places as (
    select tile, patch_row, patch_col, count(*) as patches
    from {{ ref('geographic_split') }}
    group by tile, patch_row, patch_col
),

largest_places as (
    select tile, max(patches) as patches
    from places
    group by tile
),

total as (
    select
        (select count(*) from {{ ref('geographic_split') }}) as patches,
        {% if method == 'blocks' %}0{% else %}(select coalesce(sum(patches), 0) from largest_places){% endif %}
            as rounding_patches
)

select t.split, t.target, coalesce(s.share, 0) as share
from targets as t
left join shares as s on s.split = t.split
cross join total
where total.patches > 0
    and abs(coalesce(s.share, 0) - t.target)
    > {{ var('split_share_tolerance') }} + cast(total.rounding_patches as double) / total.patches
