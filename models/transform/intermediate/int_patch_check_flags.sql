-- Per patch, the facts int_patch_checks reports, as numbers and flags only: the rows of every per-patch
-- source (the patch, its layers, its CLC codes, its metadata row) stacked and grouped by patch_id once.
-- Joining them on the ~70-byte patch id held one hash table of ten million keys per source (thirteen
-- times that for the layers) and a list per patch: more than DuckDB's 4 GB at continental scale. An
-- aggregation of fixed-size values spills by partition; the lists (wrong layers, codes without a class)
-- concern the few flagged patches and are made from these flags in int_patch_checks.
with layers as (
    {{ s2lake_layer_bits() }}
),

layer_rows as (
    select
        b.patch_id,
        case
            when (b.height is null and l.band <> 'SCL') or b.height <> l.patch_pixels or b.width <> l.patch_pixels
                then 1 else 0
        end as wrong_band,
        case when l.required then l.bit else 0 end as required_bit,
        case when b.valid_count < cast(b.height as bigint) * b.width then 1 else 0 end as band_nodata
    from {{ ref('stg_patch_band_stats') }} as b
    inner join layers as l on l.band = b.band
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

stacked as (
    select
        patch_id, product_id, tile, 1 as is_patch, case when has_nodata then 1 else 0 end as has_nodata,
        0 as wrong_band, cast(0 as bigint) as required_bit, 0 as band_nodata,
        0 as landcover_row, 0 as clc_class, 0 as unknown_code, 0 as code_without_class,
        0 as in_metadata, 0 as metadata_labels
    from {{ ref('stg_patches') }}
    union all
    select patch_id, {{ no_string }}, {{ no_string }}, 0, 0, wrong_band, required_bit, band_nodata, 0, 0, 0, 0, 0, 0
    from layer_rows
    union all
    select
        patch_id, {{ no_string }}, {{ no_string }}, 0, 0, 0, 0, 0,
        1, clc_class, unknown_code, code_without_class, 0, 0
    from landcover_rows
    union all
    select
        patch_id, {{ no_string }}, {{ no_string }}, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        1, case when labels is null then 0 else {{ s2lake_list_size('labels') }} end
    from {{ ref('stg_ben_metadata') }}
)

select
    patch_id,
    max(product_id) as product_id,
    max(tile) as tile,
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
