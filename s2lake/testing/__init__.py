"""Test and benchmark infrastructure, never used by the product itself.

It ships inside the package so that ``tests/`` and ``bench/`` import one copy of it (bench scripts
are not part of the test suite and cannot import ``tests``).
"""
