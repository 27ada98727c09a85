{#
  The few places where DuckDB and Spark SQL differ. Models call these macros; each has a DuckDB
  (default__) and a Spark (spark__) version, chosen by adapter.dispatch.
#}

{#
  Sorted list of the distinct non-NULL values of `expr` in a group. DuckDB: list() then list_distinct, not
  list(distinct ...): a DISTINCT aggregate keeps a second hash table of every (group, value), which with
  ten million patches ran out of the 4 GB memory limit.
#}
{% macro s2lake_sorted_set(expr) %}
  {{ return(adapter.dispatch('s2lake_sorted_set', 's2lake')(expr)) }}
{% endmacro %}
{% macro default__s2lake_sorted_set(expr) -%}
  coalesce(list_sort(list_distinct(list({{ expr }}) filter (where {{ expr }} is not null))), [])
{%- endmacro %}
{% macro spark__s2lake_sorted_set(expr) -%}
  array_sort(collect_set({{ expr }}))
{%- endmacro %}

{# One output row per element of the list column `expr` (a select-list expression). #}
{% macro s2lake_explode(expr) %}
  {{ return(adapter.dispatch('s2lake_explode', 's2lake')(expr)) }}
{% endmacro %}
{% macro default__s2lake_explode(expr) -%}
  unnest({{ expr }})
{%- endmacro %}
{% macro spark__s2lake_explode(expr) -%}
  explode({{ expr }})
{%- endmacro %}

{# Elements of a list joined by `sep` into one string. #}
{% macro s2lake_join_list(expr, sep) %}
  {{ return(adapter.dispatch('s2lake_join_list', 's2lake')(expr, sep)) }}
{% endmacro %}
{% macro default__s2lake_join_list(expr, sep) -%}
  array_to_string({{ expr }}, '{{ sep }}')
{%- endmacro %}
{% macro spark__s2lake_join_list(expr, sep) -%}
  array_join({{ expr }}, '{{ sep }}')
{%- endmacro %}

{# Number of elements of a list. #}
{% macro s2lake_list_size(expr) %}
  {{ return(adapter.dispatch('s2lake_list_size', 's2lake')(expr)) }}
{% endmacro %}
{% macro default__s2lake_list_size(expr) -%}
  len({{ expr }})
{%- endmacro %}
{% macro spark__s2lake_list_size(expr) -%}
  size({{ expr }})
{%- endmacro %}

{#
  An exact integer type wide enough for sums of squares over millions of patches
  (14,400 px x 65,535^2 x 10^6 patches overflows int64): DECIMAL(38,0) on both engines.
#}
{% macro s2lake_exact_int() -%}
  decimal(38, 0)
{%- endmacro %}

{# The SQL type of a logical column type of an empty source view (string, string_list, boolean, int, double, timestamp). #}
{% macro s2lake_sql_type(kind) %}
  {{ return(adapter.dispatch('s2lake_sql_type', 's2lake')(kind)) }}
{% endmacro %}
{% macro default__s2lake_sql_type(kind) -%}
  {{ return({'string': 'varchar', 'string_list': 'varchar[]', 'boolean': 'boolean', 'int': 'integer',
             'double': 'double', 'timestamp': 'timestamptz'}[kind]) }}
{%- endmacro %}
{% macro spark__s2lake_sql_type(kind) -%}
  {{ return({'string': 'string', 'string_list': 'array<string>', 'boolean': 'boolean', 'int': 'int',
             'double': 'double', 'timestamp': 'timestamp'}[kind]) }}
{%- endmacro %}

{# Round half up to 2 decimals, as text ("2.50"): computed on integers so both engines print the same. #}
{% macro s2lake_average_text(total, count) -%}
  cast(cast(
    case when {{ count }} = 0 then 0
    else floor(cast(200 * {{ total }} + {{ count }} as double) / (2 * {{ count }})) / 100.0 end
    as decimal(10, 2)) as {{ dbt.type_string() }})
{%- endmacro %}

{# The integers from `low` to `high` (both included) as a list; empty when high < low. #}
{% macro s2lake_int_range(low, high) %}
  {{ return(adapter.dispatch('s2lake_int_range', 's2lake')(low, high)) }}
{% endmacro %}
{% macro default__s2lake_int_range(low, high) -%}
  generate_series({{ low }}, {{ high }})
{%- endmacro %}
{% macro spark__s2lake_int_range(low, high) -%}
  case when {{ high }} >= {{ low }} then sequence({{ low }}, {{ high }}) else array() end
{%- endmacro %}

{#
  The cell of a 1,200 m grid holding coordinate `x` (the largest k with k * 1200 <= x), exact: the division
  may round across a cell edge, k * 1200 may not (integers times 1200 are exact doubles).
#}
{% macro s2lake_cell_floor(x) -%}
  (cast(floor({{ x }} / 1200.0) as bigint)
    - case when cast(floor({{ x }} / 1200.0) as bigint) * 1200.0 > {{ x }} then 1 else 0 end
    + case when (cast(floor({{ x }} / 1200.0) as bigint) + 1) * 1200.0 <= {{ x }} then 1 else 0 end)
{%- endmacro %}

{# The last cell of that grid an open interval ending at `x` reaches (the largest k with k * 1200 < x). #}
{% macro s2lake_cell_below(x) -%}
  ({{ s2lake_cell_floor(x) }} - case when {{ s2lake_cell_floor(x) }} * 1200.0 = {{ x }} then 1 else 0 end)
{%- endmacro %}

{# An empty list of strings (the value of a list column for a row with no element). #}
{% macro s2lake_empty_string_list() %}
  {{ return(adapter.dispatch('s2lake_empty_string_list', 's2lake')()) }}
{% endmacro %}
{% macro default__s2lake_empty_string_list() -%}
  cast([] as varchar[])
{%- endmacro %}
{% macro spark__s2lake_empty_string_list() -%}
  cast(array() as array<string>)
{%- endmacro %}

{# Whether two lists share a non-NULL element (NULL or false when not: callers coalesce). #}
{% macro s2lake_lists_overlap(left, right) %}
  {{ return(adapter.dispatch('s2lake_lists_overlap', 's2lake')(left, right)) }}
{% endmacro %}
{% macro default__s2lake_lists_overlap(left, right) -%}
  list_has_any({{ left }}, {{ right }})
{%- endmacro %}
{% macro spark__s2lake_lists_overlap(left, right) -%}
  arrays_overlap({{ left }}, {{ right }})
{%- endmacro %}

{#
  Per-row tests over a list column (no explode and regroup by row): whether `pred` holds for some element
  (`var` names the element in `pred`; false for an empty or NULL list), and the sum of the distinct values
  of `expr` over the elements (0 when none; `expr` must not be NULL).
#}
{% macro s2lake_list_any(list, var, pred) %}
  {{ return(adapter.dispatch('s2lake_list_any', 's2lake')(list, var, pred)) }}
{% endmacro %}
{% macro default__s2lake_list_any(list, var, pred) -%}
  coalesce(list_bool_or(list_transform({{ list }}, {{ var }} -> coalesce({{ pred }}, false))), false)
{%- endmacro %}
{% macro spark__s2lake_list_any(list, var, pred) -%}
  coalesce(exists({{ list }}, {{ var }} -> coalesce({{ pred }}, false)), false)
{%- endmacro %}
{% macro s2lake_list_sum_distinct(list, var, expr) %}
  {{ return(adapter.dispatch('s2lake_list_sum_distinct', 's2lake')(list, var, expr)) }}
{% endmacro %}
{% macro default__s2lake_list_sum_distinct(list, var, expr) -%}
  coalesce(list_sum(list_distinct(list_transform({{ list }}, {{ var }} -> {{ expr }}))), 0)
{%- endmacro %}
{% macro spark__s2lake_list_sum_distinct(list, var, expr) -%}
  coalesce(aggregate(array_distinct(transform({{ list }}, {{ var }} -> {{ expr }})), cast(0 as bigint), (acc, x) -> acc + x), 0)
{%- endmacro %}

{# A map of `key` to `value` over the rows of a group (aggregate), and the value of a key (NULL when absent). #}
{% macro s2lake_map_agg(key, value) %}
  {{ return(adapter.dispatch('s2lake_map_agg', 's2lake')(key, value)) }}
{% endmacro %}
{% macro default__s2lake_map_agg(key, value) -%}
  map_from_entries(list(struct_pack(k := {{ key }}, v := {{ value }})))
{%- endmacro %}
{% macro spark__s2lake_map_agg(key, value) -%}
  map_from_entries(collect_list(struct({{ key }}, {{ value }})))
{%- endmacro %}
{% macro s2lake_map_get(map, key) %}
  {{ return(adapter.dispatch('s2lake_map_get', 's2lake')(map, key)) }}
{% endmacro %}
{% macro default__s2lake_map_get(map, key) -%}
  {{ map }}[{{ key }}]
{%- endmacro %}
{% macro spark__s2lake_map_get(map, key) -%}
  try_element_at({{ map }}, {{ key }})
{%- endmacro %}
