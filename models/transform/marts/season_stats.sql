-- Dataset patches per meteorological season (northern hemisphere: DJF winter, MAM spring, JJA summer,
-- SON fall) of the sensing date (UTC), overall, per country and per tile.
with patches as (
    select
        d.patch_id,
        d.tile,
        coalesce(c.country_code, 'none') as country_code,
        s.season,
        s.season_order
    from {{ ref('int_dataset_patches') }} as d
    inner join {{ ref('seasons') }} as s on s.month = month(d.sensing_time)
    left join {{ ref('stg_patch_country') }} as c on c.patch_id = d.patch_id
),

counts as (
    select 'all' as scope, 'all' as scope_value, season, season_order, count(*) as patches
    from patches group by season, season_order
    union all
    select 'country' as scope, country_code as scope_value, season, season_order, count(*) as patches
    from patches group by country_code, season, season_order
    union all
    select 'tile' as scope, tile as scope_value, season, season_order, count(*) as patches
    from patches group by tile, season, season_order
)

select
    scope,
    scope_value,
    season,
    season_order,
    patches,
    cast(patches as double) / sum(patches) over (partition by scope, scope_value) as share
from counts
