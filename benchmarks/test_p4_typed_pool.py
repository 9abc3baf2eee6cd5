"""P4: typed-pool ``acquire()`` + ``release(i)`` inside @njit, and size-class pool context rows.

Every kernel runs ``N`` iterations of "get a slot, write one field of its record, add the field to
an accumulator, give the slot back", so the work per iteration is the same for all competitors:

* framealloc: ``pool.acquire()`` / ``pool.release(i)`` on a TypedPool passed into the kernel
  (generation check, double-release check, stats counters, growth in a cold call).
* control: the same pop/push written by hand on a free-list stack in a plain numpy array, no
  checks, no generations, no stats: the physical floor of a free list in numba.
* np.empty: what one record costs without a pool, ``np.empty(1, PARTICLE)`` per iteration.

The ratio table reads ns per acquire+release pair (``ops = N``); the target is <= 5 ns.
"""
from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from ._common import CONTROL, EMPTY, FRAME, timed

N = 100_000
PARTICLE = np.dtype([("pos", "f4", 3), ("vel", "f4", 3), ("life", "f4")])
P4 = "P4: typed-pool acquire+release in @njit"
POOL_NJIT = "ctx: size-class pool acquire+view+release (64 B) in @njit"
POOL_PY = "ctx: pool_alloc + free (64 B) from Python"


@njit
def _pool_cycle(pool, n):
    acc = 0.0
    for k in range(n):
        i = pool.acquire()
        d = pool.data
        d[i].life = k
        acc += d[i].life
        pool.release(i)
    return acc


@njit
def _control_cycle(data, stack, top, n):
    acc = 0.0
    for k in range(n):
        top[0] -= 1
        i = stack[top[0]]
        data[i].life = k
        acc += data[i].life
        stack[top[0]] = i
        top[0] += 1
    return acc


@njit
def _empty_cycle(n):
    acc = 0.0
    for k in range(n):
        d = np.empty(1, PARTICLE)
        d[0].life = k
        acc += d[0].life
    return acc


@pytest.mark.parametrize("competitor", [FRAME, CONTROL, EMPTY])
def test_typed_pool_acquire_release(benchmark, alloc, competitor):
    if competitor == FRAME:
        pool = alloc.typed_pool(PARTICLE, 1024)
        fn = lambda: _pool_cycle(pool, N)  # noqa: E731
    elif competitor == CONTROL:
        data = np.zeros(1024, PARTICLE)
        stack = np.arange(1023, -1, -1).astype(np.int32)
        top = np.array([1024], np.int64)
        fn = lambda: _control_cycle(data, stack, top, N)  # noqa: E731
    else:
        fn = lambda: _empty_cycle(N)  # noqa: E731
    result = timed(benchmark, fn, group=P4, competitor=competitor, ops=N, unit="acquire+release")
    assert result == sum(range(N))


@njit
def _blocks_cycle(pools, n):
    acc = 0.0
    for k in range(n):
        key = pools.acquire(64)
        v = pools.view(key, np.float64, 8)
        v[0] = k
        acc += v[0]
        pools.release(key)
    return acc


@njit
def _empty64_cycle(n):
    acc = 0.0
    for k in range(n):
        v = np.empty(8, np.float64)
        v[0] = k
        acc += v[0]
    return acc


@pytest.mark.parametrize("competitor", [FRAME, EMPTY])
def test_size_class_pool_in_njit(benchmark, alloc, competitor):
    pools = alloc.pools
    fn = ((lambda: _blocks_cycle(pools, N)) if competitor == FRAME
          else (lambda: _empty64_cycle(N)))
    result = timed(benchmark, fn, group=POOL_NJIT, competitor=competitor, ops=N,
                   unit="alloc+free")
    assert result == sum(range(N))


CALLS = 1000


@pytest.mark.parametrize("competitor", [FRAME, EMPTY])
def test_size_class_pool_from_python(benchmark, alloc, competitor):
    if competitor == FRAME:
        def fn():
            for _ in range(CALLS):
                alloc.pool_alloc(np.float64, 8).free()
    else:
        def fn():
            for _ in range(CALLS):
                np.empty(8, np.float64)
    timed(benchmark, fn, group=POOL_PY, competitor=competitor, ops=CALLS, unit="alloc+free")


# -- The loop a user writes: acquire, write, release each iteration; and bursts of 64 -----------
P4_NATURAL = "P4: typed pool, the natural loop and 64-bursts, in @njit"
BURST = 64


@njit
def _natural(pool, n):
    """What a particle system does per spawn/despawn: acquire, write the record, use it,
    release (no reuse of a view across iterations)."""
    acc = 0.0
    for k in range(n):
        i = pool.acquire()
        pool.data[i].life = k
        pool.data[i].vel[0] = 1.0
        acc += pool.data[i].life
        pool.release(i)
    return acc


@njit
def _bursts(pool, n):
    """64 acquires, a write to each, 64 releases: slots live together, as in a frame's spawns."""
    idx = np.empty(BURST, np.int64)
    acc = 0.0
    for k in range(n // BURST):
        for j in range(BURST):
            i = pool.acquire()
            pool.data[i].life = j
            idx[j] = i
        for j in range(BURST):
            acc += pool.data[idx[j]].life
            pool.release(idx[j])
    return acc


@pytest.mark.parametrize("competitor", [FRAME + " (natural loop)", FRAME + " (64-burst)"])
def test_typed_pool_natural_and_burst(benchmark, alloc, competitor):
    pool = alloc.typed_pool(PARTICLE, 1024)
    if competitor.endswith("(natural loop)"):
        fn = lambda: _natural(pool, N)  # noqa: E731
        expect = float(sum(range(N)))
    else:
        fn = lambda: _bursts(pool, N)  # noqa: E731
        expect = float((N // BURST) * sum(range(BURST)))
    result = timed(benchmark, fn, group=P4_NATURAL, competitor=competitor,
                   ops=(N // BURST) * BURST if "burst" in competitor else N,
                   unit="acquire+release")
    assert result == expect
