-- Means lie within the 16-bit digital number range and deviations are real numbers (not NaN).
select *
from {{ ref('band_stats') }}
where mean < 0 or mean > 65535 or not (std >= 0)
