-- Where each dataset patch lies in its tile, for the geographic splits: the Chebyshev distance of its
-- centroid from the centre of the square around the tile's patches, in half-patch units (the
-- centroid of patch (row, col) is at (col + 1/2, row + 1/2) patches from the tile origin, so all
-- arithmetic stays integer and every engine agrees), and its spatial block.
with extents as (
    select
        tile,
        min(patch_row) as row_min,
        max(patch_row) as row_max,
        min(patch_col) as col_min,
        max(patch_col) as col_max
    from {{ ref('int_dataset_patches') }}
    group by tile
)

select
    d.patch_id,
    d.tile,
    d.patch_row,
    d.patch_col,
    greatest(
        abs(2 * d.patch_col - e.col_min - e.col_max),
        abs(2 * d.patch_row - e.row_min - e.row_max)
    ) as centre_offset,
    cast(floor(d.patch_row / {{ var('split_block_patches') }}) as int) as block_row,
    cast(floor(d.patch_col / {{ var('split_block_patches') }}) as int) as block_col
from {{ ref('int_dataset_patches') }} as d
inner join extents as e on e.tile = d.tile
