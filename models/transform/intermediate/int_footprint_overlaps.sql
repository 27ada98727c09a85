-- Pairs of patches of one CRS whose footprints share interior points, from their bounds: a patch is an
-- axis-aligned square in its CRS (ulx, uly, lrx, lry), so two overlap exactly when both open intervals
-- intersect (strict inequalities: touching edges do not count). Plain SQL, so an imported BigEarthNet
-- dataset needs no `labels build`, and both engines agree; pairs across CRSs (UTM zones) come from
-- patch_overlaps, which the labels build computes in EPSG:3035.
--
-- Candidates are the patches sharing a cell of a 1,200 m grid (one patch, so a patch on the patch grid
-- lies in one cell): a join on the CRS alone compared every pair of a UTM zone, quadratic (105 s for one
-- tile of four dates). A patch is listed in the cells its open intervals reach (at least the cell of its
-- lower corner), and a pair is kept in one cell only: that of the lower corner of the two intervals'
-- intersection, (greatest ulx, greatest lry), which both patches reach whenever the bound test holds. The
-- bound test itself is unchanged, so the pairs are exactly those of the comparison of every pair.
with cells_x as (
    select
        patch_id,
        epsg,
        ulx,
        uly,
        lrx,
        lry,
        {{ s2lake_cell_floor('ulx') }} as low_x,
        {{ s2lake_cell_floor('lry') }} as low_y,
        {{ s2lake_explode(s2lake_int_range(
            s2lake_cell_floor('ulx'), 'greatest(' ~ s2lake_cell_floor('ulx') ~ ', ' ~ s2lake_cell_below('lrx') ~ ')'
        )) }} as cell_x
    from {{ ref('stg_patches') }}
),

cells as (
    select
        *,
        {{ s2lake_explode(s2lake_int_range(
            'low_y', 'greatest(low_y, ' ~ s2lake_cell_below('uly') ~ ')'
        )) }} as cell_y
    from cells_x
)

select
    a.patch_id as patch_id_a,
    b.patch_id as patch_id_b
from cells as a
inner join cells as b
    on a.epsg = b.epsg
    and a.cell_x = b.cell_x
    and a.cell_y = b.cell_y
    and a.patch_id < b.patch_id
    and a.ulx < b.lrx and b.ulx < a.lrx
    and a.lry < b.uly and b.lry < a.uly
where a.cell_x = greatest(a.low_x, b.low_x) and a.cell_y = greatest(a.low_y, b.low_y)
