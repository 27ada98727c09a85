{# Generic test: the model has exactly as many rows as `other` (nothing dropped, nothing duplicated). #}
{% test s2lake_row_count_equals(model, other) %}
select *
from (select count(*) as n from {{ model }}) as a
cross join (select count(*) as m from {{ other }}) as b
where a.n <> b.m
{% endtest %}
