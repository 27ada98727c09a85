{#-
  Geographic train/validation/test split of the dataset patches. Not random, deterministic, and every
  dataset patch gets exactly one split. Methods (var split_method):
  * concentric (default, reBEN): per tile, concentric squares around the centre of the tile's
    patches, by patch centroid: inner square test, middle ring validation, outer ring train. Places
    are taken from the centre outwards (Chebyshev distance of the centroid, then row, column) until
    the square holds test_share of the tile's patches, then validation_share more; so the shares are
    exact (to one place) even for partial tiles and small grids, where squares cut by area alone would
    be far off (a 10 x 10 grid has only 5 rings).
  * train_test: the same squares without the validation ring (it goes to train).
  * blocks: spatial blocks of split_block_patches x split_block_patches patches, stratified by the
    block's dominant label: within each stratum, blocks in a fixed pseudo-random order (md5 of the
    block id, identical on every engine) fill train, then validation, then test by patch share.
-#}
{%- set method = var('split_method') -%}
{%- if method not in ['concentric', 'train_test', 'blocks'] -%}
  {{ exceptions.raise_compiler_error("var split_method must be concentric, train_test or blocks, not '" ~ method ~ "'") }}
{%- endif -%}
{%- set train_share = var('split_train_share') | float -%}
{%- set validation_share = 0.0 if method == 'train_test' else var('split_validation_share') | float -%}
{%- set test_share = 1.0 - train_share - (var('split_validation_share') | float) -%}
{%- if train_share <= 0 or test_share <= 0 or validation_share < 0 -%}
  {{ exceptions.raise_compiler_error("split shares must be positive and sum to at most 1: train " ~ train_share ~ ", validation " ~ validation_share) }}
{%- endif -%}

-- depends_on: {{ ref('patch_labels') }} (blocks reads the label sets)
with positions as (
    select * from {{ ref('int_split_positions') }}
),

{% if method == 'blocks' %}
block_labels as (
    select p.tile, p.block_row, p.block_col, l.label, count(*) as n
    from positions as p
    inner join (
        select patch_id, {{ s2lake_explode('labels') }} as label from {{ ref('patch_labels') }}
    ) as l on l.patch_id = p.patch_id
    group by p.tile, p.block_row, p.block_col, l.label
),

dominant as (
    select tile, block_row, block_col, label
    from (
        select
            *,
            row_number() over (partition by tile, block_row, block_col order by n desc, label) as rank_in_block
        from block_labels
    ) as ranked
    where rank_in_block = 1
),

blocks as (
    select
        p.tile,
        p.block_row,
        p.block_col,
        coalesce(max(d.label), 'none') as stratum,
        count(*) as patches,
        md5(concat(
            p.tile, '/', cast(p.block_row as {{ dbt.type_string() }}), '/', cast(p.block_col as {{ dbt.type_string() }})
        )) as block_hash
    from positions as p
    left join dominant as d
        on d.tile = p.tile and d.block_row = p.block_row and d.block_col = p.block_col
    group by p.tile, p.block_row, p.block_col
),

ordered as (
    select
        *,
        coalesce(sum(patches) over (
            partition by stratum order by block_hash rows between unbounded preceding and 1 preceding
        ), 0) as patches_before,
        sum(patches) over (partition by stratum) as stratum_patches
    from blocks
),

assigned as (
    select
        p.patch_id,
        p.tile,
        p.patch_row,
        p.patch_col,
        case
            when cast(o.patches_before as double) / o.stratum_patches < {{ train_share }} then 'train'
            when cast(o.patches_before as double) / o.stratum_patches < {{ train_share + validation_share }}
                then 'validation'
            else 'test'
        end as split
    from positions as p
    inner join ordered as o
        on o.tile = p.tile and o.block_row = p.block_row and o.block_col = p.block_col
)
{% else %}
places as (
    -- Patches of several dates at one place share the place's split (no leakage between splits).
    select tile, patch_row, patch_col, max(centre_offset) as centre_offset, count(*) as patches
    from positions
    group by tile, patch_row, patch_col
),

ordered as (
    select
        *,
        coalesce(sum(patches) over (
            partition by tile order by centre_offset, patch_row, patch_col
            rows between unbounded preceding and 1 preceding
        ), 0) as patches_before,
        sum(patches) over (partition by tile) as tile_patches
    from places
),

assigned as (
    select
        p.patch_id,
        p.tile,
        p.patch_row,
        p.patch_col,
        case
            when cast(o.patches_before as double) < {{ test_share }} * o.tile_patches then 'test'
            when cast(o.patches_before as double) < {{ test_share + validation_share }} * o.tile_patches
                then 'validation'
            else 'train'
        end as split
    from positions as p
    inner join ordered as o
        on o.tile = p.tile and o.patch_row = p.patch_row and o.patch_col = p.patch_col
)
{% endif %}

select
    patch_id,
    tile,
    patch_row,
    patch_col,
    split,
    '{{ method }}' as split_method
from assigned
