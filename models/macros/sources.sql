{#
  The warehouse's Delta tables become views in the schema `s2lake_sources`, declared once as dbt
  sources (transform/staging/_sources.yml). Each engine reads them its own way, so the registration
  is dispatched: DuckDB through the delta extension's delta_scan, Spark through `<format>.`path``
  (delta on a cluster; parquet in the session test, which has no Delta jars).
#}
{% macro s2lake_source_tables() %}
  {{ return(['products', 'patches', 'patch_landcover', 'patch_country', 'patch_overlaps', 'label_runs',
             'ben_metadata', 'reference_map_polygons']) }}
{% endmacro %}

{#
  Columns the models read from each source that may be absent (var absent_sources, set by the runner from
  the warehouse): BigEarthNet's two tables on a SAFE-only warehouse, and the SAFE path's products and label
  tables on a warehouse holding only an imported BigEarthNet dataset. An absent source becomes an empty view
  of these typed columns, so every model builds and counts nothing from it.
#}
{% macro s2lake_optional_source_columns() %}
  {{ return({
    'products': [['product_id', 'string'], ['tile', 'string'], ['sensing_start', 'timestamp'], ['status', 'string']],
    'patch_landcover': [['patch_id', 'string'], ['tile', 'string'], ['clc_code', 'string'],
                        ['ben19_label', 'string'], ['fraction', 'double'], ['no_clc_coverage', 'boolean'],
                        ['run_id', 'string']],
    'patch_country': [['patch_id', 'string'], ['country_code', 'string'], ['run_id', 'string']],
    'patch_overlaps': [['patch_id_a', 'string'], ['patch_id_b', 'string'], ['tile_a', 'string'],
                       ['tile_b', 'string'], ['run_id', 'string']],
    'label_runs': [['run_id', 'string'], ['status', 'string']],
    'ben_metadata': [['patch_id', 'string'], ['source', 'string'], ['labels', 'string_list'],
                     ['ben19_labels', 'string_list'], ['split', 'string'],
                     ['country', 'string'], ['contains_seasonal_snow', 'boolean'],
                     ['contains_cloud_or_shadow', 'boolean']],
    'reference_map_polygons': [['patch_id', 'string'], ['clc_code', 'string']],
  }) }}
{% endmacro %}

{% macro s2lake_empty_view(name) %}
  {% set columns = s2lake_optional_source_columns()[name] %}
  {% set typed = [] %}
  {% for column in columns %}
    {% do typed.append('cast(null as ' ~ s2lake_sql_type(column[1]) ~ ') as ' ~ column[0]) %}
  {% endfor %}
  {{ return("create or replace view s2lake_sources." ~ name ~ " as select " ~ typed | join(', ') ~ " where 1 = 0") }}
{% endmacro %}

{# Runs one statement at a time (Spark's SQL endpoint takes a single statement per call). #}
{% macro s2lake_register_sources() %}
  {% if execute %}
    {% for statement in adapter.dispatch('s2lake_source_statements', 's2lake')() %}
      {% do run_query(statement) %}
    {% endfor %}
  {% endif %}
{% endmacro %}

{#
  Whether source `name` is absent from the warehouse. `s2lake models build` passes the list (var
  absent_sources); a plain `dbt build` leaves the var at `auto`, and DuckDB looks for the table's Delta log
  itself. On Spark a plain build assumes every table exists (pass --vars '{absent_sources: [...]}' otherwise).
#}
{% macro s2lake_is_absent(name) %}
  {% set absent = var('absent_sources') %}
  {% if absent == 'auto' %}
    {{ return(adapter.dispatch('s2lake_table_missing', 's2lake')(name)) }}
  {% endif %}
  {{ return(name in absent) }}
{% endmacro %}

{% macro default__s2lake_table_missing(name) %}
  {% set found = run_query("select count(*) from glob('" ~ var('source_root') ~ "/" ~ name ~ "/_delta_log/*.json')") %}
  {{ return(found.columns[0].values()[0] == 0) }}
{% endmacro %}

{% macro spark__s2lake_table_missing(name) %}
  {{ return(false) }}
{% endmacro %}

{% macro default__s2lake_source_statements() %}
  {% set statements = ['create schema if not exists s2lake_sources'] %}
  {% for name in s2lake_source_tables() %}
    {% if s2lake_is_absent(name) %}
      {% do statements.append(s2lake_empty_view(name)) %}
    {% else %}
      {% do statements.append(
        "create or replace view s2lake_sources." ~ name ~ " as select * from delta_scan('"
        ~ var('source_root') ~ "/" ~ name ~ "')") %}
    {% endif %}
  {% endfor %}
  {{ return(statements) }}
{% endmacro %}

{% macro spark__s2lake_source_statements() %}
  {% set statements = ['create database if not exists s2lake_sources'] %}
  {% for name in s2lake_source_tables() %}
    {% if s2lake_is_absent(name) %}
      {% do statements.append(s2lake_empty_view(name)) %}
    {% else %}
      {% do statements.append(
        "create or replace view s2lake_sources." ~ name ~ " as select * from " ~ var('source_format')
        ~ ".`" ~ var('source_root') ~ "/" ~ name ~ "`") %}
    {% endif %}
  {% endfor %}
  {{ return(statements) }}
{% endmacro %}

{#
  The label run whose rows count: the latest complete one (s2lake/tables/schemas.py, label_runs). A labels
  build writes its three tables in three commits and marks its run complete after the last, so a run
  killed in between never mixes with the previous one. Run ids sort by start time.
#}
{% macro s2lake_label_run() %}
  (select max(run_id) from {{ source('s2lake', 'label_runs') }} where status = 'complete')
{% endmacro %}
