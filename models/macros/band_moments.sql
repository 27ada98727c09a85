{#
  Per band mean and population standard deviation of the valid pixels of the patches in `patches` (a
  relation with a patch_id column). NO_DATA pixels are not in valid_count/sum/sum_sq. Sums are
  DECIMAL(38,0) so they stay exact for millions of patches; std is sqrt(n*sum_sq - sum^2) / n, whose
  numerator is exact too. Shared by band_stats (dataset patches) and listed_band_stats (a given list).
#}
{% macro s2lake_band_moments(patches) %}
with sums as (
    select
        b.band,
        sum(cast(b.valid_count as {{ s2lake_exact_int() }})) as valid_pixels,
        sum(cast(b.pixel_sum as {{ s2lake_exact_int() }})) as pixel_sum,
        sum(cast(b.pixel_sum_sq as {{ s2lake_exact_int() }})) as pixel_sum_sq
    from {{ ref('stg_patch_band_stats') }} as b
    inner join {{ patches }} as d on d.patch_id = b.patch_id
    where b.band <> 'SCL'
    group by b.band
)

select
    s.band,
    l.resolution_m,
    s.valid_pixels,
    s.pixel_sum,
    s.pixel_sum_sq,
    cast(s.pixel_sum as double) / cast(s.valid_pixels as double) as mean,
    sqrt(cast(s.valid_pixels * s.pixel_sum_sq - s.pixel_sum * s.pixel_sum as double))
        / cast(s.valid_pixels as double) as std
from sums as s
inner join {{ ref('s2_layers') }} as l on l.band = s.band
{% endmacro %}

{#
  Patch ids of a gzip-compressed CSV, one per line in the first column (an optional header `patch_id` is
  skipped), read compressed by the engine. The path is checked by s2lake before dbt sees it (no quotes).
#}
{% macro s2lake_read_id_list(path) %}
  {{ return(adapter.dispatch('s2lake_read_id_list', 's2lake')(path)) }}
{% endmacro %}
{% macro default__s2lake_read_id_list(path) -%}
  select trim(patch_id) as patch_id
  from read_csv('{{ path }}', header = false, columns = {'patch_id': 'varchar'}, compression = 'gzip',
                delim = ',', quote = '"')
{%- endmacro %}
{% macro spark__s2lake_read_id_list(path) -%}
  select trim(_c0) as patch_id
  from csv.`{{ path }}`
{%- endmacro %}
