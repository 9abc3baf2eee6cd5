"""Fixtures of the transparent-frame tests: the mode installed, an allocator, and leak checks of
numba's runtime (NRT statistics) and of the mode's own chunks."""
from __future__ import annotations

import gc

import pytest

import framealloc as fa
from framealloc.transparent import transparent_status


def nrt_balance():
    from numba.core.runtime import rtsys

    s = rtsys.get_allocation_stats()
    return s.alloc - s.free, s.mi_alloc - s.mi_free


@pytest.fixture(scope="session", autouse=True)
def installed():
    assert fa.install_transparent() is True


@pytest.fixture
def alloc():
    a = fa.SmartAlloc(max_threads=80)
    yield a
    a.close()


@pytest.fixture(autouse=True)
def leakcheck():
    """Over each test: NRT allocations equal frees, and every chunk the test's scopes took went
    back to malloc once the test's arrays are gone."""
    from numba.core.registry import cpu_target
    from numba.core.runtime import rtsys

    rtsys.initialize(cpu_target.target_context)
    gc.collect()
    before, chunks = nrt_balance(), transparent_status().chunks_live
    yield
    gc.collect()
    assert nrt_balance() == before, "NRT leak"
    st = transparent_status()
    assert st.threads == 0, "a scope was left open"
    assert st.chunks_live == chunks, f"chunks leaked: {chunks} -> {st.chunks_live}"
