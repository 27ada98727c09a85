-- Per patch, the facts int_patch_checks reports (and the patch's place and date, which int_dataset_patches
-- takes from here instead of joining the patches again), as numbers and flags only: the rows of every per-patch
-- source (the patch with its layers' facts, its CLC codes, its metadata row) stacked and grouped by patch_id once.
-- Joining them on the ~70-byte patch id held one hash table of ten million keys per source (thirteen
-- times that for the layers) and a list per patch: more than DuckDB's 4 GB at continental scale. An
-- aggregation of fixed-size values spills by partition; the lists (wrong layers, codes without a class)
-- concern the few flagged patches and are made from these flags in int_patch_checks.
with layers as (
    {{ s2lake_layer_bits() }}
),

-- The layers as two maps (one row), looked up per element of a patch's band_stats list in the patch's own row:
-- exploding the thirteen layers of ten million patches and grouping them back by patch id was the slowest
-- model at continental scale (twice the time per patch of one million). Bands outside the layers count
-- for nothing, as the inner join to the layers they replace did.
layer_maps as (
    select
        {{ s2lake_map_agg('band', 'patch_pixels') }} as pixels,
        {{ s2lake_map_agg('band', 'case when required then bit else 0 end') }} as required_bit
    from layers
),

{%- set pixels = s2lake_map_get('m.pixels', 's.band') %}

-- Products by a small integer: a ~60-byte product id carried through the aggregation by max() held a string per
-- patch and made it twice as slow per patch at ten million patches as at one million.
products as (
    select product_id, row_number() over (order by product_id) as product_key
    from (select distinct product_id from {{ ref('stg_patches') }}) as d
),

patch_rows as (
    select
        p.patch_id,
        k.product_key,
        p.tile,
        p.patch_row,
        p.patch_col,
        p.sensing_time,
        case when p.has_nodata then 1 else 0 end as has_nodata,
        case when {{ s2lake_list_any('p.band_stats', 's',
            pixels ~ " is not null and ((s.height is null and s.band <> 'SCL') or s.height <> " ~ pixels
            ~ " or s.width <> " ~ pixels ~ ")") }} then 1 else 0 end as wrong_band,
        {{ s2lake_list_sum_distinct('p.band_stats', 's',
            'coalesce(' ~ s2lake_map_get('m.required_bit', 's.band') ~ ', cast(0 as bigint))') }} as required_bit,
        case when {{ s2lake_list_any('p.band_stats', 's',
            pixels ~ ' is not null and s.valid_count < cast(s.height as bigint) * s.width') }} then 1 else 0 end
            as band_nodata
    from {{ ref('stg_patches') }} as p
    cross join layer_maps as m
    left join products as k on k.product_id = p.product_id
),

-- Codes outside the 44 classes come from CORINE's NODATA/unclassified polygons (999, 990, 995) or
-- from a reference layer loaded with --allow-unknown-codes; either way their area has no label.
landcover_rows as (
    select
        lc.patch_id,
        case when k.clc_code is not null then 1 else 0 end as clc_class,
        case when lc.clc_code is not null and k.clc_code is null and n.clc_code is null then 1 else 0 end
            as unknown_code,
        case when lc.clc_code is not null and k.clc_code is null then 1 else 0 end as code_without_class
    from {{ ref('stg_patch_landcover') }} as lc
    left join {{ ref('clc2018_classes') }} as k on k.clc_code = lc.clc_code
    left join {{ ref('clc2018_nodata_codes') }} as n on n.clc_code = lc.clc_code
),

{%- set no_string = 'cast(null as ' ~ dbt.type_string() ~ ')' %}
{%- set no_place = 'cast(null as bigint), ' ~ no_string ~ ', cast(null as int), cast(null as int), cast(null as '
    ~ s2lake_sql_type('timestamp') ~ ')' %}

stacked as (
    select
        patch_id, product_key, tile, patch_row, patch_col, sensing_time,
        1 as is_patch, has_nodata, wrong_band, required_bit, band_nodata,
        0 as landcover_row, 0 as clc_class, 0 as unknown_code, 0 as code_without_class,
        0 as in_metadata, 0 as metadata_labels
    from patch_rows
    union all
    select
        patch_id, {{ no_place }}, 0, 0, 0, cast(0 as bigint), 0,
        1, clc_class, unknown_code, code_without_class, 0, 0
    from landcover_rows
    union all
    select
        patch_id, {{ no_place }}, 0, 0, 0, cast(0 as bigint), 0, 0, 0, 0, 0,
        1, case when labels is null then 0 else {{ s2lake_list_size('labels') }} end
    from {{ ref('stg_ben_metadata') }}
),

per_patch as (
    select
        patch_id,
        max(product_key) as product_key,
        max(tile) as tile,
        max(patch_row) as patch_row,
        max(patch_col) as patch_col,
        max(sensing_time) as sensing_time,
        max(has_nodata) = 1 as has_nodata,
        max(wrong_band) = 1 as has_wrong_band,
        bit_or(required_bit) as required_layers,
        max(band_nodata) = 1 as nodata_in_bands,
        sum(landcover_row) = 0 as labels_missing,
        max(clc_class) = 1 as has_clc_class,
        max(unknown_code) = 1 as has_unknown_code,
        max(code_without_class) = 1 as has_code_without_class,
        max(in_metadata) = 1 as in_metadata,
        max(metadata_labels) as metadata_labels
    from stacked
    group by patch_id
    having max(is_patch) = 1
)

select
    f.patch_id,
    k.product_id,
    f.tile,
    f.patch_row,
    f.patch_col,
    f.sensing_time,
    f.has_nodata,
    f.has_wrong_band,
    f.required_layers,
    f.nodata_in_bands,
    f.labels_missing,
    f.has_clc_class,
    f.has_unknown_code,
    f.has_code_without_class,
    f.in_metadata,
    f.metadata_labels
from per_patch as f
left join products as k on k.product_key = f.product_key
