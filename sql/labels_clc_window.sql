-- clc: the CORINE polygons within the envelope of all patches (EPSG:3035). The job binds
-- {extent_wkt} (that envelope as WKT) before running the statement. A spatial filter with a literal
-- geometry lets SedonaDB and Sedona's GeoParquet reader skip whole row groups by their bbox
-- statistics (the table is Hilbert-sorted), so a regional run reads a fraction of Europe's CLC.
-- Input view clc_source: the reference table as loaded (code_18, geometry).
SELECT
    code_18,
    geometry
FROM clc_source
WHERE ST_Intersects(geometry, ST_SetSRID(ST_GeomFromText('{extent_wkt}'), 3035))
