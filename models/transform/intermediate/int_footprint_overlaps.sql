-- Pairs of patches of one CRS whose footprints share interior points, from their bounds: a patch is an
-- axis-aligned square in its CRS (ulx, uly, lrx, lry), so two overlap exactly when both open intervals
-- intersect (strict inequalities: touching edges do not count). Plain SQL, so an imported BigEarthNet
-- dataset needs no `labels build`, and both engines agree; pairs across CRSs (UTM zones) come from
-- patch_overlaps, which the labels build computes in EPSG:3035.
select
    a.patch_id as patch_id_a,
    b.patch_id as patch_id_b
from {{ ref('stg_patches') }} as a
inner join {{ ref('stg_patches') }} as b
    on a.epsg = b.epsg
    and a.patch_id < b.patch_id
    and a.ulx < b.lrx and b.ulx < a.lrx
    and a.lry < b.uly and b.lry < a.uly
