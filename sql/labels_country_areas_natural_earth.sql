-- Country areas from Natural Earth admin-0 (ISO 3166 alpha-2, ISO_A2_EH where ISO_A2 is -99).
SELECT
    iso_a2 AS country_code,
    name AS country_name,
    'natural_earth' AS source,
    geometry
FROM countries
