"""`s2lake report OUT.html`: one self-contained HTML page describing (a selection of) the warehouse.

:mod:`.selection` picks the patches (DuckDB over the warehouse, ``--where``), :mod:`.figures` aggregates
them with SQL, :mod:`.patch_map` and :mod:`.charts` draw inline SVG, :mod:`.quicklooks` makes the RGB
samples, :mod:`.page` renders and writes the file. ``s2lake ben report`` draws with the same pieces.
"""
