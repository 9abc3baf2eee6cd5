"""Size-class pools: PoolBox lifetime (free, with, GC, deferred reuse), heap fallback, trim, slot
keys from Python and @njit, bad inputs."""
from __future__ import annotations

import gc

import numpy as np
import pytest
from numba import njit

import framealloc as fa
from framealloc import AllocConfig, KiB
from framealloc.pool import PoolBox
from framealloc.pool_codes import (
    DoubleFreeError,
    ForeignFreeError,
    PoolIndexError,
    StaleHandleError,
    UseAfterFreeError,
)

from .conftest import PARTICLE, classes_snapshot


def test_pool_alloc_picks_the_smallest_class(alloc):
    for shape, dtype, size in [((), np.float64, 16), ((), PARTICLE, 32), ((4, 4), np.float32, 64),
                               (1000, np.uint8, 1024), (4096, np.uint8, 4096)]:
        box = alloc.pool_alloc(dtype, shape)
        assert box.size_class == size and box.array.shape == np.empty(shape, dtype).shape
        assert box.array.dtype == dtype and box.array.ctypes.data % 16 == 0
        box.free()
    assert alloc.stats().pool.current_allocations == 0


def test_live_boxes_never_share_memory_and_keep_contents(alloc):
    boxes = [alloc.pool_alloc(np.int64, n % 7 + 1) for n in range(3000)]
    spans = sorted((b.array.ctypes.data, b.array.ctypes.data + b.size_class) for b in boxes)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    for i, b in enumerate(boxes):
        b.array[:] = i
    assert all((b.array == i).all() for i, b in enumerate(boxes))
    s = alloc.stats().pool
    assert s.current_allocations == 3000 and s.pages >= 2
    for b in boxes[::2]:
        b.free()
    fresh = [alloc.pool_alloc(np.int64, 3) for _ in range(500)]
    assert all((b.array == i).all() for i, b in enumerate(boxes) if i % 2)
    del fresh, boxes


def test_free_with_block_and_gc_each_release_once(alloc):
    box = alloc.pool_alloc(np.float32, 4)
    key = box.key
    box.free()
    assert box.freed and not alloc.pools.is_live(key)
    with pytest.raises(DoubleFreeError) as ei:
        box.free()
    assert ei.value.code == "FA101"
    with pytest.raises(UseAfterFreeError) as ei:
        box.array
    assert ei.value.code == "FA108"
    with alloc.pool_alloc(np.float32, 4) as b2:
        assert b2.key & 0xFFFFFFFF == key & 0xFFFFFFFF     # the block is reused...
        assert b2.key != key                                # ...with a new generation
        k2 = b2.key
    assert not alloc.pools.is_live(k2) and b2.freed
    b3 = alloc.pool_alloc(np.float32, 4)
    k3 = b3.key
    del b3
    gc.collect()
    alloc.pools.collect()
    assert not alloc.pools.is_live(k3)
    assert alloc.stats().pool.current_allocations == 0
    assert alloc.stats().pool.allocations == 3


def test_freed_box_is_not_reused_while_a_view_of_it_lives(alloc):
    box = alloc.pool_alloc(np.float64, 2)
    view = box.array[1:]                   # a derived view
    view[:] = 42.0
    key = box.key
    box.free()
    assert alloc.pools.is_live(key) and alloc.pools.deferred_frees == 1
    others = [alloc.pool_alloc(np.float64, 2) for _ in range(50)]
    for o in others:
        o.array[:] = -1.0
    assert view[0] == 42.0                 # nobody got the block
    del view
    assert alloc.pools.deferred_frees == 0 and not alloc.pools.is_live(key)
    del others


def test_view_keeps_its_page_alive_after_trim_and_close():
    a = fa.SmartAlloc()
    box = a.pool_alloc(np.float64, 3)
    v = box.array
    v[:] = 7.0
    del box
    a.trim()                                # the page still has a live (deferred) block
    a._close_pools()
    a.close()
    del a
    gc.collect()
    junk = [np.ones(512) for _ in range(20)]
    assert (v == 7.0).all() and len(junk) == 20
    del v


def test_large_requests_go_to_the_heap(alloc):
    box = alloc.pool_alloc(np.float64, (100, 100))
    assert box.key == -1 and box.size_class == 0 and box.array.shape == (100, 100)
    s = alloc.stats()
    assert s.pool.heap_fallbacks == 1 and s.pool.heap_fallback_bytes == 80000
    assert s.heap.current == 80000 and s.pool.current_allocations == 0
    box.free()
    assert alloc.stats().heap.current == 0


def test_pool_box_copies_values(alloc):
    rec = np.zeros((), PARTICLE)
    rec["life"] = 3.0
    with alloc.pool_box(rec) as b:
        assert b.array.dtype == PARTICLE and b.array["life"] == 3.0
    with alloc.pool_box([[1, 2], [3, 4]]) as b:
        assert b.array.tolist() == [[1, 2], [3, 4]] and np.asarray(b).sum() == 10
    with alloc.pool_alloc(np.int32, 5, zero=True) as b:
        assert not b.array.any() and "PoolBox" in repr(b)


def test_foreign_free_and_bad_inputs_change_nothing(alloc):
    other = fa.SmartAlloc()
    box = other.pool_alloc(np.float32)
    mine = alloc.pool_alloc(np.float32)
    before = classes_snapshot(alloc.pools)
    with pytest.raises(ForeignFreeError) as ei:
        alloc.pool_free(box)
    assert ei.value.code == "FA102"
    with pytest.raises(ForeignFreeError):
        alloc.pool_free("not a box")
    with pytest.raises(ForeignFreeError) as ei:      # a PoolBox's key cannot be released by key
        alloc.pools.release(mine.key)
    assert ei.value.code == "FA102"
    for call, exc, code in [
        (lambda: alloc.pool_alloc(object), fa.UnsupportedDtypeError, "FA006"),
        (lambda: alloc.pool_alloc(np.float32, -3), fa.AllocSizeError, "FA004"),
        (lambda: alloc.pool_alloc(np.float32, 1.5), fa.AllocSizeError, "FA004"),
        (lambda: alloc.pools.acquire(-1), fa.AllocSizeError, "FA106"),
        (lambda: alloc.pools.acquire(5000), fa.AllocSizeError, "FA111"),
        (lambda: alloc.pools.release(-5), ForeignFreeError, "FA102"),
        (lambda: alloc.pools.release(40 << 26), ForeignFreeError, "FA102"),
        (lambda: alloc.pools.release(123), DoubleFreeError, "FA101"),
        (lambda: alloc.pools.release(1 << 25), PoolIndexError, "FA104"),
        (lambda: alloc.pools.view(mine.key, np.float32, 5), fa.AllocSizeError, "FA107"),
        (lambda: alloc.pools.view(mine.key + (2 << 32), np.float32), StaleHandleError, "FA103"),
    ]:
        with pytest.raises(exc) as ei:
            call()
        assert ei.value.code == code
        assert classes_snapshot(alloc.pools) == before
    alloc.pool_free(mine)
    box.free()
    other._close_pools()
    other.close()


def test_slot_keys_from_python(alloc):
    pools = alloc.pools
    k = pools.acquire(100)
    assert pools.size_of(k) == 128 and pools.is_live(k) and k >> 32 == 1
    v = pools.view(k, np.float64, 16)
    v[:] = np.arange(16)
    assert pools.view(k, np.float64, 16).sum() == 120
    pools.release(k)
    with pytest.raises(DoubleFreeError):
        pools.release(k)
    k2 = pools.try_acquire(100)
    assert k2 & 0xFFFFFFFF == k & 0xFFFFFFFF and k2 != k
    with pytest.raises(StaleHandleError):
        pools.release(k)
    pools.release(k2)
    assert pools.class_index(0) == 0 and pools.class_index(4097) == -1


def test_trim_returns_empty_pages_and_pools_grow_again(alloc):
    boxes = [alloc.pool_alloc(np.float64) for _ in range(10000)]    # 16-byte class: 4 pages
    keep = boxes[-1]
    del boxes
    s = alloc.stats().pool
    assert s.pages == 3 and s.reserved == 3 * KiB(64)
    released = alloc.trim()
    s = alloc.stats().pool
    assert released == 2 * KiB(64) and s.pages == 1 and s.pages_trimmed == 2
    keep.array[()] = 5.0
    again = [alloc.pool_alloc(np.float64) for _ in range(9000)]     # trimmed entries re-used
    assert alloc.stats().pool.pages == 3 and keep.array[()] == 5.0
    spans = sorted(b.array.ctypes.data for b in again + [keep])
    assert len(set(spans)) == len(spans)
    del again, keep
    assert alloc.trim() == 3 * KiB(64) and alloc.stats().pool.reserved == 0


def test_custom_classes_and_pages():
    a = fa.SmartAlloc(AllocConfig(pool_size_classes=(32, 96), pool_page_size=KiB(4)))
    assert a.pools.size_classes == (32, 96)
    b = a.pool_alloc(np.uint8, 50)
    assert b.size_class == 96 and a.stats().pool.reserved == KiB(4)
    c = a.pool_alloc(np.uint8, 97)
    assert c.key == -1
    b.free()
    c.free()
    a._close_pools()
    a.close()


@njit(cache=True)
def _njit_blocks(pools, n, nbytes):
    keys = np.empty(n, np.int64)
    for i in range(n):
        keys[i] = pools.acquire(nbytes)
        v = pools.view(keys[i], np.int64, nbytes // 8)
        v[:] = i
    total = 0
    for i in range(n):
        total += pools.view(keys[i], np.int64, nbytes // 8)[0]
    for i in range(0, n, 2):
        pools.release(keys[i])
    return keys, total


@njit(cache=True)
def _njit_release(pools, key):
    pools.release(key)


@njit(cache=True)
def _njit_view(pools, key, n):
    return pools.view(key, np.float32, n)


@njit(cache=True)
def _njit_try(pools, nbytes):
    k = pools.try_acquire(nbytes)
    return -1 if k is None else k


def test_slot_keys_in_njit_share_state_with_python(alloc):
    pools = alloc.pools
    keys, total = _njit_blocks(pools, 5000, 64)
    assert total == sum(range(5000))
    live = keys[1::2]
    assert all(pools.is_live(int(k)) for k in live)
    assert not any(pools.is_live(int(k)) for k in keys[::2])
    assert pools.view(int(live[3]), np.int64, 8).tolist() == [7] * 8
    s = alloc.stats().pool
    assert s.current_allocations == 2500 and s.current == 2500 * 64
    for k in live:
        pools.release(int(k))
    assert alloc.trim() > 0


def test_njit_slot_errors_carry_codes(alloc):
    pools = alloc.pools
    k = pools.acquire(16)
    pools.release(k)
    before = classes_snapshot(pools)
    for call, exc, code in [
        (lambda: _njit_release(pools, k), DoubleFreeError, "FA101"),
        (lambda: _njit_release(pools, -1), ForeignFreeError, "FA102"),
        (lambda: _njit_view(pools, k, 1), StaleHandleError, "FA103"),
        (lambda: _njit_try(pools, 10 ** 6), fa.AllocSizeError, "FA111"),
        (lambda: _njit_try(pools, -1), fa.AllocSizeError, "FA106"),
    ]:
        with pytest.raises(exc) as ei:
            call()
        assert ei.value.code == code
        assert classes_snapshot(pools) == before
    k2 = _njit_try(pools, 16)
    with pytest.raises(fa.AllocSizeError) as ei:
        _njit_view(pools, k2, 5)                 # 20 bytes in a 16-byte block
    assert ei.value.code == "FA107"
    v = _njit_view(pools, k2, 4)
    _njit_release(pools, k2)
    alloc._close_pools()
    gc.collect()
    v[:] = 1.0                                    # the view kept its page alive
    assert v.sum() == 4.0
    del v


def test_njit_view_count_that_would_overflow_bytes_raises_fa107(alloc):
    # count * itemsize wraps in int64 (2**61 * 8 == 0): the check must not multiply
    pools = alloc.pools
    k = pools.acquire(16)
    before = classes_snapshot(pools)
    for n in (2 ** 61, 2 ** 62, 2 ** 63 - 1, 2 ** 60 + 1, 5, -1):
        with pytest.raises(fa.AllocSizeError) as ei:
            _njit_view(pools, k, n)
        assert ei.value.code == "FA107" if n > 0 else ei.value.code in ("FA106", "FA107")
        assert classes_snapshot(pools) == before
        with pytest.raises(fa.AllocSizeError):
            pools.view(k, np.float32, n)
    assert _njit_view(pools, k, 4).shape == (4,)
    pools.release(k)


@pytest.mark.parametrize("classes, page", [
    ((16, 8192), 4096), ((16,), 0), ((16,), -4096), ((16,), 8), ((16, 32), 16),
    ((), 4096), ((24,), 4096), ((32, 16), 4096), ((16, 16), 4096), ("16", 4096),
    ((16,), 4096.0), ((True,), 4096), (tuple(range(16, 16 * 34, 16)), 1 << 20),
])
def test_size_class_pools_refuse_pages_smaller_than_a_class(classes, page):
    with pytest.raises(fa.ConfigError) as ei:
        fa.SizeClassPools(classes=classes, page_bytes=page)
    assert ei.value.code == "FA110" and "page_bytes" in str(ei.value)


def test_class_grow_refuses_zero_blocks_per_page():
    from framealloc.kernels.pool_state import H
    from framealloc.pool_codes import PoolExhaustedError
    p = fa.SizeClassPools(classes=(16, 4096), page_bytes=4096)
    assert p.view(p.acquire(4096), np.uint8, 4096).size == 4096
    p._hdr[0][H.BPP] = 0                       # as if the page held no block of the class
    before = classes_snapshot(p)
    with pytest.raises(PoolExhaustedError) as ei:
        p.acquire(16)
    assert ei.value.code == "FA105" and classes_snapshot(p) == before
    assert p.try_acquire(16) is None


def test_a_box_block_cannot_be_released_through_any_key_spelling(alloc):
    pools = alloc.pools
    box = alloc.pool_alloc(np.float64, 2)
    box.array[:] = 1.0
    bare = box.key & 0xFFFFFFFF                   # generation 0: an unchecked key
    before = classes_snapshot(pools)
    for key in (box.key, bare):
        with pytest.raises(ForeignFreeError) as ei:
            pools.release(key)
        assert ei.value.code == "FA102" and "free the box" in str(ei.value)
        assert classes_snapshot(pools) == before
    k = pools.acquire(16)                         # never the box's block
    pools.view(k, np.float64, 2)[:] = 99.0
    assert box.array.tolist() == [1.0, 1.0]
    box.free()
    keys = {pools.acquire(16) & 0xFFFFFFFF for _ in range(3)}
    assert len(keys) == 3 and k & 0xFFFFFFFF not in keys
    assert alloc.stats().pool.current_allocations == 4


def test_foreign_slot_keys_are_caught_as_documented():
    # docs/pools.md "Slot keys": keys carry no owner; what another allocator's key can be
    # caught by is its class (FA102), its block not live here (FA101) or its generation (FA103)
    a1 = fa.SmartAlloc(AllocConfig(pool_size_classes=(16, 32, 64)))
    a2 = fa.SmartAlloc(AllocConfig(pool_size_classes=(16,)))
    k64 = a1.pools.acquire(64)
    k16 = a1.pools.acquire(16)
    with pytest.raises(PoolIndexError) as ei:
        a2.pools.release(k16)                     # a2 has no block yet
    assert ei.value.code == "FA104"
    a2.pools.release(a2.pools.acquire(16))        # slot 0 of a2: not live now
    before = classes_snapshot(a2.pools)
    with pytest.raises(ForeignFreeError) as ei:
        a2.pools.release(k64)                     # class 2: a2 has one class
    assert ei.value.code == "FA102"
    with pytest.raises(DoubleFreeError) as ei:
        a2.pools.release(k16)                     # names a block not live in a2
    assert ei.value.code == "FA101"
    assert classes_snapshot(a2.pools) == before
    mine = a2.pools.acquire(16)
    a2.pools.release(mine)
    again = a2.pools.acquire(16)                  # same block, next generation
    with pytest.raises(StaleHandleError):
        a2.pools.release(mine)
    a2.pools.release(again)
    a1.pools.release(k64)
    a1.pools.release(k16)
    a1.close()
    a2.close()


def test_box_type():
    assert PoolBox.__slots__


def test_boxes_from_many_threads_never_overlap(alloc):
    import threading

    kept: list = []
    errors: list = []

    def work(seed):
        try:
            mine = []
            for i in range(400):
                b = alloc.pool_alloc(np.int32, (seed + i) % 30 + 1)
                b.array[:] = seed
                mine.append(b)
                if i % 3 == 0:
                    mine.pop(0).free()
                if i % 5 == 0 and mine:
                    mine.pop(0)           # dropped: released by garbage collection
            assert all((b.array == seed).all() for b in mine)
            kept.extend(mine)
        except BaseException as exc:      # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    spans = sorted((b.array.ctypes.data, b.array.ctypes.data + b.size_class) for b in kept)
    assert all(x[1] <= y[0] for x, y in zip(spans, spans[1:]))
    assert alloc.stats().pool.current_allocations == len(kept)
    kept.clear()
    gc.collect()
    assert alloc.stats().pool.current_allocations == 0


def test_close_keeps_cumulative_pool_counters():
    a = fa.SmartAlloc()
    b = a.pool_alloc(np.uint8, 4096)
    b.free()
    keep = a.pool_alloc(np.uint8, 16)
    before = a.stats().pool
    a.close()
    s = a.stats().pool
    assert (s.allocations, s.allocated, s.peak) == (2, 4096 + 16, before.peak)
    assert s.current == 0 and s.current_allocations == 0 and s.freed == s.allocated
    assert sum(c["acquired"] for c in s.classes) == 2
    del keep
