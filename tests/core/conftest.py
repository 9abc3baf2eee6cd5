"""Fixtures of the core tests: allocators that are closed afterwards, and the NRT leak check."""
from __future__ import annotations

import gc

import numpy as np
import pytest

import framealloc as fa

PARTICLE = np.dtype([("pos", "f4", 3), ("vel", "f4", 3), ("life", "f4")])


def snapshot(a: fa.SmartAlloc) -> bytes:
    """Every byte of an allocator's state arrays (arena rows and checkpoint stacks)."""
    return a._rows.tobytes() + a._cps.tobytes()


def nrt_stats():
    from numba.core.runtime import rtsys

    s = rtsys.get_allocation_stats()
    return s.alloc - s.free, s.mi_alloc - s.mi_free


@pytest.fixture
def alloc():
    a = fa.SmartAlloc()
    yield a
    a.close()


@pytest.fixture(autouse=True)
def leakcheck(request):
    """Every core test: NRT allocations equal frees over the test (arena chunks, heap fallbacks
    and views made in njit are all NRT allocations; the fixture collects garbage first, so
    allocators and views dropped by the test body must have released everything)."""
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
    if request.node.get_closest_marker("failed_malloc"):
        # NRT counts a malloc that returned NULL as an allocation with no free: compare meminfos.
        before, after = before[1:], after[1:]
    if request.node.get_closest_marker("error_from_callee"):
        # numba does not release what a function holds when an error propagates out of a
        # callee (its own np.concatenate leaks the same 2 references per error): not checked.
        return
    assert after == before, f"NRT leak: (alloc-free, mi_alloc-mi_free) went {before} -> {after}"
