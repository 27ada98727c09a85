-- The patches of the list given as var stats_list (`s2lake ben report --stats-list LIST.csv.gz`), each
-- once. Built only when the var is set.
{{ config(enabled=var('stats_list') != '') }}
with listed as (
    {{ s2lake_read_id_list(var('stats_list')) }}
)

select distinct patch_id
from listed
where patch_id is not null and patch_id <> '' and patch_id <> 'patch_id'
