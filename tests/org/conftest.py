"""Fixtures of the organisation tests: the core's NRT leak check, on request.

Tests (or modules, through ``pytestmark = pytest.mark.usefixtures("nrt_leakcheck")``) that ask
for ``nrt_leakcheck`` assert that NRT allocations equal frees over the test, like every core
test does (see ``tests/core/conftest.py``).
"""
from __future__ import annotations

import gc

import pytest

from tests.core.conftest import nrt_stats


@pytest.fixture
def nrt_leakcheck():
    """NRT allocations and meminfos balance over the test (after collecting garbage)."""
    from numba.core.registry import cpu_target
    from numba.core.runtime import rtsys

    rtsys.initialize(cpu_target.target_context)
    gc.collect()
    # Objects alive now are not the test's: leave them out of later collections, so the one
    # after the test scans only what the test made (a full collection costs ~0.1 s per call
    # once numba is loaded; twice per test that was a third of the suite's time).
    gc.freeze()
    before = nrt_stats()
    yield
    gc.collect()
    after = nrt_stats()
    assert after == before, f"NRT leak: (alloc-free, mi_alloc-mi_free) went {before} -> {after}"
