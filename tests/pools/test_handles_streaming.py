"""Relocatable handles (generations, pins, compaction) and the streaming allocator."""
from __future__ import annotations

import gc
import io

import numpy as np
import pytest

import framealloc as fa
from framealloc.handles import HandleHeap
from framealloc.pool_codes import (
    HandleError,
    StaleHandleError,
    StreamingBudgetError,
    StreamingError,
)
from framealloc.streaming import StreamingAllocator


# -- handles ---------------------------------------------------------------------------------

def test_handles_resolve_and_survive_compaction():
    heap = HandleHeap(segment_bytes=1024)
    hs = [heap.alloc((i % 5 + 1, 3), np.float32) for i in range(40)]
    for i, h in enumerate(hs):
        heap.resolve(h)[:] = i
    for h in hs[::3]:
        heap.free(h)
    before = heap.info()
    moved = heap.compact()
    after = heap.info()
    assert moved == sum(heap.resolve(h).nbytes for h in hs if heap.is_valid(h))
    assert after.reserved < before.reserved and after.segments == 1 and after.compactions == 1
    for i, h in enumerate(hs):
        if i % 3:
            v = heap.resolve(h)
            assert v.shape == (i % 5 + 1, 3) and (v == i).all()
        else:
            assert not heap.is_valid(h)


def test_pinned_blocks_do_not_move_and_old_views_never_alias():
    heap = HandleHeap(segment_bytes=4096)
    a, b, c = (heap.alloc(10, np.int64) for _ in range(3))
    for k, h in enumerate((a, b, c)):
        heap.resolve(h)[:] = k
    heap.pin(b)
    heap.pin(b)
    addr_b = heap.resolve(b).ctypes.data
    old_c = heap.resolve(c)
    heap.free(a)
    heap.compact()
    assert heap.resolve(b).ctypes.data == addr_b          # pinned: same address
    assert heap.resolve(c).ctypes.data != old_c.ctypes.data
    assert (heap.resolve(c) == 2).all()
    d = heap.alloc(10, np.int64)
    heap.resolve(d)[:] = 99
    assert (old_c == 2).all()                             # the old copy is nobody else's memory
    heap.unpin(b)
    assert heap.is_pinned(b)
    heap.unpin(b)
    assert not heap.is_pinned(b)
    heap.compact()
    assert (heap.resolve(b) == 1).all() and heap.info().pinned == 0


def test_handle_errors():
    heap = HandleHeap()
    h = heap.alloc(4)
    heap.pin(h)
    with pytest.raises(HandleError) as ei:
        heap.free(h)
    assert ei.value.code == "FA116"
    heap.unpin(h)
    with pytest.raises(HandleError) as ei:
        heap.unpin(h)
    assert ei.value.code == "FA115"
    heap.free(h)
    h2 = heap.alloc(4)
    assert h2 & 0xFFFFFFFF == h & 0xFFFFFFFF and h2 != h    # slot reused, new generation
    info = heap.info()
    for call in (lambda: heap.resolve(h), lambda: heap.free(h), lambda: heap.pin(h),
                 lambda: heap.resolve(12345), lambda: heap.resolve(-1)):
        with pytest.raises(StaleHandleError) as ei:
            call()
        assert ei.value.code == "FA114"
    assert heap.info() == info and len(heap) == 1
    with pytest.raises(fa.AllocSizeError):
        heap.alloc(-2)


def test_handles_on_the_allocator_and_stats(alloc):
    h = alloc.handles.alloc((2, 2), np.float64, zero=True)
    assert alloc.handles is alloc.handles and not alloc.handles.resolve(h).any()
    assert alloc.compact() == 32
    s = alloc.stats().handles
    assert (s.live, s.current, s.compactions, s.moved_bytes) == (1, 32, 1, 32)
    assert alloc.stats().total_reserved >= s.reserved > 0


def test_handle_table_grows():
    heap = HandleHeap(segment_bytes=256)
    hs = [heap.alloc(1, np.int16) for _ in range(200)]
    assert len(heap) == 200 and len({h & 0xFFFFFFFF for h in hs}) == 200
    for h in hs:
        heap.free(h)
    assert heap.info().segments <= 1 and len(heap) == 0


# -- streaming -------------------------------------------------------------------------------

def test_incremental_load_ready_and_access():
    s = StreamingAllocator(1000)
    aid = s.reserve((10, 10), np.float32, name="tex")
    assert not s.is_ready(aid) and s.progress(aid) == 0.0 and s.used == 400
    data = np.arange(100, dtype=np.float32).reshape(10, 10)
    raw = data.tobytes()
    assert s.feed(aid, raw[:100]) == 0.25
    with pytest.raises(StreamingError) as ei:
        s.access(aid)
    assert ei.value.code == "FA118"
    progress = list(s.load(aid, io.BytesIO(raw[100:]), chunk_bytes=100))
    assert progress == [0.5, 0.75, 1.0] and s.is_ready(aid)
    assert (s.access(aid) == data).all()
    with pytest.raises(StreamingError) as ei:
        s.feed(aid, b"x")
    assert ei.value.code == "FA120"
    s.release(aid)
    assert s.used == 0 and aid not in s
    with pytest.raises(StreamingError) as ei:
        s.access(aid)
    assert ei.value.code == "FA119"


def test_lru_eviction_respects_priority_and_calls_back():
    evicted = []
    s = StreamingAllocator(1000, on_evict=evicted.append)
    a = s.reserve(300, priority=0)
    b = s.reserve(300, priority=0)
    c = s.reserve(300, priority=5)
    for x in (a, b, c):
        s.feed(x, bytes(300))
    s.access(a)                                  # b is now the least recently used
    d = s.reserve(300, priority=1)
    assert evicted == [b] and s.used == 900 and not s.is_ready(b)
    s.feed(d, np.zeros(300, np.uint8))
    e = s.reserve(500, priority=1)                # a (priority 0) then d (LRU among priority 1)
    assert evicted == [b, a, d] and c in s and s.used == 800
    assert s.info().evictions == 3 and s.info().evicted_bytes == 900
    del e


def test_budget_is_never_exceeded_and_failed_reservations_evict_nothing():
    evicted = []
    s = StreamingAllocator(1000, on_evict=evicted.append)
    a = s.reserve(400, priority=3)
    s.feed(a, bytes(400))
    loading = s.reserve(400)                      # not ready: never evicted
    before = s.info()
    for size, prio in [(300, 2), (2000, 9)]:      # a has higher priority / too big for the budget
        with pytest.raises(StreamingBudgetError) as ei:
            s.reserve(size, priority=prio)
        assert ei.value.code == "FA117" and isinstance(ei.value, MemoryError)
    assert s.info() == before and evicted == []
    s.reserve(500, priority=3)
    assert evicted == [a] and s.used == 900 and loading in s
    s.evict(loading)
    assert evicted == [a, loading] and s.used == 500


def test_streaming_bad_arguments_and_stats(alloc):
    for bad in (0, -5, 1.5, True):
        with pytest.raises(fa.ConfigError) as ei:
            alloc.streaming(bad)
        assert ei.value.code == "FA110"
    s = alloc.streaming(4096)
    with pytest.raises(fa.ConfigError):
        s.reserve(10, priority="high")
    with pytest.raises(fa.AllocSizeError):
        s.reserve(-1)
    aid = s.reserve(100)
    s.feed(aid, bytes(100))
    st = alloc.stats().streaming
    assert (st.allocators, st.budget, st.current, st.assets, st.ready) == (1, 4096, 100, 1, 1)
    del s
    gc.collect()
    assert alloc.stats().streaming.allocators == 0


def test_feed_of_object_arrays_raises_fa006_and_copies_nothing():
    s = fa.SmartAlloc().streaming(1000)
    a = s.reserve(16)
    for data in (np.array([object()]), [1, None], {"a": 1}):
        with pytest.raises(fa.UnsupportedDtypeError) as ei:
            s.feed(a, data)
        assert ei.value.code == "FA006"
        assert s.progress(a) == 0.0
    assert s.feed(a, bytes(16)) == 1.0


def test_on_evict_that_raises_leaves_the_stream_as_before():
    calls = []

    def cb(k):
        calls.append(k)
        raise RuntimeError("cb")

    s = fa.SmartAlloc().streaming(100, on_evict=cb)
    x = s.reserve(80)
    s.feed(x, bytes(80))
    before = s.used, s.counters.copy(), s.info().assets
    with pytest.raises(fa.ConfigError) as ei:
        s.reserve(50)
    assert ei.value.code == "FA110" and "nothing was evicted" in str(ei.value)
    assert calls == [x]
    assert (s.used, s.info().assets) == (before[0], before[2])
    assert (s.counters == before[1]).all() and s.is_ready(x)
    assert float(s.access(x).sum()) == 0.0
    s.on_evict = None
    y = s.reserve(50)
    assert s.used == 50 and s.is_ready(y) is False


def test_on_evict_that_reenters_the_stream_is_refused():
    s = fa.SmartAlloc().streaming(100)
    x = s.reserve(80)
    s.feed(x, bytes(80))
    s.on_evict = lambda k: s.release(k)
    with pytest.raises(fa.ConfigError) as ei:
        s.reserve(50)
    assert ei.value.code == "FA110"
