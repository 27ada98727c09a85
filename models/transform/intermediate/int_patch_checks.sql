-- Per patch: which layers are not at their expected shape (a missing band counts as wrong; the SCL is
-- checked where the patch has one: BigEarthNet's patches ship without it), whether any layer has NO_DATA
-- pixels, whether the product has a metadata row, and whether any of the 44 CLC classes covers it (else
-- it is unlabelled: no ground truth, so not part of the dataset).
-- Patches of an imported BigEarthNet dataset carry their own metadata and labels (ben_metadata): for them
-- that row stands for the products row and its labels for the CLC classes; and once ben_metadata holds
-- any row, a patch without one is not part of the dataset.
-- The facts per patch come from int_patch_check_flags (one aggregation of fixed-size values); the lists
-- are made here for the flagged patches only, so no list is held per patch of ten million.
with layers as (
    {{ s2lake_layer_bits() }}
),

all_required as (
    select sum(bit) as required_layers from layers where required
),

wrong_layers as (
    select b.patch_id, l.band
    from {{ ref('stg_patch_band_stats') }} as b
    inner join layers as l on l.band = b.band
    where (b.height is null and l.band <> 'SCL') or b.height <> l.patch_pixels or b.width <> l.patch_pixels
    union all
    -- required layers the patch does not have: their bit is not set
    select f.patch_id, l.band
    from {{ ref('int_patch_check_flags') }} as f
    cross join all_required as r
    inner join layers as l on l.required
    where f.required_layers <> r.required_layers
        and cast(floor(f.required_layers / l.bit) as bigint) % 2 = 0
),

wrong_size as (
    select patch_id, {{ s2lake_sorted_set('band') }} as bands from wrong_layers group by patch_id
),

codes_without_class as (
    select lc.patch_id, {{ s2lake_sorted_set('lc.clc_code') }} as codes
    from {{ ref('stg_patch_landcover') }} as lc
    left join {{ ref('clc2018_classes') }} as k on k.clc_code = lc.clc_code
    where lc.clc_code is not null and k.clc_code is null
    group by lc.patch_id
),

dataset_listed as (
    select count(*) > 0 as has_metadata from {{ ref('stg_ben_metadata') }}
)

{%- set no_list = s2lake_empty_string_list() %}

select
    c.patch_id,
    c.product_id,
    c.tile,
    c.patch_row,
    c.patch_col,
    c.sensing_time,
    coalesce(w.bands, {{ no_list }}) as wrong_size_bands,
    w.patch_id is not null as wrong_size,
    (c.nodata_in_bands or c.has_nodata) as contains_nodata,
    pr.product_id is null and not c.in_metadata as missing_product,
    d.has_metadata and not c.in_metadata as not_part_of_dataset,
    c.in_metadata,
    case when c.in_metadata then c.metadata_labels = 0 else not c.has_clc_class end as unlabelled,
    case
        when c.in_metadata and c.metadata_labels > 0 then null
        when c.in_metadata then 'no_metadata_labels'
        when c.has_clc_class then null
        when c.labels_missing then 'labels_not_built'
        when c.has_unknown_code then 'unknown_clc_code'
        when c.has_code_without_class then 'clc_nodata'
        else 'no_clc_coverage'
    end as unlabelled_reason,
    coalesce(x.codes, {{ no_list }}) as clc_codes_without_class
from {{ ref('int_patch_check_flags') }} as c
cross join dataset_listed as d
left join wrong_size as w on w.patch_id = c.patch_id
left join codes_without_class as x on x.patch_id = c.patch_id
left join {{ ref('stg_products') }} as pr on pr.product_id = c.product_id
