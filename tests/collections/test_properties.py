"""Property tests: FrameVec and FrameMap behave like a Python list and dict under random
operation sequences (executed by Python and by @njit code on the same object, including the
full/empty edges and updates at full load); frame layouts give the views fresh allocations
would, never overlap other live allocations, and keep the arena rows exactly as the uncached
path does."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import framealloc as fa
from framealloc import AllocConfig, KiB
from framealloc.collection_codes import (
    CollectionEmptyError,
    CollectionFullError,
    CollectionIndexError,
    FrameMapKeyError,
)

from . import test_njit as J

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                       HealthCheck.function_scoped_fixture])

# ---------------------------------------------------------------------------------------------
# FrameVec vs list

vec_op_st = st.one_of(
    st.tuples(st.sampled_from(["push", "try_push"]), st.integers(-100, 100)),
    st.tuples(st.sampled_from(["pop", "try_pop", "clear", "len"]), st.just(0)),
    st.tuples(st.sampled_from(["get", "set"]), st.integers(-12, 12)),
    st.tuples(st.sampled_from(["extend", "try_extend"]), st.integers(0, 5)),
)


def _vec_step(v, model, cap, op, arg, in_njit):
    x = float(arg)
    if op in ("push", "try_push"):
        fits = len(model) < cap
        if op == "push" and not fits:
            with pytest.raises(CollectionFullError):
                J.vec_op(v, J.PUSH, 0, x) if in_njit else v.push(x)
        elif op == "push":
            J.vec_op(v, J.PUSH, 0, x) if in_njit else v.push(x)
        else:
            ok = J.vec_op(v, J.TRY_PUSH, 0, x)[0] if in_njit else v.try_push(x)
            assert ok == fits
        if fits:
            model.append(x)
    elif op in ("pop", "try_pop"):
        if op == "pop" and not model:
            with pytest.raises(CollectionEmptyError):
                J.vec_op(v, J.POP, 0, 0.0) if in_njit else v.pop()
        elif op == "pop":
            got = J.vec_op(v, J.POP, 0, 0.0)[1] if in_njit else v.pop()
            assert got == model.pop()
        else:
            got = J.vec_op(v, J.TRY_POP, 0, 0.0) if in_njit else v.try_pop()
            want = model.pop() if model else None
            if in_njit:
                assert got == ((False, 0.0) if want is None else (True, want))
            else:
                assert got == want
    elif op == "clear":
        J.vec_op(v, J.CLEAR, 0, 0.0) if in_njit else v.clear()
        model.clear()
    elif op == "len":
        assert (J.vec_op(v, J.LEN, 0, 0.0)[1] if in_njit else len(v)) == len(model)
    elif op in ("get", "set"):
        valid = -len(model) <= arg < len(model)
        if op == "get":
            if valid:
                got = J.vec_op(v, J.GET, arg, 0.0)[1] if in_njit else v[arg]
                assert got == model[arg]
            else:
                with pytest.raises(CollectionIndexError):
                    J.vec_op(v, J.GET, arg, 0.0) if in_njit else v[arg]
        elif valid:
            J.vec_op(v, J.SET, arg, x + 0.5) if in_njit else v.__setitem__(arg, x + 0.5)
            model[arg] = x + 0.5
        else:   # raising through v[i] = x from njit is not leak-free (docs): Python only
            with pytest.raises(CollectionIndexError):
                v[arg] = 1.0
    else:
        fits = len(model) + arg <= cap
        if op == "extend" and not fits:
            with pytest.raises(CollectionFullError):
                J.vec_op(v, J.EXTEND, arg, 7.0) if in_njit else v.extend(np.full(arg, 7.0))
        elif op == "extend":
            J.vec_op(v, J.EXTEND, arg, 7.0) if in_njit else v.extend(np.full(arg, 7.0))
        else:
            ok = (J.vec_op(v, J.TRY_EXTEND, arg, 7.0)[0] if in_njit
                  else v.try_extend(np.full(arg, 7.0)))
            assert ok == fits
        if fits:
            model.extend([7.0] * arg)


@settings(max_examples=80, **SETTINGS)
@given(st.integers(0, 8), st.lists(st.tuples(vec_op_st, st.booleans()), max_size=40))
def test_framevec_behaves_like_a_bounded_list(cap, ops):
    a = fa.SmartAlloc()
    with a.frame():
        v = a.frame_vec(np.float64, cap)
        guard = a.frame_array(4, np.float64)              # the next allocation: never touched
        guard[:] = 42.0
        model: list = []
        for (op, arg), in_njit in ops:
            _vec_step(v, model, cap, op, arg, in_njit)
            assert v.as_array().tolist() == model and len(v) == len(model)
        assert (guard == 42.0).all()
    a.close()


# ---------------------------------------------------------------------------------------------
# FrameMap vs dict

key_st = st.integers(-20, 20)
map_op_st = st.one_of(
    st.tuples(st.sampled_from(["insert", "try_insert", "setitem"]), key_st, st.integers(0, 999)),
    st.tuples(st.sampled_from(["remove", "try_remove", "get", "get_default", "getitem",
                               "contains"]), key_st, st.just(0)),
    st.tuples(st.just("clear"), st.just(0), st.just(0)),
)


def _map_step(m, model, cap, op, k, x, in_njit):
    if op in ("insert", "try_insert", "setitem"):
        fits = k in model or len(model) < cap           # updates never fail
        if op == "try_insert":
            ok = J.map_op(m, J.TRY_INSERT, k, x)[0] if in_njit else m.try_insert(k, x)
            assert ok == fits
        elif not fits:
            if op == "setitem" and in_njit:
                in_njit = False                         # not leak-free from njit (docs)
            with pytest.raises(CollectionFullError):
                if in_njit:
                    J.map_op(m, J.INSERT, k, x)
                elif op == "insert":
                    m.insert(k, x)
                else:
                    m[k] = x
        elif in_njit:
            J.map_op(m, J.INSERT if op == "insert" else J.SETITEM, k, x)
        elif op == "insert":
            m.insert(k, x)
        else:
            m[k] = x
        if fits:
            model[k] = x
    elif op in ("remove", "try_remove"):
        present = k in model
        if op == "try_remove":
            ok = J.map_op(m, J.TRY_REMOVE, k, 0)[0] if in_njit else m.try_remove(k)
            assert ok == present
        elif present:
            J.map_op(m, J.REMOVE, k, 0) if in_njit else m.remove(k)
        else:
            with pytest.raises(FrameMapKeyError):
                J.map_op(m, J.REMOVE, k, 0) if in_njit else m.remove(k)
        model.pop(k, None)
    elif op == "get":
        got = J.map_op(m, J.MGET, k, 0) if in_njit else m.get(k)
        want = model.get(k)
        assert got == ((False, 0) if want is None else (True, want)) if in_njit else got == want
    elif op == "get_default":
        got = J.map_op(m, J.MGET_DEFAULT, k, 0)[1] if in_njit else m.get(k, -1)
        assert got == model.get(k, -1)
    elif op == "getitem":
        if k in model:
            assert (J.map_op(m, J.GETITEM, k, 0)[1] if in_njit else m[k]) == model[k]
        else:
            with pytest.raises(FrameMapKeyError):
                J.map_op(m, J.GETITEM, k, 0) if in_njit else m[k]
    elif op == "contains":
        assert (J.map_op(m, J.CONTAINS, k, 0)[0] if in_njit else (k in m)) == (k in model)
    else:
        J.map_op(m, J.MCLEAR, 0, 0) if in_njit else m.clear()
        model.clear()


@settings(max_examples=80, **SETTINGS)
@given(st.integers(0, 12), st.lists(st.tuples(map_op_st, st.booleans()), max_size=50))
def test_framemap_behaves_like_a_bounded_dict(cap, ops):
    a = fa.SmartAlloc()
    with a.frame():
        m = a.frame_map(np.int64, np.int64, cap)
        guard = a.frame_array(4, np.float64)
        guard[:] = 42.0
        model: dict = {}
        for (op, k, x), in_njit in ops:
            _map_step(m, model, cap, op, k, x, in_njit)
            ks, vs = m.items()
            assert dict(zip(ks.tolist(), vs.tolist())) == model and len(m) == len(model)
            assert int(m._state.sum()) == len(model)
        assert (guard == 42.0).all()
    a.close()


@settings(max_examples=40, **SETTINGS)
@given(st.lists(st.integers(0, 1 << 20), min_size=1, max_size=60, unique=True),
       st.data())
def test_framemap_survives_heavy_collisions_and_deletions(keys, data):
    # Keys sharing home slots in a small table: probe runs and backward shifts everywhere.
    a = fa.SmartAlloc()
    with a.frame():
        m = a.frame_map(np.uint32, np.uint32, len(keys))
        for k in keys:
            m[k] = k ^ 0x5555
        gone = data.draw(st.lists(st.sampled_from(keys), unique=True))
        for k in gone:
            m.remove(k)
        for k in keys:
            assert (k in m) == (k not in gone)
            if k not in gone:
                assert m[k] == k ^ 0x5555
        assert len(m) == len(keys) - len(gone)
    a.close()


# ---------------------------------------------------------------------------------------------
# Layouts

DTYPES = [np.dtype(d) for d in ("u1", "i2", "f4", "f8", "c16")] + [
    np.dtype([("pos", "f4", 3), ("life", "f4")]), np.dtype([("a", "u1"), ("b", "f8")], align=True)]
field_st = st.tuples(st.one_of(st.integers(0, 40), st.tuples(st.integers(0, 6), st.integers(0, 6))),
                     st.sampled_from(range(len(DTYPES))),
                     st.one_of(st.none(), st.sampled_from([1, 16, 64, 512])))
frame_st = st.lists(st.one_of(
    st.tuples(st.just("layout"), st.just(0)),
    st.tuples(st.just("array"), st.integers(0, 300)),
    st.tuples(st.just("checkpoint"), st.just(0)),
    st.tuples(st.just("rollback"), st.just(0)),
), max_size=8)


def _row(a):
    row = a._rows[a._tls.arena.slot, 0]
    skip = ("base", "meminfo", "owner", "org", "orgrow")
    return {f: int(row[f]) for f in row.dtype.names if f not in skip}


@settings(max_examples=50, **SETTINGS)
@given(st.lists(field_st, min_size=1, max_size=6), st.lists(frame_st, min_size=1, max_size=6),
       st.sampled_from([KiB(4), KiB(64)]))
def test_layouts_match_fresh_allocations_and_exact_rows(fields, frames, chunk):
    cfg = AllocConfig(frame_chunk_size=chunk)
    a, twin = fa.SmartAlloc(cfg), fa.SmartAlloc(cfg)
    spec = {f"f{i}": (shape, DTYPES[d], align) if align else (shape, DTYPES[d])
            for i, (shape, d, align) in enumerate(fields)}
    layout = a.frame_layout(**spec)
    fill = 0
    for ops in frames:
        live = []                                   # (bytes view, fill) of live allocations
        cps = []
        with a.frame(), twin.frame():
            for op, n in ops:
                if op == "layout":
                    got = layout.alloc()
                    ref = [twin.frame_array(s[0], s[1], align=s[2] if len(s) == 3 else None)
                           for s in spec.values()]
                    for view, want in zip(got, ref):
                        assert (view.shape, view.dtype) == (want.shape, want.dtype)
                        assert (view.__array_interface__["data"][0] - a._tls.arena.m[2]
                                == want.__array_interface__["data"][0] - twin._tls.arena.m[2]) \
                            or chunk == KiB(4)     # growth: the chunks differ, not the counts
                    arrays = list(got)
                elif op == "array":
                    arrays = [a.frame_array(n, np.uint8)]
                    twin.frame_array(n, np.uint8)
                elif op == "checkpoint":
                    cps.append((a.frame_checkpoint(), twin.frame_checkpoint(), len(live)))
                    arrays = []
                else:
                    arrays = []
                    if cps:
                        cp, tcp, n_live = cps.pop()
                        a.rollback_to(cp)
                        twin.rollback_to(tcp)
                        del live[n_live:]
                for arr in arrays:
                    raw = arr.reshape(-1).view(np.uint8) if arr.size else None
                    if raw is not None:
                        fill = fill % 250 + 1
                        raw[...] = fill
                        live.append((raw, fill))
                spans = sorted((r.ctypes.data, r.ctypes.data + r.size) for r, _ in live)
                for (s1, e1), (s2, e2) in zip(spans, spans[1:]):
                    assert e1 <= s2, "a layout view overlaps another live allocation"
                for raw, f in live:
                    assert (raw == f).all(), "a live allocation was clobbered"
                assert _row(a) == _row(twin)
        assert _row(a) == _row(twin)
        assert a.stats().frame == twin.stats().frame
    a.close()
    twin.close()
