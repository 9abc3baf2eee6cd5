"""Use after close, as a table generated from the public API.

For every public method and property of every object the allocator hands out (introspected with
``dir()``, so a new method cannot be forgotten): after ``alloc.close()`` it either raises FA015 —
the allocator's pools, typed pools and scratch pools close with it — or it is one of the few
read-only names listed by the class itself (``_open_after_close``: the final counters). Either
way the allocator's whole state is byte-identical afterwards. The same for a pool closed by
itself (FA109), and for every @njit method (a closed object cannot be passed into compiled code).
"""
from __future__ import annotations

import gc

import numpy as np
import pytest
from numba import njit

import framealloc as fa

from .api import TABLES, Ctx, call_of, public_names
from .state import diff, state_of

from tests.core.conftest import leakcheck  # noqa: F401  (fixture)

CASES = [(cls, name) for cls, (_, calls) in TABLES.items() for name in sorted(calls)]


def _read_only(cls) -> frozenset:
    return getattr(cls, "_open_after_close", frozenset({"names", "nbytes"}))


@pytest.mark.parametrize("cls", list(TABLES), ids=lambda c: c.__name__)
def test_table_covers_every_public_name(cls):
    """The table knows how to call every public method and property; the class guards every
    name it does not list as open after close (FrameLayout is a frame value: its ``alloc()``
    refuses through the frame arena, its other names are read-only)."""
    _, calls = TABLES[cls]
    assert set(calls) == public_names(cls)
    guarded = getattr(cls, "_guarded_names", None)
    if guarded is not None:
        self_checked = getattr(cls, "_self_checked", frozenset())
        assert public_names(cls) <= guarded | cls._open_after_close | self_checked


@pytest.mark.parametrize("cls,name", CASES, ids=[f"{c.__name__}.{n}" for c, n in CASES])
def test_use_after_close(cls, name):
    call, kw = call_of(TABLES[cls][1][name])
    ctx = Ctx(**kw)
    ctx.alloc.close()
    objs = ctx.objects()
    before = state_of(*objs)
    if name in _read_only(cls):
        call(ctx)                         # works: the final counters, nothing changes
    elif cls is fa.FrameLayout and name == "alloc" or name in getattr(cls, "_self_checked", ()):
        with pytest.raises(fa.FrameStateError) as ei:
            call(ctx)
        assert ei.value.code == "FA015", str(ei.value)
    else:
        with pytest.raises(fa.FrameAllocError) as ei:
            call(ctx)
        assert ei.value.code == "FA015", str(ei.value)
        assert str(ei.value).startswith("FA015")
    assert state_of(*objs) == before, diff(before, state_of(*objs))


@pytest.mark.parametrize("cls,name", CASES, ids=[f"{c.__name__}.{n}" for c, n in CASES])
def test_open_allocator_call_is_valid(cls, name):
    """The table's calls are real: each works on an open allocator (so the FA015 above is the
    close talking, not a bad call)."""
    call, kw = call_of(TABLES[cls][1][name])
    ctx = Ctx(**kw)
    if name in ("end_frame", "end_frame_with_promotions") and cls is fa.SmartAlloc:
        # The context opened phase "ctx": ending the frame closes it and says so (FA159).
        with pytest.warns(fa.PhaseWarning, match="FA159"):
            call(ctx)
    else:
        call(ctx)
    ctx.alloc.close()


@pytest.mark.parametrize("pool", ["typed", "pools"])
def test_pool_closed_by_itself_refuses_with_fa109(pool):
    ctx = Ctx()
    obj = getattr(ctx, pool)
    cls = type(obj)
    obj.close()
    objs = ctx.objects()
    calls = TABLES[cls][1]
    for name in sorted(calls):
        call = call_of(calls[name])[0]
        before = state_of(*objs)
        if name in cls._open_after_close:
            call(ctx)
        else:
            with pytest.raises(fa.PoolError) as ei:
                call(ctx)
            assert ei.value.code == "FA109", (name, str(ei.value))
        assert state_of(*objs) == before, (name, diff(before, state_of(*objs)))
    ctx.alloc.close()


def test_close_twice_and_views_stay_valid():
    ctx = Ctx()
    a = ctx.alloc
    v = a.frame_array(100, np.float64)
    v[:] = 3.0
    d = ctx.typed.data
    ctx.alloc.close()
    ctx.alloc.close()
    gc.collect()
    assert float(v.sum()) == 300.0          # a view keeps its chunk alive after close
    assert d.shape == (8,)
    assert a.closed and ctx.typed.closed and ctx.scratch.closed


# -- @njit: every njit method of every type refuses a closed object ---------------------------

def _njit_methods(numba_type_cls) -> set:
    """The methods and attributes registered for a numba type of ours (numba's registry)."""
    from numba.core.typing.templates import builtin_registry

    from framealloc.kernels import ensure_registered

    from tests.numba_surface import template_members

    ensure_registered()
    return {m for t in builtin_registry.attributes if getattr(t, "key", None) is numba_type_cls
            for m in template_members(t)}


@njit(cache=True)
def _sa_all(a, k, sid):
    # One branch per SmartAlloc method available in @njit (k picks it): compiled once.
    if k == 0:
        a.begin_frame()
    elif k == 1:
        return a.current_tag_id
    elif k == 2:
        a.end_frame()
    elif k == 3:
        return a.frame_alloc(np.float32).size
    elif k == 4:
        return a.frame_alloc_2(np.float32).size
    elif k == 5:
        return a.frame_alloc_4(np.float32).size
    elif k == 6:
        return a.frame_alloc_8(np.float32).size
    elif k == 7:
        return a.frame_alloc_batch(np.float32, 3).size
    elif k == 8:
        return a.frame_array(3, np.float32).size
    elif k == 9:
        return a.frame_box(1.5).size
    elif k == 10:
        return a.frame_bytes()
    elif k == 11:
        return a.frame_checkpoint().cursor
    elif k == 12:
        return a.frame_map(np.int64, np.float32, 4).capacity
    elif k == 13:
        return a.frame_number
    elif k == 14:
        return a.frame_slice(np.float32, 3).size
    elif k == 15:
        return a.frame_vec(np.float32, 4).capacity
    elif k == 16:
        return a.frame_zeros(3, np.float32).size
    elif k == 17:
        return 1 if a.in_frame else 0
    elif k == 18:
        a.push_tag(0)
        a.pop_tag()
    elif k == 19:
        cp = a.frame_checkpoint()
        a.rollback_to(cp)
    elif k == 20:
        return a.scratch_array(sid, 3, np.float32).size
    elif k == 21:
        a.scratch_reset(sid)
    elif k == 22:
        return a.scratch_used(sid)
    elif k == 23:
        return a.scratch_zeros(sid, 3, np.float32).size
    elif k == 24:
        return a.try_frame_alloc(np.float32).size
    elif k == 25:
        return a.try_frame_alloc_2(np.float32).size
    elif k == 26:
        return a.try_frame_alloc_4(np.float32).size
    elif k == 27:
        return a.try_frame_alloc_8(np.float32).size
    elif k == 28:
        return a.try_frame_alloc_batch(np.float32, 3).size
    elif k == 29:
        return a.try_frame_array(3, np.float32).size
    elif k == 30:
        return a.try_frame_map(np.int64, np.float32, 4).capacity
    elif k == 31:
        return a.try_frame_slice(np.float32, 3).size
    elif k == 32:
        return a.try_frame_vec(np.float32, 4).capacity
    elif k == 33:
        return a.try_frame_zeros(3, np.float32).size
    elif k == 34:
        return a.try_scratch_array(sid, 3, np.float32).size
    elif k == 35:
        return a.try_scratch_zeros(sid, 3, np.float32).size
    elif k == 36:
        a.pop_tag()
    elif k == 37:
        return a.frame_empty_like(np.zeros(3)).size
    elif k == 38:
        return a.frame_zeros_like(np.zeros(3)).size
    elif k == 39:
        return a.frame_full(3, 1.0).size
    elif k == 40:
        return a.frame_full_like(np.zeros(3), 2).size
    elif k == 41:
        return a.frame_copy(np.zeros(3)).size
    elif k == 42:
        return a.frame_arange(3).size
    elif k == 43:
        return a.frame_concatenate((np.zeros(3), np.zeros(2))).size
    elif k == 44:
        return a.frame_stack((np.zeros(3), np.zeros(3))).size
    elif k == 45:
        return a.frame_take(np.zeros(3), np.zeros(2, np.int64)).size
    elif k == 46:
        return a.frame_compress(np.ones(3, np.bool_), np.zeros(3)).size
    elif k == 47:
        return a.frame_nonzero(np.ones(3))[0].size
    elif k == 48:
        return a.frame_where(np.ones(3))[0].size
    elif k == 49:
        return a.try_frame_empty_like(np.zeros(3)).size
    elif k == 50:
        return a.try_frame_zeros_like(np.zeros(3)).size
    elif k == 51:
        return a.try_frame_full(3, 1.0).size
    elif k == 52:
        return a.try_frame_full_like(np.zeros(3), 2).size
    elif k == 53:
        return a.try_frame_copy(np.zeros(3)).size
    elif k == 54:
        return a.try_frame_arange(3).size
    elif k == 55:
        return a.try_frame_concatenate((np.zeros(3), np.zeros(2))).size
    elif k == 56:
        return a.try_frame_stack((np.zeros(3), np.zeros(3))).size
    elif k == 57:
        return a.try_frame_take(np.zeros(3), np.zeros(2, np.int64)).size
    elif k == 58:
        return a.try_frame_compress(np.ones(3, np.bool_), np.zeros(3)).size
    elif k == 59:
        return a.scope_begin().cursor
    elif k == 60:
        s = a.scope_begin()
        a.scope_end(s)
    elif k == 61:
        return a.frame_eval(_plus_one, np.zeros(3)).size
    elif k == 62:
        return a.try_frame_eval(_plus_one, np.zeros(3)).size
    return 0


@njit(cache=True)
def _plus_one(x):
    return x + 1.0


_SA_NJIT = ["begin_frame", "current_tag_id", "end_frame", "frame_alloc", "frame_alloc_2",
            "frame_alloc_4", "frame_alloc_8", "frame_alloc_batch", "frame_array", "frame_box",
            "frame_bytes", "frame_checkpoint", "frame_map", "frame_number", "frame_slice",
            "frame_vec", "frame_zeros", "in_frame", "push_tag", "rollback_to", "scratch_array",
            "scratch_reset", "scratch_used", "scratch_zeros", "try_frame_alloc",
            "try_frame_alloc_2", "try_frame_alloc_4", "try_frame_alloc_8",
            "try_frame_alloc_batch", "try_frame_array", "try_frame_map", "try_frame_slice",
            "try_frame_vec", "try_frame_zeros", "try_scratch_array", "try_scratch_zeros",
            "pop_tag", "frame_empty_like", "frame_zeros_like", "frame_full", "frame_full_like",
            "frame_copy", "frame_arange", "frame_concatenate", "frame_stack", "frame_take",
            "frame_compress", "frame_nonzero", "frame_where", "try_frame_empty_like",
            "try_frame_zeros_like", "try_frame_full", "try_frame_full_like", "try_frame_copy",
            "try_frame_arange", "try_frame_concatenate", "try_frame_stack", "try_frame_take",
            "try_frame_compress", "scope_begin", "scope_end", "frame_eval", "try_frame_eval"]


@njit(cache=True)
def _tp_all(p, k, i):
    if k == 0:
        return p.acquire()
    elif k == 1:
        return p.acquire_handle()
    elif k == 2:
        return p.acquire_many(2).size
    elif k == 3:
        return p.alive.size
    elif k == 4:
        return p.capacity
    elif k == 5:
        return p.data.size
    elif k == 6:
        return p.generation(i)
    elif k == 7:
        return p.handle(i)
    elif k == 8:
        return p.index(i)
    elif k == 9:
        return 1 if p.is_alive(i) else 0
    elif k == 10:
        return p.live_indices().size
    elif k == 11:
        p.release(i)
    elif k == 12:
        p.release_many(np.array([i]))
    elif k == 13:
        j = p.try_acquire()
        return -1 if j is None else j
    return 0


_TP_NJIT = ["acquire", "acquire_handle", "acquire_many", "alive", "capacity", "data",
            "generation", "handle", "index", "is_alive", "live_indices", "release",
            "release_many", "try_acquire"]


@njit(cache=True)
def _sc_all(p, k, key):
    if k == 0:
        return p.acquire(24)
    elif k == 1:
        p.release(key)
    elif k == 2:
        j = p.try_acquire(24)
        return -1 if j is None else j
    elif k == 3:
        return p.view(key, np.uint8, 4).size
    return 0


_SC_NJIT = ["acquire", "release", "try_acquire", "view"]


def _njit_tables():
    from framealloc.kernels.njit_api import SmartAllocType
    from framealloc.kernels.pools_njit import SizeClassPoolsType, TypedPoolType

    return [(SmartAllocType, "alloc", _sa_all, _SA_NJIT, lambda c: c.scratch.id),
            (TypedPoolType, "typed", _tp_all, _TP_NJIT, lambda c: c.slot),
            (SizeClassPoolsType, "pools", _sc_all, _SC_NJIT, lambda c: c.key)]


@pytest.mark.parametrize("which", [0, 1, 2], ids=["SmartAlloc", "TypedPool", "SizeClassPools"])
def test_njit_methods_refuse_a_closed_object(which):
    """Every @njit method (numba's registry of our types) works on an open object and, on a
    closed one, the call raises FA015 before any compiled code runs, state unchanged."""
    nbtype, attr, kernel, names, arg = _njit_tables()[which]
    assert set(names) == _njit_methods(nbtype), "a new @njit method needs a branch here"
    # Open: every branch runs (in an order where each is valid).
    ctx = Ctx(open_frame=False)
    obj = getattr(ctx, attr)
    if which == 0:
        order = [0] + [k for k in range(len(names)) if k not in (0, 2, 36)] + [2]
    elif which == 1:
        order = [k for k in range(len(names)) if k not in (11, 12)] + [11]
    else:
        order = [0, 2, 3, 1]
    for k in order:
        kernel(obj, k, arg(ctx))
    ctx.alloc.close()
    objs = ctx.objects()
    before = state_of(*objs)
    for k in range(len(names)):
        with pytest.raises(fa.FrameStateError) as ei:
            kernel(obj, k, arg(ctx))
        assert ei.value.code == "FA015", (names[k], str(ei.value))
    assert state_of(*objs) == before, diff(before, state_of(*objs))


def test_a_typed_pool_call_overtaken_by_close_refuses():
    """A Python call that passed its closed check just before close() ran on another thread
    re-reads the storage next (``_refresh``): it refuses with FA015, never hands out an empty
    view (found by test_thread_faults: ``tp.data[i]`` raised IndexError)."""
    a = fa.SmartAlloc()
    tp = a.typed_pool(np.float64, 4)
    i = tp.acquire()
    tp.data[i] = 1.0
    a.close()                                  # no compiled call holds it: storage released
    with pytest.raises(fa.FrameAllocError) as ei:
        tp._refresh()
    assert ei.value.code == "FA015", str(ei.value)
