-- Per patch: which layers are not at their expected shape (a missing band counts as wrong; the SCL is
-- checked where the patch has one: BigEarthNet's patches ship without it), whether any layer has NO_DATA
-- pixels, whether the product has a metadata row, and whether any of the 44 CLC classes covers it (else
-- it is unlabelled: no ground truth, so not part of the dataset).
-- Patches of an imported BigEarthNet dataset carry their own metadata and labels (ben_metadata): for them
-- that row stands for the products row and its labels for the CLC classes; and once ben_metadata holds
-- any row, a patch without one is not part of the dataset.
with expected as (
    select
        p.patch_id,
        l.band,
        l.patch_pixels,
        b.height,
        b.width,
        b.valid_count
    from {{ ref('stg_patches') }} as p
    cross join {{ ref('s2_layers') }} as l
    left join {{ ref('stg_patch_band_stats') }} as b
        on b.patch_id = p.patch_id and b.band = l.band
),

per_patch as (
    select
        patch_id,
        {{ s2lake_sorted_set(
            "case when (height is null and band <> 'SCL') or height <> patch_pixels or width <> patch_pixels "
            ~ "then band end"
        ) }} as wrong_size_bands,
        max(case when valid_count < cast(height as bigint) * width then 1 else 0 end) = 1 as nodata_in_bands
    from expected
    group by patch_id
),

-- Codes outside the 44 classes come from CORINE's NODATA/unclassified polygons (999, 990, 995) or
-- from a reference layer loaded with --allow-unknown-codes; either way their area has no label.
landcover as (
    select
        p.patch_id,
        count(lc.patch_id) = 0 as labels_missing,
        max(case when k.clc_code is not null then 1 else 0 end) = 1 as has_clc_class,
        max(case when lc.clc_code is not null and k.clc_code is null and n.clc_code is null then 1 else 0 end)
        = 1 as has_unknown_code,
        {{ s2lake_sorted_set("case when lc.clc_code is not null and k.clc_code is null then lc.clc_code end") }}
            as clc_codes_without_class
    from {{ ref('stg_patches') }} as p
    left join {{ ref('stg_patch_landcover') }} as lc on lc.patch_id = p.patch_id
    left join {{ ref('clc2018_classes') }} as k on k.clc_code = lc.clc_code
    left join {{ ref('clc2018_nodata_codes') }} as n on n.clc_code = lc.clc_code
    group by p.patch_id
),

metadata as (
    select
        p.patch_id,
        m.patch_id is not null as in_metadata,
        case when m.labels is null then 0 else {{ s2lake_list_size('m.labels') }} end as metadata_labels
    from {{ ref('stg_patches') }} as p
    left join {{ ref('stg_ben_metadata') }} as m on m.patch_id = p.patch_id
),

dataset_listed as (
    select count(*) > 0 as has_metadata from {{ ref('stg_ben_metadata') }}
)

select
    p.patch_id,
    p.product_id,
    p.tile,
    c.wrong_size_bands,
    {{ s2lake_list_size('c.wrong_size_bands') }} > 0 as wrong_size,
    (c.nodata_in_bands or coalesce(p.has_nodata, false)) as contains_nodata,
    pr.product_id is null and not m.in_metadata as missing_product,
    d.has_metadata and not m.in_metadata as not_part_of_dataset,
    m.in_metadata,
    case when m.in_metadata then m.metadata_labels = 0 else not lc.has_clc_class end as unlabelled,
    case
        when m.in_metadata and m.metadata_labels > 0 then null
        when m.in_metadata then 'no_metadata_labels'
        when lc.has_clc_class then null
        when lc.labels_missing then 'labels_not_built'
        when lc.has_unknown_code then 'unknown_clc_code'
        when {{ s2lake_list_size('lc.clc_codes_without_class') }} > 0 then 'clc_nodata'
        else 'no_clc_coverage'
    end as unlabelled_reason,
    lc.clc_codes_without_class
from {{ ref('stg_patches') }} as p
inner join per_patch as c on c.patch_id = p.patch_id
inner join landcover as lc on lc.patch_id = p.patch_id
inner join metadata as m on m.patch_id = p.patch_id
cross join dataset_listed as d
left join {{ ref('stg_products') }} as pr on pr.product_id = p.product_id
