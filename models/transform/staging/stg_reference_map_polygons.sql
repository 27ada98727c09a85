-- CLC codes of the reference-map regions of each patch; geometries are not read (a region lies inside its
-- patch by construction, so its code alone says the class is present).
select
    patch_id,
    cast(clc_code as {{ dbt.type_string() }}) as clc_code
from {{ source('s2lake', 'reference_map_polygons') }}
where {{ s2lake_in_report_scope('patch_id') }}
