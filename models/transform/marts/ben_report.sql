{#-
  The figures `s2lake ben report` prints, one row each in print order, value as the printed text. Every
  figure comes from the mart that holds it, so the report and the marts never disagree:
  seasons (season_stats, dataset patches), labels per patch (label_stats), the three BigEarthNet checks
  (patch_validation_summary), band means and standard deviations rounded to integers (listed_band_stats
  when var stats_list is set, else band_stats), the average number of 19-class labels from the reference
  maps (reference_map_labels, patches with at least one label) and the patches overlapping another
  (overlap_counts).
-#}
{%- set bands = ref('listed_band_stats') if var('stats_list') != '' else ref('band_stats') -%}
with seasons as (
    select distinct s.season, (s.season_order + 2) % 4 as figure_order
    from {{ ref('seasons') }} as s
),

season_rows as (
    select
        s.season as figure,
        s.figure_order,
        cast(coalesce(a.patches, 0) as {{ dbt.type_string() }}) as value
    from seasons as s
    left join {{ ref('season_stats') }} as a on a.scope = 'all' and a.season = s.season
),

label_rows as (
    select
        'average-num-labels' as figure,
        4 as figure_order,
        coalesce(max(cast(avg_labels_per_patch as {{ dbt.type_string() }})), '0.00') as value
    from {{ ref('label_stats') }}
    union all
    select
        'maximum-num-labels',
        5,
        cast(coalesce(max(max_labels_per_patch), 0) as {{ dbt.type_string() }})
    from {{ ref('label_stats') }}
),

check_rows as (
    select
        case check_name
            when 'wrong_size' then 'wrong-size'
            when 'contains_nodata' then 'with-no-data'
            else 'not-part-of-dataset'
        end as figure,
        5 + check_order as figure_order,
        cast(patches as {{ dbt.type_string() }}) as value
    from {{ ref('patch_validation_summary') }}
    where check_name in ('wrong_size', 'contains_nodata', 'not_part_of_dataset')
),

band_order as (
    select
        band,
        case when band = 'B8A' then 85 else 10 * cast(substring(band, 2, 2) as int) end as band_rank
    from {{ ref('s2_layers') }}
    where band <> 'SCL'
),

band_rows as (
    select
        concat(o.band, ' mean') as figure,
        100 + 2 * o.band_rank as figure_order,
        coalesce(cast(cast(round(b.mean) as bigint) as {{ dbt.type_string() }}), 'n/a') as value
    from band_order as o
    left join {{ bands }} as b on b.band = o.band
    union all
    select
        concat(o.band, ' std-dev'),
        101 + 2 * o.band_rank,
        coalesce(cast(cast(round(b.std) as bigint) as {{ dbt.type_string() }}), 'n/a')
    from band_order as o
    left join {{ bands }} as b on b.band = o.band
),

geom_rows as (
    select
        'geom-average-num-labels' as figure,
        1000 as figure_order,
        {{ s2lake_average_text('coalesce(sum(cast(label_count as bigint)), 0)', 'count(*)') }} as value
    from {{ ref('reference_map_labels') }}
    where label_count > 0
    union all
    select
        'geom-num-overlaps',
        1001,
        cast(overlapping_patches as {{ dbt.type_string() }})
    from {{ ref('overlap_counts') }}
    where scope = 'all'
)

select figure, cast(figure_order as int) as figure_order, value from season_rows
union all
select figure, cast(figure_order as int), value from label_rows
union all
select figure, cast(figure_order as int), value from check_rows
union all
select figure, cast(figure_order as int), value from band_rows
union all
select figure, cast(figure_order as int), value from geom_rows
