"""framealloc benchmark suite (pytest-benchmark); run ``python benchmarks/run.py``.

Not part of the test run: ``pytest`` collects ``tests/`` only (``testpaths``).
"""
