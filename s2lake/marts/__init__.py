"""The dbt project in ``models/``, run from Python: profile values, vars, the DuckDB→Delta plugin."""
