{# Generic test: the combination of `columns` is unique (dbt_utils is not a dependency: no network). #}
{% test s2lake_unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
