"""Lifetimes across the Python/@njit boundary: what compiled code holds stays valid.

* A compiled call holds a lease on every allocator object it received: close() from another
  thread waits for it (the thread-fault suite covers the interleavings); the exact count comes
  back to zero also when the call raises.
* A pool's call also holds the pool's allocator (its kernels charge the allocator's tables), so
  dropping the last reference to the allocator meanwhile is harmless.
* @njit generators cannot take any of them (FA019): numba keeps a suspended generator's
  arguments as raw values without a reference, so it could resume after the memory is gone.
"""
from __future__ import annotations

import gc
import threading
import weakref

import numpy as np
import pytest
from numba import njit

import framealloc as fa

from framealloc.kernels._intrinsics import atomic_load
from tests.core.conftest import leakcheck  # noqa: F401  (fixture)


def _objects():
    a = fa.SmartAlloc()
    return a, {"SmartAlloc": a, "TypedPool": a.typed_pool(np.float64, 4),
               "SizeClassPools": a.pools}


@njit
def _gen_alloc(x):
    for i in range(2):
        yield x.frame_number


@njit
def _gen_typed(x):
    for i in range(2):
        yield x.capacity


@njit
def _gen_classes(x):
    for i in range(2):
        yield x.acquire(16)


_GENERATORS = {"SmartAlloc": _gen_alloc, "TypedPool": _gen_typed,
               "SizeClassPools": _gen_classes}


@pytest.mark.parametrize("kind", sorted(_GENERATORS))
def test_generators_refuse_allocator_objects(kind):
    a, objs = _objects()
    with pytest.raises(fa.FrameStateError) as ei:
        list(_GENERATORS[kind](objs[kind]))
    assert ei.value.code == "FA019" and str(ei.value).startswith("FA019")
    assert objs[kind]._lease.holders() == 0
    a.close()


def test_generators_over_frame_arrays_still_work():
    @njit
    def fill(alloc, n):
        return alloc.frame_array(n, np.float64)

    @njit
    def walk(x):
        for v in x:
            yield v * 2.0

    a = fa.SmartAlloc()
    with a.frame():
        x = fill(a, 3)
        x[:] = [1.0, 2.0, 3.0]
        assert list(walk(x)) == [2.0, 4.0, 6.0]
    a.close()


def test_lease_count_is_exact_when_the_call_raises():
    @njit
    def bad(alloc, n):
        return alloc.frame_array(n, np.float64).size   # FA001: no frame

    a = fa.SmartAlloc()
    for _ in range(3):
        with pytest.raises(fa.FrameStateError):
            bad(a, 4)
    assert a._lease.holders() == 0
    a.close()
    assert a._released


def test_a_running_pool_call_keeps_its_allocator():
    """The only reference to the allocator goes away while a nogil kernel acquires from one of
    its pools (a budget is on, so each acquire charges the allocator's tables): nothing is freed
    until the call returns."""
    @njit(nogil=True)
    def churn(pool, go, n):
        while atomic_load(go.ctypes.data) == 0:      # held until the main thread has looked
            pass
        s = 0
        for k in range(n):
            i = pool.acquire()
            pool.data[i] = k
            s += i
            pool.release(i)
        return s

    a = fa.SmartAlloc()
    a.set_budget(None, 1 << 40)
    pool = a.typed_pool(np.float64, 8)
    churn(pool, np.ones(1, np.int64), 1)
    alloc_ref = weakref.ref(a)
    go = np.zeros(1, np.int64)
    out = []
    t = threading.Thread(target=lambda: out.append(churn(pool, go, 1000)))
    t.start()
    while pool._lease.holders() == 0:
        pass
    del a
    gc.collect()
    alive_during = alloc_ref() is not None
    go[0] = 1
    t.join()
    assert out == [0]
    assert alive_during                       # the running call held the allocator
    del pool
    gc.collect()
    assert alloc_ref() is None                # and let it go when it returned


def test_returning_the_allocator_from_njit_after_close_refuses():
    @njit
    def ident(x):
        return x

    a = fa.SmartAlloc()
    assert ident(a) is a
    a.close()
    with pytest.raises(fa.FrameStateError) as ei:
        ident(a)
    assert ei.value.code == "FA015"
