{#
  The layers of models/seeds/s2_layers.csv, each with a bit of its own (1, 2, 4, ... in band order): the
  layers a patch has are then one integer per patch (bit_or of their bits), an aggregate of fixed size.
  `required` is false for the SCL, checked only where the patch has one.
#}
{% macro s2lake_layer_bits() -%}
  select
      band,
      patch_pixels,
      band <> 'SCL' as required,
      cast(power(2, row_number() over (order by band) - 1) as bigint) as bit
  from {{ ref('s2_layers') }}
{%- endmacro %}
