"""P3: one allocation per ``prange`` iteration, 2 threads: frame sub-arenas vs ``np.empty``.

Traps handled here (see the numba findings):

* ``np.empty`` with a loop-invariant size is hoisted out of a ``prange`` body, which would time one
  allocation per thread. Its size depends on the index (``16 + (i & 1)`` floats), and the frame
  side allocates the same sizes.
* ``numba.get_thread_id()`` written in user code is an opaque call per iteration (~4 ns, not
  hoisted), so the control does not use it: it writes ``scratch[i, 0]`` of a preallocated
  ``(n, 17)`` array, the same bytes per iteration the allocators hand out.

Each prange region runs ``PER_REGION`` iterations: with 1000 the region launch (~1 us) would
dominate every competitor; ``test_prange_small_regions`` shows that case for context.
"""
from __future__ import annotations

import numba
import numpy as np
import pytest
from numba import njit, prange

from ._common import CONTROL, EMPTY, FRAME, timed

THREADS = 2
FRAMES = 20
PER_REGION = 10_000
SMALL_REGION = 1000

pytestmark = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < THREADS,
                                reason=f"needs {THREADS} numba threads")


@pytest.fixture
def two_threads():
    before = numba.get_num_threads()
    numba.set_num_threads(THREADS)
    yield
    numba.set_num_threads(before)


@njit(parallel=True)
def frame_reduce(alloc, frames, n):
    acc = 0.0
    for _ in range(frames):
        alloc.begin_frame()
        for i in prange(n):
            a = alloc.frame_array(16 + (i & 1), np.float32)
            a[0] = i
            acc += a[0]
        alloc.end_frame()
    return acc


@njit(parallel=True)
def empty_reduce(frames, n):
    acc = 0.0
    for _ in range(frames):
        for i in prange(n):
            a = np.empty(16 + (i & 1), np.float32)
            a[0] = i
            acc += a[0]
    return acc


@njit(parallel=True)
def control_reduce(scratch, frames, n):
    acc = 0.0
    for _ in range(frames):
        for i in prange(n):
            scratch[i, 0] = i
            acc += scratch[i, 0]
    return acc


# The same loops with the result stored per iteration (out[i]) instead of a reduction.

@njit(parallel=True)
def frame_store(alloc, out, frames, n):
    for _ in range(frames):
        alloc.begin_frame()
        for i in prange(n):
            a = alloc.frame_array(16 + (i & 1), np.float32)
            a[0] = i
            out[i] = a[0]
        alloc.end_frame()


@njit(parallel=True)
def empty_store(out, frames, n):
    for _ in range(frames):
        for i in prange(n):
            a = np.empty(16 + (i & 1), np.float32)
            a[0] = i
            out[i] = a[0]


@njit(parallel=True)
def control_store(scratch, out, frames, n):
    for _ in range(frames):
        for i in prange(n):
            scratch[i, 0] = i
            out[i] = scratch[i, 0]


def _fn(variant, competitor, alloc, frames, n):
    scratch = np.zeros((n, 17), np.float32)
    out = np.zeros(n, np.float32)
    if variant == "reduce":
        return {FRAME: lambda: frame_reduce(alloc, frames, n),
                EMPTY: lambda: empty_reduce(frames, n),
                CONTROL: lambda: control_reduce(scratch, frames, n)}[competitor]
    return {FRAME: lambda: frame_store(alloc, out, frames, n),
            EMPTY: lambda: empty_store(out, frames, n),
            CONTROL: lambda: control_store(scratch, out, frames, n)}[competitor]


@pytest.mark.parametrize("competitor", [FRAME, EMPTY, CONTROL])
def test_prange_alloc(benchmark, alloc, two_threads, competitor):
    timed(benchmark, _fn("reduce", competitor, alloc, FRAMES, PER_REGION),
          group="P3: 64-68 B array per prange iteration, 2 threads", competitor=competitor,
          ops=FRAMES * PER_REGION, threads=THREADS, per_region=PER_REGION)


@pytest.mark.parametrize("competitor", [FRAME, EMPTY, CONTROL])
def test_prange_alloc_store(benchmark, alloc, two_threads, competitor):
    timed(benchmark, _fn("store", competitor, alloc, FRAMES, PER_REGION),
          group="ctx: P3 with out[i] = a[0] instead of a reduction", competitor=competitor,
          ops=FRAMES * PER_REGION, threads=THREADS, per_region=PER_REGION)


@pytest.mark.parametrize("competitor", [FRAME, EMPTY, CONTROL])
def test_prange_small_regions(benchmark, alloc, two_threads, competitor):
    frames = FRAMES * PER_REGION // SMALL_REGION
    timed(benchmark, _fn("reduce", competitor, alloc, frames, SMALL_REGION),
          group="ctx: P3 with 1000 iterations per prange region", competitor=competitor,
          ops=frames * SMALL_REGION, threads=THREADS, per_region=SMALL_REGION)
