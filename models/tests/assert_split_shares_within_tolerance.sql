-- Each split's share of the dataset patches is within split_share_tolerance of its target share
-- (an empty dataset has no shares to check; assert_every_dataset_patch_in_one_split covers it).
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
)

select t.split, t.target, coalesce(s.share, 0) as share
from targets as t
left join shares as s on s.split = t.split
cross join (select count(*) as patches from {{ ref('geographic_split') }}) as total
where total.patches > 0 and abs(coalesce(s.share, 0) - t.target) > {{ var('split_share_tolerance') }}
