"""P5: ``end_frame`` costs the same after 1 and after 100 000 allocations (it resets, O(1)).

Only ``end_frame`` is timed (pytest-benchmark pedantic mode); the allocations happen in the
setup of each round, inside one @njit call. ``end_frame`` is timed from Python
(``alloc.end_frame()``) and from @njit code (a kernel whose only statement is
``alloc.end_frame()``, so its time includes one Python -> @njit call; see test_call_overhead).

100 000 allocations of 64 B write 6.4 MB, which evicts the interpreter's and numba's own data from
the caches; the control makes 1 allocation and then writes 6.4 MB of unrelated memory, so the
difference between it and "after 100000 allocations" is what the allocations themselves cost.
The P5 rows compare those two (the same cache state); "after 1 allocation" (warm caches) is
context.
"""
from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from ._common import label

ROUNDS = 200
WARMUP_ROUNDS = 3
MANY = 100_000
POLLUTE = np.zeros(MANY * 16, np.float32)     # the bytes MANY 64 B allocations write
CASES = {
    "after 1 allocation": (1, False),
    f"after {MANY} allocations": (MANY, False),
    "control: after 1 allocation + 6.4 MB of other memory written": (1, True),
}


@njit
def fill(alloc, n):
    """Open a frame and make ``n`` 64 B allocations in it."""
    alloc.begin_frame()
    acc = 0.0
    for i in range(n):
        a = alloc.frame_array(16, np.float32)
        a[0] = i
        acc += a[0]
    return acc


@njit
def pollute(buf):
    """Write one float per 64 B of ``buf`` (as many cache lines as the allocations touch)."""
    for i in range(0, buf.size, 16):
        buf[i] += 1.0


@njit
def end_frame_njit(alloc):
    alloc.end_frame()


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("caller", ["Python", "@njit"])
def test_end_frame(benchmark, alloc, caller, case):
    n, dirty = CASES[case]
    end = alloc.end_frame if caller == "Python" else (lambda: end_frame_njit(alloc))

    def setup():
        fill(alloc, n)
        if dirty:
            pollute(POLLUTE)

    # Warm-up: compile the kernels and let the arena reach the size this frame needs.
    for _ in range(2):
        setup()
        end()
    label(benchmark, group=f"P5: end_frame called from {caller}", competitor=case, ops=1,
          unit="end_frame", allocations=n)
    benchmark.pedantic(end, setup=setup, rounds=ROUNDS, warmup_rounds=WARMUP_ROUNDS, iterations=1)
    assert not alloc.in_frame
