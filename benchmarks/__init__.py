"""Benchmarks: each module prints its figures next to a baseline measured in the same run.

Run one with ``.venv/bin/python -m benchmarks.<name>`` from the repository root, or all
with ``make bench``. They import only the installed ``cityaware`` package (shared
helpers live in :mod:`cityaware.api.testing`), never the tests.
"""
