"""P6: ``alloc.frame_array(16, np.float32)`` called from Python vs ``np.empty``.

Each timed call makes ``CALLS`` allocations written the way user code would write them (attribute
lookups included); the frame side opens and closes one frame around them (amortised: ~2 ns per
allocation). The control is the same loop calling nothing, so its time is the loop's own cost.
"""
from __future__ import annotations

import numpy as np
import pytest

from ._common import CONTROL, EMPTY, FRAME, timed

CALLS = 1000
F32 = np.dtype(np.float32)
EMPTY_DT = EMPTY + " (pre-made dtype)"


@pytest.mark.parametrize("competitor", [FRAME, EMPTY, EMPTY_DT, CONTROL])
def test_python_frame_array(benchmark, alloc, competitor):
    if competitor == FRAME:
        def fn():
            alloc.begin_frame()
            for _ in range(CALLS):
                alloc.frame_array(16, np.float32)
            alloc.end_frame()
    elif competitor == EMPTY:
        def fn():
            for _ in range(CALLS):
                np.empty(16, np.float32)
    elif competitor == EMPTY_DT:
        def fn():
            for _ in range(CALLS):
                np.empty(16, F32)
    else:
        def fn():
            for _ in range(CALLS):
                pass
    timed(benchmark, fn, group="P6: frame_array(16, float32) from Python", competitor=competitor,
          ops=CALLS, unit="alloc")
