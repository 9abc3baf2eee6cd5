"""P1, P2 and context: frame allocation inside @njit vs ``np.empty`` vs a bare-loop control.

Every kernel runs the same loop shape: ``FRAMES`` frames of ``PER_FRAME`` allocations, each
allocation written once and read back into an accumulator so it cannot be optimised away. The
frame side opens and closes its frames inside the kernel, so the arena stays hot (the measured
~2.2 ns/alloc of a bump is not diluted by Python calls). The control does the same writes into
one preallocated array: the physical floor of the loop, not an allocator.
"""
from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from ._common import CONTROL, EMPTY, FRAME, timed

# Each timed call does ~100 000 operations, so the Python->njit call (~1 us with a SmartAlloc
# argument, see test_call_overhead) stays below 1% of even the fastest competitor.
FRAMES = 100
PER_FRAME = 1000

PARTICLE = np.dtype([("pos", "f4", 3), ("vel", "f4", 3), ("life", "f4")])
BATCH = 1000            # records per particle batch (28 kB)
BATCHES_PER_FRAME = 100
BATCH_FRAMES = 1000


def make_array_kernels(count: int):
    """The three competitors for ``count`` float32 elements; ``count`` is a compile-time constant,
    as in ``alloc.frame_array(16, np.float32)`` written in user code."""

    @njit
    def frame(alloc, frames, n):
        acc = 0.0
        for _ in range(frames):
            alloc.begin_frame()
            for i in range(n):
                a = alloc.frame_array(count, np.float32)
                a[0] = i
                acc += a[0]
            alloc.end_frame()
        return acc

    @njit
    def empty(frames, n):
        acc = 0.0
        for _ in range(frames):
            for i in range(n):
                a = np.empty(count, np.float32)
                a[0] = i
                acc += a[0]
        return acc

    @njit
    def control(buf, frames, n):
        acc = 0.0
        for _ in range(frames):
            for i in range(n):
                a = buf
                a[0] = i
                acc += a[0]
        return acc

    return frame, empty, control


ARRAY_CASES = {
    "P1: 64 B array in @njit": make_array_kernels(16),
    "ctx: 4 KiB array in @njit": make_array_kernels(1024),
}


@pytest.mark.parametrize("group", list(ARRAY_CASES))
@pytest.mark.parametrize("competitor", [FRAME, EMPTY, CONTROL])
def test_array_alloc(benchmark, alloc, group, competitor):
    frame, empty, control = ARRAY_CASES[group]
    if competitor == FRAME:
        fn = lambda: frame(alloc, FRAMES, PER_FRAME)  # noqa: E731
    elif competitor == EMPTY:
        fn = lambda: empty(FRAMES, PER_FRAME)  # noqa: E731
    else:
        buf = np.zeros(1024, np.float32)
        fn = lambda: control(buf, FRAMES, PER_FRAME)  # noqa: E731
    timed(benchmark, fn, group=group, competitor=competitor, ops=FRAMES * PER_FRAME)


@njit
def particles_frame(alloc, frames, n):
    acc = 0.0
    for _ in range(frames):
        alloc.begin_frame()
        for i in range(n):
            ps = alloc.frame_alloc_batch(PARTICLE, BATCH)
            ps[0]["life"] = i
            acc += ps[0]["life"]
        alloc.end_frame()
    return acc


@njit
def particles_empty(frames, n):
    acc = 0.0
    for _ in range(frames):
        for i in range(n):
            ps = np.empty(BATCH, PARTICLE)
            ps[0]["life"] = i
            acc += ps[0]["life"]
    return acc


@njit
def particles_control(buf, frames, n):
    acc = 0.0
    for _ in range(frames):
        for i in range(n):
            ps = buf
            ps[0]["life"] = i
            acc += ps[0]["life"]
    return acc


@pytest.mark.parametrize("competitor", [FRAME, EMPTY, CONTROL])
def test_particle_batch(benchmark, alloc, competitor):
    """P2: a batch of 1000 particle records, allocation only (one field touched)."""
    if competitor == FRAME:
        fn = lambda: particles_frame(alloc, BATCH_FRAMES, BATCHES_PER_FRAME)  # noqa: E731
    elif competitor == EMPTY:
        fn = lambda: particles_empty(BATCH_FRAMES, BATCHES_PER_FRAME)  # noqa: E731
    else:
        buf = np.zeros(BATCH, PARTICLE)
        fn = lambda: particles_control(buf, BATCH_FRAMES, BATCHES_PER_FRAME)  # noqa: E731
    timed(benchmark, fn, group="P2: 1000-particle batch in @njit", competitor=competitor,
          ops=BATCH_FRAMES * BATCHES_PER_FRAME, unit="batch")


# -- The fresh-memory trap ---------------------------------------------------------------------
# A bump allocator hands out new addresses until the frame ends, while malloc gives np.empty the
# block it just freed, still in cache. With many large arrays per frame, each one fully written,
# the frame walks more memory than the caches hold. A checkpoint/rollback per use (a per-phase
# reset) keeps the arena hot again.

BIG = 16 * 1024          # float32 elements: 64 KiB per array
BIG_PER_FRAME = 1024     # 64 MiB of arena per frame, more than the last-level cache


@njit
def big_frame(alloc, n):
    acc = 0.0
    alloc.begin_frame()
    for i in range(n):
        a = alloc.frame_array(BIG, np.float32)
        a[:] = i
        acc += a[BIG - 1]
    alloc.end_frame()
    return acc


@njit
def big_frame_rollback(alloc, n):
    acc = 0.0
    alloc.begin_frame()
    cp = alloc.frame_checkpoint()
    for i in range(n):
        a = alloc.frame_array(BIG, np.float32)
        a[:] = i
        acc += a[BIG - 1]
        alloc.rollback_to(cp)
    alloc.end_frame()
    return acc


@njit
def big_empty(n):
    acc = 0.0
    for i in range(n):
        a = np.empty(BIG, np.float32)
        a[:] = i
        acc += a[BIG - 1]
    return acc


@pytest.mark.parametrize("competitor", [FRAME, FRAME + " + rollback", EMPTY])
def test_many_large_arrays(benchmark, alloc, competitor):
    """Context: 1024 fully written 64 KiB arrays per frame (the fresh-memory trap, shown as is)."""
    if competitor == FRAME:
        fn = lambda: big_frame(alloc, BIG_PER_FRAME)  # noqa: E731
    elif competitor == EMPTY:
        fn = lambda: big_empty(BIG_PER_FRAME)  # noqa: E731
    else:
        fn = lambda: big_frame_rollback(alloc, BIG_PER_FRAME)  # noqa: E731
    timed(benchmark, fn, group="ctx: 1024 x 64 KiB written arrays per frame",
          competitor=competitor, ops=BIG_PER_FRAME, unit="array")
