"""Property tests over random operation sequences: pools never hand out a slot twice, released
slots are reused, stale handles are rejected, contents survive (compaction too), the streaming
budget is never exceeded, and counters equal a recomputed truth."""
from __future__ import annotations

import gc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numba import njit

import framealloc as fa
from framealloc.handles import HandleHeap
from framealloc.pool_codes import StaleHandleError, StreamingBudgetError
from framealloc.streaming import StreamingAllocator
from framealloc.typed_pool import TypedPool

from .conftest import PARTICLE, pool_snapshot

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@njit(cache=True)
def _nj_acquire(pool):
    return pool.acquire()


@njit(cache=True)
def _nj_release(pool, key):
    pool.release(key)


# -- typed pools -----------------------------------------------------------------------------

typed_op = st.one_of(
    st.tuples(st.just("acquire"), st.booleans()),
    st.tuples(st.just("release"), st.integers(0, 10 ** 6), st.booleans(), st.booleans()),
    st.tuples(st.just("stale"), st.integers(0, 10 ** 6)),
    st.tuples(st.just("many"), st.integers(0, 6)),
    st.tuples(st.just("release_many"), st.integers(0, 10 ** 6), st.integers(0, 4)),
)


@SETTINGS
@given(ops=st.lists(typed_op, max_size=60), cap=st.integers(0, 6),
       policy=st.sampled_from(["grow", "error"]))
def test_typed_pool_model(ops, cap, policy):
    pool = TypedPool(PARTICLE, cap, policy=policy)
    live: dict[int, int] = {}              # slot -> handle
    stale: list[int] = []
    last_released: list[int] = []
    acquired = 0
    for op in ops:
        if op[0] == "acquire" or op[0] == "many":
            n = 1 if op[0] == "acquire" else op[1]
            full = policy == "error" and len(live) + n > pool.capacity
            if full:
                before = pool_snapshot(pool)
                with pytest.raises(fa.FrameAllocError) as ei:
                    pool.acquire() if op[0] == "acquire" else pool.acquire_many(n)
                assert ei.value.code == "FA105" and pool_snapshot(pool) == before
                continue
            if op[0] == "acquire":
                got = [_nj_acquire(pool) if op[1] else pool.acquire()]
            else:
                got = pool.acquire_many(n).tolist()
            for i in got:
                assert i not in live, "slot handed out twice"
                if last_released:                      # LIFO reuse of released slots
                    assert i == last_released.pop()
                live[i] = pool.handle(i)
                pool.data[i]["life"] = i
            acquired += len(got)
        elif op[0] == "release" and live:
            slot = sorted(live)[op[1] % len(live)]
            handle = live.pop(slot)
            key = handle if op[2] else slot           # release by handle or by index
            if op[3]:
                _nj_release(pool, key)
            else:
                pool.release(key)
            stale.append(handle)
            last_released.append(slot)
        elif op[0] == "stale":
            if stale:
                h = stale[op[1] % len(stale)]
                before = pool_snapshot(pool)
                with pytest.raises(fa.FrameAllocError) as ei:
                    pool.release(h)
                assert ei.value.code in ("FA101", "FA103") and pool_snapshot(pool) == before
                assert not pool.is_alive(h)
        elif op[0] == "release_many" and live:
            slots = sorted(live)
            k = min(op[2], len(slots))
            start = op[1] % len(slots)
            chosen = [slots[(start + j) % len(slots)] for j in range(k)]
            pool.release_many(np.array(chosen, np.int64))
            for slot in chosen:
                stale.append(live.pop(slot))
                last_released.append(slot)
        # invariants after every step
        assert len(pool) == len(live)
        assert sorted(pool.live_indices().tolist()) == sorted(live)
        assert all(pool.is_alive(h) for h in live.values())
        assert all(pool.data[i]["life"] == i for i in live)
        info = pool.info()
        assert info.acquired == acquired and info.released == acquired - len(live)
    pool.close()


# -- size-class pools ------------------------------------------------------------------------

DTYPES = [np.dtype(d) for d in ("u1", "i4", "f8", "c16")] + [PARTICLE]
box_op = st.one_of(
    st.tuples(st.just("alloc"), st.integers(0, 700), st.integers(0, len(DTYPES) - 1)),
    st.tuples(st.just("free"), st.integers(0, 10 ** 6), st.sampled_from(["free", "del", "with"])),
    st.tuples(st.just("trim")),
)


def _check_boxes(alloc, live, fallbacks):
    spans = sorted((b.array.ctypes.data, b.array.ctypes.data + max(b.nbytes, 1))
                   for b, _ in live if b.key >= 0)
    assert all(x[1] <= y[0] for x, y in zip(spans, spans[1:])), "live blocks overlap"
    for b, f in live:
        assert (b.array.reshape(-1).view(np.uint8) == f).all(), "contents clobbered"
    s = alloc.stats().pool
    pooled = [b for b, _ in live if b.key >= 0]
    assert s.current_allocations == len(pooled)
    assert s.current == sum(b.size_class for b in pooled)
    assert s.heap_fallbacks == fallbacks


@SETTINGS
@given(ops=st.lists(box_op, max_size=50))
def test_pool_boxes_never_overlap_and_keep_contents(ops):
    alloc = fa.SmartAlloc(fa.AllocConfig(pool_page_size=4096))
    live: list = []                       # (box, fill byte)
    fill = fallbacks = 0
    for op in ops:
        if op[0] == "alloc":
            box = alloc.pool_alloc(DTYPES[op[2]], op[1])
            fallbacks += box.key < 0
            fill = fill % 250 + 1
            box.array.reshape(-1).view(np.uint8)[...] = fill
            live.append((box, fill))
        elif op[0] == "free" and live:
            box, _ = live.pop(op[1] % len(live))
            if op[2] == "free":
                box.free()
            elif op[2] == "with":
                with box:
                    pass
            del box
        elif op[0] == "trim":
            alloc.trim()
        _check_boxes(alloc, live, fallbacks)
    del live
    box = None
    gc.collect()
    assert alloc.stats().pool.current_allocations == 0
    alloc._close_pools()
    alloc.close()


# -- relocatable handles ---------------------------------------------------------------------

handle_op = st.one_of(
    st.tuples(st.just("alloc"), st.integers(0, 300)),
    st.tuples(st.just("free"), st.integers(0, 10 ** 6)),
    st.tuples(st.just("pin"), st.integers(0, 10 ** 6)),
    st.tuples(st.just("unpin"), st.integers(0, 10 ** 6)),
    st.tuples(st.just("compact")),
)


@SETTINGS
@given(ops=st.lists(handle_op, max_size=60))
def test_handle_contents_survive_compaction(ops):
    heap = HandleHeap(segment_bytes=512)
    live: dict[int, tuple[int, int]] = {}       # handle -> (n, fill)
    pins: dict[int, int] = {}
    dead: list[int] = []
    fill = 0
    for op in ops:
        if op[0] == "alloc":
            h = heap.alloc(op[1], np.uint8)
            fill = fill % 250 + 1
            heap.resolve(h)[:] = fill
            live[h] = (op[1], fill)
            pins[h] = 0
        elif op[0] in ("free", "pin", "unpin") and live:
            h = sorted(live)[op[1] % len(live)]
            if op[0] == "free" and pins[h] == 0:
                heap.free(h)
                del live[h]
                dead.append(h)
            elif op[0] == "pin":
                heap.pin(h)
                pins[h] += 1
            elif op[0] == "unpin" and pins[h]:
                heap.unpin(h)
                pins[h] -= 1
        elif op[0] == "compact":
            pinned = {h: heap.resolve(h).ctypes.data for h in live if pins[h] and live[h][0]}
            heap.compact()
            assert all(heap.resolve(h).ctypes.data == a for h, a in pinned.items())
        for h, (n, f) in live.items():
            v = heap.resolve(h)
            assert v.shape == (n,) and (v == f).all(), "contents lost"
        for h in dead:
            with pytest.raises(StaleHandleError):
                heap.resolve(h)
        assert len(heap) == len(live)


# -- streaming -------------------------------------------------------------------------------

stream_op = st.one_of(
    st.tuples(st.just("reserve"), st.integers(0, 700), st.integers(0, 3)),
    st.tuples(st.just("feed"), st.integers(0, 10 ** 6)),
    st.tuples(st.just("access"), st.integers(0, 10 ** 6)),
    st.tuples(st.just("release"), st.integers(0, 10 ** 6)),
)


@SETTINGS
@given(ops=st.lists(stream_op, max_size=60), budget=st.integers(1, 1500))
def test_streaming_budget_is_never_exceeded(ops, budget):
    evicted: list[int] = []
    s = StreamingAllocator(budget, on_evict=evicted.append)
    assets: dict[int, tuple[int, int]] = {}    # id -> (size, priority)
    for op in ops:
        if op[0] == "reserve":
            before_info, before_ev = s.info(), len(evicted)
            ready_before = {a: s.is_ready(a) for a in assets}
            try:
                aid = s.reserve(op[1], priority=op[2])
            except StreamingBudgetError:
                assert s.info() == before_info and len(evicted) == before_ev
                continue
            for a in evicted[before_ev:]:
                size, prio = assets.pop(a)
                assert ready_before[a] and prio <= op[2], "evicted a loading or higher asset"
            assets[aid] = (op[1], op[2])
        elif assets:
            aid = sorted(assets)[op[1] % len(assets)]
            if op[0] == "feed" and not s.is_ready(aid):
                s.feed(aid, bytes(assets[aid][0]))
            elif op[0] == "access" and s.is_ready(aid):
                assert s.access(aid).nbytes == assets[aid][0]
            elif op[0] == "release":
                s.release(aid)
                del assets[aid]
        assert s.used <= budget
        assert s.used == sum(size for size, _ in assets.values())
