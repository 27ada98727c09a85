-- Country areas from NUTS: the level-0 regions (one per CNTR_CODE).
SELECT
    cntr_code AS country_code,
    name_latn AS country_name,
    'nuts' AS source,
    geometry
FROM nuts
WHERE levl_code = 0
