"""Charge -> take -> give back on failure, for every attributed kind, from Python and @njit.

Every allocation that tags and budgets count is charged first, then taken; when the take fails
(the pool is full under policy "error", the memory is not there, the take raises) the charge is
given back, so the tags' and budgets' counters are exactly as before. The tables below list every
public acquire path; each is run to a failing take with a tag and a budget on.

Python paths go through one helper, :func:`framealloc.tags.charge_take` (checked with a spy);
@njit pool acquires go through one kernel, ``kernels.pool_kernels.acquire_org``.
"""
from __future__ import annotations

import numpy as np
import pytest
from numba import njit

import framealloc as fa
from framealloc import heap as heap_mod
from framealloc import pool as pool_mod
from framealloc import scratch as scratch_mod
from framealloc import tags as tags_mod
from framealloc import typed_pool as typed_mod


@pytest.fixture
def alloc():
    a = fa.SmartAlloc()
    yield a
    a.close()


def charged(a) -> dict:
    """What the charges move: every tag's current bytes and allocations per kind, and every
    budget's current bytes."""
    s = a.stats()
    out = {}
    for path, t in s.tags.items():
        for kind, k in t.kinds.items():
            out[path, kind] = (k["current"], k.get("allocations"), k.get("frees"))
    for name, b in s.budgets.items():
        out["budget", name] = b.current
    return out


# -- Python: each path's setup (returns a callable that fails in its take) ----------------------

def _typed_full(a, try_=False):
    pool = a.typed_pool(np.float64, 2, policy="error")
    pool.acquire(), pool.acquire()
    return pool.try_acquire if try_ else pool.acquire


def _typed_many_full(a):
    pool = a.typed_pool(np.float64, 4, policy="error")
    pool.acquire()
    return lambda: pool.acquire_many(4)


def _heap_no_memory(a):
    return lambda: a.heap_array((1 << 44,), np.float64)     # 128 TiB: MemoryError in the take


PYTHON_FAILING_TAKES = {
    "TypedPool.acquire (full)": (lambda a: _typed_full(a), fa.PoolExhaustedError),
    "TypedPool.try_acquire (full)": (lambda a: _typed_full(a, True), None),
    "TypedPool.acquire_many (full)": (_typed_many_full, fa.PoolExhaustedError),
    "heap_array (no memory)": (_heap_no_memory, fa.PoolExhaustedError),
}


@pytest.mark.parametrize("name", sorted(PYTHON_FAILING_TAKES))
def test_a_failing_take_gives_the_charge_back_python(alloc, name):
    setup, exc = PYTHON_FAILING_TAKES[name]
    alloc.set_budget(hard=1 << 50)              # budgets on: every budget row is charged too
    with alloc.tag("sim"):
        fail = setup(alloc)
        before = charged(alloc)
        if exc is None:
            assert fail() is None
        else:
            with pytest.raises(exc):
                fail()
        assert charged(alloc) == before


# Every Python path that charges, with what makes its take raise after the charge.
def _raise_in(monkeypatch, cls, meth):
    def boom(*args, **kwargs):
        raise RuntimeError("take failed")
    monkeypatch.setattr(cls, meth, boom)


PYTHON_TAKES = {
    "TypedPool.acquire": (lambda a: a.typed_pool(np.float64, 4).acquire,
                          (typed_mod.TypedPool, "_take_tagged")),
    "TypedPool.acquire_many": (lambda a: (lambda p: lambda: p.acquire_many(3))(
        a.typed_pool(np.float64, 4)), (typed_mod.TypedPool, "_take_many")),
    "pools.acquire": (lambda a: lambda: a.pools.acquire(64),
                      (pool_mod.SizeClassPools, "_take_tagged")),
    "pool_alloc": (lambda a: lambda: a.pool_alloc(np.float64, 8),
                   (pool_mod.SizeClassPools, "_take_tagged")),
    "heap_array": (lambda a: lambda: a.heap_array(8), (heap_mod.HeapTracker, "_new")),
    "ScratchPool.array": (lambda a: (lambda p: lambda: p.array(8))(a.scratch_pool("s", 4096)),
                          (scratch_mod.ScratchPool, "_bump")),
}


@pytest.mark.parametrize("name", sorted(PYTHON_TAKES))
def test_every_python_path_charges_through_charge_take(alloc, monkeypatch, name):
    setup, _ = PYTHON_TAKES[name]
    calls = []
    real = tags_mod.charge_take

    def spy(*args):
        calls.append(args[1])
        return real(*args)

    for mod in (typed_mod, pool_mod, heap_mod, scratch_mod):
        monkeypatch.setattr(mod, "charge_take", spy)
    with alloc.tag("sim"):
        setup(alloc)()
    assert len(calls) == 1, f"{name} charged {len(calls)} times through charge_take"


@pytest.mark.parametrize("name", sorted(PYTHON_TAKES))
def test_a_raising_take_gives_the_charge_back_python(alloc, monkeypatch, name):
    setup, (cls, meth) = PYTHON_TAKES[name]
    alloc.set_budget(hard=1 << 50)
    with alloc.tag("sim"):
        go = setup(alloc)
        before = charged(alloc)
        _raise_in(monkeypatch, cls, meth)
        with pytest.raises(RuntimeError, match="take failed"):
            go()
        assert charged(alloc) == before


def test_a_scratch_charge_that_uses_the_pool_retries(alloc):
    """A soft-limit callback run by the charge allocates from the same pool: the first charge is
    refunded and the allocation starts again, so each allocation is charged once."""
    pool = alloc.scratch_pool("s", 4096)
    seen = []

    def on_soft(event):
        if not seen:
            seen.append(pool.array(4, np.uint8))     # moves the cursor under the allocation

    alloc.set_budget(soft=1, kind="scratch", on_soft=on_soft)
    with alloc.tag("sim"):
        with pytest.warns(fa.BudgetWarning):
            a = pool.array(8, np.float64)
    assert len(seen) == 1 and a.shape == (8,)
    assert a.ctypes.data >= seen[0].ctypes.data + 4         # not the bytes the callback took
    k = alloc.stats().tags["sim"].kinds["scratch"]
    assert (k["current"], k["allocations"], k["frees"]) == (pool.used, 2, 0)


def test_charge_take_contract(alloc):
    """The helper itself: None from the take and a raise both give the charge back; a result is
    kept charged."""
    kind = fa.kernels.layout.KIND_HEAP if hasattr(fa, "kernels") else 2
    with alloc.tag("sim"):
        before = charged(alloc)
        assert tags_mod.charge_take(alloc, kind, 100, False, lambda tag, arg: None, 0) is None
        assert charged(alloc) == before
        with pytest.raises(KeyError):
            tags_mod.charge_take(alloc, kind, 100, False,
                                 lambda tag, arg: {}[arg], "missing")
        assert charged(alloc) == before
        got = tags_mod.charge_take(alloc, kind, 100, False, lambda tag, arg: (tag, arg), 7)
        assert got[1] == 7 and got[0] != 0
        assert charged(alloc) != before
        alloc._org_release(kind, got[0], 100)
        assert charged(alloc)[("sim", "heap")][0] == before[("sim", "heap")][0]


# -- @njit: every pool acquire path that charges --------------------------------------------

@njit
def nj_acquire(pool):
    return pool.acquire()


@njit
def nj_try(pool):
    i = pool.try_acquire()
    return -1 if i is None else i


@njit
def nj_many(pool, n):
    return pool.acquire_many(n)


@njit
def nj_class_try(pools, nbytes):
    k = pools.try_acquire(nbytes)
    return -1 if k is None else k


def _nj_full(a):
    pool = a.typed_pool(np.float64, 2, policy="error")
    nj_acquire(pool), nj_acquire(pool)
    return pool


NJIT_FAILING_TAKES = {
    "acquire (full)": (lambda a: (lambda p: lambda: nj_acquire(p))(_nj_full(a)),
                       fa.PoolExhaustedError),
    "try_acquire (full)": (lambda a: (lambda p: lambda: nj_try(p))(_nj_full(a)), -1),
    "acquire_many (full)": (lambda a: (lambda p: lambda: nj_many(p, 2))(_nj_full(a)),
                            fa.PoolExhaustedError),
    "acquire_many (closed)": (lambda a: (lambda p: (p.close(), lambda: nj_many(p, 2))[1])(
        a.typed_pool(np.float64, 2)), fa.PoolError),
}


@pytest.mark.parametrize("name", sorted(NJIT_FAILING_TAKES))
def test_a_failing_take_gives_the_charge_back_njit(alloc, name):
    setup, expect = NJIT_FAILING_TAKES[name]
    alloc.set_budget(hard=1 << 50)
    with alloc.tag("sim"):
        fail = setup(alloc)
        before = charged(alloc)
        if isinstance(expect, type):
            with pytest.raises(expect):
                fail()
        else:
            assert fail() == expect
        assert charged(alloc) == before


def test_njit_charges_count_every_slot_and_give_back_on_release(alloc):
    """One charge of n slots counts as n allocations, in Python and in @njit alike."""
    pool = alloc.typed_pool(np.float64, 16)
    with alloc.tag("sim"):
        a = nj_many(pool, 5)
        b = pool.acquire_many(5)
    t = alloc.stats().tags["sim"].kinds["pool"]
    assert t["current"] == 10 * 8
    if "allocations" in t:
        assert t["allocations"] == 10
    pool.release_many(a)
    pool.release_many(b)
    assert alloc.stats().tags["sim"].kinds["pool"]["current"] == 0


def test_every_kind_has_its_stats_sections(alloc):
    """A kind that tags count (``layout.KIND_NAMES``) names the AllocStats sections it is made of
    (``AllocStats.TAG_KINDS``), so the root tag's share of it is computed from real totals."""
    from framealloc.kernels.layout import KIND_NAMES

    assert set(fa.AllocStats.TAG_KINDS) == set(KIND_NAMES) - {"frame"}
    for sections in fa.AllocStats.TAG_KINDS.values():
        assert set(sections) <= set(fa.AllocStats.KINDS)
    assert set(alloc.stats().tags[""].kinds) == set(KIND_NAMES)
