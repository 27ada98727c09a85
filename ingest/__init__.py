"""Ingestion: search DHuS, CDSE OData and STAC catalogues at once, select, rank mirrors, download, land.

Three plugin layers, each behind a small interface: catalogue backends (``ingest.catalogues``),
authentication (``ingest.auth``) and the HTTP transfer (``ingest.transfer``). Mirrors are declared as
data in the configuration (``s2lake.config.ingest``).
"""
