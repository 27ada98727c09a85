-- ben_report holds the 35 printed figures: 4 seasons, 2 label figures, 3 checks, 12 bands x (mean,
-- std-dev), 2 reference-map figures.
select count(*) as figures
from {{ ref('ben_report') }}
having count(*) <> 35
