"""The dbt project in ``models/``, run from Python: profile values, vars, the DuckDB→Delta plugin.

Named for the tool it drives. Imports are absolute, so ``from dbt...`` in these modules is always
dbt-core itself and ``s2lake.dbt`` is always this package.
"""
