"""The SmartAlloc object inside @njit: same names, same semantics, no NRT leaks."""
from __future__ import annotations

import gc

import numpy as np
import pytest
from numba import njit, prange

import framealloc as fa
from framealloc import AllocConfig, KiB

from .conftest import PARTICLE, snapshot


@njit(cache=True)
def _batch(alloc, n):
    ps = alloc.frame_alloc_batch(PARTICLE, n)
    for i in range(n):
        ps[i].life = i
        ps[i].pos[0] = 2 * i
    return ps


@njit(cache=True)
def _nd(alloc, n):
    a = alloc.frame_array((n, 3), np.float32)
    b = alloc.frame_zeros((2, n, 4), np.int16)
    c = alloc.frame_array(n, np.float64, align=256)
    a[:] = 1.5
    return a, b, c


@njit(cache=True)
def _fixed(alloc):
    a = alloc.frame_alloc_2(np.float32)
    b = alloc.frame_alloc_4(np.int64)
    c = alloc.frame_alloc_8(np.uint8)
    x = alloc.frame_alloc(np.float64)
    x[()] = 4.0
    s = alloc.frame_slice(np.int32, 5)
    s[:] = 7
    bx = alloc.frame_box(np.arange(3))
    sc = alloc.frame_box(9.5)
    return a, b, c, x, s, bx, sc


@njit(cache=True)
def _whole_loop(alloc, frames, n):
    total = 0.0
    for f in range(frames):
        alloc.begin_frame()
        ps = alloc.frame_alloc_batch(PARTICLE, n)
        ps.life[:] = 1.0
        cp = alloc.frame_checkpoint()
        tmp = alloc.frame_array(1000, np.float64)
        tmp[:] = 2.0
        total += tmp.sum()
        alloc.rollback_to(cp)
        total += ps.life.sum()
        alloc.end_frame()
    return total, alloc.frame_number


@njit(cache=True)
def _alloc_outside_frame(alloc):
    return alloc.frame_array(4, np.float32)


@njit(cache=True)
def _alloc_n(alloc, n):
    return alloc.frame_array(n, np.float32)


@njit(cache=True)
def _alloc_shape(alloc, n, m):
    return alloc.frame_array((n, m), np.float32)


@njit(cache=True)
def _try_alloc(alloc, n):
    a = alloc.try_frame_array(n, np.uint8)
    return a is None


@njit(cache=True)
def _begin_twice(alloc):
    alloc.begin_frame()
    alloc.begin_frame()


@njit(cache=True)
def _end(alloc):
    alloc.end_frame()


@njit(cache=True)
def _runtime_align(alloc, a):
    return alloc.frame_array(3, np.float32, align=a)


def test_record_batch_written_in_njit_reads_in_python(alloc):
    with alloc.frame():
        ps = _batch(alloc, 100)
        assert ps.dtype == PARTICLE and ps.shape == (100,)
        assert ps["life"].tolist() == list(range(100))
        assert ps["pos"][:, 0].tolist() == [2 * i for i in range(100)]
        assert alloc.stats().frame.current_allocations == 1
        del ps
    alloc.close()


def test_nd_shapes_zero_and_alignment(alloc):
    with alloc.frame():
        a, b, c = _nd(alloc, 5)
        assert a.shape == (5, 3) and a.dtype == np.float32 and (a == 1.5).all()
        assert b.shape == (2, 5, 4) and not b.any()
        assert c.ctypes.data % 256 == 0
        assert a.flags.c_contiguous and b.flags.c_contiguous
        del a, b, c
    alloc.close()


def test_fixed_size_and_box_methods(alloc):
    with alloc.frame():
        a, b, c, x, s, bx, sc = _fixed(alloc)
        assert (a.shape, b.shape, c.shape) == ((2,), (4,), (8,))
        assert x.shape == () and float(x) == 4.0
        assert s.tolist() == [7] * 5 and bx.tolist() == [0, 1, 2] and float(sc) == 9.5
        del a, b, c, x, s, bx, sc
    alloc.close()


def test_python_and_njit_share_the_cursor(alloc):
    with alloc.frame():
        p = alloc.frame_array(10, np.float32)
        n = _alloc_n(alloc, 10)
        q = alloc.frame_array(10, np.float32)
        assert p.ctypes.data + 40 <= n.ctypes.data and n.ctypes.data + 40 <= q.ctypes.data
        assert alloc.stats().frame.current_allocations == 3
        del p, n, q
    alloc.close()


def test_whole_simulation_loop_in_one_kernel(alloc):
    total, frame_number = _whole_loop(alloc, 10, 50)
    assert total == 10 * (2000.0 + 50.0) and frame_number == 10
    s = alloc.stats().frame
    assert s.frames_ended == 10 and s.rollbacks == 10 and s.current == 0 and not alloc.in_frame
    alloc.close()


def test_views_returned_from_njit_outlive_the_allocator():
    a = fa.SmartAlloc()
    with a.frame():
        v = _alloc_n(a, 1000)
        v[:] = 3.0
    a.close()
    del a
    gc.collect()
    junk = [np.ones(1000) for _ in range(50)]
    assert (v == 3.0).all() and len(junk) == 50
    del v


def test_grow_policy_in_njit_keeps_old_views_valid():
    a = fa.SmartAlloc(AllocConfig(frame_chunk_size=KiB(4)))
    with a.frame():
        views = [_alloc_n(a, 1000) for _ in range(10)]  # 40 KB through a 4 KiB first chunk
        for i, v in enumerate(views):
            v[:] = i
        assert all((v == i).all() for i, v in enumerate(views))
        assert a.stats().frame.chunks_grown >= 2
        del views, v
    a.close()


def test_errors_in_njit_carry_codes(alloc):
    with pytest.raises(fa.FrameStateError) as ei:
        _alloc_outside_frame(alloc)
    assert ei.value.code == "FA001"
    with alloc.frame():
        with pytest.raises(fa.AllocSizeError) as ei:
            _alloc_n(alloc, -1)
        assert ei.value.code == "FA004"
        with pytest.raises(fa.AllocSizeError) as ei:
            _alloc_shape(alloc, 1 << 40, 1 << 40)
        assert ei.value.code == "FA005"
        with pytest.raises(fa.AlignmentError) as ei:
            _runtime_align(alloc, 48)
        assert ei.value.code == "FA007"
        assert _runtime_align(alloc, 512).ctypes.data % 512 == 0
        with pytest.raises(fa.FrameStateError) as ei:
            _begin_twice(alloc)
        assert ei.value.code == "FA002"
    with pytest.raises(fa.FrameStateError) as ei:
        _end(alloc)
    assert ei.value.code == "FA003"
    alloc.close()


def test_bad_inputs_in_njit_leave_state_unchanged(alloc):
    with alloc.frame():
        _alloc_n(alloc, 8)
        before = snapshot(alloc)
        for call in (lambda: _alloc_n(alloc, -5), lambda: _alloc_shape(alloc, -1, 3),
                     lambda: _alloc_shape(alloc, 1 << 62, 4), lambda: _runtime_align(alloc, 3)):
            with pytest.raises(fa.FrameAllocError):
                call()
            assert snapshot(alloc) == before
    alloc.close()


def test_error_policy_and_try_in_njit():
    a = fa.SmartAlloc(AllocConfig(on_frame_exhausted="error", frame_capacity=KiB(4)))
    with a.frame():
        before = snapshot(a)
        with pytest.raises(fa.ArenaExhaustedError) as ei:
            _alloc_n(a, 2000)
        assert ei.value.code == "FA008" and snapshot(a) == before
        assert _try_alloc(a, 5000) and snapshot(a) == before
        assert not _try_alloc(a, 100)
    a.close()


def test_heap_policy_in_njit():
    a = fa.SmartAlloc(AllocConfig(on_frame_exhausted="heap", frame_capacity=KiB(4)))
    with a.frame():
        big = _alloc_n(a, 10_000)
        big[:] = 2.0
    assert a.stats().frame.heap_fallbacks == 1
    a.close()
    assert big.sum() == 20_000.0
    del big


def test_typing_errors_carry_codes(alloc):
    @njit
    def bad_dtype(al):
        return al.frame_array(3, "O")

    @njit
    def bad_shape(al):
        return al.frame_array(2.5, np.float32)

    @njit
    def bad_align(al):
        return al.frame_array(2, np.float32, align=3)

    with alloc.frame():
        # Refused while compiling, as the FA error itself: the code and what to do come first.
        for fn, exc, code in ((bad_dtype, fa.UnsupportedDtypeError, "FA006"),
                              (bad_shape, fa.AllocSizeError, "FA004")):
            with pytest.raises(exc) as ei:
                fn(alloc)
            assert ei.value.code == code and str(ei.value).startswith(code)
        # A constant align may be rejected at compile time or at run time; the code is the same.
        with pytest.raises(fa.AlignmentError, match="FA007"):
            bad_align(alloc)
    alloc.close()


def test_returning_the_allocator_gives_the_same_object(alloc):
    @njit
    def ident(al):
        return al

    assert ident(alloc) is alloc
    alloc.close()


@njit(cache=True)
def _failing_allocation(alloc, n):
    bad = alloc.frame_array(n, np.float32)
    return bad.size


def test_allocation_errors_in_njit_leak_nothing_of_the_allocator(alloc):
    # The autouse leakcheck fixture asserts NRT allocations == frees after this test: a failed
    # allocation takes no reference on the arena chunk. (Arrays the *calling* function holds when
    # the error propagates are not released by numba: see _fail in kernels/njit_api.py.)
    with alloc.frame():
        for _ in range(3):
            with pytest.raises(fa.AllocSizeError, match="FA004"):
                _failing_allocation(alloc, -1)
    with pytest.raises(fa.FrameStateError, match="FA001"):
        _failing_allocation(alloc, 4)
    alloc.close()


def _prange_is_a_parfor(fn, kernel) -> bool:
    """Whether numba turned the ``prange`` loop of ``fn`` into a parallel loop (a parfor at the
    loop's line in the compiled ``kernel``'s parfor diagnostics)."""
    import inspect

    lines, first = inspect.getsourcelines(fn)
    (loop_line,) = [first + k for k, text in enumerate(lines) if "in prange(" in text]
    diag = kernel.get_metadata(kernel.signatures[0])["parfor_diagnostics"]
    return loop_line in {pf.loc.line for pf in diag.initial_parfors}


def _serial_body(al, n, out):
    # A raise in the loop body gives it a second exit: numba runs the prange loop serially.
    for i in prange(n):
        a = al.frame_array(4, np.float64)
        if i > n:
            raise ValueError("never")
        a[:] = i
        out[i] = a.sum()


def test_prange_loops_that_allocate_are_parallelised(alloc):
    import warnings

    from numba.core.errors import NumbaPerformanceWarning

    def body(al, n, out):
        for i in prange(n):
            a = al.frame_array(4, np.float64)
            b = al.try_frame_zeros(4, np.float64)
            a[:] = i
            out[i] = a.sum() + (0.0 if b is None else b.sum())

    with warnings.catch_warnings():
        warnings.simplefilter("error", NumbaPerformanceWarning)
        kernel = njit(parallel=True)(body)
        out = np.zeros(100)
        with alloc.frame():
            kernel(alloc, 100, out)
    assert (out == 4.0 * np.arange(100)).all()
    assert _prange_is_a_parfor(body, kernel)
    # The check tells a serial loop apart: the same loop with a raise in it is not a parfor.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumbaPerformanceWarning)
        serial = njit(parallel=True)(_serial_body)
        out[:] = 0
        with alloc.frame():
            serial(alloc, 100, out)
    assert (out == 4.0 * np.arange(100)).all()
    assert not _prange_is_a_parfor(_serial_body, serial)
    alloc.close()


@njit(cache=True)
def _heap_scratch(alloc, n):
    a = alloc.frame_array(n, np.uint8)   # served by the heap fallback, dropped in the kernel
    a[:] = 1
    return a[0]


def test_heap_fallbacks_made_and_dropped_in_njit_are_freed_at_end_frame():
    # The autouse leakcheck asserts NRT allocs == frees: the row owns each fallback until
    # end_frame, so a view dropped inside the kernel (whose incref/decref numba prunes) is freed.
    a = fa.SmartAlloc(AllocConfig(on_frame_exhausted="heap", frame_capacity=KiB(4)))
    for _ in range(5):
        with a.frame():
            assert _heap_scratch(a, 100_000) == 1
            assert a._rows["heap_list"].any()
        assert not a._rows["heap_list"].any()
    assert a.stats().frame.heap_fallbacks == 5
    a.close()


@njit(cache=True)
def _shape2(alloc, m, n):
    return alloc.frame_array((m, n), np.int8).size


def test_negative_dimension_next_to_a_zero_one_is_refused_in_njit(alloc):
    with alloc.frame():
        before = snapshot(alloc)
        for m, n in ((0, -5), (-1, 0)):
            with pytest.raises(fa.AllocSizeError, match="FA004"):
                _shape2(alloc, m, n)
            assert snapshot(alloc) == before
        assert _shape2(alloc, 0, 5) == 0
    alloc.close()
