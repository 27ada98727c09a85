-- Every dataset patch is in exactly one split (none missing, none twice).
select d.patch_id, count(s.patch_id) as splits
from {{ ref('int_dataset_patches') }} as d
left join {{ ref('geographic_split') }} as s on s.patch_id = d.patch_id
group by d.patch_id
having count(s.patch_id) <> 1
