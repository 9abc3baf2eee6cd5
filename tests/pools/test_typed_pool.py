"""TypedPool from Python: acquire/release, handles and generations, growth, policies, bad inputs."""
from __future__ import annotations

import gc

import numpy as np
import pytest

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


def test_acquire_hands_out_ascending_slots_and_release_reuses_lifo():
    pool = TypedPool(PARTICLE, 8)
    assert [pool.acquire() for _ in range(3)] == [0, 1, 2]
    assert len(pool) == 3 and pool.capacity == 8
    pool.release(1)
    assert pool.acquire() == 1            # the slot released last comes back first
    assert pool.live_indices().tolist() == [0, 1, 2]
    assert pool.alive.tolist() == [True] * 3 + [False] * 5
    pool.close()


def test_records_are_written_through_data():
    pool = TypedPool(PARTICLE, 4)
    i = pool.acquire()
    pool.data[i]["life"] = 2.5
    pool.data["pos"][i] = (1, 2, 3)
    assert pool.data[i]["life"] == 2.5 and pool.data["pos"][i].tolist() == [1, 2, 3]
    assert pool.data.dtype == PARTICLE and pool.data.shape == (4,)
    pool.close()


def test_handles_pack_generation_and_detect_reuse():
    pool = TypedPool(np.int64, 4)
    i = pool.acquire()
    h = pool.handle(i)
    assert h >= 1 << 32 and h & 0xFFFFFFFF == i and pool.generation(i) == h >> 32
    assert pool.generation(i) % 2 == 1 and pool.index(h) == i and pool.is_alive(h)
    pool.release(h)
    assert not pool.is_alive(h) and pool.generation(i) % 2 == 0
    j = pool.acquire()
    assert j == i and pool.is_alive(j) and not pool.is_alive(h)
    for call in (lambda: pool.index(h), lambda: pool.release(h), lambda: pool.handle(h)):
        with pytest.raises(StaleHandleError) as ei:
            call()
        assert ei.value.code == "FA103"
    assert pool.index(pool.handle(j)) == j
    h2 = pool.acquire_handle()
    assert pool.is_alive(h2) and pool.index(h2) == h2 & 0xFFFFFFFF
    pool.close()


def test_grow_policy_doubles_and_keeps_records():
    pool = TypedPool(PARTICLE, 2)
    idx = [pool.acquire() for _ in range(2)]
    for i in idx:
        pool.data[i]["life"] = i + 10
    old = pool.data
    k = pool.acquire()
    assert k == 2 and pool.capacity == 16 and pool.info().grows == 1
    assert pool.data["life"][:2].tolist() == [10, 11]
    assert old is not pool.data and old["life"].tolist() == [10, 11]   # old view still valid
    assert (pool.data["life"][2:] == 0).all()                         # new records zeroed
    pool.close()


def test_acquire_many_and_release_many():
    pool = TypedPool(np.float32, 4)
    idx = pool.acquire_many(6)                     # grows once
    assert idx.tolist() == list(range(6)) and pool.capacity >= 6 and len(pool) == 6
    pool.release_many(idx[::2])
    assert pool.live_indices().tolist() == [1, 3, 5]
    handles = [pool.handle(i) for i in (1, 3)]
    pool.release_many(np.array(handles))
    assert pool.live_indices().tolist() == [5]
    assert pool.acquire_many(0).shape == (0,)
    pool.release_many([])
    pool.clear()
    assert len(pool) == 0
    pool.close()


def test_error_policy_never_moves_storage():
    pool = TypedPool(np.int32, 3, policy="error")
    base = pool.data.ctypes.data
    assert pool.acquire_many(3).tolist() == [0, 1, 2]
    before = pool_snapshot(pool)
    with pytest.raises(PoolExhaustedError) as ei:
        pool.acquire()
    assert ei.value.code == "FA105" and isinstance(ei.value, MemoryError)
    assert pool.try_acquire() is None
    with pytest.raises(PoolExhaustedError):
        pool.acquire_many(1)
    assert pool_snapshot(pool) == before and pool.data.ctypes.data == base
    pool.release(1)
    assert pool.try_acquire() == 1
    pool.reserve(10)                               # explicit growth is allowed
    assert pool.capacity == 10 and pool.acquire() == 3
    pool.close()


def test_zero_capacity_pool_allocates_on_first_acquire():
    pool = TypedPool(np.float64, 0)
    assert pool.capacity == 0 and len(pool.data) == 0 and pool.live_indices().size == 0
    assert pool.acquire() == 0 and pool.capacity == 16
    strict = TypedPool(np.float64, 0, policy="error")
    assert strict.try_acquire() is None
    pool.close()
    strict.close()


def test_release_many_is_all_or_nothing():
    pool = TypedPool(np.int16, 8)
    pool.acquire_many(5)
    before = pool_snapshot(pool)
    for keys, exc, code in [([0, 1, 1], DoubleFreeError, "FA101"),    # duplicate
                            ([2, 6], DoubleFreeError, "FA101"),       # 6 not live
                            ([0, 99], PoolIndexError, "FA104"),
                            ([3, (7 << 32) | 4], StaleHandleError, "FA103"),
                            ([0, -1], PoolIndexError, "FA104")]:
        with pytest.raises(exc) as ei:
            pool.release_many(np.array(keys, np.int64))
        assert ei.value.code == code
        assert pool_snapshot(pool) == before, keys
    with pytest.raises(PoolIndexError):
        pool.release_many(np.array([1.0, 2.0]))
    assert pool_snapshot(pool) == before
    pool.close()


BAD = [
    ("negative-capacity", lambda: TypedPool(np.float32, -1), fa.AllocSizeError, "FA106"),
    ("float-capacity", lambda: TypedPool(np.float32, 2.5), fa.AllocSizeError, "FA106"),
    ("bool-capacity", lambda: TypedPool(np.float32, True), fa.AllocSizeError, "FA106"),
    ("huge-capacity", lambda: TypedPool(np.float32, 1 << 31), fa.AllocSizeError, "FA106"),
    ("object-dtype", lambda: TypedPool(object, 4), fa.UnsupportedDtypeError, "FA006"),
    ("not-a-dtype", lambda: TypedPool("nonsense", 4), fa.UnsupportedDtypeError, "FA006"),
    ("bad-policy", lambda: TypedPool(np.float32, 4, policy="heap"), fa.ConfigError, "FA110"),
]


@pytest.mark.parametrize("name,call,exc,code", BAD, ids=[b[0] for b in BAD])
def test_bad_constructor_arguments(name, call, exc, code):
    with pytest.raises(exc) as ei:
        call()
    assert ei.value.code == code and str(ei.value).startswith(code)


def _live_pool():
    pool = TypedPool(PARTICLE, 8)
    pool.acquire_many(4)
    pool.release(2)
    return pool


OPS = [
    ("double-release", lambda p: p.release(2), DoubleFreeError, "FA101"),
    ("never-acquired", lambda p: p.release(6), DoubleFreeError, "FA101"),
    ("out-of-range", lambda p: p.release(8), PoolIndexError, "FA104"),
    ("negative-index", lambda p: p.release(-1), PoolIndexError, "FA104"),
    ("huge-index", lambda p: p.release(1 << 70), PoolIndexError, "FA104"),
    ("float-index", lambda p: p.release(1.0), PoolIndexError, "FA104"),
    ("string-index", lambda p: p.release("1"), PoolIndexError, "FA104"),
    ("stale-handle", lambda p: p.release((5 << 32) | 1), StaleHandleError, "FA103"),
    ("index-of-free", lambda p: p.index(2), StaleHandleError, "FA103"),
    ("handle-of-free", lambda p: p.handle(2), StaleHandleError, "FA103"),
    ("generation-range", lambda p: p.generation(8), PoolIndexError, "FA104"),
    ("negative-many", lambda p: p.acquire_many(-1), fa.AllocSizeError, "FA106"),
    ("float-many", lambda p: p.acquire_many(1.5), fa.AllocSizeError, "FA106"),
    ("negative-reserve", lambda p: p.reserve(-4), fa.AllocSizeError, "FA106"),
]


@pytest.mark.parametrize("name,call,exc,code", OPS, ids=[o[0] for o in OPS])
def test_bad_operations_leave_state_byte_identical(name, call, exc, code):
    pool = _live_pool()
    before = pool_snapshot(pool)
    with pytest.raises(exc) as ei:
        call(pool)
    assert ei.value.code == code and str(ei.value).startswith(code)
    assert isinstance(ei.value, fa.FrameAllocError)
    assert pool_snapshot(pool) == before
    assert pool.acquire() == 2             # still usable
    pool.close()


def test_closed_pool_raises_and_old_views_stay_valid():
    pool = TypedPool(np.float64, 4)
    i = pool.acquire()
    d = pool.data
    d[i] = 4.0
    pool.close()
    assert pool.closed and pool.policy == "closed" and len(pool) == 0
    for call in (pool.acquire, lambda: pool.release(i), pool.try_acquire,
                 lambda: pool.acquire_many(2), lambda: pool.reserve(9)):
        with pytest.raises(PoolError) as ei:
            call()
        assert ei.value.code == "FA109"
    gc.collect()
    assert d[i] == 4.0
    pool.close()                           # closing twice is harmless


def test_info_counts():
    pool = TypedPool(np.float32, 4, name="sparks")
    idx = pool.acquire_many(3)
    pool.release(int(idx[0]))
    info = pool.info()
    assert (info.name, info.live, info.peak, info.acquired, info.released) == ("sparks", 2, 3, 3, 1)
    assert info.capacity == 4 and info.reserved >= 4 * 4 + 4 * 4 * 2 and not info.closed
    assert "sparks" in repr(pool)
    pool.close()


def test_typed_pool_in_alloc_stats(alloc):
    pool = alloc.typed_pool(PARTICLE, 10, name="particles")
    pool.acquire_many(4)
    pool.release(0)
    s = alloc.stats().typed_pools
    assert s.pools == 1 and s.current_allocations == 3 and s.current == 3 * PARTICLE.itemsize
    assert s.allocations == 4 and s.freed == PARTICLE.itemsize and s.capacity == 10
    assert s.peak == 4 * PARTICLE.itemsize and s.reserved == pool.info().reserved
    assert s.per_pool[0]["name"] == "particles"
    pool.close()
    s = alloc.stats().typed_pools
    assert s.pools == 0 and s.current == 0 and s.allocations == 4 and s.reserved == 0
    assert alloc.stats().to_dict()["typed_pools"]["allocations"] == 4


def test_python_calls_from_many_threads_never_hand_out_a_slot_twice():
    import threading

    pool = TypedPool(np.int64, 8)
    got: list = [[] for _ in range(4)]

    def work(k):
        for j in range(300):
            i = pool.acquire()
            got[k].append(i)
            if j % 2:
                pool.release(got[k].pop())

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    held = [i for g in got for i in g]
    assert len(held) == len(set(held)) == len(pool) == 600
    pool.close()
