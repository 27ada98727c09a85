-- How many patches fail each check (a patch can fail several), and how many are left.
select 'wrong_size' as check_name, 1 as check_order, cast(sum(case when wrong_size then 1 else 0 end) as bigint) as patches
from {{ ref('patch_validation') }}
union all
select 'contains_nodata', 2, cast(sum(case when contains_nodata then 1 else 0 end) as bigint) from {{ ref('patch_validation') }}
union all
select 'missing_product', 3, cast(sum(case when missing_product then 1 else 0 end) as bigint) from {{ ref('patch_validation') }}
union all
select 'not_part_of_dataset', 4, cast(sum(case when not_part_of_dataset then 1 else 0 end) as bigint)
from {{ ref('patch_validation') }}
union all
select 'unlabelled', 5, cast(sum(case when unlabelled then 1 else 0 end) as bigint) from {{ ref('patch_validation') }}
union all
select 'any_problem', 6, cast(sum(case when in_dataset then 0 else 1 end) as bigint) from {{ ref('patch_validation') }}
union all
select 'in_dataset', 7, cast(sum(case when in_dataset then 1 else 0 end) as bigint) from {{ ref('patch_validation') }}
union all
select 'total', 8, cast(count(*) as bigint) from {{ ref('patch_validation') }}
