{#
  The patches a report covers (var report_scope): `s2lake ben report DATASET_DIR` imports the dataset and
  builds the marts over that dataset's patches only, although the warehouse may hold other datasets and
  SAFE-derived patches. The var names a gzip-compressed CSV of patch ids (written by s2lake into dbt's state
  folder, read by the engine like --stats-list); every staging model keeps the rows of those patches, so
  every mart, check and figure is the dataset's. Empty (the default, `s2lake models build`): all patches.
#}
{% macro s2lake_in_report_scope(column) -%}
  {%- if var('report_scope') != '' -%}
    {{ column }} in (select patch_id from ({{ s2lake_read_id_list(var('report_scope')) }}) as report_scope)
  {%- else -%}
    1 = 1
  {%- endif -%}
{%- endmacro %}
