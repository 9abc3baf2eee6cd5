"""Nested scopes: ``with alloc.scope():`` in Python, ``scope_begin()``/``scope_end(s)`` in @njit.

A scope frees what was allocated inside it at its end, scopes nest, ending one while a scope begun
inside it is open is FA023 with nothing changed, and a scope is ended once (FA010 after)."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from numba import njit, prange

import framealloc as fa

from .conftest import snapshot

# -- a random program of scope begins, allocations and ends, against a model ------------------

BEGIN, ALLOC, END = 0, 1, 2


def _program():
    """(ops, sizes): balanced-or-not sequences; ends only where a scope is open."""
    @st.composite
    def prog(draw):
        ops, sizes, depth = [], [], 0
        for _ in range(draw(st.integers(0, 40))):
            choices = [BEGIN, ALLOC] + ([END] if depth else [])
            op = draw(st.sampled_from(choices))
            depth += {BEGIN: 1, ALLOC: 0, END: -1}[op]
            ops.append(op)
            sizes.append(draw(st.integers(0, 300)) if op == ALLOC else 0)
        return np.array(ops, np.int64), np.array(sizes, np.int64)
    return prog()


def _model(ops, sizes):
    """Frame bytes after each op: a stack of positions, a scope end pops back to its begin."""
    pos, stack, out = 0, [], []
    for op, n in zip(ops, sizes):
        if op == BEGIN:
            stack.append(pos)
        elif op == ALLOC:
            pos += int(n)
        else:
            pos = stack.pop()
        out.append(pos)
    return out


@njit
def _run_njit(alloc, ops, sizes, out, fills):
    stack = [alloc.scope_begin()]          # the whole program runs in one outer scope
    stack.pop()
    kept = [alloc.frame_array(0, np.uint8)]
    level = [0]
    d = 0
    for i in range(ops.size):
        if ops[i] == 0:
            stack.append(alloc.scope_begin())      # noqa: FA607 (a test's bookkeeping)
            d += 1
        elif ops[i] == 1:
            a = alloc.frame_array(sizes[i], np.uint8)
            a[:] = i % 251
            kept.append(a)                         # noqa: FA607
            level.append(d)                        # noqa: FA607
        else:
            alloc.scope_end(stack.pop())
            d -= 1
            while level[-1] > d:       # views of the ended scope are gone
                kept.pop()
                level.pop()
        out[i] = alloc.frame_bytes()
        fills[i] = 1
        for a in kept:                 # what outer scopes hold is never clobbered
            for v in a:
                if a.size and v != a[0]:
                    fills[i] = 0
    while len(stack):
        alloc.scope_end(stack.pop())
    return alloc.frame_bytes()


@settings(max_examples=60, deadline=None)
@given(_program())
def test_random_nesting_python_matches_model(prog):
    ops, sizes = prog
    alloc = fa.SmartAlloc()
    with alloc.frame():
        stack, kept = [], []           # kept: (depth, array, value)
        for i, (op, n) in enumerate(zip(ops, sizes)):
            if op == BEGIN:
                stack.append(alloc.scope_begin())
            elif op == ALLOC:
                a = alloc.frame_array(int(n), np.uint8)
                a[:] = i % 251
                kept.append((len(stack), a, i % 251))
            else:
                alloc.scope_end(stack.pop())
                kept = [k for k in kept if k[0] <= len(stack)]
            assert alloc.stats().frame.current == _model(ops, sizes)[i]
            assert all((a == v).all() for _, a, v in kept)
        while stack:
            alloc.scope_end(stack.pop())
        assert alloc.stats().frame.current == sum(
            int(n) for op, n, d in zip(ops, sizes, _depths(ops)) if op == ALLOC and d == 0)
    alloc.close()


def _depths(ops):
    d, out = 0, []
    for op in ops:
        out.append(d)
        d += {BEGIN: 1, ALLOC: 0, END: -1}[op]
    return out


@settings(max_examples=40, deadline=None)
@given(_program())
def test_random_nesting_njit_matches_model(prog):
    ops, sizes = prog
    alloc = fa.SmartAlloc()
    out = np.zeros(ops.size, np.int64)
    fills = np.zeros(ops.size, np.int64)
    with alloc.frame():
        final = _run_njit(alloc, ops, sizes, out, fills)
        assert out.tolist() == _model(ops, sizes)
        assert fills.all()
        assert final == alloc.stats().frame.current == sum(
            int(n) for op, n, d in zip(ops, sizes, _depths(ops)) if op == ALLOC and d == 0)
    alloc.close()


# -- behaviour of one scope ---------------------------------------------------------------------

def test_scope_frees_at_end_and_memory_is_reused(alloc):
    with alloc.frame():
        keep = alloc.frame_array(10, np.int64)
        keep[:] = 7
        with alloc.scope() as blk:
            assert isinstance(blk.scope, fa.FrameScope)
            tmp = alloc.frame_array(100, np.int64)
            assert alloc.stats().frame.current == 880
        assert blk.scope is None
        assert alloc.stats().frame.current == 80
        again = alloc.frame_array(100, np.int64)
        assert again.ctypes.data == tmp.ctypes.data and (keep == 7).all()
        s = alloc.stats().frame
        assert s.rollbacks == 1 and s.peak == 880


def test_scope_ends_when_the_block_raises(alloc):
    with alloc.frame():
        with pytest.raises(KeyError):
            with alloc.scope():
                alloc.frame_array(100)
                raise KeyError("x")
        assert alloc.stats().frame.current == 0
        with alloc.scope():             # the stack is balanced: a new scope nests normally
            alloc.frame_array(1)


def test_plain_checkpoints_inside_a_scope_end_with_it(alloc):
    with alloc.frame():
        s = alloc.scope_begin()
        cp = alloc.frame_checkpoint()
        alloc.frame_array(10)
        alloc.scope_end(s)              # not FA023: checkpoints need no end
        before = snapshot(alloc)
        with pytest.raises(fa.CheckpointError) as ei:
            alloc.rollback_to(cp)       # ended with the scope
        assert ei.value.code == "FA010" and snapshot(alloc) == before


def test_rollback_past_a_scope_ends_it(alloc):
    with alloc.frame():
        cp = alloc.frame_checkpoint()
        s = alloc.scope_begin()
        alloc.frame_array(10)
        alloc.rollback_to(cp)
        before = snapshot(alloc)
        with pytest.raises(fa.CheckpointError) as ei:
            alloc.scope_end(s)
        assert ei.value.code == "FA010" and snapshot(alloc) == before


# -- errors: coded, nothing changed --------------------------------------------------------------

def test_out_of_order_end_is_fa021_and_changes_nothing(alloc):
    with alloc.frame():
        outer = alloc.scope_begin()
        alloc.frame_array(10)
        inner = alloc.scope_begin()
        alloc.frame_array(20)
        before = snapshot(alloc)
        with pytest.raises(fa.CheckpointError) as ei:
            alloc.scope_end(outer)
        assert ei.value.code == "FA023" and snapshot(alloc) == before
        assert "inner scope first" in str(ei.value)
        alloc.scope_end(inner)          # both still open: the right order works
        assert alloc.stats().frame.current == 80
        alloc.scope_end(outer)
        assert alloc.stats().frame.current == 0


@pytest.mark.parametrize("case", ["twice", "older frame", "wrong type", "foreign",
                                  "no frame", "thread"])
def test_bad_scope_ends_are_coded(alloc, case):
    other = fa.SmartAlloc()
    expected = {"twice": "FA010", "older frame": "FA010", "wrong type": "FA010",
                "foreign": "FA009", "no frame": "FA001", "thread": "FA011"}[case]
    with alloc.frame():
        s = alloc.scope_begin()
    alloc.begin_frame()
    try:
        if case == "twice":
            s = alloc.scope_begin()
            alloc.scope_end(s)
            call = lambda: alloc.scope_end(s)                      # noqa: E731
        elif case == "older frame":
            call = lambda: alloc.scope_end(s)                      # noqa: E731
        elif case == "wrong type":
            cp = alloc.frame_checkpoint()
            call = lambda: alloc.scope_end(cp)                     # noqa: E731
        elif case == "foreign":
            with other.frame():
                s = other.scope_begin()
            call = lambda: alloc.scope_end(s)                      # noqa: E731
        elif case == "no frame":
            alloc.end_frame()
            call = alloc.scope_begin
        else:
            box = []
            t = threading.Thread(target=lambda: (alloc.begin_frame(),
                                                 box.append(alloc.scope_begin())))
            t.start()
            t.join()
            call = lambda: alloc.scope_end(box[0])                 # noqa: E731
        before = snapshot(alloc)
        with pytest.raises(fa.FrameAllocError) as ei:
            call()
        assert ei.value.code == expected and snapshot(alloc) == before
    finally:
        if alloc.in_frame:
            alloc.end_frame()
        other.close()


def test_no_frame_in_a_with_block(alloc):
    with pytest.raises(fa.FrameStateError) as ei:
        with alloc.scope():
            pass
    assert ei.value.code == "FA001"


# -- @njit -------------------------------------------------------------------------------------

@njit
def _nested(alloc, n):
    out = alloc.frame_array(n)
    for i in range(n):
        s = alloc.scope_begin()
        a = alloc.frame_array(64)
        a[:] = i
        s2 = alloc.scope_begin()
        b = alloc.frame_array(64)
        b[:] = 1.0
        out[i] = a.sum() + b.sum()
        alloc.scope_end(s2)
        alloc.scope_end(s)
    return out


@njit
def _wrong_order(alloc):
    outer = alloc.scope_begin()
    alloc.frame_array(8)
    inner = alloc.scope_begin()
    alloc.frame_array(8)
    alloc.scope_end(outer)
    return inner


@njit
def _end(alloc, s):
    alloc.scope_end(s)


def test_njit_nested_scopes(alloc):
    with alloc.frame():
        out = _nested(alloc, 50)
        assert out.tolist() == [64.0 * i + 64.0 for i in range(50)]
        assert alloc.stats().frame.current == 50 * 8
    with pytest.raises(fa.FrameStateError) as ei:
        _nested(alloc, 1)
    assert ei.value.code == "FA001"


def test_njit_wrong_order_is_fa021_and_changes_nothing(alloc):
    with alloc.frame():
        with pytest.raises(fa.CheckpointError) as ei:
            _wrong_order(alloc)
        assert ei.value.code == "FA023"
        s = alloc.stats().frame
        assert s.current == 128 and s.rollbacks == 0        # nothing rolled back
        alloc.rollback_to(alloc.frame_checkpoint())         # the stack is still usable


def test_scopes_cross_between_python_and_njit(alloc):
    with alloc.frame():
        s = alloc.scope_begin()
        alloc.frame_array(100)
        _end(alloc, s)
        assert alloc.stats().frame.current == 0
        before = snapshot(alloc)
        with pytest.raises(fa.CheckpointError) as ei:
            _end(alloc, s)
        assert ei.value.code == "FA010" and snapshot(alloc) == before


@njit(parallel=True)
def _prange_scopes(alloc, n):
    out = np.zeros(n)
    for i in prange(n):
        s = alloc.scope_begin()
        a = alloc.frame_array(16)
        a[:] = i
        out[i] = a.sum()
        alloc.scope_end(s)
    return out


def test_prange_workers_scope_their_own_rows(alloc):
    with alloc.frame():
        out = _prange_scopes(alloc, 1000)
        assert out.tolist() == [16.0 * i for i in range(1000)]
        assert alloc.stats().frame.current == 0
