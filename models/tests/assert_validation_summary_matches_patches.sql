-- The summary's counts add up: in_dataset + any_problem = total, and total = patches in the table.
with s as (
    select
        max(case when check_name = 'in_dataset' then patches end) as in_dataset,
        max(case when check_name = 'any_problem' then patches end) as any_problem,
        max(case when check_name = 'total' then patches end) as total
    from {{ ref('patch_validation_summary') }}
)

select *
from s
where in_dataset + any_problem <> total
    or total <> (select count(*) from {{ ref('stg_patches') }})
    or in_dataset <> (select count(*) from {{ ref('int_dataset_patches') }})
