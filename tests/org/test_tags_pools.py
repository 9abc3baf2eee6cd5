"""Tags and budgets over the pool family: size-class pools (slot keys and PoolBoxes), typed pools,
tracked heap arrays and groups, from Python and @njit.

Every allocation is charged to the calling thread's tag at acquire time and given back to that tag
when it is freed (whichever thread frees it); ``stats().tags[path].kinds["pool"|"heap"]`` equals
the live bytes per tag; hard budgets refuse with FA154 (None from ``try_*``) and leave the pool
state byte-identical; soft limits call back and warn once per frame per budget.
"""
from __future__ import annotations

import gc
import threading
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numba import njit

import framealloc as fa
from framealloc._slots import nrt_bytes
from framealloc.kernels.pool_state import H, class_buffer_bytes, typed_buffer_bytes

from tests.core.conftest import leakcheck  # noqa: F401  (fixture: NRT allocations == frees)

PARTICLE = np.dtype([("pos", "f4", 3), ("vel", "f4", 3), ("life", "f4")])
ISZ = PARTICLE.itemsize   # 28


@pytest.fixture
def alloc():
    a = fa.SmartAlloc()
    yield a
    a.close()


def typed_state(pool) -> bytes:
    """Every byte of a TypedPool's state: header, records, generations, free stack, tags."""
    h = pool._hdr[0]
    out = pool._hdr.tobytes()
    if h[H.MI]:
        n = typed_buffer_bytes(int(h[H.CAP]), int(h[H.ITEMSIZE]))
        out += nrt_bytes(int(h[H.MI]), int(h[H.DATA]), n).tobytes()
    return out


def classes_state(pools) -> bytes:
    """Every byte of the size-class pools' state: headers, generations, stacks, tags, page
    tables."""
    out = pools._hdr.tobytes()
    for c in range(pools._nclasses):
        h = pools._hdr[c]
        if h[H.MI]:
            out += nrt_bytes(int(h[H.MI]), int(h[H.GEN]),
                             class_buffer_bytes(int(h[H.CAP]))).tobytes()
        if h[H.PT_MI]:
            out += nrt_bytes(int(h[H.PT_MI]), int(h[H.PT]), 16 * int(h[H.PT_CAP])).tobytes()
    return out


def kind_current(a, path: str, kind: str) -> int:
    t = a.stats().tags.get(path)
    return 0 if t is None else t.kinds[kind]["current"]


def assert_pool_tags_consistent(a):
    """The tags' pool/heap bytes add up to the kinds' totals, and no tag is negative."""
    s = a.stats()
    pool_total = s.pool.current + s.typed_pools.current
    assert sum(t.kinds["pool"]["current"] for t in s.tags.values()) == pool_total
    assert sum(t.kinds["heap"]["current"] for t in s.tags.values()) == s.heap.current
    for t in s.tags.values():
        assert t.kinds["pool"]["current"] >= 0 and t.kinds["heap"]["current"] >= 0, t


# -- njit kernels --------------------------------------------------------------------------------

@njit
def nj_typed_acquire(pool, n):
    out = np.empty(n, np.int64)
    for k in range(n):
        out[k] = pool.acquire()
    return out


@njit
def nj_typed_release(pool, idx):
    for k in idx:
        pool.release(k)


@njit
def nj_typed_try(pool):
    i = pool.try_acquire()
    return -1 if i is None else i


@njit
def nj_typed_many(pool, n):
    return pool.acquire_many(n)


@njit
def nj_typed_release_many(pool, idx):
    pool.release_many(idx)


@njit
def nj_class_acquire(pools, nbytes):
    return pools.acquire(nbytes)


@njit
def nj_class_try(pools, nbytes):
    k = pools.try_acquire(nbytes)
    return -1 if k is None else k


@njit
def nj_class_release(pools, key):
    pools.release(key)


@njit
def nj_tagged_acquire(alloc, pool, pools, tid):
    """Acquire a record and a 64-byte block under tag ``tid`` pushed inside @njit."""
    alloc.push_tag(tid)
    i = pool.acquire()
    k = pools.acquire(64)
    alloc.pop_tag()
    return i, k


@njit
def nj_tagged_release(alloc, pool, pools, tid, i, k):
    alloc.push_tag(tid)
    pool.release(i)
    pools.release(k)
    alloc.pop_tag()


# -- attribution ---------------------------------------------------------------------------------

def test_typed_pool_bytes_follow_the_acquiring_tag_python(alloc):
    pool = alloc.typed_pool(PARTICLE, 4)
    with alloc.tag("physics"):
        a, b = pool.acquire(), pool.acquire_handle()
    with alloc.tag("ai"):
        c = pool.try_acquire()
    d = pool.acquire()
    assert kind_current(alloc, "physics", "pool") == 2 * ISZ
    assert kind_current(alloc, "ai", "pool") == ISZ
    assert kind_current(alloc, "", "pool") == ISZ
    with alloc.tag("ai"):                  # freed under another tag: back to "physics"
        pool.release(a)
        pool.release(b)
    assert kind_current(alloc, "physics", "pool") == 0
    assert kind_current(alloc, "ai", "pool") == ISZ
    pool.release(c)
    pool.release(d)
    s = alloc.stats()
    assert all(t.kinds["pool"]["current"] == 0 for t in s.tags.values())
    phys = s.tags["physics"].kinds["pool"]
    assert (phys["allocated"], phys["freed"], phys["allocations"], phys["frees"]) == \
        (2 * ISZ, 2 * ISZ, 2, 2)
    assert_pool_tags_consistent(alloc)


def test_typed_pool_growth_keeps_tags(alloc):
    pool = alloc.typed_pool(np.float64, 2)
    with alloc.tag("a"):
        first = [pool.acquire() for _ in range(2)]
    with alloc.tag("b"):
        more = [pool.acquire() for _ in range(40)]   # grows twice
    assert pool.capacity > 2
    assert kind_current(alloc, "a", "pool") == 16 and kind_current(alloc, "b", "pool") == 320
    pool.release_many(first + more[:10])
    assert kind_current(alloc, "a", "pool") == 0 and kind_current(alloc, "b", "pool") == 240
    assert_pool_tags_consistent(alloc)


def test_acquire_many_release_many_count_every_slot(alloc):
    pool = alloc.typed_pool(PARTICLE, 8)
    with alloc.tag("batch"):
        idx = pool.acquire_many(5)
        idx2 = nj_typed_many(pool, 3)
    t = alloc.stats().tags["batch"].kinds["pool"]
    assert t["current"] == 8 * ISZ and t["allocations"] == 8
    with alloc.tag("other"):
        pool.release_many(idx)
        nj_typed_release_many(pool, idx2)
    t = alloc.stats().tags["batch"].kinds["pool"]
    assert t["current"] == 0 and t["frees"] == 8 and t["freed"] == 8 * ISZ
    assert kind_current(alloc, "other", "pool") == 0
    assert_pool_tags_consistent(alloc)


def test_size_class_keys_and_boxes_are_charged_their_block_size(alloc):
    pools = alloc.pools
    with alloc.tag("render"):
        k = pools.acquire(40)                      # a 64-byte block
        box = alloc.pool_alloc(np.float32, 5)      # 20 bytes -> the 32-byte class
        big = alloc.pool_alloc(np.uint8, 10000)    # beyond the classes: a heap fallback
    assert kind_current(alloc, "render", "pool") == 64 + 32
    assert kind_current(alloc, "render", "heap") == 10000
    with alloc.tag("ui"):
        pools.release(k)
        box.free()
        big.free()
    del big
    gc.collect()
    assert kind_current(alloc, "render", "pool") == 0
    assert kind_current(alloc, "render", "heap") == 0
    assert kind_current(alloc, "ui", "pool") == 0
    assert_pool_tags_consistent(alloc)


def test_a_freed_box_with_a_live_view_stays_charged_until_the_view_goes(alloc):
    with alloc.tag("views"):
        box = alloc.pool_box(np.arange(4.0))
    view = box.array[1:]
    box.free()
    assert alloc.pools.deferred_frees == 1
    assert kind_current(alloc, "views", "pool") == 32          # the block is still live
    del view
    gc.collect()
    assert kind_current(alloc, "views", "pool") == 0
    assert_pool_tags_consistent(alloc)


def test_heap_arrays_boxes_and_groups_follow_their_tag(alloc):
    with alloc.tag("level"):
        a = alloc.heap_array((10, 10), np.float32)
        b = alloc.heap_vec(3, np.int64)
        c = alloc.heap_box([1, 2, 3])
        g = alloc.create_group("tiles")
        t = alloc.group_alloc(g, (8, 8), np.uint8)
        alloc.group_box(g, np.zeros(4, np.int16))
    assert kind_current(alloc, "level", "heap") == 400 + 24 + c.nbytes + 64 + 8
    with alloc.tag("other"):
        del a, b
        alloc.free_group(g)
        del t
        gc.collect()
        assert kind_current(alloc, "level", "heap") == c.nbytes
    del c
    gc.collect()
    s = alloc.stats()
    assert s.tags["level"].kinds["heap"]["current"] == 0
    assert s.tags["level"].kinds["heap"]["frees"] == 5
    assert kind_current(alloc, "other", "heap") == 0
    assert_pool_tags_consistent(alloc)


def test_njit_attribution_python_tag_and_njit_push_tag(alloc):
    pool = alloc.typed_pool(PARTICLE, 16)
    pools = alloc.pools
    with alloc.tag("py"):
        idx = nj_typed_acquire(pool, 3)
        key = nj_class_acquire(pools, 100)        # the 128-byte class
    assert kind_current(alloc, "py", "pool") == 3 * ISZ + 128
    tid = alloc.tag_id("nj::inner")
    i, k = nj_tagged_acquire(alloc, pool, pools, tid)
    assert kind_current(alloc, "nj::inner", "pool") == ISZ + 64
    assert kind_current(alloc, "py", "pool") == 3 * ISZ + 128
    other = alloc.tag_id("elsewhere")
    nj_tagged_release(alloc, pool, pools, other, i, k)   # freed under another tag
    assert kind_current(alloc, "nj::inner", "pool") == 0
    assert kind_current(alloc, "elsewhere", "pool") == 0
    nj_typed_release(pool, idx)
    nj_class_release(pools, key)
    assert kind_current(alloc, "py", "pool") == 0
    assert_pool_tags_consistent(alloc)


def test_njit_release_of_python_acquired_slots_and_back(alloc):
    pool = alloc.typed_pool(PARTICLE, 4)
    with alloc.tag("mixed"):
        i = pool.acquire()
        j = nj_typed_acquire(pool, 1)[0]
    nj_typed_release(pool, np.array([i]))
    pool.release(int(j))
    assert kind_current(alloc, "mixed", "pool") == 0
    assert_pool_tags_consistent(alloc)


def _in_thread(fn):
    errors = []

    def run():
        try:
            fn()
        except BaseException as e:   # pragma: no cover - reported below
            errors.append(e)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    assert not errors, errors


def test_free_on_another_thread_gives_back_to_the_allocation_tag(alloc):
    pool = alloc.typed_pool(PARTICLE, 8)
    pools = alloc.pools
    with alloc.tag("main"):
        i = pool.acquire()
        j = int(nj_typed_acquire(pool, 1)[0])
        k = pools.acquire(16)
        box = alloc.pool_alloc(np.float64, 2)
        h = [alloc.heap_array(100, np.uint8)]
    assert kind_current(alloc, "main", "pool") == 2 * ISZ + 16 + 16
    assert kind_current(alloc, "main", "heap") == 100

    def worker():
        with alloc.tag("worker"):
            pool.release(i)
            nj_typed_release(pool, np.array([j]))
            pools.release(k)
            box.free()
            h.clear()
            gc.collect()
            alloc.stats()   # drains the heap tracker on this thread
    _in_thread(worker)
    assert kind_current(alloc, "main", "pool") == 0
    assert kind_current(alloc, "main", "heap") == 0
    assert kind_current(alloc, "worker", "pool") == 0
    assert_pool_tags_consistent(alloc)


def test_close_and_collection_give_every_tag_its_bytes_back():
    a = fa.SmartAlloc()
    pool = a.typed_pool(PARTICLE, 4)
    gone = a.typed_pool(np.int32, 4)
    with a.tag("t"):
        pool.acquire()
        gone.acquire()
        a.pools.acquire(16)
        box = a.pool_alloc(np.int8, 3)
    assert kind_current(a, "t", "pool") == ISZ + 4 + 16 + 16
    del gone
    gc.collect()
    assert kind_current(a, "t", "pool") == ISZ + 16 + 16
    pool.close()
    assert kind_current(a, "t", "pool") == 32
    a._close_pools()
    assert kind_current(a, "t", "pool") == 0
    del box
    a.close()


def test_standalone_pools_charge_nothing(alloc):
    pool = fa.TypedPool(PARTICLE, 4)
    with alloc.tag("x"):
        i = pool.acquire()
        j = nj_typed_acquire(pool, 1)
    assert "x" not in alloc.stats().tags or kind_current(alloc, "x", "pool") == 0
    pool.release(i)
    nj_typed_release(pool, j)
    pool.close()


# -- budgets -------------------------------------------------------------------------------------

def test_typed_budget_exact_limit_and_one_byte_over_python(alloc):
    pool = alloc.typed_pool(PARTICLE, 8, policy="error")
    alloc.set_budget(hard=3 * ISZ, kind="pool")
    idx = [pool.acquire() for _ in range(3)]          # exactly the limit
    before = typed_state(pool)
    with pytest.raises(fa.BudgetExceededError) as ei:
        pool.acquire()
    assert ei.value.code == "FA154" and str(ei.value).startswith("FA154")
    assert pool.try_acquire() is None
    with pytest.raises(fa.BudgetExceededError):
        pool.acquire_many(1)
    with pytest.raises(fa.BudgetExceededError):
        pool.acquire_handle()
    assert typed_state(pool) == before
    pool.release(idx[0])                              # 2 records live
    alloc.set_budget(hard=3 * ISZ - 1, kind="pool")  # a third record is one byte too many
    before = typed_state(pool)
    assert pool.try_acquire() is None
    with pytest.raises(fa.BudgetExceededError):
        pool.acquire()
    assert typed_state(pool) == before
    s = alloc.stats()
    assert s.budgets["pool"].hard_hits == 6 and s.budgets["pool"].current == 2 * ISZ


def test_typed_budget_refusal_in_njit(alloc):
    pool = alloc.typed_pool(PARTICLE, 8)
    alloc.set_tag_budget("sim", hard=2 * ISZ)
    with alloc.tag("sim"), alloc.tag("child"):       # a descendant counts against "sim"
        idx = nj_typed_acquire(pool, 2)
        before = typed_state(pool)
        with pytest.raises(fa.BudgetExceededError) as ei:
            nj_typed_acquire(pool, 1)
        assert ei.value.code == "FA154"
        assert nj_typed_try(pool) == -1
        with pytest.raises(fa.BudgetExceededError):
            nj_typed_many(pool, 1)
        assert typed_state(pool) == before
    nj_typed_release(pool, idx[:1])
    with alloc.tag("sim"):
        assert nj_typed_try(pool) >= 0                 # exactly at the limit again
    assert alloc.stats().budgets["tag:sim"].current == 2 * ISZ


def test_size_class_budget_python_and_njit(alloc):
    pools = alloc.pools
    alloc.set_budget(hard=64, kind="pool")
    k = pools.acquire(64)                             # exactly the limit
    before = classes_state(pools)
    with pytest.raises(fa.BudgetExceededError) as ei:
        pools.acquire(1)                              # 16 more bytes
    assert ei.value.code == "FA154"
    assert pools.try_acquire(1) is None
    with pytest.raises(fa.BudgetExceededError):
        alloc.pool_alloc(np.uint8, 1)
    with pytest.raises(fa.BudgetExceededError):
        nj_class_acquire(pools, 1)
    assert nj_class_try(pools, 1) == -1
    assert classes_state(pools) == before
    nj_class_release(pools, k)
    alloc.set_budget(hard=63, kind="pool")            # one byte under a 64-byte block
    before = classes_state(pools)
    assert pools.try_acquire(64) is None
    assert nj_class_try(pools, 33) == -1
    assert classes_state(pools) == before
    assert nj_class_try(pools, 32) >= 0


def test_heap_and_group_budget(alloc):
    alloc.set_budget(hard=1000, kind="heap")
    a = alloc.heap_array(1000, np.uint8)              # exactly the limit
    with pytest.raises(fa.BudgetExceededError) as ei:
        alloc.heap_array(1, np.uint8)
    assert ei.value.code == "FA154"
    g = alloc.create_group()
    with pytest.raises(fa.BudgetExceededError):
        alloc.group_alloc(g, 1, np.uint8)
    with pytest.raises(fa.BudgetExceededError):
        alloc.pool_alloc(np.uint8, 5000)              # a heap fallback
    assert alloc.stats().heap.current == 1000 and alloc.group_stats(g).allocations == 0
    del a
    gc.collect()
    alloc.group_alloc(g, 1000, np.uint8)
    alloc.free_group(g)
    gc.collect()
    assert alloc.stats().budgets["heap"].current == 0


def test_total_budget_covers_every_kind(alloc):
    pool = alloc.typed_pool(np.float64, 4)
    alloc.set_budget(hard=100)
    pool.acquire()                                     # 8
    alloc.pools.acquire(16)                            # 24
    keep = alloc.heap_array(76, np.uint8)              # 100: exactly the limit
    assert pool.try_acquire() is None
    with pytest.raises(fa.BudgetExceededError):
        alloc.heap_array(1, np.uint8)
    assert alloc.stats().budgets["total"].current == 100
    del keep


def test_a_budget_set_while_blocks_are_live_counts_them(alloc):
    pool = alloc.typed_pool(PARTICLE, 4)
    idx = [pool.acquire() for _ in range(2)]           # untagged, no budget: not charged
    alloc.set_budget(hard=2 * ISZ, kind="pool")
    assert alloc.stats().budgets["pool"].current == 2 * ISZ
    assert pool.try_acquire() is None
    pool.release(idx[0])                               # gives back to the budget
    assert alloc.stats().budgets["pool"].current == ISZ
    assert nj_typed_try(pool) >= 0
    alloc.set_budget(kind="pool")                      # removed
    nj_typed_release(pool, np.array(idx[1:]))
    assert_pool_tags_consistent(alloc)


def test_soft_limit_calls_back_and_warns_once_per_frame(alloc):
    events = []
    pool = alloc.typed_pool(PARTICLE, 16)
    alloc.set_budget(soft=2 * ISZ, hard=None, kind="pool", on_soft=events.append)
    with alloc.frame():
        with pytest.warns(fa.BudgetWarning, match="FA155"):
            idx = [pool.acquire() for _ in range(5)]   # passes the soft limit at the third
        assert len(events) == 1
        assert events[0].kind == "soft" and events[0].budget == "pool"
        assert events[0].limit == 2 * ISZ
    with alloc.frame():
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            more = [pool.acquire() for _ in range(2)]  # still above: one more event
        assert len(events) == 2 and sum(issubclass(x.category, fa.BudgetWarning) for x in w) == 1
    pool.release_many(idx + more)
    alloc.set_budget(kind="pool")                      # off
    tag_events = []
    alloc.set_tag_budget("sfx", soft=64, on_soft=tag_events.append)
    with alloc.frame(), alloc.tag("sfx"):
        with pytest.warns(fa.BudgetWarning):
            nj_class_acquire(alloc.pools, 64)
            nj_class_acquire(alloc.pools, 64)
            alloc.stats()                              # delivers what @njit recorded
        assert len(tag_events) == 1 and tag_events[0].budget == "tag:sfx"


# -- property: bytes per tag == live bytes per tag -----------------------------------------------

TAGS = (None, "a", "a::b", "c")
KINDS = ("typed", "typed_nj", "class", "class_nj", "box", "heap", "group", "free", "free_nj")
OPS = st.lists(st.tuples(st.sampled_from(KINDS), st.sampled_from(TAGS), st.integers(0, 10_000)),
               min_size=1, max_size=40)
SLOW_OK = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


@settings(max_examples=40, deadline=None, suppress_health_check=SLOW_OK)
@given(OPS)
def test_property_bytes_per_tag_equal_live_allocations(ops):
    a = fa.SmartAlloc()
    try:
        pool = a.typed_pool(PARTICLE, 2)
        pools = a.pools
        live = []   # (kind, tag path, bytes, handle)
        for op, tag, r in ops:
            ctx = a.tag(tag) if tag else _null()
            with ctx:
                path = a.current_tag
                if op == "typed":
                    live.append(("pool", path, ISZ, ("t", pool.acquire())))
                elif op == "typed_nj":
                    live.append(("pool", path, ISZ, ("t", int(nj_typed_acquire(pool, 1)[0]))))
                elif op in ("class", "class_nj"):
                    n = r % 300
                    key = pools.acquire(n) if op == "class" else nj_class_acquire(pools, n)
                    live.append(("pool", path, pools.size_of(key), ("k", key)))
                elif op == "box":
                    box = a.pool_alloc(np.uint8, r % 5000 + 1)
                    kind = "pool" if box.key >= 0 else "heap"
                    size = box.size_class if box.key >= 0 else box.nbytes
                    live.append((kind, path, size, ("b", box)))
                elif op == "heap":
                    live.append(("heap", path, r, ("h", a.heap_array(r, np.uint8))))
                elif op == "group":       # the group holds the array until free_group
                    g = a.create_group()
                    a.group_alloc(g, r % 3000, np.uint8)
                    live.append(("heap", path, r % 3000, ("g", g)))
                elif live:     # free one (under this op's tag, not the allocation's)
                    _, _, _, (what, obj) = live.pop(r % len(live))
                    nj = op == "free_nj"
                    if what == "t":
                        nj_typed_release(pool, np.array([obj])) if nj else pool.release(obj)
                    elif what == "k":
                        nj_class_release(pools, obj) if nj else pools.release(obj)
                    elif what == "b":
                        obj.free()
                    elif what == "g":
                        a.free_group(obj)
                    del obj
        gc.collect()
        s = a.stats()
        for kind in ("pool", "heap"):
            want: dict = {}
            for k, path, nbytes, _ in live:
                if k == kind:
                    want[path] = want.get(path, 0) + nbytes
            got = {p: t.kinds[kind]["current"] for p, t in s.tags.items()
                   if t.kinds[kind]["current"]}
            assert got == {p: v for p, v in want.items() if v}, (kind, got, want)
        assert_pool_tags_consistent(a)
        live.clear()
    finally:
        a.close()


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return None
