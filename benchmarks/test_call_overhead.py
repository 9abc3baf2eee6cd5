"""Context: what one Python -> @njit call costs when it receives the allocator.

Unboxing a SmartAlloc calls its ``_native_handle()`` (the calling thread's slot addresses); every
per-frame call from Python pays it. The control passes one int.
"""
from __future__ import annotations

import pytest
from numba import njit

from ._common import CONTROL, FRAME, timed

CALLS = 1000


@njit
def takes_alloc(alloc):
    return 0


@njit
def takes_int(x):
    return x


@pytest.mark.parametrize("competitor", [FRAME, CONTROL])
def test_call_overhead(benchmark, alloc, competitor):
    if competitor == FRAME:
        def fn():
            for _ in range(CALLS):
                takes_alloc(alloc)
    else:
        def fn():
            for _ in range(CALLS):
                takes_int(0)
    timed(benchmark, fn, group="ctx: Python -> @njit call with the allocator as argument",
          competitor=competitor, ops=CALLS, unit="call")
