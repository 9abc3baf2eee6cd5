"""Retention and promotion: every policy and importance, every failure reason made to happen,
summary arithmetic (hypothesis, against a model), tag/phase grouping, rollbacks, the plain
end_frame path, threads, bad inputs, codes and docs."""
from __future__ import annotations

import doctest
import gc
import json
import os
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numba import njit

import framealloc as fa
import framealloc.heap as heap_mod
from framealloc import retention_codes
from framealloc._dtypes import natural_alignment
from framealloc.retention import REASONS, RetentionCounts

P = fa.RetentionPolicy
I = fa.Importance  # noqa: E741 - reads like the enum it is


@pytest.fixture
def alloc():
    a = fa.SmartAlloc()
    yield a
    a.close()


class FakeScratch:
    """Stands in for a scratch pool: ``try_box`` copies while there is room, else None."""

    def __init__(self, capacity: int):
        self.capacity, self.used = capacity, 0

    def try_box(self, value):
        src = np.asarray(value)
        if self.used + src.nbytes > self.capacity:
            return None
        self.used += src.nbytes
        return np.array(src, copy=True)


def fake_scratch(monkeypatch, alloc, **pools):
    monkeypatch.setattr(alloc, "get_scratch_pool", lambda name: pools.get(name), raising=False)
    return pools


@pytest.fixture
def labels(monkeypatch):
    """Drive ``current_tag``/``current_phase`` directly (independent of the tag/phase code)."""
    cur = {"tag": "", "phase": ""}
    monkeypatch.setattr(fa.SmartAlloc, "current_tag", property(lambda self: cur["tag"]))
    monkeypatch.setattr(fa.SmartAlloc, "current_phase", property(lambda self: cur["phase"]))
    return cur


def check_arithmetic(c: RetentionCounts) -> None:
    """Every total equals the sum of its parts."""
    assert c.retained_count == c.discarded_count + c.promoted_count + c.failed_count
    assert c.retained_bytes == c.discarded_bytes + c.promoted_bytes + c.failed_bytes
    assert c.promoted_count == (c.promoted_pool_count + c.promoted_heap_count
                                + c.promoted_scratch_count)
    assert c.promoted_bytes == (c.promoted_pool_bytes + c.promoted_heap_bytes
                                + c.promoted_scratch_bytes)
    assert c.failures_by_reason.total == c.failed_count
    assert c.failed_bytes_by_reason.total == c.failed_bytes


def check_groups(s: fa.RetentionSummary) -> None:
    check_arithmetic(s)
    for groups in (s.by_tag, s.by_phase):
        for g in groups.values():
            check_arithmetic(g)
        for name in ("retained_count", "retained_bytes", "discarded_count", "discarded_bytes",
                     "promoted_count", "promoted_bytes", "promoted_pool_bytes",
                     "promoted_heap_bytes", "promoted_scratch_bytes", "failed_count",
                     "failed_bytes", "rolled_back_count", "rolled_back_bytes"):
            assert sum(getattr(g, name) for g in groups.values()) == getattr(s, name), name
        for r in REASONS:
            assert sum(getattr(g.failures_by_reason, r) for g in groups.values()) == \
                getattr(s.failures_by_reason, r)


# -- policies ---------------------------------------------------------------------------------
def test_policy_and_importance_values():
    assert repr(P.Discard) == "RetentionPolicy.Discard"
    assert repr(P.PromoteToScratch("nav")) == "RetentionPolicy.PromoteToScratch('nav')"
    assert str(P.PromoteToHeap) == "PromoteToHeap"
    four = [P.Discard, P.PromoteToPool, P.PromoteToHeap, P.PromoteToScratch("a")]
    assert set(four + [P.PromoteToScratch("a")]) == set(four) and len(set(four)) == 4
    assert P.PromoteToScratch("a") != P.PromoteToScratch("b")
    assert [p.destination for p in (P.Discard, P.PromoteToPool, P.PromoteToHeap,
                                    P.PromoteToScratch("x"))] == [None, "pool", "heap", "scratch"]
    assert P.PromoteToScratch("x").scratch_name == "x"
    assert I.Ephemeral.policy == P.Discard
    assert I.Reusable.policy == P.PromoteToPool
    assert I.Persistent.policy == P.PromoteToHeap
    assert I.Scratch("ai").policy == P.PromoteToScratch("ai")
    assert repr(I.Scratch("ai")) == "Importance.Scratch('ai')" and repr(I.Reusable) == \
        "Importance.Reusable"
    assert hash(I.Scratch("ai")) == hash(I.Scratch("ai"))
    with pytest.raises(AttributeError):
        P.Discard.kind = "heap"              # frozen


@pytest.mark.parametrize("make", [
    lambda: P.PromoteToScratch(""), lambda: P.PromoteToScratch(3), lambda: P("pool", "x"),
    lambda: P("bogus"), lambda: I.Scratch(None), lambda: I("important"), lambda: I("reusable", "x"),
])
def test_bad_policy_or_importance_values(make):
    with pytest.raises(fa.RetentionError) as ei:
        make()
    assert ei.value.code == "FA163" and isinstance(ei.value, ValueError)


# -- each policy ------------------------------------------------------------------------------
@pytest.mark.parametrize("policy,dest", [(P.PromoteToPool, "pool"), (P.PromoteToHeap, "heap")])
def test_promoted_data_equals_frame_data_and_outlives_the_frame(alloc, policy, dest):
    with alloc.frame():
        a = alloc.frame_retained(np.float32, policy, shape=(4, 3))
        a[:] = np.arange(12, dtype=np.float32).reshape(4, 3)
        expected, addr = a.copy(), a.ctypes.data
    r = alloc.last_promotions
    assert r is not None and len(r.promoted) == 1 and r.failed == []
    p = r.promoted[0]
    assert (p.destination, p.nbytes, p.index, p.policy) == (dest, 48, 0, policy)
    assert p.array.dtype == np.float32 and p.array.shape == (4, 3)
    assert p.array.ctypes.data != addr
    np.testing.assert_array_equal(p.array, expected)
    # The next frames reuse (and overwrite) the same frame memory: the promoted copy stays.
    for k in range(3):
        with alloc.frame():
            b = alloc.frame_array((4, 3), np.float32)
            assert b.ctypes.data == addr
            b[:] = -1 - k
    np.testing.assert_array_equal(p.array, expected)
    if dest == "pool":
        assert isinstance(p.value, fa.PoolBox) and p.value.key >= 0
        assert alloc.stats().pool.current_allocations == 1
        assert alloc.stats().pool.heap_fallbacks == 0
    else:
        assert isinstance(p.value, np.ndarray) and p.value is p.array
        assert alloc.stats().heap.current == 48


def test_promoted_heap_arrays_are_tracked_until_dropped(alloc):
    with alloc.frame():
        for i in range(3):
            alloc.frame_retained(np.arange(10, dtype=np.int64) + i, P.PromoteToHeap)
    r = alloc.last_promotions
    h = alloc.stats().heap
    assert (h.current, h.current_allocations, h.allocated) == (240, 3, 240)
    assert [p.array[0] for p in r.promoted] == [0, 1, 2]
    del r, h
    alloc._arena().ext["retention"].last = None
    gc.collect()
    assert alloc.stats().heap.current == 0 and alloc.stats().heap.freed == 240


def test_discard_is_counted_and_not_copied(alloc):
    with alloc.frame():
        alloc.frame_retained(np.float64, P.Discard, 10)
        alloc.frame_with_importance(np.zeros(3, np.int8), I.Ephemeral)
    r = alloc.last_promotions
    s = r.summary
    assert r.promoted == [] and r.failed == []
    assert (s.discarded_count, s.discarded_bytes, s.retained_count, s.promoted_count) == \
        (2, 83, 2, 0)
    st = alloc.stats()
    assert st.heap.allocations == 0 and st.pool.allocations == 0


@pytest.mark.parametrize("importance,dest", [(I.Ephemeral, None), (I.Reusable, "pool"),
                                             (I.Persistent, "heap"), (I.Scratch("ai"), "scratch")])
def test_every_importance(alloc, monkeypatch, importance, dest):
    fake_scratch(monkeypatch, alloc, ai=FakeScratch(1024))
    with alloc.frame():
        a = alloc.frame_with_importance(np.int32, importance, 5)
        a[:] = 9
    r = alloc.last_promotions
    if dest is None:
        assert r.promoted == [] and r.summary.discarded_count == 1
    else:
        (p,) = r.promoted
        assert p.destination == dest and p.policy == importance.policy
        assert p.array.tolist() == [9] * 5
        assert getattr(r.summary, f"promoted_{dest}_count") == 1
        assert getattr(r.summary, f"promoted_{dest}_bytes") == 20


@pytest.mark.parametrize("value", [
    np.float64(2.5), 7, np.arange(6).reshape(2, 3), [1.0, 2.0],
    np.zeros((), np.dtype([("a", "f4"), ("b", "i8")])),
    np.array([(1, 2.0)], np.dtype([("i", "i2"), ("x", "f8")]))[0],
    np.zeros(0, np.float32), np.array("hello"),
])
@pytest.mark.parametrize("policy", [P.PromoteToPool, P.PromoteToHeap])
def test_values_are_copied_into_the_frame_then_promoted(alloc, value, policy):
    src = np.asarray(value)
    with alloc.frame():
        f = alloc.frame_retained(value, policy)
        assert f.shape == src.shape and f.dtype == src.dtype
        assert f.tobytes() == src.tobytes()
        assert f.ctypes.data != src.ctypes.data
    (p,) = alloc.last_promotions.promoted
    assert p.array.shape == src.shape and p.array.dtype == src.dtype
    assert p.array.tobytes() == src.tobytes() and p.nbytes == src.nbytes


@pytest.mark.parametrize("spec", [np.float32, "f4", np.dtype("f4"), float, "i2",
                                  np.dtype([("x", "f4"), ("y", "f4")])])
def test_dtype_specs_give_uninitialised_arrays(alloc, spec):
    with alloc.frame():
        a = alloc.frame_retained(spec, P.PromoteToHeap, shape=3)
        b = alloc.frame_retained(spec, P.PromoteToHeap)
        assert a.shape == (3,) and a.dtype == np.dtype(spec) and b.shape == ()


DTYPES = ["u1", "i2", "f4", "f8", "c16", np.clongdouble, np.longdouble,
          np.dtype([("a", "u1"), ("b", "f8")], align=True),
          np.dtype([("a", "u1"), ("b", "f8")]),                     # packed: natural 8
          np.dtype([("a", "u1"), ("b", "c16")], align=True)]


@pytest.mark.parametrize("dtype", DTYPES)
def test_pool_promotion_keeps_the_dtypes_natural_alignment(alloc, dtype):
    dt = np.dtype(dtype)
    natural = natural_alignment(dt)
    with alloc.frame():
        for n in (1, 3, 7):
            alloc.frame_retained(np.zeros(n, dt), P.PromoteToPool)
            alloc.frame_alloc(np.uint8)          # knock the frame cursor off alignment
    r = alloc.last_promotions
    assert len(r.promoted) == 3
    for p in r.promoted:
        assert p.array.dtype == dt
        assert p.array.ctypes.data % natural == 0, (dt, natural, p.array.ctypes.data)
        assert p.array.ctypes.data % max(dt.alignment, 1) == 0


def test_index_tag_phase_and_order_of_items(alloc, monkeypatch, labels):
    fake_scratch(monkeypatch, alloc, s=FakeScratch(8))
    with alloc.frame():
        labels.update(tag="physics", phase="update")
        alloc.frame_retained(np.float64, P.PromoteToHeap)               # 0 promoted
        alloc.frame_retained(np.float64, P.Discard)                     # 1 discarded
        labels.update(tag="ai::path", phase="")
        alloc.frame_retained(np.float64, P.PromoteToScratch("s"))       # 2 promoted
        alloc.frame_retained(np.float64, P.PromoteToScratch("s"))       # 3 full
        alloc.frame_retained(np.float64, P.PromoteToPool)               # 4 promoted
        labels.update(tag="", phase="")
    r = alloc.last_promotions
    assert [(p.index, p.destination, p.tag, p.phase) for p in r.promoted] == [
        (0, "heap", "physics", "update"), (2, "scratch", "ai::path", ""),
        (4, "pool", "ai::path", "")]
    assert [(f.index, f.reason, f.code, f.tag) for f in r.failed] == [
        (3, "scratch_full", "FA166", "ai::path")]


# -- failures ---------------------------------------------------------------------------------
def test_too_large_for_the_pool_does_not_fall_back_to_the_heap(alloc):
    largest = alloc.pools.size_classes[-1]
    with alloc.frame():
        alloc.frame_retained(np.uint8, P.PromoteToPool, largest)          # exactly fits
        alloc.frame_retained(np.uint8, P.PromoteToPool, largest + 1)      # too large
        alloc.frame_with_importance(np.float64, I.Reusable, 1000)         # too large
    r = alloc.last_promotions
    assert [p.nbytes for p in r.promoted] == [largest]
    assert [(f.index, f.reason, f.code, f.nbytes) for f in r.failed] == [
        (1, "too_large", "FA164", largest + 1), (2, "too_large", "FA164", 8000)]
    assert str(largest) in r.failed[0].message
    s = r.summary
    assert (s.failures_by_reason.too_large, s.failed_bytes_by_reason.too_large) == \
        (2, largest + 1 + 8000)
    st = alloc.stats()
    assert st.heap.allocations == 0 and st.pool.heap_fallbacks == 0
    assert st.pool.current_allocations == 1


def test_custom_pool_classes_bound_too_large():
    alloc = fa.SmartAlloc(fa.AllocConfig(pool_size_classes=(16, 32, 64)))
    with alloc.frame():
        alloc.frame_retained(np.uint8, P.PromoteToPool, 64)
        alloc.frame_retained(np.uint8, P.PromoteToPool, 65)
    r = alloc.last_promotions
    assert len(r.promoted) == 1 and r.failed[0].reason == "too_large"
    alloc.close()


class _NumpyWithoutMemory:
    """numpy as framealloc.heap sees it, except that new arrays cannot be allocated."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def empty(*a, **k):
        raise MemoryError("no memory left (test)")

    zeros = empty


def test_heap_out_of_memory_is_too_large(alloc, monkeypatch):
    alloc.pools                      # the pool family's state exists before memory runs out
    monkeypatch.setattr(heap_mod, "np", _NumpyWithoutMemory())
    with alloc.frame():
        alloc.frame_retained(np.float64, P.PromoteToHeap, 4)
        alloc.frame_retained(np.float64, P.PromoteToPool, 4)     # pools do not use heap.np
    r = alloc.last_promotions
    (f,) = r.failed
    assert (f.reason, f.code, f.destination, f.nbytes) == ("too_large", "FA164", "heap", 32)
    assert "FA105" in f.message
    assert [p.destination for p in r.promoted] == ["pool"]
    assert not alloc.in_frame


def test_pool_out_of_memory_is_out_of_memory(alloc, monkeypatch):
    def pool_box(value):
        raise fa.PoolExhaustedError("FA105: size class 64 cannot grow (test)")

    monkeypatch.setattr(alloc, "pool_box", pool_box)
    with alloc.frame():
        alloc.frame_retained(np.float64, P.PromoteToPool, 4)
    (f,) = alloc.last_promotions.failed
    assert (f.reason, f.code) == ("out_of_memory", "FA105")
    assert alloc.last_promotions.summary.failures_by_reason.out_of_memory == 1


def test_budget_refusals_from_every_destination(alloc, monkeypatch):
    def refuse(value):
        raise fa.BudgetExceededError("FA154: hard budget 'heap' exceeded (test)")

    class BudgetScratch:
        def try_box(self, value):
            raise fa.BudgetExceededError("FA154: hard budget 'scratch' exceeded (test)")

    monkeypatch.setattr(alloc, "pool_box", refuse)
    monkeypatch.setattr(alloc, "heap_box", refuse)
    fake_scratch(monkeypatch, alloc, s=BudgetScratch())
    with alloc.frame():
        alloc.frame_retained(np.float64, P.PromoteToPool, 2)
        alloc.frame_retained(np.float64, P.PromoteToHeap, 3)
        alloc.frame_retained(np.float64, P.PromoteToScratch("s"), 4)
        alloc.frame_retained(np.float64, P.Discard, 5)
    r = alloc.last_promotions
    assert [(f.destination, f.reason, f.code) for f in r.failed] == [
        ("pool", "budget", "FA154"), ("heap", "budget", "FA154"), ("scratch", "budget", "FA154")]
    s = r.summary
    assert (s.failed_count, s.failed_bytes, s.failures_by_reason.budget,
            s.failed_bytes_by_reason.budget, s.discarded_bytes) == (3, 72, 3, 72, 40)
    check_groups(s)
    assert not alloc.in_frame


def test_real_heap_budget_refuses_a_promotion(alloc):
    alloc.set_budget(hard=1000, kind="heap")
    with alloc.frame():
        small = alloc.frame_retained(np.float64, P.PromoteToHeap, 10)      # 80 bytes: fits
        big = alloc.frame_retained(np.float64, P.PromoteToHeap, 200)       # 1600: refused
        small[:] = 1
        big[:] = 2
    r = alloc.last_promotions
    assert [p.nbytes for p in r.promoted] == [80]
    (f,) = r.failed
    assert (f.reason, f.code, f.nbytes) == ("budget", "FA154", 1600)
    assert alloc.stats().heap.current == 80
    with alloc.frame():                                                    # still usable
        alloc.frame_retained(np.float64, P.PromoteToHeap, 10)
    assert len(alloc.last_promotions.promoted) == 1


def test_scratch_missing_without_any_scratch_pool(alloc):
    with alloc.frame():
        alloc.frame_retained(np.float64, P.PromoteToScratch("nav"), 4)
        alloc.frame_with_importance(np.int8, I.Scratch("other"), 3)
    r = alloc.last_promotions
    assert [(f.reason, f.code, f.policy.scratch_name) for f in r.failed] == [
        ("scratch_missing", "FA165", "nav"), ("scratch_missing", "FA165", "other")]
    assert "nav" in r.failed[0].message
    assert (r.summary.failures_by_reason.scratch_missing,
            r.summary.failed_bytes_by_reason.scratch_missing) == (2, 35)


def test_scratch_full_and_missing_with_a_stand_in_pool(alloc, monkeypatch):
    pools = fake_scratch(monkeypatch, alloc, nav=FakeScratch(100))
    with alloc.frame():
        a = alloc.frame_retained(np.float64, P.PromoteToScratch("nav"), 10)   # 80: fits
        a[:] = 3
        alloc.frame_retained(np.float64, P.PromoteToScratch("nav"), 10)       # 80 more: full
        alloc.frame_retained(np.float64, P.PromoteToScratch("navx"), 1)       # missing
    r = alloc.last_promotions
    assert r.promoted[0].array.tolist() == [3.0] * 10 and pools["nav"].used == 80
    assert [f.reason for f in r.failed] == ["scratch_full", "scratch_missing"]
    s = r.summary
    assert (s.promoted_scratch_count, s.promoted_scratch_bytes, s.failures_by_reason.scratch_full,
            s.failures_by_reason.scratch_missing) == (1, 80, 1, 1)


def test_an_unexpected_error_is_reported_not_raised(alloc, monkeypatch):
    def broken(name):
        raise RuntimeError("registry is broken (test)")

    monkeypatch.setattr(alloc, "get_scratch_pool", broken, raising=False)
    with alloc.frame():
        alloc.frame_retained(np.float64, P.PromoteToScratch("x"))
        alloc.frame_retained(np.float64, P.PromoteToHeap)
    r = alloc.last_promotions
    assert r.failed[0].reason == "error" and "RuntimeError" in r.failed[0].message
    assert len(r.promoted) == 1 and not alloc.in_frame


def test_real_scratch_pool_promotion_full_and_missing(alloc):
    pool = alloc.scratch_pool("nav", 256)
    with alloc.frame():
        a = alloc.frame_retained(np.float32, P.PromoteToScratch("nav"), 16)   # 64 bytes
        a[:] = np.arange(16)
        alloc.frame_retained(np.float64, P.PromoteToScratch("nav"), 64)       # 512: full
        alloc.frame_with_importance(np.float64, I.Scratch("nope"), 1)         # missing
        alloc.frame_retained(np.float64, P.PromoteToScratch("x" * 300), 1)    # impossible name
    r = alloc.last_promotions
    (p,) = r.promoted
    assert p.destination == "scratch" and p.array.tolist() == list(range(16))
    assert [(f.reason, f.code) for f in r.failed] == [("scratch_full", "FA166"),
                                                      ("scratch_missing", "FA165"),
                                                      ("scratch_missing", "FA165")]
    assert "FA160" in r.failed[2].message
    for _ in range(2):                           # survives the next frames
        with alloc.frame():
            alloc.frame_array(16, np.float32)[:] = -1
    assert p.array.tolist() == list(range(16))
    assert pool.used >= 64
    pool.reset()


# -- grouping and arithmetic ------------------------------------------------------------------
def test_by_tag_and_by_phase(alloc, monkeypatch, labels):
    fake_scratch(monkeypatch, alloc, s=FakeScratch(0))
    plan = [("physics", "sim", P.PromoteToHeap, 8), ("physics", "sim", P.Discard, 16),
            ("ai", "sim", P.PromoteToPool, 24), ("ai", "render", P.PromoteToPool, 5000),
            ("", "render", P.PromoteToScratch("s"), 4), ("", "", P.PromoteToScratch("t"), 2)]
    with alloc.frame():
        for tag, phase, pol, n in plan:
            labels.update(tag=tag, phase=phase)
            alloc.frame_retained(np.uint8, pol, n)
        labels.update(tag="", phase="")
    s = alloc.last_promotions.summary
    check_groups(s)
    assert set(s.by_tag) == {"physics", "ai", ""} and set(s.by_phase) == {"sim", "render", ""}
    phys, ai, none = s.by_tag["physics"], s.by_tag["ai"], s.by_tag[""]
    assert (phys.promoted_heap_bytes, phys.discarded_bytes, phys.retained_count) == (8, 16, 2)
    assert (ai.promoted_pool_bytes, ai.failures_by_reason.too_large,
            ai.failed_bytes_by_reason.too_large) == (24, 1, 5000)
    assert (none.failures_by_reason.scratch_full, none.failures_by_reason.scratch_missing) == \
        (1, 1)
    sim, render = s.by_phase["sim"], s.by_phase["render"]
    assert (sim.retained_bytes, sim.promoted_bytes, sim.discarded_bytes) == (48, 32, 16)
    assert (render.failed_count, render.failed_bytes) == (2, 5004)
    assert s.by_phase[""].failures_by_reason.scratch_missing == 1


def test_real_tags_and_phases_are_recorded(alloc):
    with alloc.frame():
        with alloc.tag("physics"), alloc.phase("sim"):
            alloc.frame_retained(np.float64, P.PromoteToPool, 4)
            with alloc.tag("broadphase"):
                alloc.frame_retained(np.float64, P.PromoteToHeap, 2)
        alloc.frame_retained(np.float64, P.Discard)
    r = alloc.last_promotions
    assert [(p.tag, p.phase) for p in r.promoted] == [("physics", "sim"),
                                                      ("physics::broadphase", "sim")]
    assert set(r.summary.by_tag) == {"physics", "physics::broadphase", ""}
    assert r.summary.by_phase["sim"].promoted_bytes == 48


def test_promoted_copies_count_in_the_tag_of_the_frame_allocation(alloc):
    with alloc.frame():
        with alloc.tag("physics"):
            alloc.frame_retained(np.float64, P.PromoteToPool, 4)
            with alloc.tag("broadphase"):
                alloc.frame_retained(np.float64, P.PromoteToHeap, 2)
    tags = alloc.stats().tags
    assert tags["physics::broadphase"].kinds["heap"]["current"] == 16
    assert tags["physics"].kinds["pool"]["current"] >= 32


KINDS = ["discard", "pool", "heap", "scratch_big", "scratch_small", "scratch_missing"]
OPS = st.one_of(
    # Zero-byte allocations too: a rolled-back one does not move the frame position, so only
    # the rollback hook tells it from a kept one.
    st.tuples(st.just("retain"), st.sampled_from(KINDS), st.integers(0, 600),
              st.sampled_from(["", "a", "a::b"]), st.sampled_from(["", "x", "y"])),
    st.tuples(st.just("checkpoint")), st.tuples(st.just("rollback")))


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=st.lists(OPS, max_size=25), small=st.integers(0, 2000))
def test_summary_matches_a_model(monkeypatch, labels, ops, small):
    """Random policies, sizes, tags, phases and rollbacks: the summary and the items agree with
    a straightforward model, and every total is the sum of its parts (also per tag/phase)."""
    alloc = fa.SmartAlloc()
    fake_scratch(monkeypatch, alloc, big=FakeScratch(1 << 20), small=FakeScratch(small))
    policy = {"discard": P.Discard, "pool": P.PromoteToPool, "heap": P.PromoteToHeap,
              "scratch_big": P.PromoteToScratch("big"),
              "scratch_small": P.PromoteToScratch("small"),
              "scratch_missing": P.PromoteToScratch("missing")}
    largest = alloc.pools.size_classes[-1]
    live, rolled, cps = [], [], []           # model: (index, kind, nbytes, tag, phase)
    index = 0
    alloc.begin_frame()
    for op in ops:
        if op[0] == "retain":
            _, kind, n, tag, phase = op
            labels.update(tag=tag, phase=phase)
            a = alloc.frame_retained(np.int64, policy[kind], n)
            a[:] = index
            live.append((index, kind, 8 * n, tag, phase))
            index += 1
        elif op[0] == "checkpoint":
            cps.append((alloc.frame_checkpoint(), len(live)))
        elif cps:
            cp, keep = cps.pop()
            alloc.rollback_to(cp)
            rolled += live[keep:]
            del live[keep:]
        assert alloc.retained_in_frame == len(live)
    labels.update(tag="", phase="")
    r = alloc.end_frame_with_promotions()
    assert r is alloc.last_promotions and not alloc.in_frame

    used = 0
    expect_promoted, expect_failed, outcomes = [], [], []
    for i, kind, nb, tag, phase in live:
        status, dest, reason = "promoted", policy[kind].destination, None
        if kind == "discard":
            status = "discarded"
        elif kind == "pool" and nb > largest:
            status, reason = "failed", "too_large"
        elif kind == "scratch_missing":
            status, reason = "failed", "scratch_missing"
        elif kind == "scratch_small":
            if used + nb > small:
                status, reason = "failed", "scratch_full"
            else:
                used += nb
        if status == "promoted":
            expect_promoted.append((i, dest, nb))
        elif status == "failed":
            expect_failed.append((i, reason, nb))
        outcomes.append((status, dest, reason, nb, tag, phase))
    outcomes += [("rolled_back", policy[k].destination, None, nb, t, ph)
                 for _, k, nb, t, ph in rolled]
    assert [(p.index, p.destination, p.nbytes) for p in r.promoted] == expect_promoted
    assert [(f.index, f.reason, f.nbytes) for f in r.failed] == expect_failed
    for p in r.promoted:
        assert (p.array == p.index).all()
    assert r.summary == fa.RetentionSummary.from_outcomes(outcomes)
    s = r.summary
    check_groups(s)
    assert s.retained_count == len(live) and s.rolled_back_count == len(rolled)
    assert s.rolled_back_bytes == sum(x[2] for x in rolled)
    assert s.promoted_count == len(r.promoted) and s.failed_count == len(r.failed)
    json.dumps(r.to_dict())
    alloc.close()


# -- rollbacks --------------------------------------------------------------------------------
def test_rollback_drops_retained_allocations_made_after_the_checkpoint(alloc):
    with alloc.frame():
        keep = alloc.frame_retained(np.float64, P.PromoteToHeap, 4)
        keep[:] = 1
        cp = alloc.frame_checkpoint()
        alloc.frame_retained(np.float64, P.PromoteToHeap, 4)
        alloc.frame_retained(np.float64, P.PromoteToPool, 2)
        assert alloc.retained_in_frame == 3
        alloc.rollback_to(cp)
        assert alloc.retained_in_frame == 1
        again = alloc.frame_retained(np.float64, P.PromoteToHeap, 4)   # reuses the freed bytes
        again[:] = 2
    r = alloc.last_promotions
    assert [(p.index, p.array.tolist()) for p in r.promoted] == [(0, [1.0] * 4), (3, [2.0] * 4)]
    s = r.summary
    assert (s.rolled_back_count, s.rolled_back_bytes, s.retained_count) == (2, 48, 2)
    assert alloc.stats().heap.current == 64


def test_checkpoint_guard_and_speculative(alloc):
    with alloc.frame():
        with alloc.checkpoint_guard() as g:
            alloc.frame_retained(np.float64, P.PromoteToHeap, 1)
            g.commit()
        with alloc.checkpoint_guard():
            alloc.frame_retained(np.float64, P.PromoteToHeap, 2)      # rolled back on exit
        alloc.speculative(lambda: (alloc.frame_retained(np.float64, P.PromoteToHeap, 3),
                                   fa.FAILED)[1])
        alloc.speculative(lambda: alloc.frame_retained(np.float64, P.PromoteToHeap, 4))
    r = alloc.last_promotions
    assert [p.nbytes for p in r.promoted] == [8, 32]
    assert r.summary.rolled_back_count == 2 and r.summary.rolled_back_bytes == 40


def test_rollback_to_a_later_checkpoint_keeps_earlier_retained(alloc):
    with alloc.frame():
        cp0 = alloc.frame_checkpoint()
        alloc.frame_retained(np.float64, P.PromoteToHeap, 1)
        cp1 = alloc.frame_checkpoint()
        alloc.frame_array(100)
        alloc.rollback_to(cp1)
        alloc.frame_array(200)
        assert alloc.retained_in_frame == 1
        alloc.rollback_to(cp0)
        assert alloc.retained_in_frame == 0
    assert alloc.last_promotions.summary.rolled_back_count == 1


def test_rollback_followed_by_plain_allocations_past_the_retained_one(alloc):
    with alloc.frame():
        alloc.frame_retained(np.float64, P.PromoteToHeap, 0)      # before the checkpoint: kept
        cp = alloc.frame_checkpoint()
        alloc.frame_retained(np.float64, P.PromoteToHeap, 4)
        alloc.frame_retained(np.float64, P.PromoteToHeap, 0)      # zero bytes, after: dropped
        alloc.rollback_to(cp)
        alloc.frame_array(100)[:] = 5.0        # covers the freed bytes, moves past their end
    r = alloc.last_promotions
    assert [p.index for p in r.promoted] == [0] and r.summary.rolled_back_count == 2


@njit(cache=True)
def _nj_rollback(al, cp):
    al.rollback_to(cp)


@njit(cache=True)
def _nj_end_frame(al):
    al.end_frame()


def test_a_rollback_inside_njit_is_noticed(alloc):
    with alloc.frame():
        alloc.frame_retained(np.float64, P.PromoteToHeap, 1)
        cp = alloc.frame_checkpoint()
        alloc.frame_retained(np.float64, P.PromoteToHeap, 2)
        _nj_rollback(alloc, cp)
        assert alloc.retained_in_frame == 1
    r = alloc.last_promotions
    assert [p.nbytes for p in r.promoted] == [8] and r.summary.rolled_back_count == 1


def test_a_frame_ended_inside_njit_forgets_its_retained_allocations(alloc):
    alloc.begin_frame()
    alloc.frame_retained(np.float64, P.PromoteToHeap, 1)
    _nj_end_frame(alloc)
    assert not alloc.in_frame
    with alloc.frame():
        assert alloc.retained_in_frame == 0
        alloc.frame_retained(np.int8, P.PromoteToHeap, 3)
    r = alloc.last_promotions
    assert [p.nbytes for p in r.promoted] == [3] and r.summary.retained_count == 1
    assert alloc.stats().heap.current == 3


# -- how the frame ends -----------------------------------------------------------------------
def test_plain_end_frame_and_with_block_promote(alloc):
    assert alloc.last_promotions is None
    alloc.begin_frame()
    alloc.frame_retained(np.float64, P.PromoteToHeap)
    alloc.end_frame()
    r1 = alloc.last_promotions
    assert r1 is not None and len(r1.promoted) == 1 and r1.frame == 1
    with pytest.raises(KeyError):
        with alloc.frame():
            alloc.frame_retained(np.float64, P.PromoteToPool)[()] = 4.0
            raise KeyError("boom")
    r2 = alloc.last_promotions
    assert r2.frame == 2 and float(r2.promoted[0].array) == 4.0
    with alloc.frame():                 # retains nothing
        alloc.frame_array(10)
    assert alloc.last_promotions is None


def test_end_frame_with_promotions_returns_last_promotions(alloc):
    alloc.begin_frame()
    r = alloc.end_frame_with_promotions()
    assert r is alloc.last_promotions and r.frame == 1
    assert r.promoted == [] and r.failed == [] and r.summary == fa.RetentionSummary()
    alloc.begin_frame()
    alloc.frame_retained(np.float64, P.Discard)
    r = alloc.end_frame_with_promotions()
    assert r is alloc.last_promotions and r.frame == 2 and r.summary.discarded_count == 1
    with pytest.raises(fa.FrameStateError) as ei:
        alloc.end_frame_with_promotions()
    assert ei.value.code == "FA003" and alloc.last_promotions is r


def test_every_failure_at_once_still_ends_the_frame(alloc, monkeypatch):
    def refuse(value):
        raise fa.BudgetExceededError("FA154: refused (test)")

    monkeypatch.setattr(alloc, "heap_box", refuse)
    fake_scratch(monkeypatch, alloc, full=FakeScratch(0))
    alloc.begin_frame()
    alloc.frame_retained(np.uint8, P.PromoteToPool, 10_000)
    alloc.frame_retained(np.uint8, P.PromoteToHeap, 10)
    alloc.frame_retained(np.uint8, P.PromoteToScratch("gone"), 10)
    alloc.frame_retained(np.uint8, P.PromoteToScratch("full"), 10)
    r = alloc.end_frame_with_promotions()
    assert not alloc.in_frame and r.promoted == []
    fr = r.summary.failures_by_reason
    assert (fr.too_large, fr.budget, fr.scratch_missing, fr.scratch_full, fr.total) == \
        (1, 1, 1, 1, 4)
    assert alloc.stats().frame.current == 0
    with alloc.frame():
        alloc.frame_retained(np.uint8, P.PromoteToPool, 10)
    assert len(alloc.last_promotions.promoted) == 1


def test_threads_keep_their_own_retention(alloc):
    barrier = threading.Barrier(4)
    results, errors = {}, []

    def worker(k):
        try:
            for f in range(20):
                with alloc.frame():
                    a = alloc.frame_retained(np.int64, P.PromoteToPool, k + 1)
                    a[:] = k * 1000 + f
                    if f == 10:
                        barrier.wait(timeout=30)
                r = alloc.last_promotions
                assert [p.array.tolist() for p in r.promoted] == [[k * 1000 + f] * (k + 1)]
            results[k] = r
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=60)
    assert errors == [] and sorted(results) == [0, 1, 2, 3]
    assert alloc.last_promotions is None            # the main thread ended no frame


# -- bad inputs -------------------------------------------------------------------------------
@pytest.mark.parametrize("call,code", [
    (lambda a: a.frame_retained(np.float64, "heap"), "FA163"),
    (lambda a: a.frame_retained(np.float64, None), "FA163"),
    (lambda a: a.frame_retained(np.float64, I.Persistent), "FA163"),
    (lambda a: a.frame_with_importance(np.float64, P.PromoteToHeap), "FA163"),
    (lambda a: a.frame_with_importance(np.float64, "reusable"), "FA163"),
    (lambda a: a.frame_retained(np.arange(3), P.PromoteToHeap, shape=3), "FA163"),
    (lambda a: a.frame_retained([1, 2], P.PromoteToHeap, shape=(2,)), "FA163"),
    (lambda a: a.frame_retained(np.float64, P.PromoteToHeap, shape=-1), "FA004"),
    (lambda a: a.frame_retained(np.float64, P.PromoteToHeap, shape="x"), "FA004"),
    (lambda a: a.frame_retained(object, P.PromoteToHeap), "FA006"),
    (lambda a: a.frame_retained([1, "a", None], P.PromoteToHeap), "FA006"),
    (lambda a: a.frame_retained("not a dtype", P.PromoteToHeap), "FA006"),
])
def test_bad_inputs_raise_their_code_and_change_nothing(alloc, call, code):
    with alloc.frame():
        alloc.frame_retained(np.float64, P.PromoteToHeap)[()] = 1.0
        before = (alloc.stats().frame.current, alloc.stats().frame.current_allocations,
                  alloc.retained_in_frame)
        with pytest.raises(fa.FrameAllocError) as ei:
            call(alloc)
        assert ei.value.code == code
        assert (alloc.stats().frame.current, alloc.stats().frame.current_allocations,
                alloc.retained_in_frame) == before
    r = alloc.last_promotions
    assert r.summary.retained_count == 1 and float(r.promoted[0].array) == 1.0


def test_outside_a_frame_is_fa001_and_remembers_nothing(alloc):
    for call in (lambda: alloc.frame_retained(np.float64, P.PromoteToHeap),
                 lambda: alloc.frame_with_importance(1.0, I.Reusable)):
        with pytest.raises(fa.FrameStateError) as ei:
            call()
        assert ei.value.code == "FA001"
    assert alloc.retained_in_frame == 0
    with alloc.frame():
        pass
    assert alloc.last_promotions is None


@njit
def _nj_retained(al):
    return al.frame_retained(np.float64, 0)


def test_not_available_inside_njit(alloc):
    with alloc.frame():
        with pytest.raises(fa.NjitUsageError, match="^FA016: SmartAlloc.frame_retained"):
            _nj_retained(alloc)


# -- results, codes, docs ---------------------------------------------------------------------
def test_to_dict_is_json(alloc, monkeypatch, labels):
    fake_scratch(monkeypatch, alloc, s=FakeScratch(1 << 10))
    with alloc.frame():
        labels.update(tag="t", phase="p")
        alloc.frame_retained(np.zeros(3, np.dtype([("a", "f4"), ("b", "i8")])), P.PromoteToPool)
        alloc.frame_retained(np.float64, P.PromoteToScratch("s"), 2)
        alloc.frame_retained(np.float64, P.PromoteToScratch("q"), 2)
        alloc.frame_retained(np.float64, P.PromoteToHeap, (2, 2))
        labels.update(tag="", phase="")
    r = alloc.last_promotions
    d = json.loads(json.dumps(r.to_dict()))
    assert d["frame"] == 1 and len(d["promoted"]) == 3 and len(d["failed"]) == 1
    assert d["promoted"][0]["policy"] == "PromoteToPool" and d["promoted"][0]["shape"] == [3]
    assert d["promoted"][1]["scratch_name"] == "s"
    assert d["promoted"][2]["shape"] == [2, 2] and d["promoted"][2]["dtype"] == "float64"
    assert d["failed"][0]["reason"] == "scratch_missing" and d["failed"][0]["code"] == "FA165"
    assert d["summary"]["by_tag"]["t"]["failures_by_reason"]["scratch_missing"] == 1
    assert d["summary"]["by_phase"]["p"]["promoted_pool_count"] == 1
    r.promoted[0].value.free()                     # a freed box still describes itself
    json.dumps(r.to_dict())


def test_codes():
    codes = fa.errors.all_codes()
    for code, info in retention_codes.CODES.items():
        assert "FA163" <= code <= "FA166" and codes[code] == info
        assert fa.explain(code).startswith(code)
    assert set(retention_codes.CODES) == {"FA163", "FA164", "FA165", "FA166"}
    assert "Raised as: framealloc.RetentionError" in fa.explain("FA163")
    for name in ("RetentionPolicy", "Importance", "PromotionResult", "PromotedAllocation",
                 "PromotionFailure", "RetentionSummary", "RetentionCounts", "FailureReasons",
                 "RetentionError"):
        assert name in fa.__all__ and hasattr(fa, name)


@pytest.mark.parametrize("name", ["framealloc.retention", "framealloc.retention_codes"])
def test_docstring_examples(name):
    import importlib

    mod = importlib.import_module(name)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_docs_page_examples_run():
    path = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "retention.md")
    result = doctest.testfile(os.path.abspath(path), module_relative=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 10 and result.failed == 0
