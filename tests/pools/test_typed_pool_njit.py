"""TypedPool inside @njit: the same object and methods, shared state with Python, growth in njit,
errors with codes, no NRT leaks (the core's leakcheck fixture runs around every test)."""
from __future__ import annotations

import gc

import numpy as np
import pytest
from numba import njit

import framealloc as fa
from framealloc.pool_codes import (
    DoubleFreeError,
    PoolError,
    PoolExhaustedError,
    PoolIndexError,
    StaleHandleError,
)
from framealloc.typed_pool import TypedPool

from .conftest import PARTICLE, pool_snapshot


@njit(cache=True)
def _spawn(pool, n, life):
    for _ in range(n):
        i = pool.acquire()
        d = pool.data                 # re-read after acquire: it may have grown
        d[i].life = life
        d[i].pos[0] = i
    return len(pool), pool.capacity


@njit(cache=True)
def _kill_dead(pool):
    d = pool.data
    killed = 0
    for i in pool.live_indices():
        if d[i].life <= 0.0:
            pool.release(i)
            killed += 1
    return killed


@njit(cache=True)
def _cycle(pool, n):
    acc = 0
    for _ in range(n):
        i = pool.acquire()
        acc += i
        pool.release(i)
    return acc


@njit(cache=True)
def _handles(pool):
    h = pool.acquire_handle()
    i = pool.index(h)
    g = pool.generation(i)
    same = pool.handle(i) == h
    alive = pool.is_alive(h)
    pool.release(h)
    return h, i, g, same, alive, pool.is_alive(h), pool.alive.sum()


@njit(cache=True)
def _release(pool, key):
    pool.release(key)


@njit(cache=True)
def _index(pool, key):
    return pool.index(key)


@njit(cache=True)
def _try(pool):
    i = pool.try_acquire()
    return -1 if i is None else i


@njit(cache=True)
def _many(pool, n):
    idx = pool.acquire_many(n)
    return idx


@njit(cache=True)
def _release_many(pool, idx):
    pool.release_many(idx)


def test_python_and_njit_share_one_pool():
    pool = TypedPool(PARTICLE, 8)
    a = pool.acquire()
    pool.data["life"][a] = 5.0
    live, cap = _spawn(pool, 3, 1.0)
    assert (live, cap) == (4, 8)
    assert pool.live_indices().tolist() == [0, 1, 2, 3]
    assert pool.data["life"][1:4].tolist() == [1.0, 1.0, 1.0]
    pool.data["life"][2] = -1.0
    assert _kill_dead(pool) == 1 and pool.live_indices().tolist() == [0, 1, 3]
    assert pool.acquire() == 2                    # released in njit, reused from Python
    pool.release(a)
    assert _cycle(pool, 5) == 5 * a               # LIFO: the same slot every time
    pool.close()


def test_growth_inside_njit_keeps_records_and_python_sees_it():
    pool = TypedPool(PARTICLE, 2)
    live, cap = _spawn(pool, 100, 3.0)
    assert live == 100 and cap >= 100 and pool.capacity == cap
    assert pool.info().grows >= 1
    assert (pool.data["life"][:100] == 3.0).all()
    assert pool.data["pos"][:100, 0].tolist() == list(range(100))
    pool.close()


def test_handles_and_generations_in_njit():
    pool = TypedPool(np.float64, 4)
    h, i, g, same, alive, alive_after, n_alive = _handles(pool)
    assert i == 0 and h == (g << 32) | i and g % 2 == 1 and same and alive
    assert not alive_after and n_alive == 0
    assert not pool.is_alive(h)
    j = pool.acquire()
    with pytest.raises(StaleHandleError) as ei:
        _index(pool, h)
    assert ei.value.code == "FA103"
    assert _index(pool, pool.handle(j)) == j
    pool.close()


def test_errors_in_njit_carry_codes_and_change_nothing():
    pool = TypedPool(PARTICLE, 4, policy="error")
    pool.acquire_many(3)
    pool.release(1)
    before = pool_snapshot(pool)
    for key, exc, code in [(1, DoubleFreeError, "FA101"), (7, DoubleFreeError, "FA101"),
                           (4, PoolIndexError, "FA104"), (-3, PoolIndexError, "FA104"),
                           ((9 << 32) | 2, StaleHandleError, "FA103")]:
        if key == 7:
            key = 3                           # never acquired
        with pytest.raises(exc) as ei:
            _release(pool, key)
        assert ei.value.code == code and str(ei.value).startswith(code)
        assert pool_snapshot(pool) == before
    with pytest.raises(DoubleFreeError):
        _release_many(pool, np.array([0, 2, 0]))
    assert pool_snapshot(pool) == before
    assert _many(pool, 2).tolist() == [1, 3]
    with pytest.raises(PoolExhaustedError) as ei:
        _many(pool, 1)
    assert ei.value.code == "FA105"
    with pytest.raises(PoolExhaustedError):
        _spawn(pool, 1, 1.0)
    assert _try(pool) == -1
    with pytest.raises(fa.AllocSizeError) as ei:
        _many(pool, -1)
    assert ei.value.code == "FA106"
    pool.close()
    with pytest.raises(PoolError) as ei:
        _cycle(pool, 1)
    assert ei.value.code == "FA109"
    with pytest.raises(PoolError) as ei:
        _release(pool, 0)
    assert ei.value.code == "FA109"


def test_many_in_njit():
    pool = TypedPool(np.int32, 4)
    idx = _many(pool, 10)
    assert idx.tolist() == list(range(10)) and len(pool) == 10
    _release_many(pool, idx[:5].astype(np.int32))
    assert pool.live_indices().tolist() == list(range(5, 10))
    pool.close()


def test_data_view_from_njit_outlives_the_pool():
    pool = TypedPool(np.float64, 16)
    _cycle(pool, 1)

    @njit
    def grab(pool):
        d = pool.data
        d[:] = 5.0
        return d

    d = grab(pool)
    pool.close()
    del pool
    gc.collect()
    assert (d == 5.0).all() and d.shape == (16,)
    del d


def test_njit_typing_errors():
    pool = TypedPool(np.float64, 4)

    @njit
    def bad(pool):
        pool.release(1.5)

    with pytest.raises(fa.PoolIndexError, match="^FA104: "):
        bad(pool)
    pool.close()


def test_typed_pool_type_is_registered_without_a_smartalloc():
    import subprocess
    import sys

    code = ("import numpy as np\nfrom numba import njit\nfrom framealloc.typed_pool import "
            "TypedPool\np = TypedPool(np.float32, 4)\nprint(njit(lambda p: p.acquire())(p))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=300).stdout.strip()
    assert out == "0"


@njit(cache=True)
def _raise_with_live_arrays(pool, pools, key):
    d = pool.data                          # NRT-owned views alive when the error is raised
    tmp = np.empty(8)
    tmp[:] = d.size
    blk = pools.view(pools.acquire(16), np.uint8, 16)
    pool.release(key)
    return tmp.sum() + blk.size


def test_errors_raised_with_live_arrays_do_not_leak(alloc):
    # The errors are raised by `raise` statements inlined into the caller, which numba cleans
    # up after (a raise inside an intrinsic or a callee would leak `d`, `tmp` and `blk`).
    pool = TypedPool(np.float64, 4)
    for key, exc in [(3, DoubleFreeError), (9, PoolIndexError), ((7 << 32) | 0, StaleHandleError)]:
        if key == (7 << 32):
            pool.acquire()
        with pytest.raises(exc):
            _raise_with_live_arrays(pool, alloc.pools, key)
    pool.close()
