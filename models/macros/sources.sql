{#
  The warehouse's Delta tables become views in the schema `s2lake_sources`, declared once as dbt
  sources (models/staging/_sources.yml). Each engine reads them its own way, so the registration
  is dispatched: DuckDB through the delta extension's delta_scan, Spark through `<format>.`path``
  (delta on a cluster; parquet in the session test, which has no Delta jars).
#}
{% macro s2lake_source_tables() %}
  {{ return(['products', 'patches', 'patch_landcover', 'patch_country', 'patch_overlaps', 'label_runs']) }}
{% endmacro %}

{# Runs one statement at a time (Spark's SQL endpoint takes a single statement per call). #}
{% macro s2lake_register_sources() %}
  {% if execute %}
    {% for statement in adapter.dispatch('s2lake_source_statements', 's2lake')() %}
      {% do run_query(statement) %}
    {% endfor %}
  {% endif %}
{% endmacro %}

{% macro default__s2lake_source_statements() %}
  {% set statements = ['create schema if not exists s2lake_sources'] %}
  {% for name in s2lake_source_tables() %}
    {% do statements.append(
      "create or replace view s2lake_sources." ~ name ~ " as select * from delta_scan('"
      ~ var('source_root') ~ "/" ~ name ~ "')") %}
  {% endfor %}
  {{ return(statements) }}
{% endmacro %}

{% macro spark__s2lake_source_statements() %}
  {% set statements = ['create database if not exists s2lake_sources'] %}
  {% for name in s2lake_source_tables() %}
    {% do statements.append(
      "create or replace view s2lake_sources." ~ name ~ " as select * from " ~ var('source_format')
      ~ ".`" ~ var('source_root') ~ "/" ~ name ~ "`") %}
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
